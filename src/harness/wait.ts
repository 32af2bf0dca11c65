/**
 * Polling for readiness while watching the processes that should get there.
 *
 * @internal
 */
import { performance } from 'node:perf_hooks';
import { tailFile, type Supervised } from './process.js';

/** A process could not bind the port chosen for it. */
export class PortTakenError extends Error {
  override name = 'PortTakenError';
}

/** Polls `check` until it returns true; fails fast if a process exits, or after the timeout. */
export async function waitFor(
  what: string,
  processes: readonly Supervised[],
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const dead = processes.find((p) => p.exitInfo() !== undefined);
    if (dead) {
      const info = dead.exitInfo();
      const tail = await tailFile(dead.logFile);
      const message =
        `${dead.name} exited (${info?.signal ?? `code ${info?.code}`}) while waiting for ${what}; ` +
        `log ${dead.logFile}:\n${tail}`;
      throw /address already in use/i.test(tail) ? new PortTakenError(message) : new Error(message);
    }
    if (await check().catch(() => false)) return;
    if (performance.now() > deadline) {
      const tails = await Promise.all(processes.map(async (p) => `--- ${p.logFile}\n${await tailFile(p.logFile, 15)}`));
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${tails.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
