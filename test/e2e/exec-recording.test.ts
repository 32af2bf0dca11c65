import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { recordedChunks } from './helpers/audit-store.js';
import { createRunningPod } from './helpers/pods.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// exec sessions through the gateway are recorded as hash-chained chunks
// (stdin, stdout, …), summed up by the event written when the session
// closes, verifiable, and exportable as asciicast v2; past the per-session
// cap the configured behaviour applies (a marker, or the session ends).
const cluster = inject('cluster');
const ns = `rec-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-rec-'));
const gateways: GatewayProcess[] = [];
let direct: Kubectl;
let pod: string;

interface StreamEvent {
  requestId: string;
  request: { subresource: string };
  result: { status: number; code?: string };
  upstream?: { bytesIn: number; bytesOut: number };
  stream?: { sessionId: string; chunks: number; bytes: number; hash: string; truncated: boolean };
}

async function gatewayWith(sessions?: { maxBytes: number; onLimit: 'stop-recording' | 'end-session' }): Promise<GatewayProcess> {
  const args: string[] = [];
  if (sessions) {
    const file = join(work, `gatehouse-${gateways.length}.yaml`);
    writeFileSync(file, JSON.stringify({ audit: { sessions } }));
    args.push('--config', file);
  }
  const gateway = await startGatewayProcess(cluster.adminKubeconfig, args);
  gateways.push(gateway);
  return gateway;
}

const gatehouse = (gateway: GatewayProcess, args: string[]) => run(process.execPath, ['bin/gatehouse.js', ...args, '--data-dir', gateway.dataDir]);

/** The event that closed the gateway's one exec session (written just after the client left, so polled). */
async function closedSession(gateway: GatewayProcess): Promise<StreamEvent> {
  for (let i = 0; i < 50; i++) {
    const r = await gatehouse(gateway, ['audit', 'search', '--namespace', ns, '--json', '--limit', '100']);
    const rows = JSON.parse(r.stdout) as { event: StreamEvent }[];
    const closed = rows.find((row) => row.event.request.subresource === 'exec' && row.event.stream?.hash !== undefined);
    if (closed) return closed.event;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('no closed exec session was recorded');
}

const text = (chunks: { channel: string; data: Buffer }[], channel: string) =>
  Buffer.concat(chunks.filter((c) => c.channel === channel).map((c) => c.data)).toString();

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  pod = await createRunningPod(direct, ns, 'web');
}, 150_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  for (const gateway of gateways) await gateway.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('exec session recording', () => {
  it('records what was typed and printed, verifies, and replays as asciicast', async () => {
    const gateway = await gatewayWith();
    const token = randomBytes(4).toString('hex');
    const result = await kubectlFor(gateway.adminKubeconfig)(['-n', ns, 'exec', '-i', pod, '--', 'sh'], {
      input: `echo typed-${token}\necho oops-${token} >&2\nexit\n`,
      timeoutMs: 30_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`typed-${token}\n`);

    const event = await closedSession(gateway);
    expect(event.result.status).toBe(101);
    expect(event.stream).toMatchObject({ sessionId: event.requestId, truncated: false });
    expect(event.upstream?.bytesIn).toBeGreaterThan(0);
    const chunks = recordedChunks(gateway, event.stream!.sessionId);
    expect(chunks).toHaveLength(event.stream!.chunks);
    expect(text(chunks, 'stdin')).toContain(`echo typed-${token}\n`);
    expect(text(chunks, 'stdout')).toBe(`typed-${token}\n`);
    expect(text(chunks, 'stderr')).toBe(`oops-${token}\n`);

    const verified = await gatehouse(gateway, ['audit', 'verify']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);

    const castFile = join(work, 'session.cast');
    const replay = await gatehouse(gateway, ['audit', 'replay', event.stream!.sessionId, '-o', castFile]);
    expect(replay.code, replay.stderr).toBe(0);
    const lines = readFileSync(castFile, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines[0]).toMatchObject({ version: 2, width: 80, height: 24, title: expect.stringContaining(`exec ${ns}/${pod}`) as string });
    const events = lines.slice(1) as [number, string, string][];
    expect(events.filter((e) => e[1] === 'i').map((e) => e[2]).join('')).toContain(`echo typed-${token}`);
    expect(events.filter((e) => e[1] === 'o').map((e) => e[2]).join('')).toContain(`typed-${token}\n`);
    expect(events.every((e, i) => i === 0 || e[0] >= events[i - 1]![0])).toBe(true);

    // A chunk changed in the store breaks both verify and replay.
    const db = new Database(join(gateway.dataDir, 'gatehouse.db'));
    try {
      db.prepare("UPDATE audit_stream_chunks SET data = CAST('rm -rf /' AS BLOB) WHERE session_id = ? AND channel = 'stdin'").run(event.stream!.sessionId);
    } finally {
      db.close();
    }
    expect((await gatehouse(gateway, ['audit', 'verify'])).code).toBe(1);
    const refused = await gatehouse(gateway, ['audit', 'replay', event.stream!.sessionId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/does not verify/);
  });

  const flood = () => ['-n', ns, 'exec', pod, '--', 'sh', '-c', 'head -c 400000 /dev/zero | tr "\\0" x; echo; echo the-end'];

  it('records a SPDY/3.1 session (kubectl with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) the same way', async () => {
    const gateway = await gatewayWith();
    const token = randomBytes(4).toString('hex');
    const result = await kubectlFor(gateway.adminKubeconfig)(['-n', ns, 'exec', '-i', pod, '--', 'sh'], {
      input: `echo spdy-${token}\necho oops-${token} >&2\nexit\n`,
      env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' },
      timeoutMs: 30_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`spdy-${token}\n`);

    const event = await closedSession(gateway);
    expect(event.result.status).toBe(101);
    const chunks = recordedChunks(gateway, event.stream!.sessionId);
    expect(chunks).toHaveLength(event.stream!.chunks);
    expect(chunks.map((c) => c.channel)).not.toContain('marker');
    expect(text(chunks, 'stdin')).toContain(`echo spdy-${token}\n`);
    expect(text(chunks, 'stdout')).toBe(`spdy-${token}\n`);
    expect(text(chunks, 'stderr')).toBe(`oops-${token}\n`);
    expect((await gatehouse(gateway, ['audit', 'verify'])).code).toBe(0);

    const castFile = join(work, 'spdy.cast');
    const replay = await gatehouse(gateway, ['audit', 'replay', event.stream!.sessionId, '-o', castFile]);
    expect(replay.code, replay.stderr).toBe(0);
    const events = readFileSync(castFile, 'utf8').trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    expect(events.filter((e) => e[1] === 'i').map((e) => e[2]).join('')).toContain(`echo spdy-${token}`);
    expect(events.filter((e) => e[1] === 'o').map((e) => e[2]).join('')).toContain(`spdy-${token}\n`);
  });

  it('end-session over SPDY: the session is ended and kubectl prints the reason', async () => {
    const gateway = await gatewayWith({ maxBytes: 65_536, onLimit: 'end-session' });
    const result = await kubectlFor(gateway.adminKubeconfig)(flood(), { env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }, timeoutMs: 30_000 });
    expect(result.code).not.toBe(0);
    expect(result.stdout).not.toContain('the-end');
    expect(result.stderr).toContain('recording cap');
    const event = await closedSession(gateway);
    expect(event.result.code).toBe('GH_SESSION_LIMIT');
    expect((await gatehouse(gateway, ['audit', 'verify'])).code).toBe(0);
  });

  it('stop-recording: a session past the cap gets a marker and runs to the end', async () => {
    const gateway = await gatewayWith({ maxBytes: 65_536, onLimit: 'stop-recording' });
    const result = await kubectlFor(gateway.adminKubeconfig)(flood(), { timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toHaveLength(400_000 + 1 + 8);

    const event = await closedSession(gateway);
    expect(event.stream?.truncated).toBe(true);
    const chunks = recordedChunks(gateway, event.stream!.sessionId);
    expect(text(chunks, 'stdout')).toHaveLength(65_536);
    expect(text(chunks, 'marker')).toMatch(/recording stopped: the stream reached its cap of 65536 bytes/);
    expect((await gatehouse(gateway, ['audit', 'verify'])).code).toBe(0);
  });

  it('end-session: a session past the cap is ended, with the reason on the error channel', async () => {
    const gateway = await gatewayWith({ maxBytes: 65_536, onLimit: 'end-session' });
    const result = await kubectlFor(gateway.adminKubeconfig)(flood(), { timeoutMs: 30_000 });
    expect(result.code).not.toBe(0);
    expect(result.stdout).not.toContain('the-end');
    expect(result.stdout.length).toBeLessThan(400_000);
    // The farewell waits for the frame in flight to end, so kubectl gets the Status on the error channel.
    expect(result.stderr).toContain('recording cap');

    const event = await closedSession(gateway);
    expect(event.result.code).toBe('GH_SESSION_LIMIT');
    expect(event.stream?.truncated).toBe(true);
    const chunks = recordedChunks(gateway, event.stream!.sessionId);
    expect(text(chunks, 'marker')).toMatch(/the gateway ended the session/);
    expect((await gatehouse(gateway, ['audit', 'verify'])).code).toBe(0);
  });
});
