import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Upstream } from '../upstream/client.js';
import { upstreamFetch } from '../upstream/fetch.js';

const PROBE_TIMEOUT_MS = 5_000;

/** One named readiness check, reported like the API server's `?verbose` output. */
interface CheckResult {
  name: string;
  ok: boolean;
  detail?: string;
}

/**
 * Serves the gateway's own /healthz, /livez and /readyz. Liveness says the
 * process answers; readiness also asks the upstream API server, because a
 * gateway that cannot reach its cluster should be taken out of rotation.
 * Returns false when the path is not a health endpoint.
 */
export function createHealthHandler(upstream: Upstream): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== '/healthz' && path !== '/livez' && path !== '/readyz') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const verbose = q !== -1 && new URLSearchParams(url.slice(q + 1)).has('verbose');
    const name = path.slice(1);
    const checks: Promise<CheckResult>[] = [Promise.resolve({ name: 'ping', ok: true })];
    if (path === '/readyz') checks.push(probeUpstream(upstream));
    void Promise.all(checks).then((results) => {
      const ok = results.every((r) => r.ok);
      let body: string;
      if (verbose || !ok) {
        body = results.map((r) => `[${r.ok ? '+' : '-'}]${r.name} ${r.ok ? 'ok' : `failed: ${r.detail ?? ''}`}`).join('\n');
        body += `\n${name} check ${ok ? 'passed' : 'failed'}\n`;
      } else {
        body = 'ok';
      }
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache, private' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    return true;
  };
}

async function probeUpstream(upstream: Upstream): Promise<CheckResult> {
  const name = 'upstream';
  try {
    const reply = await upstreamFetch(upstream, { method: 'GET', path: '/readyz', headers: { accept: 'text/plain' }, timeoutMs: PROBE_TIMEOUT_MS });
    return reply.status === 200 ? { name, ok: true } : { name, ok: false, detail: `${upstream.target.server.origin}/readyz answered ${reply.status}` };
  } catch (err) {
    return { name, ok: false, detail: `${upstream.target.server.origin}: ${(err as Error).message}` };
  }
}
