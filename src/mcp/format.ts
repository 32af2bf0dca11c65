/**
 * Renders Kubernetes answers as text a model reads easily: server-side
 * Tables as aligned columns (as kubectl prints them), objects as YAML
 * without the bookkeeping fields, ages relative to now.
 *
 * @module
 */

import { stringify } from 'yaml';
import { table } from '../policy/explain.js';

/** `meta.k8s.io/v1` Table, with row metadata (`includeObject=Metadata`). */
export interface KubeTable {
  kind?: string;
  columnDefinitions?: { name: string; priority?: number }[];
  rows?: { cells: unknown[]; object?: { metadata?: { namespace?: string; name?: string } } }[];
  metadata?: { continue?: string };
}

export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

/**
 * The columns kubectl shows by default (priority 0), with a NAMESPACE
 * column first when the rows span namespaces.
 *
 * @example
 * renderTable(table, { withNamespace: true });
 */
export function renderTable(kubeTable: KubeTable, options: { withNamespace: boolean }): string {
  const defs = kubeTable.columnDefinitions ?? [];
  const shown = defs.map((d, i) => ({ d, i })).filter(({ d }) => (d.priority ?? 0) === 0);
  const rows = kubeTable.rows ?? [];
  if (rows.length === 0) return 'No resources found.';
  const header = [...(options.withNamespace ? ['NAMESPACE'] : []), ...shown.map(({ d }) => d.name.toUpperCase())];
  const body = rows.map((row) => [
    ...(options.withNamespace ? [row.object?.metadata?.namespace ?? ''] : []),
    ...shown.map(({ i }) => cellText(row.cells[i])),
  ]);
  return table(header, body);
}

function cellText(cell: unknown): string {
  if (cell === null || cell === undefined) return '<none>';
  if (typeof cell === 'string') return cell;
  if (typeof cell === 'number' || typeof cell === 'boolean') return String(cell);
  return JSON.stringify(cell);
}

/** Fields that say nothing to a reader and cost many tokens. */
export function withoutBookkeeping(object: unknown): unknown {
  if (object === null || typeof object !== 'object') return object;
  const o = object as { metadata?: Record<string, unknown>; items?: unknown[] };
  const copy: Record<string, unknown> = { ...o };
  if (o.metadata) copy.metadata = omit(o.metadata, ['managedFields']);
  if (Array.isArray(o.items)) copy.items = o.items.map(withoutBookkeeping);
  return copy;
}

/** A copy of `record` without `keys`. */
export function omit(record: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)));
}

export function toYaml(object: unknown): string {
  return stringify(withoutBookkeeping(object), { lineWidth: 0 });
}

/**
 * How long ago, as kubectl prints ages: `45s`, `12m`, `3h`, `5d`.
 *
 * @example
 * age('2024-01-01T00:00:00Z', Date.parse('2024-01-01T00:02:00Z')); // '2m'
 */
export function age(time: string | undefined, now: number = Date.now()): string {
  const t = time === undefined ? NaN : Date.parse(time);
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export interface KubeEvent {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  firstTimestamp?: string | null;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  metadata?: { namespace?: string; creationTimestamp?: string };
}

const eventTime = (e: KubeEvent): string | undefined => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;

/**
 * Events newest last (as `kubectl get events` sorts them), at most `limit`.
 *
 * @example
 * renderEvents(list.items, { withNamespace: false, limit: 20 });
 */
export function renderEvents(events: readonly KubeEvent[], options: { withNamespace: boolean; limit: number; now?: number }): string {
  if (events.length === 0) return 'No events found.';
  const sorted = [...events].sort((a, b) => (Date.parse(eventTime(a) ?? '') || 0) - (Date.parse(eventTime(b) ?? '') || 0)).slice(-options.limit);
  const header = [...(options.withNamespace ? ['NAMESPACE'] : []), 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];
  const rows = sorted.map((e) => [
    ...(options.withNamespace ? [e.metadata?.namespace ?? ''] : []),
    age(eventTime(e), options.now),
    e.type ?? '',
    e.reason ?? '',
    `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`,
    `${(e.message ?? '').replace(/\s+/g, ' ').trim()}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}`,
  ]);
  return table(header, rows);
}
