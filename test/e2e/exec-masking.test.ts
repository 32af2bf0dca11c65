import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { recordedChunks } from './helpers/audit-store.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// A policy that says `mask` for exec and attach: with masking.sessions on, what
// the command prints reaches kubectl (and the session recording) masked; SPDY
// and port-forward are refused, and so is everything when the switch is off.
const cluster = inject('cluster');
const ns = `execmask-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-execmask-'));
// Built by concatenation so no token-shaped literal lives in the repository.
const token = ['gh', 'p_', randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)].join('');
let direct: Kubectl;
let pod = '';
let on: GatewayProcess;
let off: GatewayProcess;

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  await direct.ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/web:1']);
  await direct.ok(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
  pod = (await direct.ok(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  const policy = join(work, 'mask-exec.yaml');
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'mask-exec' },
      spec: {
        rules: [
          {
            name: 'mask-sessions',
            match: {
              verbs: ['create'],
              namespaces: [ns],
              resources: ['pods/exec', 'pods/attach', 'pods/portforward'].map((resource) => ({ group: '', resource })),
            },
            action: 'mask',
            message: 'session output is masked',
          },
        ],
      },
    }),
  );
  const config = (enabled: boolean) => {
    const file = join(work, `gatehouse-${enabled}.yaml`);
    writeFileSync(file, JSON.stringify({ masking: { sessions: { enabled } } }));
    return file;
  };
  [on, off] = await Promise.all([
    startGatewayProcess(cluster.adminKubeconfig, ['--policy', policy, '--config', config(true)]),
    startGatewayProcess(cluster.adminKubeconfig, ['--policy', policy, '--config', config(false)]),
  ]);
}, 150_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await Promise.all([on?.stop(), off?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const exec = (gateway: GatewayProcess, args: string[], env?: NodeJS.ProcessEnv) =>
  kubectlFor(gateway.adminKubeconfig)(['-n', ns, 'exec', ...args], { env, timeoutMs: 30_000 });

interface ExecEvent {
  requestId: string;
  request: { subresource: string };
  decision?: { action: string };
  result: { status: number; code?: string };
  stream?: { sessionId: string; hash: string };
  bodies: { masked: boolean };
}

/** The event that closed the gateway's exec session whose recording shows `marker` (written just after the client left, so polled). */
async function recordedSession(gateway: GatewayProcess, marker: string): Promise<{ event: ExecEvent; stdout: string; all: string }> {
  for (let i = 0; i < 50; i++) {
    const r = await run(process.execPath, ['bin/gatehouse.js', 'audit', 'search', '--namespace', ns, '--json', '--limit', '100', '--data-dir', gateway.dataDir]);
    for (const { event } of JSON.parse(r.stdout) as { event: ExecEvent }[]) {
      if (event.request.subresource !== 'exec' || event.stream?.hash === undefined) continue;
      const chunks = recordedChunks(gateway, event.stream.sessionId);
      const all = chunks.map((c) => c.data.toString()).join('');
      if (all.includes(marker)) return { event, stdout: chunks.filter((c) => c.channel === 'stdout').map((c) => c.data.toString()).join(''), all };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no closed exec session showing ${marker} was recorded`);
}


describe('exec output masking (policy action mask on pods/exec)', () => {
  it('shows kubectl exec the mask, not the token, on stdout and stderr, and records it masked', async () => {
    const marker = `run-${randomBytes(4).toString('hex')}`;
    const result = await exec(on, [pod, '--', 'sh', '-c', `echo ${marker} ${token}; echo "Authorization: token=${token}" >&2; echo done`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${marker} <masked:github-token>\ndone\n`);
    expect(result.stderr).toContain('Authorization: token=<masked:');
    expect(result.stdout + result.stderr).not.toContain(token.slice(4));

    const { event, stdout, all } = await recordedSession(on, marker);
    expect(event.decision?.action).toBe('mask');
    expect(event.result.status).toBe(101);
    // The session's end event says its output was masked.
    expect(event.bodies.masked).toBe(true);
    expect(stdout).toBe(`${marker} <masked:github-token>\ndone\n`);
    expect(all).not.toContain(token.slice(4));
  });

  it('masks a token printed without a newline and one printed in two writes', async () => {
    const half = token.length >> 1;
    const result = await exec(on, [pod, '--', 'sh', '-c', `printf '%s' '${token.slice(0, half)}'; printf '%s\\n' '${token.slice(half)}'; printf 'last ${token}'`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('<masked:github-token>\nlast <masked:github-token>');
  });

  it('keeps the exit code and stdin of a masked session', async () => {
    const result = await kubectlFor(on.adminKubeconfig)(['-n', ns, 'exec', '-i', pod, '--', 'sh', '-c', 'cat; exit 3'], { input: `piped ${token}\n`, timeoutMs: 30_000 });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('piped <masked:github-token>\n');
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
    expect(stdout).toBe('name?hello bob <masked:github-token>\n');
  });

  it('masks the output of exec -it (a terminal: one stream, CRLF line ends)', async () => {
    // kubectl allocates a TTY only when its own stdin is one: run it under script(1). The pause before exiting works
    // around kwok's pty copy, which can drop output of a process that ends at once (as in helpers/scenarios.ts).
    const command = `env KUBECONFIG='${on.adminKubeconfig}' kubectl -n ${ns} exec -it ${pod} -- sh -c 'tty; echo "tty ${token}"; sleep 0.3'`;
    const result = await run('script', ['-qec', command, '/dev/null'], { timeoutMs: 30_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\/dev\/pts\/\d+\r\ntty <masked:github-token>\r\n/);
    expect(result.stdout).not.toContain(token.slice(4));
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
