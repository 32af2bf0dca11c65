import { useEffect, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { searchAudit } from '../api.ts';
import { EventTable } from '../components/EventTable.tsx';
import { JsonView } from '../components/JsonView.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { useLocation } from '../router.tsx';
import type { AuditEvent, AuditQuery } from '../types.ts';
import { useFields } from '../useFields.ts';

const FIELDS = [
  ['subject', 'Subject'],
  ['verb', 'Verb'],
  ['resource', 'Resource'],
  ['namespace', 'Namespace'],
] as const;

/** A datetime-local value (local time, no zone) as RFC 3339, or undefined when empty. */
function toRfc3339(local: string): string | undefined {
  return local === '' ? undefined : new Date(local).toISOString();
}

function SearchForm({ onSearch }: { onSearch: (q: AuditQuery) => void }): ReactNode {
  const { form, set } = useFields({ subject: '', verb: '', resource: '', namespace: '', decision: '', since: '', until: '' });
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    onSearch({ ...form, since: toRfc3339(form.since), until: toRfc3339(form.until) });
  };
  return (
    <form className="search" onSubmit={submit} role="search" aria-label="Search the audit record">
      {FIELDS.map(([k, label]) => (
        <label key={k}>
          {label}
          <input value={form[k]} onChange={set(k)} autoComplete="off" />
        </label>
      ))}
      <label>
        Decision
        <select value={form.decision} onChange={set('decision')}>
          <option value="">any</option>
          <option value="allow">allow</option>
          <option value="mask">mask</option>
          <option value="review">review</option>
          <option value="propose">propose</option>
          <option value="deny">deny</option>
        </select>
      </label>
      <label>
        Since
        <input type="datetime-local" value={form.since} onChange={set('since')} />
      </label>
      <label>
        Until
        <input type="datetime-local" value={form.until} onChange={set('until')} />
      </label>
      <button type="submit" className="primary">
        Search
      </button>
    </form>
  );
}

/** A search given in the address, as the policy backtest's example links give it (`?subject=&since=&until=`). */
function queryFromUrl(search: string): AuditQuery {
  const params = new URLSearchParams(search);
  const q: AuditQuery = {};
  for (const k of ['subject', 'verb', 'resource', 'namespace', 'decision', 'since', 'until'] as const) {
    const v = params.get(k);
    if (v !== null) q[k] = v;
  }
  return q;
}

/** Audit search with paging backwards through time. */
export function Audit(): ReactNode {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [query, setQuery] = useState<AuditQuery>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const load = (q: AuditQuery, append: boolean): void => {
    setBusy(true);
    setError(undefined);
    searchAudit({ ...q, limit: 50 }).then(
      (page) => {
        setEvents((prev) => (append ? [...prev, ...page.items] : page.items));
        setNext(page.nextBefore);
        setBusy(false);
      },
      (e: unknown) => {
        setError(e);
        setBusy(false);
      },
    );
  };
  const search = (q: AuditQuery): void => {
    setQuery(q);
    load(q, false);
  };
  const { search: address } = useLocation();
  // Show the newest events (or those the address names) straight away; the form narrows them.
  useEffect(() => search(queryFromUrl(address)), []);
  return (
    <>
      <SearchForm onSearch={search} />
      {error !== undefined && <ErrorNotice error={error} title="Search failed" />}
      {query !== undefined && !busy && events.length === 0 && error === undefined && <p className="empty">No events match.</p>}
      {events.length > 0 && <EventTable events={events} caption="Audit events, newest first" detail={(e) => <JsonView value={e} summary="Full event" open />} />}
      {busy && <Loading what="events" />}
      {query !== undefined && next !== null && !busy && (
        <button type="button" onClick={() => load({ ...query, before: next }, true)}>
          Load older events
        </button>
      )}
    </>
  );
}
