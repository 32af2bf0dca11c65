import type { ReactNode } from 'react';
import { listSessions } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { when } from '../format.ts';
import { Link } from '../router.tsx';
import { useAsync } from '../useAsync.ts';

/** Recorded sessions, newest first; each opens its replay. */
export function Sessions(): ReactNode {
  const { data, error } = useAsync(listSessions, 'sessions');
  if (error !== undefined) return <ErrorNotice error={error} title="Could not load sessions" />;
  if (data === undefined) return <Loading what="sessions" />;
  if (data.length === 0) return <p className="empty">No sessions recorded yet.</p>;
  return (
    <DataTable caption="Recorded sessions" columns={['Started', 'Who', 'Command', 'Calls', 'Denied', 'Held', 'Terminal']}>
      {data.map((s) => (
        <tr key={s.id}>
          <td>
            <Link to={`/sessions/${s.id}`}>{when(s.start)}</Link>
          </td>
          <td>
            {s.subject} {s.kind !== null && <span className="muted">({s.kind})</span>}
          </td>
          <td>{s.command === null ? '—' : <code>{s.command}</code>}</td>
          <td>{s.events}</td>
          <td>{s.denied}</td>
          <td>{s.reviewed}</td>
          <td>{s.streams > 0 ? `${s.streams} recording${s.streams === 1 ? '' : 's'}` : '—'}</td>
        </tr>
      ))}
    </DataTable>
  );
}
