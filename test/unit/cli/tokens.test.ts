import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';
import { createTokenService } from '../../../src/identity/tokens.js';
import type { TokenRecord } from '../../../src/identity/tokens.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { runCli } from '../../helpers/cli.js';
import type { CliRun } from '../../helpers/cli.js';

/** Runs `gatehouse <args>` in this process, as main() would, capturing what it writes. */
function gatehouse(...args: string[]): Promise<CliRun> {
  return runCli(buildProgram(), args);
}

describe('gatehouse tokens', () => {
  let dataDir: string;
  const create = (...extra: string[]): Promise<CliRun> =>
    gatehouse('tokens', 'create', '--data-dir', dataDir, '--name', 'cursor-alice', '--kind', 'agent', '--groups', 'dev,ai-agents', '--ttl', '30d', ...extra);
  const authenticate = async (token: string, db = join(dataDir, 'gatehouse.db')): Promise<unknown> => {
    const store = openSqliteStore(db);
    try {
      return await createTokenService(store).authenticator(token);
    } finally {
      await store.close();
    }
  };

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  });
  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('create prints just the token on stdout, and how to keep and use it on stderr', async () => {
    const run = await create('--sponsor', 'alice', '--description', 'Cursor on alice laptop');
    expect(run.error).toBeUndefined();
    expect(run.stdout).toMatch(/^ght_[A-Za-z0-9_-]{43}\n$/);
    expect(run.stderr).toContain('created token "cursor-alice"');
    expect(run.stderr).toContain('agent, groups dev, ai-agents, expires ');
    expect(run.stderr).toContain('Store it now, it is not shown again.');
    expect(run.stderr).toContain(`gatehouse kubeconfig --token-file <file with the token> --data-dir ${dataDir} -o cursor-alice.kubeconfig`);
    expect(statSync(join(dataDir, 'gatehouse.db')).mode & 0o777).toBe(0o600);
    expect(await authenticate(run.stdout.trim())).toMatchObject({ subject: 'token:cursor-alice', groups: ['dev', 'ai-agents'], kind: 'agent' });
  });

  it('create --json prints the token with its record; --db picks the store file', async () => {
    const db = join(dataDir, 'elsewhere', 'tokens.db');
    const run = await create('--json', '--db', db);
    const printed = JSON.parse(run.stdout) as { token: string; record: Record<string, unknown> };
    expect(printed.record).toMatchObject({ name: 'cursor-alice', kind: 'agent', groups: ['dev', 'ai-agents'], status: 'active', sponsor: null });
    expect(Date.parse(printed.record.expiresAt as string) - Date.parse(printed.record.createdAt as string)).toBe(30 * 86_400_000);
    expect(existsSync(join(dataDir, 'gatehouse.db'))).toBe(false);
    expect(await authenticate(printed.token, db)).toMatchObject({ subject: 'token:cursor-alice' });
  });

  it('create -o writes the token to a private file that gatehouse kubeconfig --token-file reads', async () => {
    const tokenFile = join(dataDir, 'alice.token');
    const run = await create('-o', tokenFile);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`Written to ${tokenFile} (mode 0600); it is not shown again.`);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(await authenticate(token)).toBeDefined();

    writeFileSync(join(dataDir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const kubeconfig = await gatehouse('kubeconfig', '--token-file', tokenFile, '--data-dir', dataDir);
    expect(kubeconfig.error).toBeUndefined();
    const parsed = parse(kubeconfig.stdout) as { users: { user: { token: string } }[] };
    expect(parsed.users[0]?.user.token).toBe(token);
  });

  it('create --ttl never makes a token without expiry, and says so', async () => {
    const run = await create('--ttl', 'never', '--json');
    expect((JSON.parse(run.stdout) as { record: TokenRecord }).record.expiresAt).toBeNull();
    expect(run.stderr).toContain('never expires (prefer a --ttl)');
  });

  it.each([
    [['--ttl', '30'], /invalid TTL "30": give a whole number and a unit/],
    [['--ttl', '0d'], /invalid TTL "0d": it must be longer than zero/],
    [['--name', 'Bad Name'], /invalid token name "Bad Name"/],
    [['--groups', 'dev,system:masters'], /"system:masters": groups starting with "system:" are reserved/],
  ])('create %j fails clearly', async (extra, message) => {
    const run = await create(...extra);
    expect(run.error?.message).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('create checks its required options and the kind', async () => {
    const noTtl = await gatehouse('tokens', 'create', '--data-dir', dataDir, '--name', 'x', '--kind', 'agent');
    expect(noTtl.stderr).toContain("required option '--ttl <duration>' not specified");
    const badKind = await gatehouse('tokens', 'create', '--data-dir', dataDir, '--name', 'x', '--kind', 'robot', '--ttl', '1d');
    expect(badKind.stderr).toMatch(/argument 'robot' is invalid. Allowed choices are agent, ci, human/);
  });

  it('create refuses a name an active token has', async () => {
    await create();
    const again = await create();
    expect(again.error?.message).toMatch(/an active token is already named "cursor-alice" \(id [0-9a-f]{12}\): revoke it first or choose another name/);
    expect(again.stdout).toBe('');
  });

  it('list shows a table without secrets, revoke takes effect, --all shows revoked tokens', async () => {
    const alice = await create('--json');
    const token = (JSON.parse(alice.stdout) as { token: string }).token;
    await gatehouse('tokens', 'create', '--data-dir', dataDir, '--name', 'ci-deploy', '--kind', 'ci', '--ttl', '12h');

    const list = await gatehouse('tokens', 'list', '--data-dir', dataDir);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +KIND +GROUPS +CREATED +EXPIRES +LAST USED +STATUS$/);
    expect(lines[1]).toMatch(/^[0-9a-f]{12} +cursor-alice +agent +dev,ai-agents +\d+s ago +in (29d|30d|720h|719h) +never +active$/);
    expect(lines[2]).toMatch(/ci-deploy +ci +- +\d+s ago +in 1[12]h +never +active$/);
    expect(list.stdout).not.toContain(token);

    const revoke = await gatehouse('tokens', 'revoke', 'cursor-alice', '--data-dir', dataDir);
    expect(revoke.error).toBeUndefined();
    expect(revoke.stderr).toMatch(/token "cursor-alice" \(id [0-9a-f]{12}\) revoked at \d{4}-/);
    expect(await authenticate(token)).toBeUndefined();

    const active = await gatehouse('tokens', 'list', '--data-dir', dataDir, '--json');
    expect((JSON.parse(active.stdout) as TokenRecord[]).map((r) => r.name)).toEqual(['ci-deploy']);
    const all = await gatehouse('tokens', 'list', '--data-dir', dataDir, '--all', '--json');
    const records = JSON.parse(all.stdout) as Record<string, unknown>[];
    expect(records.map((r) => [r.name, r.status])).toEqual([
      ['cursor-alice', 'revoked'],
      ['ci-deploy', 'active'],
    ]);
    expect(Object.keys(records[0]!)).not.toContain('sha256');

    const id = records[0]!.id as string;
    const again = await gatehouse('tokens', 'revoke', id, '--data-dir', dataDir);
    expect(again.stderr).toContain(`token "cursor-alice" (id ${id}) was already revoked at`);
  });

  it('revoke names an unknown token; list and revoke refuse a store that does not exist', async () => {
    await create();
    const unknown = await gatehouse('tokens', 'revoke', 'nobody', '--data-dir', dataDir);
    expect(unknown.error?.message).toBe('unknown token "nobody": no token has that id and no active token has that name');

    const empty = join(dataDir, 'empty');
    const list = await gatehouse('tokens', 'list', '--data-dir', empty);
    expect(list.error?.message).toBe(`no token store at ${join(empty, 'gatehouse.db')}: no token was created with this --data-dir or --db yet`);
    const revoke = await gatehouse('tokens', 'revoke', 'x', '--db', join(empty, 'x.db'));
    expect(revoke.error?.message).toMatch(/^no token store at /);
    expect(existsSync(empty)).toBe(false);
  });

  it('list says so when there are no tokens', async () => {
    await create();
    await gatehouse('tokens', 'revoke', 'cursor-alice', '--data-dir', dataDir);
    const list = await gatehouse('tokens', 'list', '--data-dir', dataDir);
    expect(list.stdout).toBe('');
    expect(list.stderr).toContain('no tokens (--all includes revoked ones)');
  });

  it('has --help for tokens and each of its commands', async () => {
    for (const sub of [[], ['create'], ['list'], ['revoke']]) {
      const run = await gatehouse('tokens', ...sub, '--help');
      expect(run.stdout).toContain(`Usage: gatehouse tokens${sub.length ? ` ${sub[0]}` : ''}`);
    }
    const create = await gatehouse('tokens', 'create', '--help');
    for (const flag of ['--name', '--kind', '--groups', '--ttl', '--sponsor', '--description', '--data-dir', '--db', '--json', '--output']) {
      expect(create.stdout).toContain(flag);
    }
  });
});

