import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          // One real control plane is shared by every e2e file (started once).
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Files run one after another: the machine has two cores and the cluster is shared.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'security',
          include: ['test/security/**/*.test.ts'],
          environment: 'node',
          // Bypass attempts, faults and fuzzing against a real gateway and API server: the e2e control plane, one file at a time;
          // summary-setup prints the suite's totals (attempts, blocked, faults survived, events lost) at the end.
          globalSetup: ['test/e2e/global-setup.ts', 'test/security/summary-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          // The console in chromium against the real stack: the e2e control plane, gateways, the OIDC provider.
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // One chromium and a few gateways at a time on a two-core machine, after unit and e2e are done.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
