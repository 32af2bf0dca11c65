import type { ReactNode } from 'react';
import { age } from '../format.ts';
import { Link } from '../router.tsx';
import type { ConsoleApproval } from '../types.ts';
import { useNow } from '../useNow.ts';
import { Badge } from './Badge.tsx';

function ApprovalCard({ a, now }: { a: ConsoleApproval; now: number }): ReactNode {
  const r = a.requester;
  return (
    <li className="card approval-card">
      <div className="card-head">
        <Link to={`/approvals/${a.id}`} className="card-title">
          {a.summary}
        </Link>
        <Badge value={a.state} />
      </div>
      <dl className="facts">
        <div>
          <dt>Requester</dt>
          <dd>
            {r.subject} <span className="muted">({r.kind})</span>
            {r.sponsor !== null && <span className="muted"> for {r.sponsor}</span>}
          </dd>
        </div>
        <div>
          <dt>Rule</dt>
          <dd>
            <code>{a.rule}</code>: {a.message}
          </dd>
        </div>
        <div>
          <dt>Age</dt>
          <dd>
            <time dateTime={a.createdAt}>{age(a.createdAt, now)}</time>
          </dd>
        </div>
        <div>
          <dt>Reason</dt>
          <dd>{a.reason ?? <span className="muted">none given</span>}</dd>
        </div>
      </dl>
    </li>
  );
}

export function ApprovalList({ items, empty }: { items: ConsoleApproval[]; empty: string }): ReactNode {
  const now = useNow(15_000);
  if (items.length === 0) return <p className="empty">{empty}</p>;
  return (
    <ul className="cards" aria-label="Approvals">
      {items.map((a) => (
        <ApprovalCard key={a.id} a={a} now={now} />
      ))}
    </ul>
  );
}
