import { useEffect } from 'react';

/** Calls `reload` every `everyMs` while the tab is shown: a hidden tab need not ask, it catches up on the next tick after it is shown. */
export function useRefresh(reload: () => void, everyMs: number): void {
  useEffect(() => {
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, everyMs);
    return () => clearInterval(t);
  }, [reload, everyMs]);
}
