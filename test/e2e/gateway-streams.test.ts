import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { createRunningPod } from './helpers/pods.js';
import { kubectlFor, kubectlMinorBinary } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { streamingScenarios } from './helpers/scenarios.js';
import type { StreamingTarget } from './helpers/scenarios.js';

// logs, exec, cp and port-forward through the gateway: WebSocket (kubectl's
// default), SPDY (forced), and older kubectl minor versions.
const cluster = inject('cluster');
const ns = `streams-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;
let direct: Kubectl;
let pod = '';

beforeAll(async () => {
  gateway = await startGatewayProcess(cluster.adminKubeconfig);
  direct = kubectlFor(cluster.adminKubeconfig);
  pod = await createRunningPod(direct, ns, 'web');
}, 150_000);

afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

const throughGateway = (binary: string, env?: NodeJS.ProcessEnv): StreamingTarget => ({
  kubectl: () => kubectlFor(gateway.adminKubeconfig, binary),
  env,
  cluster,
  namespace: () => ns,
  pod: () => pod,
});

describe('through the gateway, kubectl with WebSocket (its default)', () => {
  streamingScenarios(throughGateway('kubectl'));
});

describe('through the gateway, kubectl with SPDY', () => {
  const env = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false', PORT_FORWARD_WEBSOCKETS: 'false' };
  streamingScenarios(throughGateway('kubectl', env));
});

// kubectl on the PATH here dispatches to the server's minor (1.33); these are older clients.
for (const version of ['1.27', '1.30', '1.32']) {
  describe(`through the gateway, kubectl ${version}`, () => {
    const binary = kubectlMinorBinary(version);
    let k: Kubectl;
    beforeAll(() => {
      k = kubectlFor(gateway.adminKubeconfig, binary);
    });

    it('reports its version and reads, applies and deletes', async () => {
      const v = JSON.parse(await k.ok(['version', '-o', 'json'])) as { clientVersion: { minor: string }; serverVersion: { gitVersion: string } };
      expect(v.clientVersion.minor.replace(/\D/g, '')).toBe(version.split('.')[1]);
      expect(v.serverVersion.gitVersion).toBe('v1.33.13');
      const name = `v${version.replace('.', '-')}`;
      const cm = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { k: version } });
      expect(await k.ok(['apply', '-f', '-'], { input: cm })).toBe(`configmap/${name} created\n`);
      expect(await k.ok(['-n', ns, 'get', 'configmap', name, '-o', 'jsonpath={.data.k}'])).toBe(version);
      expect(await k.ok(['-n', ns, 'delete', 'configmap', name])).toBe(`configmap "${name}" deleted\n`);
    });

    streamingScenarios(throughGateway(binary));
  });
}

describe('refused upgrades', () => {
  it('relays the API server refusal of an exec and closes the connection', async () => {
    const a = await direct(['-n', ns, 'exec', 'no-such-pod', '--', 'true']);
    const b = await kubectlFor(gateway.adminKubeconfig)(['-n', ns, 'exec', 'no-such-pod', '--', 'true']);
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(a.stderr);
    expect(b.stderr).toContain('pods "no-such-pod" not found');
  });

  it('answers a refused WebSocket upgrade with Connection: close, so nothing more rides on that socket', async () => {
    const res = await rawRequest(gateway.url, {
      path: `/api/v1/namespaces/${ns}/pods/no-such-pod/exec?command=true&stdout=true`,
      headers: {
        authorization: `Bearer ${gateway.adminToken}`,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': 'v5.channel.k8s.io',
      },
      caPem: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
    });
    expect(res.status).toBe(404);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body.toString())).toMatchObject({ kind: 'Status', reason: 'NotFound' });
  });
});
