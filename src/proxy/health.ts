import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditWriterStats } from '../audit/writer.js';
import type { PolicyHandle } from '../policy/model.js';
import type { Upstream } from '../upstream/client.js';
import { upstreamFetch } from '../upstream/fetch.js';

const PROBE_TIMEOUT_MS = 5_000;
// Audit records older than this and still not committed mean the store is not keeping up.
const AUDIT_LAG_LIMIT_MS = 30_000;

export type CheckResult = { ok: true } | { ok: false; reason: string };

/** One named check of /livez or /readyz, reported like the API server's `?verbose` output. */
export interface HealthCheck {
  readonly name: string;
  run(): CheckResult | Promise<CheckResult>;
}

export interface HealthChecks {
  /** The process answers (and nothing a restart would fix is wrong). */
  livez: readonly HealthCheck[];
  /** The gateway can do its job: traffic may be sent here. */
  readyz: readonly HealthCheck[];
}

const OK: CheckResult = Object.freeze({ ok: true });
export const pingCheck: HealthCheck = { name: 'ping', run: () => OK };

/**
 * Serves the gateway's own /healthz (as /livez), /livez and /readyz. Each
 * lists its checks with `?verbose` (`[+]name ok` / `[-]name failed: reason`),
 * and always when one fails (503); `?exclude=name` skips a check, as on the
 * API server. Returns false when the path is not a health endpoint.
 *
 * @example
 * const health = createHealthHandler({ livez: [pingCheck], readyz: [pingCheck, upstreamCheck(upstream)] });
 * server.on('request', (req, res) => health(req, res) || pipeline.handleRequest(req, res));
 */
export function createHealthHandler(checks: HealthChecks): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '/';
    // Cheap refusal first: this runs in front of every request.
    if (!url.startsWith('/healthz') && !url.startsWith('/livez') && !url.startsWith('/readyz')) return false;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== '/healthz' && path !== '/livez' && path !== '/readyz') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const excluded = new Set(query.getAll('exclude'));
    const list = (path === '/readyz' ? checks.readyz : checks.livez).filter((c) => !excluded.has(c.name));
    void runChecks(list).then((results) => {
      const ok = results.every((r) => r.result.ok);
      const body = query.has('verbose') || !ok ? healthReport(path === '/readyz' ? 'readyz' : 'livez', results) : 'ok';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache, private', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    return true;
  };
}

/** The API server's verbose format: one `[+]`/`[-]` line per check, then the verdict. */
export function healthReport(name: string, results: readonly { name: string; result: CheckResult }[]): string {
  const lines = results.map(({ name: check, result }) => (result.ok ? `[+]${check} ok` : `[-]${check} failed: ${result.reason}`));
  const ok = results.every((r) => r.result.ok);
  return `${lines.join('\n')}\n${name} check ${ok ? 'passed' : 'failed'}\n`;
}

function runChecks(list: readonly HealthCheck[]): Promise<{ name: string; result: CheckResult }[]> {
  return Promise.all(
    list.map(async (check) => {
      try {
        return { name: check.name, result: await check.run() };
      } catch (err) {
        return { name: check.name, result: { ok: false, reason: (err as Error).message } as CheckResult };
      }
    }),
  );
}

/** The upstream API server answers its own /readyz: a gateway that cannot reach its cluster is out of rotation. */
export function upstreamCheck(upstream: Upstream, name = 'upstream'): HealthCheck {
  return {
    name,
    async run() {
      const origin = upstream.where;
      try {
        const reply = await upstreamFetch(upstream, { method: 'GET', path: '/readyz', headers: { accept: 'text/plain' }, timeoutMs: PROBE_TIMEOUT_MS });
        return reply.status === 200 ? OK : { ok: false, reason: `${origin}/readyz answered ${reply.status}` };
      } catch (err) {
        return { ok: false, reason: `${origin}: ${(err as Error).message}` };
      }
    },
  };
}

/**
 * The audit store takes records: the last batch committed and nothing has
 * waited too long. Requests are refused while it does not, so neither should
 * traffic come here.
 */
export function auditStoreCheck(stats: () => AuditWriterStats): HealthCheck {
  return {
    name: 'audit-store',
    run() {
      const s = stats();
      if (!s.healthy) return { ok: false, reason: 'the last audit batch could not be written; requests are refused until the store takes records again' };
      if (s.lagMs > AUDIT_LAG_LIMIT_MS) return { ok: false, reason: `${s.queueDepth} audit records waiting for ${Math.round(s.lagMs / 1000)}s` };
      return OK;
    },
  };
}

/**
 * Policy files are in force. A failed reload keeps the last good policy, so it
 * does not fail this check (it shows in gatehouse_policy_reloads_total).
 */
export function policyCheck(policy: PolicyHandle): HealthCheck {
  return {
    name: 'policy',
    run: () => {
      const { files, defaultAction } = policy.current();
      return files.length > 0 ? OK : { ok: false, reason: `no policy file is loaded; every request gets the default action (${defaultAction})` };
    },
  };
}

/** Fails from the moment shutdown begins, so load balancers stop sending new work while in-flight requests finish. */
export function shutdownCheck(draining: () => boolean): HealthCheck {
  return { name: 'shutdown', run: () => (draining() ? { ok: false, reason: 'the gateway is shutting down' } : OK) };
}
