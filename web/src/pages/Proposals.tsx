import { useState } from 'react';
import type { ReactNode } from 'react';
import { applyProposal, getProposal, listProposals, rejectProposal } from '../api.ts';
import { Badge } from '../components/Badge.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { DecideForm } from '../components/DecideForm.tsx';
import { DiffView } from '../components/DiffView.tsx';
import { JsonView } from '../components/JsonView.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { age, resourceLabel, when } from '../format.ts';
import { Link } from '../router.tsx';
import type { ConsoleProposal, ProposalState } from '../types.ts';
import { useAsync } from '../useAsync.ts';

const STATES: (ProposalState | 'all')[] = ['pending', 'applied', 'rejected', 'all'];

/** Writes held in propose-only mode (docs/proposals.md), by state, newest first. */
export function Proposals(): ReactNode {
  const [state, setState] = useState<ProposalState | 'all'>('pending');
  const { data, error, loading, reload } = useAsync(() => listProposals(state === 'all' ? undefined : state), state);
  return (
    <>
      <form className="search" onSubmit={(e) => e.preventDefault()} aria-label="Filter proposals">
        <label>
          Show
          <select value={state} onChange={(e) => setState(e.target.value as ProposalState | 'all')}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </form>
      {error !== undefined && <ErrorNotice error={error} title="Could not load proposals" />}
      {data === undefined ? (
        loading && <Loading what="proposals" />
      ) : data.length === 0 ? (
        <p className="muted">No {state === 'all' ? '' : `${state} `}proposals.</p>
      ) : (
        <DataTable caption="Proposals" columns={['Proposal', 'State', 'Cluster', 'Requester', 'Change', 'Age']}>
          {data.map((p) => (
            <tr key={p.id}>
              <td className="nowrap">
                <Link to={`/proposals/${p.id}`}>{p.id}</Link>
              </td>
              <td>
                <Badge value={p.state} />
              </td>
              <td>{p.cluster}</td>
              <td>
                {p.requester.subject} <span className="muted">({p.requester.kind})</span>
              </td>
              <td>{p.change}</td>
              <td>
                <time dateTime={p.createdAt} title={when(p.createdAt)}>
                  {age(p.createdAt)}
                </time>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

function DecideProposal({ p, onDecided }: { p: ConsoleProposal; onDecided: (p: ConsoleProposal) => void }): ReactNode {
  return (
    <DecideForm
      subject="proposal"
      canDecide={p.canDecide}
      cannotDecideReason={p.cannotDecideReason}
      note={<p className="muted">Apply sends this exact write to the cluster through the gateway, as you; policy and the audit apply to it.</p>}
      accept={{ label: 'Apply', run: () => applyProposal(p.id) }}
      refuse={{ label: 'Reject', why: 'Say why you reject it.', run: (comment) => rejectProposal(p.id, comment) }}
      errorTitle="The proposal was not applied"
      onDecided={onDecided}
    />
  );
}

/** One proposal: who proposed what, the diff, and Apply / Reject. */
export function ProposalDetail({ id }: { id: string }): ReactNode {
  const { data, error, loading } = useAsync(() => getProposal(id), id);
  const [decided, setDecided] = useState<ConsoleProposal>();
  if (error !== undefined) return <ErrorNotice error={error} title="Could not load the proposal" />;
  const p = decided ?? data;
  if (p === undefined) return loading ? <Loading what="proposal" /> : null;
  return (
    <article className="approval-detail" aria-labelledby="proposal-h">
      <p>
        <Link to="/proposals">← Back to proposals</Link>
      </p>
      <h1 id="proposal-h">
        {p.summary} <Badge value={p.state} />
      </h1>
      <p className="lead">
        <code>{p.rule}</code>: {p.message}
      </p>
      <div className="detail-grid">
        <div>
          <section aria-labelledby="req-h" className="panel">
            <h2 id="req-h">Proposed write</h2>
            <dl className="facts">
              <div>
                <dt>Cluster</dt>
                <dd>{p.cluster}</dd>
              </div>
              <div>
                <dt>Resource</dt>
                <dd>{resourceLabel(p.request)}</dd>
              </div>
              <div>
                <dt>Request</dt>
                <dd>
                  <code className="wrap">
                    {p.request.method} {p.request.path}
                  </code>
                </dd>
              </div>
              <div>
                <dt>Requester</dt>
                <dd>
                  {p.requester.subject} <span className="muted">({p.requester.kind})</span>
                  {p.requester.sponsor !== null && <> on behalf of {p.requester.sponsor}</>}
                </dd>
              </div>
              <div>
                <dt>Proposed</dt>
                <dd>
                  {when(p.createdAt)} ({age(p.createdAt)} ago)
                </dd>
              </div>
              <div>
                <dt>Change</dt>
                <dd>{p.change}</dd>
              </div>
              {p.decidedBy !== null && (
                <div>
                  <dt>Decided</dt>
                  <dd>
                    {p.state} by {p.decidedBy} at {when(p.decidedAt)}
                    {p.comment !== null && <blockquote>{p.comment}</blockquote>}
                  </dd>
                </div>
              )}
              {p.result !== null && (
                <div>
                  <dt>Last apply</dt>
                  <dd>
                    {p.result.status} by {p.result.by} at {when(p.result.at)}: {p.result.message}
                  </dd>
                </div>
              )}
            </dl>
          </section>
          {p.diff !== null && (
            <section aria-labelledby="diff-h" className="panel">
              <h2 id="diff-h">What it would change</h2>
              <DiffView diff={p.diff} />
            </section>
          )}
          {p.object !== null && p.object !== undefined && (
            <section aria-labelledby="obj-h" className="panel">
              <h2 id="obj-h">Object</h2>
              <JsonView value={p.object} summary="The object the API server's dry-run produced (masked)" open={false} />
            </section>
          )}
        </div>
        <div>{p.state === 'pending' && <DecideProposal p={p} onDecided={setDecided} />}</div>
      </div>
    </article>
  );
}
