import { appendFileSync } from 'node:fs';
import { inject } from 'vitest';

/** One file's contribution to the suite summary printed by `test/security/summary-setup.ts`. */
export interface Tally {
  /** Bypass attempts and fuzz cases sent at the gateway or its stages. */
  attempts?: number;
  /** Of those, refused, denied, masked or otherwise kept from the API server. */
  blocked?: number;
  /** Faults injected and recovered from (each with a clear Status meanwhile). */
  faultsSurvived?: number;
  /** Audit events missing for a response a client received (must stay 0). */
  eventsLost?: number;
}

/** Adds `tally` to the run's summary (one JSON line per call; the summary sums them). */
export function recordTally(file: string, tally: Tally): void {
  appendFileSync(inject('securityTallyFile'), `${JSON.stringify({ file, ...tally })}\n`);
}
