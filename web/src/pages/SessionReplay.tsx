import { useState } from 'react';
import type { ReactNode } from 'react';
import { getSession } from '../api.ts';
import { Body } from '../components/Body.tsx';
import { EventTable } from '../components/EventTable.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { TerminalPlayer } from '../components/TerminalPlayer.tsx';
import { when } from '../format.ts';
import { Link } from '../router.tsx';
import type { AuditEvent } from '../types.ts';
import { useAsync } from '../useAsync.ts';

function CallDetail({ e }: { e: AuditEvent }): ReactNode {
  return (
    <div className="call-detail">
      {e.decision?.message !== undefined && (
        <p>
          <code>{e.decision.rule ?? 'default'}</code>: {e.decision.message}
        </p>
      )}
      {e.bodies.masked && <p className="notice">The response was masked before the client saw it; the recording holds the masked copy.</p>}
      <Body label="Request body" body={e.bodies.request} />
      <Body label="Response body" body={e.bodies.response} />
      {e.stream !== undefined && <p>This call's {e.stream.kind} recording plays under “Recordings” above.</p>}
    </div>
  );
}

/** Later pages of a long session, appended after the first. */
function useMoreEvents(id: string): {
  events: AuditEvent[];
  nextAfter: string | null;
  loaded: boolean;
  busy: boolean;
  error: unknown;
  load: (after: string) => void;
} {
  const [state, setState] = useState<{ events: AuditEvent[]; nextAfter: string | null; loaded: boolean }>({ events: [], nextAfter: null, loaded: false });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const load = (after: string): void => {
    setBusy(true);
    getSession(id, after).then(
      (page) => {
        setState((prev) => ({ events: [...prev.events, ...page.events], nextAfter: page.nextAfter, loaded: true }));
        setBusy(false);
      },
      (e: unknown) => {
        setError(e);
        setBusy(false);
      },
    );
  };
  return { ...state, busy, error, load };
}

/** A session's API calls in order; calls with an exec/attach stream show its terminal playback in their detail. */
export function SessionReplay({ id }: { id: string }): ReactNode {
  const { data, error } = useAsync(() => getSession(id), id);
  const more = useMoreEvents(id);
  if (error !== undefined) return <ErrorNotice error={error} title="Could not load the session" />;
  if (data === undefined) return <Loading what="session" />;
  const s = data.session;
  const events = [...data.events, ...more.events];
  const nextAfter = more.loaded ? more.nextAfter : data.nextAfter;
  const streams = events.filter((e) => e.stream !== undefined);
  return (
    <article aria-labelledby="session-h">
      <p>
        <Link to="/sessions">← All sessions</Link>
      </p>
      <h1 id="session-h">
        {s.command ?? 'Session'} <span className="muted">by {s.subject}</span>
      </h1>
      <p className="lead">
        {when(s.start)} to {when(s.end)}: {s.events} calls, {s.denied} denied, {s.reviewed} held for approval, {s.masked} masked
      </p>
      {streams.length > 0 && (
        <section aria-labelledby="rec-h">
          <h2 id="rec-h">Recordings</h2>
          {streams.map((e) => e.stream !== undefined && <TerminalPlayer key={e.id} streamSession={e.stream.sessionId} kind={e.stream.kind} />)}
        </section>
      )}
      <h2>API calls</h2>
      <EventTable events={events} caption="The session's API calls, in order" detail={(e) => <CallDetail e={e} />} />
      {more.error !== undefined && <ErrorNotice error={more.error} title="Could not load more calls" />}
      {nextAfter !== null && (
        <button type="button" onClick={() => more.load(nextAfter)} disabled={more.busy}>
          Load later calls
        </button>
      )}
    </article>
  );
}
