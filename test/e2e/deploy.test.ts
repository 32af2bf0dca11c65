import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parseAllDocuments, parseDocument, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { rawRequest } from './helpers/https.js';
import { kubectlFor, run } from './helpers/run.js';

// The deployment artifacts (deploy/) against the real API server: every
// Kubernetes manifest and both Helm charts (default and non-default values)
// are accepted by a server-side dry run, the agent's RBAC is applied for real
// and checked, the charts pass `helm lint`, and the Compose file validates
// against the official Compose Specification schema.
const cluster = inject('cluster');
const kubectl = kubectlFor(cluster.adminKubeconfig);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const deploy = join(root, 'deploy');
const fixtures = join(root, 'test', 'fixtures');
const suffix = randomBytes(3).toString('hex');
/** Namespaces for the Helm releases (the plain manifests name their own). */
const helmNs = { gateway: `gh-helm-${suffix}`, agent: `gh-helm-agent-${suffix}` };
/** Namespaces this file created for real, deleted at the end. */
const created: string[] = [];
/** Cluster-scoped objects this file created for real (kind/name), deleted at the end. */
const createdClusterObjects: string[] = [];
let helmBin = '';

async function helm(args: string[]): Promise<string> {
  const r = await run(helmBin, args, { cwd: root });
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Creates the namespace (enforcing the restricted Pod Security Standard, as
 * deploy/kubernetes labels its namespaces) unless it exists; remembers it for
 * clean-up only when this file made it.
 */
async function ensureNamespace(name: string): Promise<void> {
  const exists = await kubectl(['get', 'namespace', name]);
  if (exists.code === 0) return;
  await kubectl.ok(['create', 'namespace', name, '--save-config']);
  created.push(name);
  await kubectl.ok(['label', 'namespace', name, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
}

/** The documents of a multi-document YAML stream, without empty ones. */
function documents(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null && typeof d === 'object');
}

function kinds(text: string): string[] {
  return documents(text).map((d) => String(d['kind']));
}

/**
 * `kubectl apply --dry-run=server`: the API server validates and admits every
 * object, then stores nothing. Any warning fails (e.g. a pod template that
 * would violate the namespace's restricted Pod Security Standard).
 */
async function dryRunApply(manifests: string, namespace?: string): Promise<string> {
  const args = ['apply', '--dry-run=server', '-f', '-'];
  if (namespace) args.unshift('-n', namespace);
  const r = await kubectl(args, { input: manifests });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\n${r.stderr}`);
  expect(r.stderr).toBe('');
  return r.stdout;
}

/** Every "<kind>/<name> … (server dry run)" line kubectl printed. */
function dryRunLines(output: string): string[] {
  return output.split('\n').filter((l) => l.endsWith('(server dry run)'));
}

/** The gatehouse.yaml inside a rendered ConfigMap stream. */
function embeddedConfig(manifests: string): unknown {
  const configMap = documents(manifests).find((d) => d['kind'] === 'ConfigMap' && (d['data'] as Record<string, string> | undefined)?.['gatehouse.yaml']);
  if (!configMap) throw new Error('no ConfigMap with gatehouse.yaml');
  return parseDocument((configMap['data'] as Record<string, string>)['gatehouse.yaml'] ?? '').toJS();
}

/**
 * A config file is accepted by the gateway's own schema. Until the schema
 * knows `clusters:` (the agent work of issue 9), that key is checked for
 * shape here and replaced by a placeholder `upstream` for the rest.
 */
function expectValidGatehouseConfig(input: unknown): void {
  const config = { ...(input as Record<string, unknown>) };
  if (!('clusters' in configSchema.shape)) {
    const clusters = config['clusters'] as { name: string; agent?: object }[];
    expect(clusters.length).toBeGreaterThan(0);
    for (const c of clusters) expect(c).toEqual({ name: expect.stringMatching(/^[a-z0-9-]+$/) as string, agent: {} });
    delete config['clusters'];
    config['upstream'] = { kubeconfig: '/dev/null' };
  }
  const result = configSchema.safeParse(config);
  expect(result.error?.issues ?? []).toEqual([]);
}

beforeAll(async () => {
  // Built once and cached (scripts/test-all.sh builds it before the tests; this is the fallback).
  const built = await run('bash', [join(root, 'scripts', 'helm.sh'), '--build'], { timeoutMs: 600_000 });
  if (built.code !== 0) throw new Error(`scripts/helm.sh --build failed:\n${built.stderr}`);
  helmBin = built.stdout.trim().split('\n').pop() ?? '';
  // A namespaced object's dry run needs its namespace to exist.
  for (const ns of ['gatehouse', 'gatehouse-agent', helmNs.gateway, helmNs.agent]) await ensureNamespace(ns);
}, 620_000);

afterAll(async () => {
  for (const object of createdClusterObjects) await kubectl(['delete', object, '--ignore-not-found', '--wait=false']);
  for (const ns of created) await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
});

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  const base = join(deploy, 'kubernetes');

  it('are checked against the restricted Pod Security Standard (a privileged pod template is flagged)', async () => {
    const privileged = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'privileged' },
      spec: {
        selector: { matchLabels: { app: 'p' } },
        template: { metadata: { labels: { app: 'p' } }, spec: { containers: [{ name: 'c', image: 'x', securityContext: { privileged: true } }] } },
      },
    };
    const r = await kubectl(['apply', '--dry-run=server', '-n', 'gatehouse', '-f', '-'], { input: JSON.stringify(privileged) });
    expect(r.stderr).toContain('would violate PodSecurity "restricted:latest"');
  });

  it('list every manifest file in their kustomization', () => {
    for (const dir of ['gateway', 'agent']) {
      const kustomization = parseDocument(readFileSync(join(base, dir, 'kustomization.yaml'), 'utf8')).toJS() as { resources: string[] };
      const files = readdirSync(join(base, dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      expect(kustomization.resources.sort()).toEqual(files.sort());
    }
  });

  it('gateway: accepted by the API server (server-side dry run of the kustomization)', async () => {
    const manifests = await kubectl.ok(['kustomize', join(base, 'gateway')]);
    expect(kinds(manifests).sort()).toEqual(
      ['ConfigMap', 'ConfigMap', 'Deployment', 'Namespace', 'NetworkPolicy', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Service', 'ServiceAccount'].sort(),
    );
    const out = await dryRunApply(manifests);
    expect(dryRunLines(out)).toHaveLength(9);
    expectValidGatehouseConfig(embeddedConfig(manifests));
  });

  it('agent: accepted by the API server, with and without the broad non-impersonation binding', async () => {
    const manifests = await kubectl.ok(['kustomize', join(base, 'agent')]);
    expect(kinds(manifests).sort()).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'ServiceAccount'].sort(),
    );
    expect(dryRunLines(await dryRunApply(manifests))).toHaveLength(7);
    const broad = readFileSync(join(base, 'agent', 'non-impersonation', 'clusterrolebinding.yaml'), 'utf8');
    expect(dryRunLines(await dryRunApply(broad))).toEqual(['clusterrolebinding.rbac.authorization.k8s.io/gatehouse-agent-cluster-access created (server dry run)']);
    const deployment = documents(manifests).find((d) => d['kind'] === 'Deployment') as { spec: { replicas: number } };
    expect(deployment.spec.replicas).toBe(2);
  });
});

describe('Helm charts (deploy/helm)', () => {
  const chart = { gateway: join(deploy, 'helm', 'gatehouse'), agent: join(deploy, 'helm', 'gatehouse-agent') };
  const alt = { gateway: join(fixtures, 'deploy', 'gatehouse-values-alt.yaml'), agent: join(fixtures, 'deploy', 'gatehouse-agent-values-alt.yaml') };

  it('pass helm lint --strict, with default and non-default values', async () => {
    for (const which of ['gateway', 'agent'] as const) {
      expect(await helm(['lint', '--strict', chart[which]])).toContain('0 chart(s) failed');
      expect(await helm(['lint', '--strict', chart[which], '-f', alt[which]])).toContain('0 chart(s) failed');
    }
  });

  it('gateway chart, default values: accepted by the API server', async () => {
    const manifests = await helm(['template', 'gh', chart.gateway, '-n', helmNs.gateway]);
    const out = await dryRunApply(manifests, helmNs.gateway);
    expect(dryRunLines(out)).toHaveLength(kinds(manifests).length);
    expect(kinds(manifests)).toEqual(expect.arrayContaining(['NetworkPolicy', 'PodDisruptionBudget', 'Deployment', 'Service', 'PersistentVolumeClaim']));
    const config = embeddedConfig(manifests) as { identity: { impersonation: { enabled: boolean } } };
    expect(config.identity.impersonation.enabled).toBe(true);
    expectValidGatehouseConfig(config);
  });

  it('gateway chart, non-default values (impersonation and NetworkPolicy off, PostgreSQL via an existing Secret): accepted', async () => {
    const manifests = await helm(['template', 'gh', chart.gateway, '-n', helmNs.gateway, '-f', alt.gateway]);
    const out = await dryRunApply(manifests, helmNs.gateway);
    expect(dryRunLines(out)).toHaveLength(kinds(manifests).length);
    expect(kinds(manifests)).not.toContain('NetworkPolicy');
    expect(kinds(manifests)).not.toContain('Secret');
    const deployment = documents(manifests).find((d) => d['kind'] === 'Deployment');
    expect(stringify(deployment)).toContain('name: pg-credentials');
    const config = embeddedConfig(manifests) as { identity: { impersonation: { enabled: boolean } }; log: { level: string } };
    expect(config.identity.impersonation.enabled).toBe(false);
    expect(config.log.level).toBe('debug');
    expectValidGatehouseConfig(config);
  });

  it('gateway chart, tracing on: a tracing section the gateway accepts, and egress to the collector', async () => {
    const manifests = await helm([
      'template', 'gh', chart.gateway, '-n', helmNs.gateway,
      '--set', 'tracing.enabled=true',
      '--set', 'tracing.otlpEndpoint=http://otel-collector.observability:4317/v1/traces',
      // --set hands numbers with a fraction to the chart as strings; the gateway needs a number.
      '--set', 'tracing.sampleRatio=0.25',
      '--set', 'tracing.protocol=http/json',
    ]);
    const out = await dryRunApply(manifests, helmNs.gateway);
    expect(dryRunLines(out)).toHaveLength(kinds(manifests).length);
    const config = embeddedConfig(manifests) as { tracing: unknown };
    expect(config.tracing).toEqual({ enabled: true, otlpEndpoint: 'http://otel-collector.observability:4317/v1/traces', protocol: 'http/json', serviceName: 'gatehouse', sampleRatio: 0.25, headers: {} });
    expectValidGatehouseConfig(config);
    const policy = documents(manifests).find((d) => d['kind'] === 'NetworkPolicy') as { spec: { egress: { ports: { port: number }[] }[] } };
    expect(policy.spec.egress.flatMap((e) => e.ports.map((p) => p.port))).toContain(4317);
    // Off (the default): no tracing section and no collector egress.
    const defaults = await helm(['template', 'gh', chart.gateway, '-n', helmNs.gateway]);
    expect(embeddedConfig(defaults)).not.toHaveProperty('tracing');
    const defaultPolicy = documents(defaults).find((d) => d['kind'] === 'NetworkPolicy') as { spec: { egress: { ports: { port: number }[] }[] } };
    expect(defaultPolicy.spec.egress.flatMap((e) => e.ports.map((p) => p.port))).not.toContain(4317);
  });

  it('agent chart, default and non-default values: accepted by the API server', async () => {
    const defaults = await helm(['template', 'ga', chart.agent, '-n', helmNs.agent]);
    expect(kinds(defaults)).toEqual(expect.arrayContaining(['ClusterRole', 'ClusterRoleBinding', 'NetworkPolicy', 'PodDisruptionBudget']));
    expect(dryRunLines(await dryRunApply(defaults, helmNs.agent))).toHaveLength(kinds(defaults).length);

    const other = await helm(['template', 'ga', chart.agent, '-n', helmNs.agent, '-f', alt.agent]);
    expect(kinds(other)).not.toContain('NetworkPolicy');
    expect(kinds(other)).not.toContain('ClusterRole');
    const binding = documents(other).find((d) => d['kind'] === 'ClusterRoleBinding') as { roleRef: { name: string } };
    expect(binding.roleRef.name).toBe('edit');
    expect(dryRunLines(await dryRunApply(other, helmNs.agent))).toHaveLength(kinds(other).length);

    // The chart can also create the token and CA Secrets itself.
    const withSecrets = await helm(['template', 'ga', chart.agent, '-n', helmNs.agent, '--set', 'token.value=join-token', '--set', `gatewayCA.pem=${cluster.caPem}`]);
    expect(kinds(withSecrets).filter((k) => k === 'Secret')).toHaveLength(2);
    expect(dryRunLines(await dryRunApply(withSecrets, helmNs.agent))).toHaveLength(kinds(withSecrets).length);
  });
});

describe("the agent's RBAC, applied for real", () => {
  /** Applies only the ServiceAccount and RBAC objects of a manifest stream, for real. */
  async function applyRbac(manifests: string, namespace: string): Promise<void> {
    const wanted = documents(manifests).filter((d) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(String(d['kind'])));
    for (const d of wanted) {
      if (d['kind'] !== 'ServiceAccount') createdClusterObjects.push(`${String(d['kind']).toLowerCase()}/${String((d['metadata'] as { name: string }).name)}`);
    }
    await kubectl.ok(['apply', '-n', namespace, '-f', '-'], { input: wanted.map((d) => stringify(d)).join('---\n') });
  }

  async function canI(as: string, args: string[]): Promise<boolean> {
    const r = await kubectl(['auth', 'can-i', ...args, `--as=${as}`]);
    if (r.code !== 0 && r.stdout.trim() !== 'no') throw new Error(`kubectl auth can-i ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim() === 'yes';
  }

  /**
   * The authorizer's answer for an Impersonate-Extra-<key> header: a
   * SubjectAccessReview for verb impersonate on userextras/<key>, exactly what
   * the API server asks. (`kubectl auth can-i` cannot express it: userextras is
   * not in discovery, and kubectl then answers "no" without asking.)
   */
  async function canImpersonateExtra(as: string, key: string): Promise<boolean> {
    const review = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: as, groups: ['system:serviceaccounts', 'system:authenticated'], resourceAttributes: { verb: 'impersonate', group: 'authentication.k8s.io', resource: 'userextras', subresource: key } },
    };
    const out = await kubectl.ok(['create', '-o', 'json', '-f', '-'], { input: JSON.stringify(review) });
    return (JSON.parse(out) as { status: { allowed: boolean } }).status.allowed;
  }

  const extras = [
    'gatehouse-client-address',
    'gatehouse-principal-kind',
    'gatehouse-via',
    'gatehouse-request-id',
    'gatehouse-sponsor',
    'gatehouse-client',
    'gatehouse-session',
    'gatehouse-approval',
  ];

  async function expectImpersonatorOnly(as: string): Promise<void> {
    for (const resource of ['users', 'groups', 'serviceaccounts']) expect(await canI(as, ['impersonate', resource]), `impersonate ${resource}`).toBe(true);
    for (const extra of extras) expect(await canImpersonateExtra(as, extra), `impersonate extra ${extra}`).toBe(true);
    expect(await canImpersonateExtra(as, 'something-else')).toBe(false);
    expect(await canI(as, ['get', '/version'])).toBe(true);
    expect(await canI(as, ['get', 'secrets', '--all-namespaces'])).toBe(false);
    expect(await canI(as, ['get', 'secrets', '-n', 'default'])).toBe(false);
    expect(await canI(as, ['delete', 'pods', '-n', 'default'])).toBe(false);
    expect(await canI(as, ['create', 'deployments', '-n', 'default'])).toBe(false);
    expect(await canI(as, ['*', '*'])).toBe(false);
  }

  it('plain manifests: the agent may impersonate (users, groups, ServiceAccounts, Gatehouse extras) and nothing else', async () => {
    const manifests = await kubectl.ok(['kustomize', join(deploy, 'kubernetes', 'agent')]);
    await applyRbac(manifests, 'gatehouse-agent');
    await expectImpersonatorOnly('system:serviceaccount:gatehouse-agent:gatehouse-agent');
  });

  it("Helm chart: the same, for the release's ServiceAccount", async () => {
    const manifests = await helm(['template', 'ga', join(deploy, 'helm', 'gatehouse-agent'), '-n', helmNs.agent]);
    await applyRbac(manifests, helmNs.agent);
    await expectImpersonatorOnly(`system:serviceaccount:${helmNs.agent}:ga-gatehouse-agent`);
  });

  it("with the agent's own token, impersonated requests carry Gatehouse's extras and the cluster's RBAC decides", async () => {
    const token = (await kubectl.ok(['-n', 'gatehouse-agent', 'create', 'token', 'gatehouse-agent', '--duration=10m'])).trim();
    const as = (headers: Record<string, string>, path: string) =>
      rawRequest(cluster.server, { path, caPem: cluster.caPem, headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...headers } });

    // Without impersonation: the agent's own identity may not read Secrets or list pods.
    expect((await as({}, '/api/v1/namespaces/default/secrets')).status).toBe(403);
    expect((await as({}, '/api/v1/namespaces/default/pods')).status).toBe(403);
    expect((await as({}, '/version')).status).toBe(200);

    // Impersonating a Gatehouse principal with the extras Gatehouse sends: allowed, and the API server sees them.
    const principal = {
      'impersonate-user': 'alice@example.com',
      'impersonate-group': 'gatehouse:developers',
      'impersonate-extra-gatehouse-client-address': '10.1.2.3',
      'impersonate-extra-gatehouse-request-id': '6f1c1e5e-0000-4000-8000-000000000000',
      'impersonate-extra-gatehouse-sponsor': 'bob@example.com',
    };
    const review = await rawRequest(cluster.server, {
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      caPem: cluster.caPem,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...principal },
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
    });
    expect(review.status).toBe(201);
    const user = (JSON.parse(review.body.toString()) as { status: { userInfo: { username: string; groups: string[]; extra: Record<string, string[]> } } }).status.userInfo;
    expect(user.username).toBe('alice@example.com');
    expect(user.groups).toContain('gatehouse:developers');
    expect(user.extra['gatehouse-client-address']).toEqual(['10.1.2.3']);
    expect(user.extra['gatehouse-sponsor']).toEqual(['bob@example.com']);

    // The impersonated user has no RBAC here: the cluster refuses it, as that user.
    const denied = await as(principal, '/api/v1/namespaces/default/pods');
    expect(denied.status).toBe(403);
    expect(denied.body.toString()).toContain('User \\"alice@example.com\\" cannot list resource \\"pods\\"');

    // An extra outside the list is refused.
    const unknownExtra = await as({ ...principal, 'impersonate-extra-not-gatehouse': 'x' }, '/api/v1/namespaces/default/pods');
    expect(unknownExtra.status).toBe(403);
    expect(unknownExtra.body.toString()).toContain('userextras/not-gatehouse');
  });
});

