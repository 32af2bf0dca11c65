import { useState } from 'react';
import type { ReactNode } from 'react';
import { decideApproval, getApproval } from '../api.ts';
import { useApprovalFeed } from '../approvalFeed.tsx';
import { Badge } from '../components/Badge.tsx';
import { DecideForm } from '../components/DecideForm.tsx';
import { DiffView } from '../components/DiffView.tsx';
import { JsonView } from '../components/JsonView.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { age, duration, resourceLabel, when } from '../format.ts';
import { Link } from '../router.tsx';
import type { ConsoleApproval } from '../types.ts';
import { useAsync } from '../useAsync.ts';

function RequestFacts({ a }: { a: ConsoleApproval }): ReactNode {
  const r = a.request;
  const group = r.apiGroup === '' ? r.apiVersion : `${r.apiGroup}/${r.apiVersion}`;
  return (
    <section aria-labelledby="req-h" className="panel">
      <h2 id="req-h">Request</h2>
      <dl className="facts">
        <div>
          <dt>Verb</dt>
          <dd>{r.verb}</dd>
        </div>
        <div>
          <dt>Resource</dt>
          <dd>
            {resourceLabel(r)} <span className="muted">({group})</span>
          </dd>
        </div>
        <div>
          <dt>Path</dt>
          <dd>
            <code className="wrap">{r.path}</code>
          </dd>
        </div>
        <div>
          <dt>Requester</dt>
          <dd>
            {a.requester.subject} <span className="muted">({a.requester.kind})</span>
            {a.requester.sponsor !== null && <> on behalf of {a.requester.sponsor}</>}
          </dd>
        </div>
        <div>
          <dt>Groups</dt>
          <dd>{a.requester.groups.join(', ') || '—'}</dd>
        </div>
        <div>
          <dt>Their reason</dt>
          <dd>{a.reason ?? <span className="muted">none given</span>}</dd>
        </div>
        <div>
          <dt>Asked</dt>
          <dd>
            {when(a.createdAt)} ({age(a.createdAt)} ago), expires {when(a.expiresAt)}
          </dd>
        </div>
      </dl>
    </section>
  );
}

function RiskReasons({ a }: { a: ConsoleApproval }): ReactNode {
  return (
    <section aria-labelledby="risk-h" className="panel">
      <h2 id="risk-h">Why it was held</h2>
      <ul className="reasons">
        {a.reasons.map((m) => (
          <li key={m.rule}>
            <Badge value={m.action} /> <code>{m.rule}</code>: {m.message}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Requirements({ a }: { a: ConsoleApproval }): ReactNode {
  const q = a.requirements;
  const approvals = a.decisions.filter((d) => d.decision === 'approve').length;
  return (
    <section aria-labelledby="reqs-h" className="panel">
      <h2 id="reqs-h">Requirements and decisions</h2>
      <dl className="facts">
        <div>
          <dt>Approvers</dt>
          <dd>{q.approverGroups.length > 0 ? q.approverGroups.join(', ') : 'the console’s approver groups'}</dd>
        </div>
        <div>
          <dt>Quorum</dt>
          <dd>
            <progress max={q.quorum} value={approvals} aria-label="Approvals so far" /> {approvals} of {q.quorum} approvals
          </dd>
        </div>
        <div>
          <dt>Grant</dt>
          <dd>
            {a.grant === null
              ? `once approved: ${duration(q.grantTtlMs)}, ${q.grantUses} request${q.grantUses === 1 ? '' : 's'}`
              : `valid until ${when(a.grant.expiresAt)}, ${a.grant.usesLeft} use${a.grant.usesLeft === 1 ? '' : 's'} left`}
          </dd>
        </div>
      </dl>
      {a.decisions.length === 0 ? (
        <p className="muted">No decisions yet.</p>
      ) : (
        <ol className="decisions">
          {a.decisions.map((d) => (
            <li key={`${d.by}-${d.at}`}>
              <Badge value={d.decision} /> by <strong>{d.by}</strong> at {when(d.at)}
              {d.comment !== null && <blockquote>{d.comment}</blockquote>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function DecideApproval({ a, onDecided }: { a: ConsoleApproval; onDecided: (a: ConsoleApproval) => void }): ReactNode {
  return (
    <DecideForm
      subject="request"
      canDecide={a.canDecide}
      cannotDecideReason={a.cannotDecideReason}
      accept={{ label: 'Approve', run: (comment) => decideApproval(a.id, 'approve', comment) }}
      refuse={{ label: 'Deny', why: 'Say why you deny it: the requester sees this comment.', run: (comment) => decideApproval(a.id, 'deny', comment) }}
      errorTitle="The gateway refused the decision"
      onDecided={onDecided}
    />
  );
}

/** Approvals only move forward (more decisions, then a final state), so the furthest-along copy is the newest. */
function progress(a: ConsoleApproval): number {
  return (a.state === 'pending' ? 0 : 1000) + a.decisions.length;
}

function newest(copies: (ConsoleApproval | undefined)[]): ConsoleApproval | undefined {
  let best: ConsoleApproval | undefined;
  for (const c of copies) if (c !== undefined && (best === undefined || progress(c) > progress(best))) best = c;
  return best;
}

/** One approval: what was asked, why it was held, what it would change, and the decision form. */
export function ApprovalDetail({ id }: { id: string }): ReactNode {
  const { data, error, loading } = useAsync(() => getApproval(id), id);
  const [decided, setDecided] = useState<ConsoleApproval>();
  const live = useApprovalFeed().byId.get(id);
  if (error !== undefined) return <ErrorNotice error={error} title="Could not load the approval" />;
  const a = newest([decided, live, data]);
  if (a === undefined) return loading ? <Loading what="approval" /> : null;
  return (
    <article className="approval-detail" aria-labelledby="approval-h">
      <p>
        <Link to="/">← Back to the inbox</Link>
      </p>
      <h1 id="approval-h">
        {a.summary} <Badge value={a.state} />
      </h1>
      <p className="lead">
        <code>{a.rule}</code>: {a.message}
      </p>
      <div className="detail-grid">
        <div>
          <RequestFacts a={a} />
          <RiskReasons a={a} />
          {a.diff !== null && (
            <section aria-labelledby="diff-h" className="panel">
              <h2 id="diff-h">What it would change</h2>
              <DiffView diff={a.diff} />
            </section>
          )}
          {a.object !== null && a.object !== undefined && (
            <section aria-labelledby="obj-h" className="panel">
              <h2 id="obj-h">Object</h2>
              <JsonView value={a.object} summary="The object the request would store (masked)" open={a.diff === null} />
            </section>
          )}
        </div>
        <div>
          {a.state === 'pending' && <DecideApproval a={a} onDecided={setDecided} />}
          <Requirements a={a} />
        </div>
      </div>
    </article>
  );
}
