/**
 * `gatehouse up --demo`: everything Gatehouse guards and trusts, on one
 * machine — the harness's real control plane with sample workloads and
 * Secrets, and the bundled OpenID provider with demo people, configured as
 * the gateway's identity issuer and the console's sign-in.
 *
 * @module
 */
import { startCluster } from '../../harness/cluster.js';
import { consoleClient, gatehouseClient, startOidcProvider } from '../../harness/oidc-provider.js';
import type { DemoUser } from '../../harness/oidc-provider.js';
import { createUpstream } from '../../upstream/client.js';
import { upstreamFetch } from '../../upstream/fetch.js';
import { loadKubeconfig } from '../../upstream/kubeconfig.js';
import type { Terminal } from './terminal.js';

/** The namespace the agent's kubeconfig starts in. */
export const DEMO_NAMESPACE = 'demo';
/** A namespace the guardrails treat as production (deletes and exec there need approval). */
const PROTECTED_NAMESPACE = 'demo-prod';
const CONSOLE_CLIENT_ID = 'gatehouse-console';

export interface DemoStack {
  /** The control plane's admin kubeconfig: the credential the gateway holds. */
  upstreamKubeconfig: string;
  /** Top-level gatehouse.yaml keys pointing at this run's provider and demo groups. */
  config: Record<string, unknown>;
  users: readonly DemoUser[];
  issuer: string;
  stop(): Promise<void>;
}

/**
 * Starts the control plane (building it on the very first run), seeds it,
 * and starts the identity provider whose console client calls back to `gatewayUrl`.
 *
 * @example
 * const demo = await startDemo('https://127.0.0.1:6443', term);
 * // … start the gateway with demo.upstreamKubeconfig and demo.config …
 * await demo.stop();
 */
export async function startDemo(gatewayUrl: string, term: Terminal): Promise<DemoStack> {
  const done = term.progress('starting the local demo control plane (the very first run builds it from Go modules: several minutes)');
  const cluster = await startCluster({ log: (line) => term.detail(term.dim(line)) });
  done(`ready at ${cluster.server}`);
  const stops: (() => Promise<void>)[] = [() => cluster.stop()];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const seeded = term.progress(`creating sample workloads and Secrets in namespaces ${DEMO_NAMESPACE} and ${PROTECTED_NAMESPACE}`);
    await seedWorkloads(cluster.adminKubeconfig);
    seeded();
    const idp = await startOidcProvider({
      clients: [gatehouseClient(), consoleClient(`${gatewayUrl}/gatehouse/v1/auth/callback`, CONSOLE_CLIENT_ID)],
    });
    stops.push(() => idp.stop());
    term.say(`demo identity provider at ${idp.issuer}`);
    // The gateway's upstream is the admin's token, not its client certificate: kube-apiserver verifies a certificate
    // on every request and caches a token's authentication (docs/operations.md, Connections).
    const upstreamKubeconfig = cluster.files.adminTokenKubeconfig;
    return {
      upstreamKubeconfig,
      users: idp.users,
      issuer: idp.issuer,
      stop,
      config: {
        upstream: { kubeconfig: upstreamKubeconfig },
        // ID tokens from `gatehouse login` (client gatehouse) and from the console's sign-in.
        identity: { oidc: [{ issuer: idp.issuer, audiences: ['gatehouse', CONSOLE_CLIENT_ID], usernameClaim: 'email', groupsClaim: 'groups' }] },
        console: { publicUrl: gatewayUrl, oidc: { issuer: idp.issuer, clientId: CONSOLE_CLIENT_ID }, roles: { approvers: ['approvers'], auditors: ['auditors'] } },
        approvals: { approverGroups: ['approvers', 'gatehouse:admins'] },
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Creates the sample objects through the control plane's admin credential (not through the gateway: they are the scenery, not the record). */
async function seedWorkloads(adminKubeconfig: string): Promise<void> {
  const upstream = createUpstream(loadKubeconfig(adminKubeconfig));
  const create = async (path: string, object: object): Promise<void> => {
    const reply = await upstreamFetch(upstream, {
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(object)),
      timeoutMs: 10_000,
    });
    if (reply.status !== 201 && reply.status !== 409) throw new Error(`creating ${path} for the demo answered HTTP ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
  };
  try {
    for (const object of sampleObjects()) {
      const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
      const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
      const ns = object.metadata.namespace ? `/namespaces/${object.metadata.namespace}` : '';
      await create(`${base}${ns}/${object.kind.toLowerCase()}s`, object);
    }
  } finally {
    upstream.close();
  }
}

interface SampleObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

function sampleObjects(): SampleObject[] {
  const deployment = (namespace: string, name: string, replicas: number): SampleObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name,
              image: 'nginx:1.27',
              ports: [{ containerPort: 80 }],
              // A secret-looking env value: shown masked through the gateway.
              env: [{ name: 'DB_PASSWORD', value: 'hunter2-demo' }, { name: 'LOG_LEVEL', value: 'info' }],
            },
          ],
        },
      },
    },
  });
  const secret = (name: string, stringData: Record<string, string>): SampleObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: DEMO_NAMESPACE },
    type: 'Opaque',
    stringData,
  });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO_NAMESPACE } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PROTECTED_NAMESPACE, labels: { 'gatehouse.dev/protected': 'true' } } },
    deployment(DEMO_NAMESPACE, 'web', 2),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: DEMO_NAMESPACE },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config', namespace: DEMO_NAMESPACE }, data: { LOG_LEVEL: 'info', api_token: 'demo-token-0123456789' } },
    secret('db-credentials', { username: 'web', password: 'demo-password-do-not-leak' }),
    secret('api-key', { key: 'sk_demo_0123456789abcdef' }),
    deployment(PROTECTED_NAMESPACE, 'payments', 1),
  ];
}
