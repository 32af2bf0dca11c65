/** Display helpers shared by the pages. */

/** "12s", "5m", "3h", "2d": how long ago an RFC 3339 time was. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Local date and time, to the second; "—" for none. */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A duration in milliseconds as "15m" or "1h 30m". */
export function duration(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
}

/** "pods/exec in prod" style resource label for a classified request. */
export function resourceLabel(r: { resource: string; subresource: string; namespace: string; name: string }): string {
  const res = r.subresource === '' ? r.resource : `${r.resource}/${r.subresource}`;
  const named = r.name === '' ? res : `${res}/${r.name}`;
  return r.namespace === '' ? named : `${named} in ${r.namespace}`;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** "dev, ai-agents," as ["dev", "ai-agents"]: a comma-separated field's non-empty items. */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
