/**
 * Finds the control-plane binaries, building them with `harness/build.sh`
 * when nobody said where they are.
 *
 * @internal
 */
import { spawn } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The binaries `harness/build.sh` produces, by role. */
export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type BinaryName = (typeof BINARIES)[number];
export type BinaryPaths = Record<BinaryName, string>;

/** The root of the gatehouse package: the nearest parent with our package.json (so compiled copies elsewhere find it too). */
export async function packageRoot(): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'gatehouse') return dir;
    } catch {
      // Not here; go up.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the gatehouse package root (for harness/build.sh)');
    dir = parent;
  }
}

/** Runs harness/build.sh, streaming its progress to `log`; resolves to the bin dir it prints last. */
async function runBuildScript(log: (line: string) => void): Promise<string> {
  const script = join(await packageRoot(), 'harness', 'build.sh');
  const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 40) stderr.shift();
    log(line);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const binDir = stdout.at(-1)?.trim();
  if (code !== 0 || !binDir) {
    throw new Error(`harness/build.sh failed (exit ${code ?? 'signal'}):\n${stderr.join('\n')}`);
  }
  return binDir;
}

/**
 * Resolves the bin dir: `binDir`, else `$GATEHOUSE_HARNESS_BIN`, else the
 * (cached) output of `harness/build.sh`; checks every binary is there.
 */
export async function resolveBinaries(binDir: string | undefined, log: (line: string) => void): Promise<BinaryPaths> {
  const dir = binDir ?? (process.env['GATEHOUSE_HARNESS_BIN'] || undefined) ?? (await runBuildScript(log));
  const paths = Object.fromEntries(BINARIES.map((name) => [name, join(dir, name)])) as BinaryPaths;
  const missing: string[] = [];
  await Promise.all(
    BINARIES.map(async (name) => {
      try {
        await access(paths[name], constants.X_OK);
      } catch {
        missing.push(name);
      }
    }),
  );
  if (missing.length > 0) {
    throw new Error(`${dir} lacks ${missing.sort().join(', ')}; build them with harness/build.sh (or fix GATEHOUSE_HARNESS_BIN)`);
  }
  return paths;
}
