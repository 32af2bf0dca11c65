import { describe, expect, it } from 'vitest';
import { liveConfig, planReload } from '../../../src/config/reload.js';
import { parseConfig } from '../../../src/config/schema.js';
import type { GatehouseConfigInput } from '../../../src/config/schema.js';

const base: GatehouseConfigInput = { upstream: { kubeconfig: '/etc/gatehouse/kubeconfig' }, dataDir: '/var/lib/gatehouse' };
const config = (extra: Partial<GatehouseConfigInput> = {}) => parseConfig({ ...base, ...extra });

describe('planReload', () => {
  it('finds nothing to do for the same config', () => {
    expect(planReload(config(), config())).toEqual({ changed: [], restartNeeded: [] });
  });

  it('lists the live sections that changed', () => {
    const next = config({
      limits: { maxBodyBytes: 1024 },
      masking: { rules: [{ name: 'vault-tokens', kinds: ['ConfigMap'], paths: ['data.vault'] }] },
      clusters: [{ name: 'staging', kubeconfig: '/etc/gatehouse/staging' }],
      log: { level: 'debug' },
      approvals: { holdSeconds: 5 },
    });
    const plan = planReload(config(), next);
    expect([...plan.changed].sort()).toEqual(['approvals', 'clusters', 'limits', 'log', 'masking']);
    expect(plan.restartNeeded).toEqual([]);
  });

  it('reports restart-only settings with the reason, apart from the live ones', () => {
    const next = config({ listen: { host: '0.0.0.0', port: 8443 }, store: { sqlite: { path: 'other.db' } }, timeouts: { connectMs: 500 } });
    const plan = planReload(config(), next);
    expect(plan.changed).toEqual(['timeouts']);
    expect(plan.restartNeeded.map((r) => r.setting)).toEqual(['listen', 'store']);
    expect(plan.restartNeeded[0]!.why).toMatch(/socket is bound once at start/);
  });

  it('splits approvals: enabled and holdSeconds are live, the service settings need a restart', () => {
    const plan = planReload(config(), config({ approvals: { enabled: false, quorum: 2 } }));
    expect(plan.changed).toEqual(['approvals']);
    expect(plan.restartNeeded.map((r) => r.setting)).toEqual(['approvals']);
  });

  it('needs a restart for a new agent-mode cluster but not for a new direct one', () => {
    expect(planReload(config(), config({ clusters: [{ name: 'edge', agent: {} }] })).restartNeeded.map((r) => r.setting)).toEqual(['clusters (agent-mode names)']);
    expect(planReload(config(), config({ clusters: [{ name: 'edge', kubeconfig: '/k' }] })).restartNeeded).toEqual([]);
  });
});

describe('liveConfig', () => {
  it('takes the new live settings and keeps restart-only ones as in force', () => {
    const current = config();
    const next = config({ listen: { host: '0.0.0.0', port: 8443 }, limits: { maxBodyBytes: 1024 }, approvals: { holdSeconds: 5, quorum: 3 } });
    const live = liveConfig(current, next);
    expect(live.listen).toEqual(current.listen);
    expect(live.limits.maxBodyBytes).toBe(1024);
    expect(live.approvals.holdSeconds).toBe(5);
    expect(live.approvals.quorum).toBe(current.approvals.quorum);
    // Compared again, the pending restart is still reported and nothing else.
    expect(planReload(live, next)).toEqual({ changed: [], restartNeeded: planReload(current, next).restartNeeded });
  });
});
