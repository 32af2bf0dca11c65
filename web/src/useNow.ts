import { useEffect, useState } from 'react';

/** The current time, refreshed every `everyMs`, so relative times ("5m") stay true on a page left open. */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
