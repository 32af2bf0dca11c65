import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { GatewayProcess } from './helpers/gateway.js';
import { createRunningPod } from './helpers/pods.js';
import { recordedSession, sessionMask, sessionToken, startSessionMaskingGateway } from './helpers/session-masking.js';
import { kubectlFor, retryingKubectlRace, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// A policy that says `mask` for exec and attach: with masking.sessions on, what
// the command prints reaches kubectl (and the session recording) masked; SPDY
// and port-forward are refused, and so is everything when the switch is off.
const cluster = inject('cluster');
const ns = `execmask-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-execmask-'));
const token = sessionToken();
let direct: Kubectl;
let pod = '';
let on: GatewayProcess;
let off: GatewayProcess;

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  pod = await createRunningPod(direct, ns, 'web');
  [on, off] = await Promise.all([startSessionMaskingGateway(cluster.adminKubeconfig, work, ns, true), startSessionMaskingGateway(cluster.adminKubeconfig, work, ns, false)]);
}, 150_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await Promise.all([on?.stop(), off?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const exec = (gateway: GatewayProcess, args: string[], env?: NodeJS.ProcessEnv) =>
  retryingKubectlRace(() => kubectlFor(gateway.adminKubeconfig)(['-n', ns, 'exec', ...args], { env, timeoutMs: 30_000 }));

describe('exec output masking (policy action mask on pods/exec)', () => {
  it('shows kubectl exec the mask, not the token, on stdout and stderr, and records it masked', async () => {
    const marker = `run-${randomBytes(4).toString('hex')}`;
    const result = await exec(on, [pod, '--', 'sh', '-c', `echo ${marker} ${token}; echo "Authorization: token=${token}" >&2; echo done`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${marker} ${sessionMask(token)}\ndone\n`);
    expect(result.stderr).toContain('Authorization: token=<masked:');
    expect(result.stdout + result.stderr).not.toContain(token.slice(4));

    const { event, stdout, all } = await recordedSession(on, ns, 'exec', marker);
    expect(event.decision?.action).toBe('mask');
    expect(event.result.status).toBe(101);
    // The session's end event says its output was masked.
    expect(event.bodies.masked).toBe(true);
    expect(stdout).toBe(`${marker} ${sessionMask(token)}\ndone\n`);
    expect(all).not.toContain(token.slice(4));
  });

  it('masks a token printed without a newline and one printed in two writes', async () => {
    const half = token.length >> 1;
    const result = await exec(on, [pod, '--', 'sh', '-c', `printf '%s' '${token.slice(0, half)}'; printf '%s\\n' '${token.slice(half)}'; printf 'last ${token}'`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${sessionMask(token)}\nlast ${sessionMask(token)}`);
  });

  it('keeps the exit code and stdin of a masked session', async () => {
    const result = await kubectlFor(on.adminKubeconfig)(['-n', ns, 'exec', '-i', pod, '--', 'sh', '-c', 'cat; exit 3'], { input: `piped ${token}\n`, timeoutMs: 30_000 });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe(`piped ${sessionMask(token)}\n`);
  });

  it('does not hold a prompt that waits for input: a quiet unfinished word is released', async () => {
    // `read` waits until kubectl is sent a line, and the line is only sent once the prompt arrived: a stall never ends.
    const child = spawn('kubectl', ['-n', ns, 'exec', '-i', pod, '--', 'sh', '-c', `printf 'name?'; read x; echo "hello $x ${token}"`], {
      env: { ...process.env, KUBECONFIG: on.adminKubeconfig },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes('name?')) resolve();
      });
      child.once('close', () => reject(new Error(`kubectl exited before the prompt arrived: ${stdout}`)));
    });
    child.stdin.end('bob\n');
    expect(await exited).toBe(0);
    expect(stdout).toBe(`name?hello bob ${sessionMask(token)}\n`);
  });

  it('masks the output of exec -it (a terminal: one stream, CRLF line ends)', async () => {
    // kubectl allocates a TTY only when its own stdin is one: run it under script(1). The pause before exiting works
    // around kwok's pty copy, which can drop output of a process that ends at once (as in helpers/scenarios.ts).
    const command = `env KUBECONFIG='${on.adminKubeconfig}' kubectl -n ${ns} exec -it ${pod} -- sh -c 'tty; echo "tty ${token}"; sleep 0.3'`;
    const result = await run('script', ['-qec', command, '/dev/null'], { timeoutMs: 30_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    // Twice in the clean-clone runs of session 10 the pod's terminal echoed a NUL (`^@`) at the start of the second
    // line, never in a run of this file alone; the gateway passes stdin through byte for byte, so it is tolerated here
    // (and noted in the issue) rather than failing a test of masking.
    expect(result.stdout).toMatch(new RegExp(`/dev/pts/\\d+\r\n(\\^@)?tty ${sessionMask(token).replaceAll('*', '\\*')}\r\n`));
    expect(result.stdout).not.toContain(token.slice(4));
  });

  it('keeps kubectl cp working: every copied file keeps its size, a token in one masked in place', async () => {
    // kubectl cp reads `tar cf -` through exec; the tar headers give each file's size, so a mask that changed the
    // output's length would corrupt the copy (and every file after it in the stream).
    const dir = join(work, `cp-${randomBytes(3).toString('hex')}`);
    mkdirSync(dir);
    const config = `line one\napi_token ${token}\nlast line\n`;
    const binary = randomBytes(200_000);
    writeFileSync(join(dir, 'config.txt'), config);
    writeFileSync(join(dir, 'data.bin'), binary);
    const to = join(work, `copied-${randomBytes(3).toString('hex')}`);
    const result = await kubectlFor(on.adminKubeconfig)(['-n', ns, 'cp', `${pod}:${dir}`, to], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(to, 'config.txt'), 'utf8')).toBe(config.replace(token, sessionMask(token)));
    expect(readFileSync(join(to, 'data.bin')).equals(binary)).toBe(true);
  });

  it('refuses a masked session over SPDY, telling the user to use WebSocket', async () => {
    const result = await exec(on, [pod, '--', 'echo', token], { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' });
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain(token);
    expect(result.stderr).toContain('masks exec and attach output over WebSocket only');
  });

  it('refuses a masked port-forward, and every masked session when masking.sessions is off', async () => {
    const forward = await kubectlFor(on.adminKubeconfig)(['-n', ns, 'port-forward', `pod/${pod}`, '0:8080'], { timeoutMs: 30_000 });
    expect(forward.code).not.toBe(0);
    expect(forward.stderr).toContain('masks the output of exec and attach only');
    const refused = await exec(off, [pod, '--', 'echo', token]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).not.toContain(token);
    expect(refused.stderr).toContain('masking exec and attach output is off (masking.sessions.enabled)');
  });
});
