import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveGatewayEndpoint } from '../../../src/cli/console-client.js';
import { createGatewayClient } from '../../../src/mcp/gateway-client.js';

// Which path each call takes: Kubernetes paths go to the kubeconfig's cluster, the gateway's own API to its root.
const seen: string[] = [];
const server = createServer((req, res) => {
  seen.push(req.url ?? '');
  res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
});
let origin = '';
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mcp-client-'));
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

const labels = { userAgent: 'unit', session: 's1', command: 'test' };

describe('the MCP gateway client and clusters', () => {
  it('reads the cluster from a kubeconfig server URL ending in /clusters/<name>', () => {
    const kubeconfig = (server: string): string => {
      const path = join(dir, `${seen.length}-${Math.random()}.kubeconfig`);
      writeFileSync(
        path,
        `apiVersion: v1\nkind: Config\nclusters: [{name: g, cluster: {server: "${server}"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: g, user: u}}]\ncurrent-context: c\n`,
      );
      return path;
    };
    expect(resolveGatewayEndpoint({ kubeconfig: kubeconfig('https://gw:6443/clusters/prod') })).toMatchObject({ server: 'https://gw:6443', cluster: 'prod' });
    expect(resolveGatewayEndpoint({ kubeconfig: kubeconfig('https://gw:6443/clusters/prod/') }).cluster).toBe('prod');
    expect(resolveGatewayEndpoint({ kubeconfig: kubeconfig('https://gw:6443') }).cluster).toBeUndefined();
    expect(resolveGatewayEndpoint({ kubeconfig: kubeconfig('https://gw:6443/k8s/x') }).cluster).toBeUndefined();
  });

  it('prefixes Kubernetes paths with the cluster and leaves the gateway API at the root', async () => {
    const client = createGatewayClient({ server: origin, token: 't', cluster: 'prod' });
    await client.json({ path: '/api/v1/namespaces/a/pods' }, labels);
    await client.json({ path: '/gatehouse/v1/whoami' }, labels);
    const plain = createGatewayClient({ server: origin, token: 't' });
    await plain.json({ path: '/api/v1/namespaces/a/pods' }, labels);
    expect(seen.slice(-3)).toEqual(['/clusters/prod/api/v1/namespaces/a/pods', '/gatehouse/v1/whoami', '/api/v1/namespaces/a/pods']);
    await client.close();
    await plain.close();
  });
});
