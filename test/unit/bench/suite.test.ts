import { describe, expect, it } from 'vitest';
import { perRun } from '../../../bench/lib/suite.js';
import type { LocalContext } from '../../../bench/lib/suite.js';

describe('perRun', () => {
  it("gathers each figure's values run by run, per metric and side, and adds them only when told", () => {
    const added: unknown[][] = [];
    const ctx: LocalContext = { quick: false, log: () => undefined, note: () => undefined, add: (...args) => void added.push(args) };
    const figures = perRun(ctx, 'watch', 'lower');
    figures.keep('gateway RSS MB', 'gateway', 153);
    figures.keep('delivery p50 ms', 'direct', 150);
    figures.keep('delivery p50 ms', 'gateway', 240);
    figures.keep('gateway RSS MB', 'gateway', 164);
    figures.keep('delivery p50 ms', 'direct', 135);
    expect(added).toEqual([]);
    figures.add();
    expect(added).toEqual([
      ['watch', 'gateway RSS MB', 'gateway', 'lower', [153, 164]],
      ['watch', 'delivery p50 ms', 'direct', 'lower', [150, 135]],
      ['watch', 'delivery p50 ms', 'gateway', 'lower', [240]],
    ]);
  });
});
