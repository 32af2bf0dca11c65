/**
 * Polls `probe` every 100 ms until it gives a value, and returns it; fails
 * after `timeoutMs` naming `what` (and `detail()`, e.g. the gateway's last
 * log lines, when given).
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, detail?: () => string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${detail ? `:\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
