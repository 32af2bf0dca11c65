import { Fragment, useState } from 'react';
import type { ReactNode } from 'react';
import { resourceLabel, when } from '../format.ts';
import type { AuditEvent } from '../types.ts';
import { Badge } from './Badge.tsx';
import { DataTable } from './DataTable.tsx';

const COLUMNS: ReactNode[] = ['Time', 'Who', 'Verb', 'Resource', 'Decision', 'Status', 'Approval', <span className="visually-hidden">Details</span>];

/** One row per audit event; a row's button expands `detail` (the full JSON, or bodies and a player) under it. */
export function EventTable({
  events,
  caption,
  detail,
}: {
  events: AuditEvent[];
  caption: string;
  detail: (e: AuditEvent) => ReactNode;
}): ReactNode {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string): void =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <DataTable caption={caption} columns={COLUMNS} className="events">
      {events.map((e) => {
        const isOpen = open.has(e.id);
        return (
          <Fragment key={e.id}>
            <tr className={e.stream !== undefined ? 'has-stream' : undefined}>
              <td>
                <time dateTime={e.time}>{when(e.time)}</time>
              </td>
              <td>{e.principal?.subject ?? <span className="muted">anonymous</span>}</td>
              <td>{e.request.verb}</td>
              <td className="wrap">{resourceLabel(e.request) || e.request.path}</td>
              <td>{e.decision === undefined ? '—' : <Badge value={e.decision.action} />}</td>
              <td>
                {e.result.status}
                {/* A stream has a start and an end event with the same status; this says which is which. */}
                {e.stream !== undefined && <span className="muted"> ({e.stream.kind} ended)</span>}
                {e.result.cut !== undefined && <span className="muted"> cut by {e.result.cut}</span>}
              </td>
              <td>{e.approval === undefined ? '—' : `by ${e.approval.by}`}</td>
              <td>
                <button type="button" className="small" aria-expanded={isOpen} aria-controls={`ev-${e.id}`} onClick={() => toggle(e.id)}>
                  {isOpen ? 'Hide' : 'Show'}
                  <span className="visually-hidden"> event {e.id}</span>
                </button>
              </td>
            </tr>
            {isOpen && (
              <tr id={`ev-${e.id}`} className="event-detail">
                <td colSpan={8}>{detail(e)}</td>
              </tr>
            )}
          </Fragment>
        );
      })}
    </DataTable>
  );
}
