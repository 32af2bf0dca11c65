import { describe, expect, it } from 'vitest';
import { parseDiscovery, resolveKind, resolveResource, resourcePath } from '../../../src/mcp/discovery.js';
import type { DiscoveryList } from '../../../src/mcp/discovery.js';
import { ToolInputError } from '../../../src/mcp/result.js';

const core: DiscoveryList = {
  items: [
    {
      metadata: { name: '' },
      versions: [
        {
          version: 'v1',
          resources: [
            { resource: 'pods', responseKind: { kind: 'Pod' }, scope: 'Namespaced', singularResource: 'pod', shortNames: ['po'], verbs: ['get', 'list'] },
            { resource: 'events', responseKind: { kind: 'Event' }, scope: 'Namespaced', singularResource: 'event', shortNames: ['ev'] },
            { resource: 'namespaces', responseKind: { kind: 'Namespace' }, scope: 'Cluster', singularResource: 'namespace', shortNames: ['ns'] },
          ],
        },
      ],
    },
  ],
};
const groups: DiscoveryList = {
  items: [
    { metadata: { name: 'apps' }, versions: [{ version: 'v1', resources: [{ resource: 'deployments', responseKind: { kind: 'Deployment' }, scope: 'Namespaced', singularResource: 'deployment', shortNames: ['deploy'] }] }] },
    { metadata: { name: 'events.k8s.io' }, versions: [{ version: 'v1', resources: [{ resource: 'events', responseKind: { kind: 'Event' }, scope: 'Namespaced', singularResource: 'event', shortNames: ['ev'] }] }] },
    {
      metadata: { name: 'autoscaling' },
      versions: [
        { version: 'v2', resources: [{ resource: 'horizontalpodautoscalers', responseKind: { kind: 'HorizontalPodAutoscaler' }, scope: 'Namespaced', shortNames: ['hpa'] }] },
        { version: 'v1', resources: [{ resource: 'horizontalpodautoscalers', responseKind: { kind: 'HorizontalPodAutoscaler' }, scope: 'Namespaced', shortNames: ['hpa'] }] },
      ],
    },
  ],
};
const resources = parseDiscovery([core, groups]);

describe('resolveResource', () => {
  it.each([
    ['pods', '', 'pods'],
    ['pod', '', 'pods'],
    ['po', '', 'pods'],
    ['Pod', '', 'pods'],
    ['deploy', 'apps', 'deployments'],
    ['Deployment', 'apps', 'deployments'],
    ['deployments.apps', 'apps', 'deployments'],
    ['deployments.v1.apps', 'apps', 'deployments'],
    ['events', '', 'events'],
    ['events.events.k8s.io', 'events.k8s.io', 'events'],
    ['ns', '', 'namespaces'],
  ])('%s → %s/%s', (name, group, resource) => {
    expect(resolveResource(resources, name)).toMatchObject({ group, resource });
  });

  it('prefers the first (preferred) version', () => {
    expect(resolveResource(resources, 'hpa').version).toBe('v2');
  });

  it('names close matches and api_resources for an unknown type', () => {
    expect(() => resolveResource(resources, 'deplyments')).toThrow(ToolInputError);
    expect(() => resolveResource(resources, 'deplyments')).toThrow('the cluster has no resource type "deplyments". Did you mean deployments? Call api_resources to see every type.');
  });
});

describe('resolveKind', () => {
  it('finds a manifest type by apiVersion and kind', () => {
    expect(resolveKind(resources, 'apps/v1', 'Deployment').resource).toBe('deployments');
    expect(resolveKind(resources, 'v1', 'Pod').resource).toBe('pods');
  });

  it('refuses a kind the cluster does not serve in that version', () => {
    expect(() => resolveKind(resources, 'apps/v1beta1', 'Deployment')).toThrow('the cluster does not serve kind "Deployment" in apiVersion "apps/v1beta1"');
  });
});

describe('resourcePath', () => {
  const pods = resolveResource(resources, 'pods');
  const namespaces = resolveResource(resources, 'ns');
  it.each([
    [resourcePath(pods, 'dev'), '/api/v1/namespaces/dev/pods'],
    [resourcePath(pods, undefined), '/api/v1/pods'],
    [resourcePath(pods, 'dev', 'web'), '/api/v1/namespaces/dev/pods/web'],
    [resourcePath(resolveResource(resources, 'deploy'), 'dev', 'web', 'scale'), '/apis/apps/v1/namespaces/dev/deployments/web/scale'],
    [resourcePath(namespaces, 'ignored', 'dev'), '/api/v1/namespaces/dev'],
  ])('%s', (got, want) => expect(got).toBe(want));
});

describe('parseDiscovery', () => {
  it('refuses an answer that is not aggregated discovery', () => {
    expect(() => parseDiscovery([{}])).toThrow('aggregated discovery');
  });
});
