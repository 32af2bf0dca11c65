import type fc from 'fast-check';

/**
 * fast-check parameters for the security suite: a fixed seed per property
 * (GATEHOUSE_FUZZ_SEED overrides it; GATEHOUSE_FUZZ_RUNS multiplies the run
 * counts for a longer hunt), and on failure the seed, path and counterexample
 * in the error so the run can be replayed.
 */
export function fuzzParams(name: string, numRuns: number): fc.Parameters<unknown> {
  const fromEnv = process.env['GATEHOUSE_FUZZ_SEED'];
  let seed = 0x6a7e;
  for (const c of name) seed = (Math.imul(seed, 31) + c.charCodeAt(0)) | 0;
  const factor = Number(process.env['GATEHOUSE_FUZZ_RUNS'] ?? '1');
  return {
    seed: fromEnv === undefined ? seed : Number(fromEnv),
    numRuns: Math.max(1, Math.round(numRuns * (Number.isFinite(factor) && factor > 0 ? factor : 1))),
    // fast-check prints "seed: …, path: …" and the shrunk counterexample on failure.
    verbose: 1,
  };
}
