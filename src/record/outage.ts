/**
 * What the gateway does while the audit store takes no records
 * (`audit.whenStoreDown`), and how the gap is made visible afterwards.
 *
 * Everything fails closed (503 GH_AUDIT_UNAVAILABLE) unless `reads:
 * allow-unrecorded`; then plain reads pass, each logged at warn and counted.
 * From the first failed write on, the tracker tries every second to append
 * one outage event (window, reads passed, requests refused, who read what):
 * that attempt is also what tells the writer the store is back when no
 * request comes, so readiness recovers by itself.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { WhenStoreDown } from '../audit/config.js';
import { buildAuditEvent, rfc3339Micros } from '../audit/event.js';
import type { AuditEvent } from '../audit/event.js';
import type { AuditWriter } from '../audit/writer.js';
import { GatehouseError } from '../errors/codes.js';
import type { RequestContext } from '../pipeline/context.js';

/** Groups of (principal, verb, resource, namespace) listed in an outage event; the rest are only counted. */
export const MAX_LISTED_READ_GROUPS = 100;
/** Events of forwarded requests kept in memory for the store's return; beyond this, only logged. */
export const MAX_DEFERRED_EVENTS = 10_000;
const PROBE_INTERVAL_MS = 1000;

export interface OutageTracker {
  /** Before the stages: the refusal when the store is down and nothing may pass, so nothing is checked in vain. */
  refuseEarly(): GatehouseError | undefined;
  /** After the stages let a request through: undefined while the store is up; else its refusal, or `unrecorded` for a read that may pass. */
  whileDown(ctx: RequestContext): GatehouseError | 'unrecorded' | undefined;
  /** Reads passed unrecorded since start (a counter for /metrics). */
  unrecordedReads(): number;
  /**
   * An exchange that reached the API server but whose event the store refused
   * (it failed between the check and the append; the client's connection is
   * cut): kept in memory and appended, after the outage event, once the store
   * is back, so nothing forwarded goes unrecorded unless the gateway itself
   * dies during the outage.
   */
  defer(event: AuditEvent): void;
  /** Stops trying to write the outage event (the gateway is closing). */
  close(): void;
}

interface Window {
  fromMs: number;
  unrecorded: number;
  refused: number;
  reads: Map<string, { subject: string; verb: string; resource: string; namespace: string; count: number }>;
}

/**
 * Only a plain read of something other than a Secret, which policy allowed
 * without an approval, may pass unrecorded: no watch or log (long, and what
 * they stream is the record), no subresource (proxy, exec…), no upgrade.
 */
export function mayPassUnrecorded(ctx: RequestContext): boolean {
  const r = ctx.request;
  if (ctx.upgrade || r === undefined || ctx.approval !== undefined) return false;
  if (ctx.decision !== undefined && ctx.decision.action !== 'allow' && ctx.decision.action !== 'mask') return false;
  if (!r.isResourceRequest) return r.verb === 'get';
  return (r.verb === 'get' || r.verb === 'list') && r.subresource === '' && !(r.apiGroup === '' && r.resource === 'secrets');
}

/**
 * @example
 * const outage = createOutageTracker({ writer, whenStoreDown: config.audit.whenStoreDown, log });
 * const refusal = outage.refuseEarly();
 */
