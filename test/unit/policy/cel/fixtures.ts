import { compileCel, type CelActivation, type CelProgram, type CelResult } from '../../../../src/policy/cel/index.js';

/** A pod with an init container, a privileged sidecar and a hostPath volume. */
export const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-1',
    namespace: 'prod',
    labels: { app: 'web', team: 'payments' },
    annotations: { 'gatehouse.dev/owner': 'alice' },
  },
  spec: {
    hostNetwork: false,
    initContainers: [{ name: 'init', image: 'registry.example.com/init:1.0' }],
    containers: [
      {
        name: 'app',
        image: 'registry.example.com/team/app:2.3',
        ports: [{ containerPort: 8080 }],
        env: [
          { name: 'A', value: 'b' },
          { name: 'DB_PW', valueFrom: { secretKeyRef: { name: 'db', key: 'pw' } } },
        ],
        resources: { limits: { cpu: '500m', memory: '256Mi' } },
        securityContext: { runAsNonRoot: true, runAsUser: 1000, capabilities: { drop: ['ALL'] } },
      },
      {
        name: 'sidecar',
        image: 'docker.io/library/nginx:1.25',
        securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN', 'SYS_TIME'] } },
      },
    ],
    ephemeralContainers: [{ name: 'debug', image: 'busybox', securityContext: { privileged: true } }],
    volumes: [
      { name: 'cfg', configMap: { name: 'c' } },
      { name: 'host', hostPath: { path: '/var/run' } },
    ],
    terminationGracePeriodSeconds: 30,
    priority: 0.5,
  },
};

export const request = {
  uid: 'req-1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  subResource: '',
  name: 'web-1',
  namespace: 'prod',
  operation: 'CREATE',
  userInfo: { username: 'system:serviceaccount:ci:deployer', uid: 'u-1', groups: ['system:serviceaccounts', 'system:authenticated'], extra: { scopes: ['a', 'b'] } },
  dryRun: false,
  verb: 'create',
  path: '/api/v1/namespaces/prod/pods',
};

export const principal = { subject: 'agent:claude', groups: ['ai-agents'], kind: 'agent', via: 'token', tokenId: 't1' };

export const namespaceObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { env: 'production' } } };

/** CREATE of `pod`. */
export const create: CelActivation = { object: pod, oldObject: null, request, namespaceObject, principal };

/** DELETE of `pod`: no object, the old one is `pod`. */
export const del: CelActivation = {
  object: null,
  oldObject: pod,
  request: { ...request, operation: 'DELETE', verb: 'delete' },
  namespaceObject,
  principal: { subject: 'oidc:bob', groups: ['dev'], kind: 'human', via: 'oidc', tokenId: undefined },
};

/** Compiles or fails the test with the compile error. */
export function compile(source: string, costLimit?: number): CelProgram {
  const r = compileCel(source, costLimit === undefined ? undefined : { costLimit });
  if (!r.ok) throw new Error(`compile failed: ${r.error}`);
  return r.program;
}

/** Compiles and evaluates. */
export function run(source: string, activation: CelActivation = create, costLimit?: number): CelResult {
  return compile(source, costLimit).evaluate(activation);
}
