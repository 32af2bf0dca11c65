import type { ReactNode } from 'react';
import { listApprovals } from '../api.ts';
import { useApprovalFeed } from '../approvalFeed.tsx';
import { ApprovalList } from '../components/ApprovalList.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { useAsync } from '../useAsync.ts';

/** Decided and expired approvals, newest first; live changes from the feed win over the loaded copy. */
export function History(): ReactNode {
  const { data, error, loading } = useAsync(() => listApprovals(undefined, 200), 'history');
  const feed = useApprovalFeed();
  if (error !== undefined) return <ErrorNotice error={error} title="Could not load history" />;
  if (loading && data === undefined) return <Loading what="history" />;
  const merged = new Map((data ?? []).map((a) => [a.id, a]));
  for (const a of feed.byId.values()) merged.set(a.id, a);
  const done = [...merged.values()].filter((a) => a.state !== 'pending').sort((a, b) => (b.decidedAt ?? b.expiresAt).localeCompare(a.decidedAt ?? a.expiresAt));
  return <ApprovalList items={done} empty="No decided or expired approvals yet." />;
}