export function createOutageTracker(options: { writer: AuditWriter; whenStoreDown: WhenStoreDown; log: Logger; now?: () => number }): OutageTracker {
  const { writer, whenStoreDown, log } = options;
  const now = options.now ?? Date.now;
  let window: Window | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let total = 0;
  const deferred: AuditEvent[] = [];

  const emptyWindow = (fromMs: number): Window => ({ fromMs, unrecorded: 0, refused: 0, reads: new Map() });

  /** The open window while the writer is unhealthy (opening one on the first sight of the outage). */
  const current = (): Window | undefined => {
    const stats = writer.stats();
    if (stats.healthy) return window;
    if (window === undefined) {
      window = emptyWindow(stats.unhealthySinceMs ?? now());
      log.error({ reads: whenStoreDown.reads }, `the audit store takes no records: ${whenStoreDown.reads === 'allow-unrecorded' ? 'plain reads pass unrecorded' : 'every request is refused'} until it is back`);
      schedule(PROBE_INTERVAL_MS);
    }
    return window;
  };

  const refusal = (w: Window): GatehouseError => {
    w.refused += 1;
    return new GatehouseError('GH_AUDIT_UNAVAILABLE', 'the audit store is not accepting records, so the gateway forwards nothing; retry shortly', {
      retryAfterSeconds: 1,
    });
  };

  function schedule(ms: number): void {
    if (timer !== undefined || closed) return;
    timer = setTimeout(() => void probe(), ms);
    timer.unref();
  }

  // Writes the window so far; passes and refusals from here on go to a new window, written next.
  async function probe(): Promise<void> {
    const written = window!;
    const untilMs = now();
    const next = (window = emptyWindow(untilMs));
    try {
      const { seq } = await writer.append(outageEvent(written, untilMs));
      log.warn(
        { seq, from: new Date(written.fromMs).toISOString(), unrecordedReads: written.unrecorded, refused: written.refused },
        'the audit store takes records again; the outage is recorded',
      );
      await appendDeferred();
      if (next.unrecorded === 0 && next.refused === 0 && deferred.length === 0) window = undefined;
    } catch {
      window = { ...written, unrecorded: written.unrecorded + next.unrecorded, refused: written.refused + next.refused, reads: mergeReads(written, next) };
    } finally {
      timer = undefined;
    }
    if (window !== undefined) schedule(writer.stats().healthy ? 0 : PROBE_INTERVAL_MS);
  }

  // In order; stops at the first failure (the store went away again) and keeps the rest for the next probe.
  async function appendDeferred(): Promise<void> {
    let appended = 0;
    while (deferred.length > 0) {
      await writer.append(deferred[0]!);
      deferred.shift();
      appended += 1;
    }
    if (appended > 0) log.warn({ appended }, 'events of forwarded requests the store had refused are recorded now');
  }

  return {
    refuseEarly() {
      const w = current();
      return w !== undefined && !writer.stats().healthy && whenStoreDown.reads === 'refuse' ? refusal(w) : undefined;
    },
    whileDown(ctx) {
      const w = current();
      if (w === undefined || writer.stats().healthy) return undefined;
      if (whenStoreDown.reads === 'refuse' || !mayPassUnrecorded(ctx)) return refusal(w);
      const r = ctx.request!;
      const subject = ctx.principal?.subject ?? '';
      const key = JSON.stringify([subject, r.verb, r.resource, r.namespace]);
      const group = w.reads.get(key) ?? { subject, verb: r.verb, resource: r.resource, namespace: r.namespace, count: 0 };
      group.count += 1;
      w.reads.set(key, group);
      w.unrecorded += 1;
      total += 1;
      log.warn({ requestId: ctx.id, subject, verb: r.verb, resource: r.resource, namespace: r.namespace, name: r.name, path: r.path }, 'audit store down: read passed unrecorded');
      return 'unrecorded';
    },
    unrecordedReads: () => total,
    defer(event) {
      if (deferred.length >= MAX_DEFERRED_EVENTS) {
        log.error({ requestId: event.requestId, verb: event.request.verb, path: event.request.path }, 'audit store down: a forwarded request could not be kept for recording');
        return;
      }
      deferred.push(event);
      if (window === undefined) window = emptyWindow(writer.stats().unhealthySinceMs ?? now());
      schedule(PROBE_INTERVAL_MS);
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

function mergeReads(a: Window, b: Window): Window['reads'] {
  const merged = new Map([...a.reads].map(([k, v]) => [k, { ...v }]));
  for (const [key, group] of b.reads) {
    const into = merged.get(key);
    if (into) into.count += group.count;
    else merged.set(key, { ...group });
  }
  return merged;
}

/** The gateway's own event for an outage window: no principal, verb `audit-outage`, result 503. */
function outageEvent(w: Window, untilMs: number): AuditEvent {
  const groups = [...w.reads.values()].sort((x, y) => y.count - x.count);
  const event = buildAuditEvent({
    requestId: randomUUID(),
    method: '',
    path: '',
    request: undefined,
    clientAddress: 'gatehouse',
    headers: {},
    result: { status: 503, code: 'GH_AUDIT_UNAVAILABLE', durationMs: untilMs - w.fromMs },
    timeMicros: untilMs * 1000,
  });
  event.request.verb = 'audit-outage';
  event.outage = {
    from: rfc3339Micros(w.fromMs * 1000),
    until: rfc3339Micros(untilMs * 1000),
    unrecordedReads: w.unrecorded,
    refused: w.refused,
    reads: groups.slice(0, MAX_LISTED_READ_GROUPS),
    readsNotListed: Math.max(0, groups.length - MAX_LISTED_READ_GROUPS),
  };
  return event;
}
