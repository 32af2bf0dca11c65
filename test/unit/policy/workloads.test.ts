import { describe, expect, it } from 'vitest';
import { evaluatePolicy } from '../../../src/policy/engine.js';
import { operationFor } from '../../../src/policy/request-vars.js';
import { podFromWorkload, workloadOf } from '../../../src/policy/workloads.js';
import { kubeRequest, policyOf, policyYaml, principal } from './helpers.js';

const template = (privileged: boolean): Record<string, unknown> => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged } }] },
});
const workloads: [string, string, (t: unknown) => Record<string, unknown>][] = [
  ['/apis/apps/v1/namespaces/a/deployments', 'Deployment', (t) => ({ spec: { replicas: 1, template: t } })],
  ['/apis/apps/v1/namespaces/a/statefulsets', 'StatefulSet', (t) => ({ spec: { template: t } })],
  ['/apis/apps/v1/namespaces/a/daemonsets', 'DaemonSet', (t) => ({ spec: { template: t } })],
  ['/apis/apps/v1/namespaces/a/replicasets', 'ReplicaSet', (t) => ({ spec: { template: t } })],
  ['/apis/batch/v1/namespaces/a/jobs', 'Job', (t) => ({ spec: { template: t } })],
  ['/apis/batch/v1/namespaces/a/cronjobs', 'CronJob', (t) => ({ spec: { schedule: '* * * * *', jobTemplate: { spec: { template: t } } } })],
  ['/api/v1/namespaces/a/replicationcontrollers', 'ReplicationController', (t) => ({ spec: { template: t } })],
];

const rule = (include: boolean): string =>
  policyYaml(`    - name: no-privileged
      match:
        verbs: [create]
        resources: [{ group: "", resource: pods }]
        includeWorkloadTemplates: ${include}
      when: object.spec.containers.exists(c, c.securityContext.privileged)
      action: deny
    - name: rest
      action: allow
`);

describe('workload templates', () => {
  const withTemplates = policyOf(rule(true));
  const podsOnly = policyOf(rule(false));

  it.each(workloads)('judges %s by its pod template', (url, kind, build) => {
    const create = (privileged: boolean) => {
      const object = { apiVersion: 'x', kind, metadata: { name: 'w', namespace: 'a' }, ...build(template(privileged)) };
      return { request: kubeRequest('POST', url, object), principal: principal(), object };
    };
    expect(evaluatePolicy(withTemplates, create(true))).toMatchObject({ action: 'deny', rule: 'no-privileged' });
    expect(evaluatePolicy(withTemplates, create(false))).toMatchObject({ action: 'allow', rule: 'rest' });
    // Without the flag, a rule on pods does not look at workloads at all.
    expect(evaluatePolicy(podsOnly, create(true))).toMatchObject({ action: 'allow', rule: 'rest' });
  });

  it('does not apply to workload subresources such as scale', () => {
    const object = { spec: { replicas: 3 } };
    const d = evaluatePolicy(withTemplates, { request: kubeRequest('POST', '/apis/apps/v1/namespaces/a/deployments/w/scale', object), principal: principal(), object });
    expect(d.rule).toBe('rest');
  });

  it('fails closed when a workload has no template to judge', () => {
    const object = { kind: 'Deployment', metadata: { name: 'w' }, spec: {} };
    const d = evaluatePolicy(withTemplates, { request: kubeRequest('POST', '/apis/apps/v1/namespaces/a/deployments', object), principal: principal(), object });
    expect(d).toMatchObject({ action: 'deny', rule: 'no-privileged' });
    expect(d.errors).toHaveLength(1);
  });

  it('builds the synthetic Pod from the template, with the workload namespace and name', () => {
    const deployment = { metadata: { name: 'web', namespace: 'prod' }, spec: { template: template(false) } };
    expect(podFromWorkload('apps/deployments', deployment)).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { labels: { app: 'web' }, name: 'web', namespace: 'prod' },
      spec: template(false).spec,
    });
    expect(podFromWorkload('apps/deployments', null)).toBeNull();
    expect(podFromWorkload('apps/deployments', { spec: {} })).toBeNull();
    expect(workloadOf('apps', 'deployments', '')).toBe('apps/deployments');
    expect(workloadOf('apps', 'deployments', 'scale')).toBeUndefined();
    expect(workloadOf('', 'pods', '')).toBeUndefined();
  });
});

describe('request.operation', () => {
  it.each([
    ['POST', '/api/v1/namespaces/a/pods', 'CREATE'],
    ['PUT', '/api/v1/namespaces/a/pods/p', 'UPDATE'],
    ['PATCH', '/api/v1/namespaces/a/pods/p', 'UPDATE'],
    ['DELETE', '/api/v1/namespaces/a/pods/p', 'DELETE'],
    ['DELETE', '/api/v1/namespaces/a/pods', 'DELETE'],
    ['POST', '/api/v1/namespaces/a/pods/p/exec?command=sh', 'CONNECT'],
    ['GET', '/api/v1/namespaces/a/pods/p/exec?command=sh', 'CONNECT'],
    ['POST', '/api/v1/namespaces/a/pods/p/attach', 'CONNECT'],
    ['POST', '/api/v1/namespaces/a/pods/p/portforward', 'CONNECT'],
    ['GET', '/api/v1/namespaces/a/pods/p/proxy/metrics', 'CONNECT'],
    ['GET', '/api/v1/namespaces/a/services/s/proxy/', 'CONNECT'],
    ['GET', '/api/v1/nodes/n/proxy/stats', 'CONNECT'],
    ['GET', '/api/v1/proxy/namespaces/a/pods/p', 'CONNECT'],
    ['POST', '/api/v1/namespaces/a/pods/p/eviction', 'CREATE'],
    ['GET', '/api/v1/namespaces/a/pods/p', 'GET'],
    ['GET', '/api/v1/namespaces/a/pods/p/log', 'GET'],
    ['GET', '/api/v1/namespaces/a/pods', 'LIST'],
    ['GET', '/api/v1/namespaces/a/pods?watch=true', 'WATCH'],
    ['GET', '/apis/example.com/v1/namespaces/a/things/t/proxy', 'GET'],
    ['GET', '/version', 'GET'],
  ])('%s %s → %s', (method, url, operation) => {
    expect(operationFor(kubeRequest(method, url))).toBe(operation);
  });
});