describe('gatehouse kubeconfig credentials', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-kubeconfig-'));
    writeFileSync(join(dir, 'ca.crt'), 'CA\n');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('trims the token file', async () => {
    writeFileSync(join(dir, 't'), '  ght_abc \n\n');
    const run = await gatehouse('kubeconfig', '--token-file', join(dir, 't'), '--data-dir', dir);
    expect((parse(run.stdout) as { users: { user: { token: string } }[] }).users[0]?.user.token).toBe('ght_abc');
  });

  it.each([
    [['--token', 'a', '--token-file', 'f'], 'pass only one of --token, --token-file'],
    [['--token-env', 'X', '--token-file', 'f'], 'pass only one of --token-env, --token-file'],
    [[], 'a credential is required: pass --token, --token-env or --token-file'],
    [['--token-env', 'GATEHOUSE_TEST_UNSET_VARIABLE'], 'the environment variable GATEHOUSE_TEST_UNSET_VARIABLE (--token-env) is unset or empty'],
  ])('%j → %s', async (flags, message) => {
    const run = await gatehouse('kubeconfig', '--data-dir', dir, ...flags);
    expect(run.error?.message).toBe(message);
  });

  it('refuses an empty or missing token file', async () => {
    writeFileSync(join(dir, 'empty'), ' \n');
    const empty = await gatehouse('kubeconfig', '--data-dir', dir, '--token-file', join(dir, 'empty'));
    expect(empty.error?.message).toBe(`the token file ${join(dir, 'empty')} is empty`);
    const missing = await gatehouse('kubeconfig', '--data-dir', dir, '--token-file', join(dir, 'missing'));
    expect(missing.error?.message).toMatch(/^cannot read the token file .*missing: ENOENT/);
  });
});