describe('Compose (deploy/compose.yaml)', () => {
  const schema = JSON.parse(readFileSync(join(fixtures, 'compose-spec', 'compose-spec.json'), 'utf8')) as Record<string, unknown>;
  // The schema names its meta-schema without the trailing '#'; Ajv knows draft-07 by its canonical id.
  delete schema['$schema'];
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const compose = parseDocument(readFileSync(join(deploy, 'compose.yaml'), 'utf8'), { merge: true }).toJS() as {
    services: Record<string, Record<string, unknown>>;
  };

  it('validates against the Compose Specification schema', () => {
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(Object.keys(compose.services).sort()).toEqual(['agent', 'gateway', 'postgres']);
  });

  it('a broken copy does not (so this check can fail)', () => {
    const typo = structuredClone(compose);
    (typo.services['gateway'] as Record<string, unknown>)['helthcheck'] = (typo.services['gateway'] as Record<string, unknown>)['healthcheck'];
    expect(validate(typo)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('helthcheck');

    const wrongType = structuredClone(compose);
    (wrongType.services['gateway'] as Record<string, unknown>)['ports'] = { https: 6443 };
    expect(validate(wrongType)).toBe(false);
  });

  it("mounts a gatehouse.yaml the gateway's schema accepts, and the files it names exist", () => {
    const gateway = compose.services['gateway'] as { volumes: string[] };
    const mounts = gateway.volumes.filter((v) => v.startsWith('./')).map((v) => v.split(':')[0] ?? '');
    expect(mounts).toEqual(['./compose/gatehouse.yaml', './compose/policies']);
    for (const m of mounts) expect(() => readFileSync(join(deploy, m, m.endsWith('.yaml') ? '' : 'starter.yaml'))).not.toThrow();
    expectValidGatehouseConfig(parseDocument(readFileSync(join(deploy, 'compose', 'gatehouse.yaml'), 'utf8')).toJS());
  });
});

describe('repository wiring', () => {
  it('the image builds with the script CI runs, and every deploy file is covered here', () => {
    const dockerfile = readFileSync(join(deploy, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUN[^\n]*\n?\s*bash scripts\/build\.sh/);
    expect(readFileSync(join(root, 'scripts', 'setup.sh'), 'utf8')).toContain('bash scripts/build.sh');
    const yamlUnder = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlUnder(join(dir, e.name)) : e.name.endsWith('.yaml') ? [relative(deploy, join(dir, e.name))] : []));
    // Manifests are exercised through their kustomizations above; a new directory needs a test.
    const dirs = new Set(yamlUnder(join(deploy, 'kubernetes')).map((f) => dirname(f)));
    expect([...dirs].sort()).toEqual(['kubernetes/agent', 'kubernetes/agent/non-impersonation', 'kubernetes/gateway']);
  });
});
