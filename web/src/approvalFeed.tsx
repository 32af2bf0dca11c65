/**
 * The live approval list: one EventSource for the whole app, so the inbox,
 * the detail page, the banner and the document title agree. The list is
 * re-read whenever the stream (re)connects, so nothing sent while it was
 * down is missed.
 */

import { createContext, useContext, useEffect, useMemo, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { eventsUrl, listApprovals } from './api.ts';
import type { ConsoleApproval } from './types.ts';

export interface ApprovalFeed {
  /** Every approval seen, by id (pending and decided). */
  byId: ReadonlyMap<string, ConsoleApproval>;
  pending: ConsoleApproval[];
  /** Pending approvals that arrived live, that the user may decide and has not dismissed yet. */
  arrivals: ConsoleApproval[];
  dismiss: () => void;
  connected: boolean;
  error: unknown;
}

const FeedContext = createContext<ApprovalFeed | undefined>(undefined);

export function useApprovalFeed(): ApprovalFeed {
  const feed = useContext(FeedContext);
  if (feed === undefined) throw new Error('useApprovalFeed outside ApprovalFeedProvider');
  return feed;
}

function newestFirst(a: ConsoleApproval, b: ConsoleApproval): number {
  return b.createdAt.localeCompare(a.createdAt);
}

export function ApprovalFeedProvider({ enabled, children }: { enabled: boolean; children: ReactNode }): ReactNode {
  const [byId, setById] = useState<ReadonlyMap<string, ConsoleApproval>>(new Map());
  const [arrivals, setArrivals] = useState<ConsoleApproval[]>([]);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<unknown>();
  // Ids known before a live event: only a never-seen pending one is an arrival.
  const known = useRef(new Set<string>());

  useEffect(() => {
    if (!enabled) return undefined;
    const refresh = (): void => {
      listApprovals('pending').then(
        (items) => {
          for (const a of items) known.current.add(a.id);
          // The fresh list is the truth for pending: drop ones decided while we were away.
          setById((prev) => new Map([...[...prev].filter(([, a]) => a.state !== 'pending'), ...items.map((a): [string, ConsoleApproval] => [a.id, a])]));
          setError(undefined);
        },
        (e: unknown) => setError(e),
      );
    };
    const source = new EventSource(eventsUrl, { withCredentials: true });
    source.addEventListener('open', () => {
      setConnected(true);
      refresh();
    });
    source.addEventListener('error', () => setConnected(false));
    source.addEventListener('approval', (ev: MessageEvent<string>) => {
      const a = JSON.parse(ev.data) as ConsoleApproval;
      // An arrival asks the viewer to act: not for their own request, nor for one they may only watch.
      if (a.state === 'pending' && a.canDecide && !known.current.has(a.id)) setArrivals((prev) => [a, ...prev]);
      if (a.state !== 'pending') setArrivals((prev) => prev.filter((x) => x.id !== a.id));
      known.current.add(a.id);
      setById((prev) => new Map(prev).set(a.id, a));
    });
    refresh();
    return () => source.close();
  }, [enabled]);

  const pending = useMemo(() => [...byId.values()].filter((a) => a.state === 'pending').sort(newestFirst), [byId]);

  useEffect(() => {
    document.title = pending.length > 0 ? `(${pending.length}) Gatehouse` : 'Gatehouse';
  }, [pending.length]);

  const feed = useMemo<ApprovalFeed>(
    () => ({ byId, pending, arrivals, dismiss: () => setArrivals([]), connected, error }),
    [byId, pending, arrivals, connected, error],
  );
  return <FeedContext.Provider value={feed}>{children}</FeedContext.Provider>;
}
