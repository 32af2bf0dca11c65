import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Upstream } from '../../../src/upstream/client.js';
import { createRoleLookup } from '../../../src/upstream/role-lookup.js';

// A plain HTTP API server stand-in: the lookup's own logic (paths, 404, errors, cache) is what is tested here;
// the e2e guardrail test reads real roles from a real API server.
const requests: string[] = [];
let status = 200;
const server = http.createServer((req, res) => {
  requests.push(req.url ?? '');
  if (status !== 200 || req.url?.endsWith('/missing')) {
    res.writeHead(status === 200 ? 404 : status, { 'content-type': 'application/json' }).end('{"kind":"Status"}');
    return;
  }
  const name = req.url!.split('/').at(-1);
  res.writeHead(200, { 'content-type': 'application/json' }).end(
    JSON.stringify({ kind: 'ClusterRole', metadata: { name, labels: { team: 'ops' }, managedFields: [{}] }, rules: [{ apiGroups: [''], resources: ['*'], verbs: ['get'] }] }),
  );
});
let upstream: Upstream;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const request = (init: { method: string; path: string; headers: http.OutgoingHttpHeaders }) =>
    Promise.resolve(http.request({ host: '127.0.0.1', port, method: init.method, path: init.path, headers: init.headers }));
  upstream = { where: 'test', request, upgradeRequest: request, invalidateCredential: () => undefined, http2Stats: () => ({ sessions: 0, streams: 0 }), sharedWatches: () => ({ upstreams: 0, clients: 0 }), close: () => undefined };
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('createRoleLookup', () => {
  it('reads ClusterRoles and namespaced Roles by their API paths, keeping labels and rules', async () => {
    const roles = createRoleLookup(upstream, { ttlMs: 60_000 });
    requests.length = 0;
    expect(await roles({ kind: 'ClusterRole', name: 'ops', namespace: '' })).toEqual({ labels: { team: 'ops' }, rules: [{ apiGroups: [''], resources: ['*'], verbs: ['get'] }] });
    await roles({ kind: 'Role', name: 'team', namespace: 'dev' });
    expect(requests).toEqual(['/apis/rbac.authorization.k8s.io/v1/clusterroles/ops', '/apis/rbac.authorization.k8s.io/v1/namespaces/dev/roles/team']);
  });

  it('answers a role that does not exist with undefined, and caches answers', async () => {
    const roles = createRoleLookup(upstream, { ttlMs: 60_000 });
    requests.length = 0;
    expect(await roles({ kind: 'ClusterRole', name: 'missing', namespace: '' })).toBeUndefined();
    await Promise.all([roles({ kind: 'ClusterRole', name: 'ops', namespace: '' }), roles({ kind: 'ClusterRole', name: 'ops', namespace: '' })]);
    await roles({ kind: 'ClusterRole', name: 'ops', namespace: '' });
    expect(requests).toEqual(['/apis/rbac.authorization.k8s.io/v1/clusterroles/missing', '/apis/rbac.authorization.k8s.io/v1/clusterroles/ops']);
  });

  it('fails with GH_POLICY_UNAVAILABLE when it may not read the role, and does not remember the failure', async () => {
    const roles = createRoleLookup(upstream, { ttlMs: 60_000 });
    status = 403;
    try {
      await expect(roles({ kind: 'Role', name: 'team', namespace: 'dev' })).rejects.toMatchObject({
        code: 'GH_POLICY_UNAVAILABLE',
        message: 'the gateway could not read Role dev/team for policy (the API server answered 403)',
      });
    } finally {
      status = 200;
    }
    expect(await roles({ kind: 'Role', name: 'team', namespace: 'dev' })).toMatchObject({ rules: [{ verbs: ['get'] }] });
  });
});
