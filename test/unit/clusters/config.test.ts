import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/schema.js';
import { configuredClusters } from '../../../src/clusters/config.js';

describe('cluster configuration', () => {
  it('keeps the single-cluster shorthand as the cluster named "default"', () => {
    const config = parseConfig({ upstream: { kubeconfig: '/k' } });
    expect(configuredClusters(config)).toEqual({ clusters: [{ name: 'default', kubeconfig: '/k', context: undefined }], defaultName: 'default' });
  });

  it('lists upstream first, then clusters; the default is upstream, else the first cluster, else defaultCluster', () => {
    const both = parseConfig({ upstream: { kubeconfig: '/k', name: 'staging' }, clusters: [{ name: 'prod', agent: {} }] });
    expect(configuredClusters(both).clusters.map((c) => c.name)).toEqual(['staging', 'prod']);
    expect(configuredClusters(both).defaultName).toBe('staging');
    const agents = parseConfig({ clusters: [{ name: 'prod', agent: {} }, { name: 'dev', kubeconfig: '/d', context: 'c' }], defaultCluster: 'dev' });
    expect(configuredClusters(agents).defaultName).toBe('dev');
    expect(agents.clusters[0]?.agent?.waitSeconds).toBe(10);
  });

  it('refuses no cluster, duplicate names, an unknown default, bad names and mixed modes, naming the problem', () => {
    expect(() => parseConfig({})).toThrow('no cluster is configured');
    expect(() => parseConfig({ upstream: { kubeconfig: '/k' }, clusters: [{ name: 'default', agent: {} }] })).toThrow('two clusters are named "default"');
    expect(() => parseConfig({ clusters: [{ name: 'prod', agent: {} }], defaultCluster: 'nope' })).toThrow('defaultCluster "nope" is not a configured cluster (prod)');
    expect(() => parseConfig({ clusters: [{ name: 'Prod_1', agent: {} }] })).toThrow('a DNS label');
    expect(() => parseConfig({ clusters: [{ name: 'prod', agent: {}, kubeconfig: '/k' }] })).toThrow('exactly one of kubeconfig (direct) or agent');
    expect(() => parseConfig({ clusters: [{ name: 'prod' }] })).toThrow('exactly one of kubeconfig (direct) or agent');
    expect(() => parseConfig({ clusters: [{ name: 'prod', agent: {}, context: 'x' }] })).toThrow('context goes with kubeconfig');
  });
});
