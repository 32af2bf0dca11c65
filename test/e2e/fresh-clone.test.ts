/**
 * The README's main command from a fresh clone, as a newcomer runs it:
 * `git clone`, then `npm start` (set-up from nothing in the clone — npm
 * dependencies, the build, the console — then `gatehouse up`), here in demo
 * mode and non-interactively. The agent kubeconfig it prints works for an
 * allowed command and is held for a risky one, the console answers, doctor is
 * all green, and a second run reuses the state.
 */
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLongRunning } from './helpers/long-running.js';
import type { LongRunning } from './helpers/long-running.js';
import { kubectlFor, run } from './helpers/run.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-fresh-'));
const clone = join(work, 'gatehouse');
const dataDir = join(work, 'data');
let proc: LongRunning | undefined;

/** `npm start -- <args>` in the clone; resolves with the gateway URL once `up` prints its next steps. */
async function npmStart(args: string[], timeoutMs: number): Promise<{ proc: LongRunning; url: string }> {
  const started = startLongRunning('bash', ['-c', `cd '${clone}' && exec npm start -- ${args.join(' ')}`], { KUBECONFIG: join(work, 'no-kubeconfig') });
  await started.nextLine(/Ctrl-C stops the gateway/, timeoutMs);
  const guarding = await started.nextLine(/Gatehouse is guarding .* at https:/);
  return { proc: started, url: /(https:\/\/\S+)$/.exec(guarding)![1]! };
}

/** Ctrl-C as a terminal sends it: to every process of the tree (npm does not pass SIGINT on to `gatehouse up`). */
async function stop(p: LongRunning | undefined): Promise<void> {
  if (p === undefined || p.child.exitCode !== null) return;
  const closed = once(p.child, 'close');
  for (const pid of [...descendants(p.child.pid!), p.child.pid!]) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // Already gone.
    }
  }
  await closed;
}

/** The pids below `root`, from /proc (children before their parents' turn does not matter: each gets the signal). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces; the parent pid is the second field after it.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) {
      if (parent !== pid) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

const args = ['--demo', '--yes', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--approval-hold', '0'];
let url = '';

beforeAll(async () => {
  // A clone of this checkout; where it is not a git checkout, a copy of its sources without anything built.
  const inGit = (await run('git', ['rev-parse', '--is-inside-work-tree'])).code === 0;
  const cloned = inGit
    ? await run('git', ['clone', '-q', process.cwd(), clone])
    : await run('bash', ['-c', `mkdir -p '${clone}' && tar -c --exclude=./node_modules --exclude=./dist --exclude=./.cache --exclude=./test-artifacts . | tar -x -C '${clone}'`]);
  expect(cloned.code, cloned.stderr).toBe(0);
  ({ proc, url } = await npmStart(args, 900_000));
}, 960_000);

afterAll(async () => {
  await stop(proc);
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('npm start from a fresh clone (demo mode)', () => {
  it('sets everything up and prints what to do next', () => {
    const out = proc!.lines().join('\n');
    expect(out).toContain('[setup]');
    expect(out).toContain(`export KUBECONFIG=${join(dataDir, 'gatehouse-agent.kubeconfig')}`);
    expect(out).toContain(`${url}/ui`);
  });

  it('gives an agent kubeconfig that works for an allowed command and is held for a risky one', async () => {
    const kubectl = kubectlFor(join(dataDir, 'gatehouse-agent.kubeconfig'));
    expect(await kubectl.ok(['get', 'deployments', '-n', 'demo', '-o', 'name'])).toContain('deployment.apps/');
    const risky = await kubectl(['run', 'fresh-x', '-n', 'demo', '--image=registry.invalid/a:1', '--privileged']);
    expect(risky.code).not.toBe(0);
    expect(risky.stderr).toMatch(/needs approval: policy rule "privileged-containers".*Approval apr_/);
  });

  it('serves the console', async () => {
    const ca = readFileSync(join(dataDir, 'ca.crt'), 'utf8');
    const status = await new Promise<number>((resolve, reject) => {
      httpsGet(`${url}/ui/`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(200);
  });

  it('passes doctor, and a second run reuses the state', async () => {
    const doctor = await run(process.execPath, [join(clone, 'bin/gatehouse.js'), 'doctor', '--data-dir', dataDir, '--json']);
    const report = JSON.parse(doctor.stdout) as { checks: { check: string; status: string }[] };
    expect(report.checks.filter((c) => c.status === 'fail'), doctor.stdout).toEqual([]);
    expect(doctor.code).toBe(0);

    await stop(proc);
    ({ proc, url } = await npmStart(args, 300_000));
    const out = proc.lines().join('\n');
    expect(out).toContain('kept from an earlier run');
    expect(out).not.toMatch(/shown once/);
    await kubectlFor(join(dataDir, 'gatehouse-agent.kubeconfig')).ok(['get', 'pods', '-n', 'demo']);
  }, 360_000);
});
