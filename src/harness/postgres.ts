/**
 * A throwaway PostgreSQL server for tests: Debian's server binaries,
 * `initdb` into a temp dir, `postgres` on a free loopback port under the
 * harness watchdog (so a crashed test run leaves no server behind), trust
 * authentication for the user `gatehouse`. As root it runs the server as the
 * `postgres` system user (initdb refuses root) through `setpriv`.
 *
 * @example
 * ```ts
 * const server = await startPostgres();
 * const url = await server.createDatabase('audit_test');
 * // … openPostgresStore(url) …
 * await server.destroy();
 * ```
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePorts } from './ports.js';
import { startSupervised } from './process.js';
import type { Supervised } from './process.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);
const USER = 'gatehouse';

export interface PostgresServer {
  readonly port: number;
  readonly dir: string;
  /** `postgres://gatehouse@127.0.0.1:<port>/<database>`. */
  url(database?: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Shuts the server down (`fast`: rolls back open transactions; `immediate`: like a crash). The data stays. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

export interface PostgresOptions {
  /** fsync on commit (default true: the durability tests and throughput numbers need the real thing). */
  fsync?: boolean;
}

/** The directory holding `initdb` and `postgres`: $GATEHOUSE_PG_BIN, Debian's newest /usr/lib/postgresql/N/bin, or the PATH. */
export function findPostgresBin(): string | undefined {
  const fromEnv = process.env.GATEHOUSE_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  return undefined;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql, or set GATEHOUSE_PG_BIN)');
  const asUser = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  const data = join(dir, 'data');
  if (asUser) chownSync(dir, asUser.uid, asUser.gid);
  const command = (name: string): [string, string[]] => (asUser ? ['setpriv', [...asUser.setpriv, join(bin, name)]] : [join(bin, name), []]);

  const [initdb, initdbPrefix] = command('initdb');
  try {
    await run(initdb, [...initdbPrefix, '-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], { cwd: dir });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const url = (database = 'postgres') => `postgres://${USER}@127.0.0.1:${port}/${database}`;

  let proc: Supervised | undefined;
  const start = async () => {
    const [postgres, prefix] = command('postgres');
    const settings = ['listen_addresses=127.0.0.1', `unix_socket_directories=${dir}`, `fsync=${options.fsync === false ? 'off' : 'on'}`, 'max_connections=50'];
    proc = startSupervised('postgres', postgres, [...prefix, '-D', data, '-p', String(port), ...settings.flatMap((s) => ['-c', s])], {
      logFile: join(dir, 'postgres.log'),
      cwd: dir,
    });
    await waitFor(`PostgreSQL on port ${port}`, [proc], 30_000, async () => {
      const client = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 1000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    const current = proc;
    proc = undefined;
    if (!current || current.exitInfo()) return;
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    try {
      process.kill(pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    } catch {
      // Already gone.
    }
    await Promise.race([current.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await current.stop();
  };
  await start();
  return {
    port,
    dir,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** As root: the `postgres` system user and the setpriv arguments that become it. */
function runAs(): { uid: number; gid: number; setpriv: string[] } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error('running as root, and there is no "postgres" user for the server to run as (apt-get install postgresql creates it)');
  }
  return { uid: Number(uid), gid: Number(gid), setpriv: ['--reuid', uid, '--regid', gid, '--init-groups', '--'] };
}
