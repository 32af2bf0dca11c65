import type { ReactNode } from 'react';
import { auditIntegrity } from '../api.ts';
import { when } from '../format.ts';
import { useAsync } from '../useAsync.ts';

/** The audit chain's verification result, for the header of auditors' pages. */
export function IntegrityIndicator(): ReactNode {
  const { data, error } = useAsync(auditIntegrity, 'integrity');
  if (error !== undefined) return <span className="integrity integrity-unknown">Audit integrity: could not check</span>;
  if (data === undefined) return <span className="integrity integrity-unknown">Audit integrity: checking…</span>;
  if (!data.ok) {
    const p = data.problem;
    return (
      <span className="integrity integrity-broken" role="alert">
        ✗ Audit chain broken{p === null ? '' : ` at seq ${p.seq} (${p.kind}): ${p.message}`}
      </span>
    );
  }
  const cp = data.checkpoint === null ? 'no checkpoint yet' : `checkpoint ${data.checkpoint.seq}${data.checkpoint.time === null ? '' : ` at ${when(data.checkpoint.time)}`}`;
  return (
    <span className="integrity integrity-ok" title={`${data.events} events checked`}>
      ✓ Audit verified up to seq {data.lastSeq ?? 0}, {cp}
    </span>
  );
}
