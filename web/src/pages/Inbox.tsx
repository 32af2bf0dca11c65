import type { ReactNode } from 'react';
import { useApprovalFeed } from '../approvalFeed.tsx';
import { ApprovalList } from '../components/ApprovalList.tsx';
import { ErrorNotice } from '../components/Notice.tsx';

/** Pending approvals, kept live by the feed. */
export function Inbox(): ReactNode {
  const feed = useApprovalFeed();
  return (
    <>
      <p className="muted" role="status">
        {feed.connected ? 'Live: new requests appear here as they arrive.' : 'Connecting to live updates…'}
      </p>
      {feed.error !== undefined && <ErrorNotice error={feed.error} title="Could not load approvals" />}
      <ApprovalList items={feed.pending} empty="Nothing is waiting for approval." />
    </>
  );
}
