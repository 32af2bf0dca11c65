import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { idleAuditWriterStats } from '../../../src/audit/writer.js';
import type { AuditWriterStats } from '../../../src/audit/writer.js';
import { auditStoreCheck, createHealthHandler, healthReport, pingCheck, shutdownCheck } from '../../../src/proxy/health.js';
import type { HealthCheck } from '../../../src/proxy/health.js';

let server: Server | undefined;
afterEach(() => server?.close());

async function serve(readyz: HealthCheck[]): Promise<(path: string) => Promise<{ status: number; body: string }>> {
  const health = createHealthHandler({ livez: [pingCheck], readyz });
  server = createServer((req, res) => {
    if (!health(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return (path) =>
    new Promise((resolve, reject) => {
      request({ port, path, host: '127.0.0.1' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end();
    });
}

const stats = (over: Partial<AuditWriterStats>): AuditWriterStats => ({ ...idleAuditWriterStats(), ...over });

describe('health endpoints', () => {
  it('answers ok, and lists every check with ?verbose like the API server', async () => {
    const get = await serve([pingCheck, shutdownCheck(() => false), auditStoreCheck(() => stats({}))]);
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ok' });
    expect(await get('/readyz?verbose')).toEqual({ status: 200, body: '[+]ping ok\n[+]shutdown ok\n[+]audit-store ok\nreadyz check passed\n' });
    expect(await get('/livez?verbose')).toEqual({ status: 200, body: '[+]ping ok\nlivez check passed\n' });
    expect((await get('/healthz')).body).toBe('ok');
    expect((await get('/readyzz')).status).toBe(404);
  });

  it('fails with 503 and the reasons when a check fails, and skips ?exclude checks', async () => {
    let draining = false;
    const get = await serve([pingCheck, shutdownCheck(() => draining), auditStoreCheck(() => stats({ queueDepth: 12, lagMs: 45_000 }))]);
    const failed = await get('/readyz');
    expect(failed.status).toBe(503);
    expect(failed.body).toBe('[+]ping ok\n[+]shutdown ok\n[-]audit-store failed: 12 audit records waiting for 45s\nreadyz check failed\n');
    expect((await get('/readyz?exclude=audit-store')).status).toBe(200);
    draining = true;
    expect((await get('/readyz?exclude=audit-store&verbose')).body).toContain('[-]shutdown failed: the gateway is shutting down');
    expect((await get('/livez')).status).toBe(200);
  });

  it('reports a check that throws as failed with its message', () => {
    expect(healthReport('readyz', [{ name: 'audit-store', result: { ok: false, reason: 'disk full' } }])).toBe('[-]audit-store failed: disk full\nreadyz check failed\n');
    expect(auditStoreCheck(() => stats({ healthy: false })).run()).toMatchObject({ ok: false, reason: expect.stringContaining('last audit batch') as unknown });
  });
});
