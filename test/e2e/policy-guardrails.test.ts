import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { kubectlFor, run } from './helpers/run.js';
import { startLongRunning } from './helpers/long-running.js';
import { createRunningPod } from './helpers/pods.js';
import { rawRequest } from './helpers/https.js';
import { gatehouse, identity } from './helpers/identities.js';
import { sessionMask, sessionToken } from './helpers/session-masking.js';
import { appendPodLog } from '../../src/harness/index.js';
import { MASK_BASE64, MASK_TEXT } from '../../src/masking/index.js';
import type { Kubectl } from './helpers/run.js';

// The built-in guardrails and a team policy, judged on real kubectl requests:
// what kubectl sends (JSON or protobuf), what a patch would produce (server-side
// dry-run), pod templates inside workloads, and ephemeral debug containers.
const cluster = inject('cluster');
const ns = `policy-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;

const pod = (name: string, spec: Record<string, unknown>) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { containers: [{ name: 'c', image: 'registry.invalid/app:1' }], ...spec } });
const privilegedContainers = [{ name: 'c', image: 'registry.invalid/app:1', securityContext: { privileged: true } }];

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  const teamPolicy = join(cluster.workDir, `${ns}-team.yaml`);
  writeFileSync(
    teamPolicy,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'team' },
      spec: {
        rules: [
          {
            name: 'retired-registry',
            match: { verbs: ['create'], resources: [{ group: '', resource: 'pods' }], namespaces: [ns], includeWorkloadTemplates: true },
            when: "object.spec.containers.exists(c, c.image.startsWith('registry.invalid/retired/'))",
            action: 'deny',
            message: 'registry.invalid/retired is being shut down',
            hint: 'pull the same image from registry.invalid/app instead',
          },
          {
            name: 'keep-audit-configmaps',
            match: { verbs: ['delete'], resources: [{ group: '', resource: 'configmaps' }], namespaces: [ns] },
            action: 'deny',
            message: 'ConfigMaps here are evidence and are not deleted',
          },
        ],
      },
    }),
  );
  // No hold: a request that needs approval is answered at once (the approval flow has its own tests).
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--policy', teamPolicy, '--approval-hold', '0']);
  via = kubectlFor(gateway.adminKubeconfig);
});
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

let agentKubectl: Kubectl | undefined;

/** kubectl as an AI agent: a Gatehouse token of kind agent, made on first use. */
async function asAgent(): Promise<Kubectl> {
  if (agentKubectl) return agentKubectl;
  const agent = await identity(gateway, 'policy-agent', ns, { kind: 'agent', groups: 'agents' });
  expect(agent.token).toMatch(/^ght_/);
  return (agentKubectl = agent.kubectl);
}

async function refused(args: string[], input?: string): Promise<string> {
  const r = await via(args, input === undefined ? {} : { input });
  expect(r.code, r.stdout).toBe(1);
  return r.stderr;
}

describe('guardrails on real kubectl requests', () => {
  it('creates a harmless pod', async () => {
    expect(await via.ok(['create', '-f', '-'], { input: pod('harmless', {}) })).toBe('pod/harmless created\n');
  });

  it('holds a privileged pod for approval, telling the client where to approve it and to retry', async () => {
    const stderr = await refused(['create', '-f', '-'], pod('privileged', { containers: privilegedContainers }));
    expect(stderr).toContain('Error from server (Forbidden)');
    expect(stderr).toContain('needs approval: policy rule "privileged-containers"');
    expect(stderr).toMatch(new RegExp(`Approve it at ${gateway.url}/ui/approvals/apr_[\\w-]+, then retry the same command`));
    expect((await direct(['-n', ns, 'get', 'pod', 'privileged'])).code).toBe(1);
  });

  it('holds kubectl run --privileged, whose body is protobuf, judged through the dry-run', async () => {
    const stderr = await refused(['-n', ns, 'run', 'runpriv', '--image=registry.invalid/app:1', '--privileged']);
    expect(stderr).toContain('"privileged-containers"');
  });

  it('judges the pod template of a Deployment', async () => {
    const deployment = (name: string, containers: unknown[]) =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: ns },
        spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers } } },
      });
    expect(await refused(['create', '-f', '-'], deployment('privdeploy', privilegedContainers))).toContain('"privileged-containers"');
    expect(await via.ok(['create', '-f', '-'], { input: deployment('plain', [{ name: 'c', image: 'registry.invalid/app:1' }]) })).toBe(
      'deployment.apps/plain created\n',
    );
  });

  it('judges a strategic-merge patch on the Deployment it would produce', async () => {
    const patch = JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'c', securityContext: { privileged: true } }] } } } });
    expect(await refused(['-n', ns, 'patch', 'deployment', 'plain', '-p', patch])).toContain('"privileged-containers"');
    const privileged = await direct.ok(['-n', ns, 'get', 'deploy', 'plain', '-o', 'jsonpath={.spec.template.spec.containers[0].securityContext}']);
    expect(privileged).toBe('');
    // A harmless patch still goes through the dry-run and is applied.
    expect(await via.ok(['-n', ns, 'patch', 'deployment', 'plain', '-p', '{"metadata":{"labels":{"team":"a"}}}'])).toBe('deployment.apps/plain patched\n');
    // The dry-run's own refusal reaches the client as the API server wrote it.
    const missing = await via(['-n', ns, 'patch', 'deployment', 'absent', '-p', '{"metadata":{"labels":{"x":"y"}}}']);
    expect(missing.stderr).toContain('Error from server (NotFound): deployments.apps "absent" not found');
  });

  it('holds kubectl debug with a privileged profile (an ephemeral container)', async () => {
    const stderr = await refused(['-n', ns, 'debug', 'harmless', '--image=registry.invalid/debug:1', '--profile=sysadmin', '--attach=false']);
    expect(stderr).toContain('"privileged-containers"');
  });

  it('masks Secret values in objects, lists, tables and watch streams, whatever kubectl asks for', async () => {
    await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'creds', '--from-literal=password=hunter2']);
    const secretB64 = Buffer.from('hunter2').toString('base64');
    const yaml = await via.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'yaml']);
    expect(yaml).toContain(`password: ${MASK_BASE64}`);
    expect(yaml).not.toContain(secretB64);
    const list = JSON.parse(await via.ok(['-n', ns, 'get', 'secrets', '-o', 'json'])) as { items: { metadata: { name: string }; data?: Record<string, string> }[] };
    expect(list.items.find((i) => i.metadata.name === 'creds')?.data).toEqual({ password: MASK_BASE64 });
    expect(await via.ok(['-n', ns, 'get', 'secrets'])).toMatch(/creds\s+Opaque\s+1/);
    const decoded = await via.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'jsonpath={.data.password}']);
    expect(Buffer.from(decoded, 'base64').toString()).toBe(MASK_TEXT);
    // A client asking for protobuf (client-go's default) gets JSON it also accepts, masked.
    const raw = await rawRequest(gateway.url, {
      path: `/api/v1/namespaces/${ns}/secrets/creds`,
      headers: { authorization: `Bearer ${gateway.adminToken}`, accept: 'application/vnd.kubernetes.protobuf, application/json', 'accept-encoding': 'gzip' },
      caPem: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
    });
    expect(raw.headers['content-type']).toContain('application/json');
    expect((JSON.parse(raw.body.toString()) as { data: Record<string, string> }).data).toEqual({ password: MASK_BASE64 });
    // The direct view is untouched: masking is on the way to the client, not in the cluster.
    expect(await direct.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'jsonpath={.data.password}'])).toBe(secretB64);

    const watch = startLongRunning('kubectl', ['-n', ns, 'get', 'secrets', '-w', '-o', 'json'], { KUBECONFIG: gateway.adminKubeconfig });
    try {
      await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'watched', '--from-literal=token=s3cr3t-value']);
      await watch.nextLine(/"name": "watched"/);
      const seen = watch.lines().join('\n');
      expect(seen).not.toContain(Buffer.from('s3cr3t-value').toString('base64'));
      expect(seen).not.toContain(secretB64);
    } finally {
      watch.stop();
    }
  });

  it('masks a Secret in what a write answers with, as a read of it is masked, and records why', async () => {
    await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'labelled', '--from-literal=password=hunter3']);
    const secretB64 = Buffer.from('hunter3').toString('base64');
    // A label patch (or a no-op one) answers with the whole Secret, data included.
    const labelled = JSON.parse(await via.ok(['-n', ns, 'patch', 'secret', 'labelled', '--type=merge', '-p', '{"metadata":{"labels":{"seen":"yes"}}}', '-o', 'json'])) as {
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(labelled.metadata.labels).toEqual({ seen: 'yes' });
    expect(labelled.data).toEqual({ password: MASK_BASE64 });
    const dryRun = await via.ok(['-n', ns, 'patch', 'secret', 'labelled', '--type=merge', '-p', '{}', '--dry-run=server', '-o', 'yaml']);
    expect(dryRun).toContain(`password: ${MASK_BASE64}`);
    expect(dryRun).not.toContain(secretB64);
    // The write itself went through, and the Secret keeps its value.
    expect(await direct.ok(['-n', ns, 'get', 'secret', 'labelled', '-o', 'jsonpath={.metadata.labels.seen} {.data.password}'])).toBe(`yes ${secretB64}`);
    const found = await gatehouse(['audit', 'search', '--data-dir', gateway.dataDir, '--namespace', ns, '--resource', 'secrets', '--verb', 'patch', '--json', '--limit', '5']);
    expect(found.code, found.stderr).toBe(0);
    const events = (JSON.parse(found.stdout) as { event: { request: { name: string }; decision: { action: string; readBack?: unknown }; bodies: { masked?: boolean } } }[]).map((e) => e.event);
    const patch = events.find((e) => e.request.name === 'labelled');
    expect(patch?.decision).toMatchObject({ action: 'allow', readBack: { action: 'mask', rule: 'secret-reads' } });
    expect(patch?.bodies.masked).toBe(true);
  });

  it('masks a list too large to hold (streamed item by item), and a Table of it, with every item intact', async () => {
    const big = `masks-${randomBytes(2).toString('hex')}`;
    await direct.ok(['create', 'namespace', big]);
    try {
      // 40 Secrets of ~40 KiB: a list of ~1.6 MiB, past what the gateway masks in one piece.
      const values = Array.from({ length: 40 }, (_, i) => `v${i}-${randomBytes(30_000).toString('base64')}`);
      const items = values.map((v, i) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `s${i}`, namespace: big }, stringData: { key: v } }));
      await direct.ok(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
      const res = await rawRequest(gateway.url, {
        path: `/api/v1/namespaces/${big}/secrets`,
        headers: { authorization: `Bearer ${gateway.adminToken}` },
        caPem: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
      });
      expect(res.status).toBe(200);
      expect(res.headers['transfer-encoding']).toBe('chunked');
      const text = res.body.toString();
      const list = JSON.parse(text) as { kind: string; items: { metadata: { name: string; annotations?: Record<string, string> }; data: Record<string, string> }[] };
      expect(list.kind).toBe('SecretList');
      expect(list.items.map((i) => i.metadata.name).sort()).toEqual(items.map((i) => i.metadata.name).sort());
      for (const item of list.items) expect(item.data).toEqual({ key: MASK_BASE64 });
      for (const v of values) {
        expect(text).not.toContain(Buffer.from(v).toString('base64').slice(0, 40));
        expect(text).not.toContain(v.slice(0, 40));
      }
      // kubectl's own view (a server-side Table) of the same list.
      expect((await via.ok(['-n', big, 'get', 'secrets', '--no-headers'])).trim().split('\n')).toHaveLength(40);
    } finally {
      await direct(['delete', 'namespace', big, '--wait=false']);
    }
  });

  it('applies a team policy with a message and a hint an agent can act on', async () => {
    const stderr = await refused(['create', '-f', '-'], pod('retired', { containers: [{ name: 'c', image: 'registry.invalid/retired/app:1' }] }));
    expect(stderr).toContain(
      'Error from server (Forbidden): error when creating "STDIN": denied by policy rule "retired-registry": registry.invalid/retired is being shut down. pull the same image from registry.invalid/app instead.',
    );
  });

  it('answers kubectl auth whoami and can-i for the caller by policy, not for the gateway credential', async () => {
    const agent = await asAgent();
    const me = await agent(['auth', 'whoami', '-o', 'json']);
    expect(me.code, me.stderr).toBe(0);
    const upstream = JSON.parse(await direct.ok(['auth', 'whoami', '-o', 'json'])) as { status: { userInfo: { username: string } } };
    expect(JSON.parse(me.stdout)).toMatchObject({
      kind: 'SelfSubjectReview',
      status: { userInfo: { username: 'token:policy-agent', groups: ['agents'], extra: { 'gatehouse-principal-kind': ['agent'], 'gatehouse-via': ['token'] } } },
    });
    expect(me.stdout).not.toContain(upstream.status.userInfo.username);
    // kubectl sends these reviews as protobuf; each answer names the rule that decides.
    const canI = (args: string[]) => agent(['auth', 'can-i', ...args]);
    const held = await canI(['create', 'customresourcedefinitions']);
    expect([held.code, held.stdout.trim()]).toEqual([1, `no - Gatehouse policy rule "crd-changes" holds this request for a person's approval: changing a CustomResourceDefinition needs a person's approval`]);
    const denied = await canI(['delete', 'configmaps', '-n', ns]);
    expect([denied.code, denied.stdout.trim()]).toEqual([1, 'no - Gatehouse policy rule "keep-audit-configmaps" denies this request: ConfigMaps here are evidence and are not deleted']);
    // Allowed by policy: the cluster's RBAC answers (the gateway credential may). A rule about the pod itself cannot be judged here.
    for (const allowed of [['get', 'configmaps'], ['create', 'pods'], ['create', 'pods/exec'], ['get', '/version']]) {
      const r = await canI([...allowed, '-n', ns]);
      expect([allowed, r.code, r.stdout.trim()]).toEqual([allowed, 0, 'yes']);
    }
    // As JSON (client-go's other encoding) the same question gets the same answer.
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'delete', resource: 'configmaps', namespace: ns } } };
    const asJson = await agent(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(review) });
    expect(JSON.parse(asJson.stdout), asJson.stderr).toMatchObject({ status: { allowed: false, denied: true, reason: expect.stringContaining('keep-audit-configmaps') as string } });
    const list = await agent(['auth', 'can-i', '--list', '-n', ns]);
    expect(list.stderr).toContain('Gatehouse decides every request by its policy');
    expect(list.stdout).not.toContain('*.*');
    // A person gets the same kind of answer about themselves.
    const admin = await via(['auth', 'can-i', 'delete', 'configmaps', '-n', ns]);
    expect(admin.stdout.trim()).toContain('keep-audit-configmaps');
  });

  it('holds an agent\'s pod that mounts a Secret, but not a person\'s', async () => {
    const mounting = (name: string) => pod(name, { volumes: [{ name: 's', secret: { secretName: 'creds' } }], containers: [{ name: 'c', image: 'registry.invalid/app:1', volumeMounts: [{ name: 's', mountPath: '/s' }] }] });
    const agent = await (await asAgent())(['create', '-f', '-'], { input: mounting('agent-mount') });
    expect(agent.code).toBe(1);
    expect(agent.stderr).toContain('"agent-secret-mounts"');
    expect(await via.ok(['create', '-f', '-'], { input: mounting('person-mount') })).toBe('pod/person-mount created\n');
  });

  it('masks credentials in whatever an agent reads or runs (env values, ConfigMap keys, a token in a log or exec output), not for a person', async () => {
    const planted = `pl4nted-${randomBytes(6).toString('hex')}`;
    const token = sessionToken();
    // A password no detector can tell from a word, in a Secret the pod reads.
    const dbPassword = `plain${randomBytes(6).toString('hex')}word`;
    await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'agent-db', `--from-literal=password=${dbPassword}`]);
    await direct.ok(['-n', ns, 'create', 'configmap', 'agent-cfg', `--from-literal=api_token=${planted}`, '--from-literal=mode=plain']);
    await direct.ok(['apply', '-f', '-'], {
      input: pod('agent-env', {
        containers: [
          {
            name: 'c',
            image: 'registry.invalid/app:1',
            env: [{ name: 'DB_PASSWORD', value: planted }, { name: 'MODE', value: 'plain' }, { name: 'DB_PASS', valueFrom: { secretKeyRef: { name: 'agent-db', key: 'password' } } }],
          },
        ],
      }),
    });
    await direct.ok(['-n', ns, 'wait', '--for=condition=Ready', 'pod/agent-env', '--timeout=90s'], { timeoutMs: 100_000 });
    const line = `agent-log-${randomBytes(4).toString('hex')} pushing with ${token}`;
    await appendPodLog(cluster, line);
    const dbLine = `agent-log-${randomBytes(4).toString('hex')} db login ok for ${dbPassword}`;
    await appendPodLog(cluster, dbLine);
    const agent = await asAgent();

    expect(await agent.ok(['-n', ns, 'get', 'configmap', 'agent-cfg', '-o', 'jsonpath={.data.api_token} {.data.mode}'])).toBe(`${MASK_TEXT} plain`);
    const spec = await agent.ok(['-n', ns, 'get', 'pod', 'agent-env', '-o', 'yaml']);
    expect(spec).toMatch(new RegExp(`- name: DB_PASSWORD\\n\\s+value: ${MASK_TEXT}`));
    expect(spec).toMatch(/- name: MODE\n\s+value: plain/);
    expect(spec).not.toContain(planted);
    const logs = await agent.ok(['-n', ns, 'logs', 'agent-env']);
    expect(logs).toContain(line.replace(token, '<masked:github-token>'));
    expect(logs).not.toContain(token);
    // The values of the Secrets the pod uses, and its literal credential env values, are looked for as they are.
    expect(logs).toContain(dbLine.replace(dbPassword, '<masked:pod-secret>'));
    const printed = await agent.ok(['-n', ns, 'exec', 'agent-env', '--', 'echo', dbPassword, planted]);
    expect(printed).toBe(`${'<masked:pod-secret>'.padEnd(dbPassword.length, '*')} ${'<masked:pod-secret>'.padEnd(planted.length, '*')}\n`);
    // kwok runs an exec's command on this machine: what it prints reaches the agent masked (agent-sessions).
    expect(await agent.ok(['-n', ns, 'exec', 'agent-env', '--', 'echo', `pushing with ${token}`])).toBe(`pushing with ${sessionMask(token)}\n`);
    // A write answers with the whole object: a no-op dry-run patch must not show what a read masks.
    const patched = await agent.ok(['-n', ns, 'patch', 'configmap', 'agent-cfg', '--type=merge', '-p', '{}', '--dry-run=server', '-o', 'jsonpath={.data.api_token} {.data.mode}']);
    expect(patched).toBe(`${MASK_TEXT} plain`);
    // A service account token minted by an agent would reach the API server around the gateway: held for a person
    // (service-account-tokens), and once approved its answer is masked as an agent's read of it would be.
    const held = await agent(['-n', ns, 'create', 'token', 'default']);
    const approval = /Approval (apr_[\w-]+) is waiting/.exec(held.stderr)?.[1];
    expect(approval, held.stderr).toBeDefined();
    const approver = await identity(gateway, 'token-approver', ns, { kind: 'human', groups: 'gatehouse:approvers' });
    expect((await approver.approvals(['approve', approval!])).code).toBe(0);
    const minted = await agent(['-n', ns, 'create', 'token', 'default']);
    expect([minted.code, minted.stdout, minted.stderr]).toEqual([0, '<masked:jwt>', '']);

    // A person through the same gateway sees what the API server holds (Secrets aside).
    expect(await via.ok(['-n', ns, 'get', 'configmap', 'agent-cfg', '-o', 'jsonpath={.data.api_token}'])).toBe(planted);
    expect(await via.ok(['-n', ns, 'get', 'pod', 'agent-env', '-o', 'yaml'])).toContain(planted);
    expect(await via.ok(['-n', ns, 'patch', 'configmap', 'agent-cfg', '--type=merge', '-p', '{}', '--dry-run=server', '-o', 'jsonpath={.data.api_token}'])).toBe(planted);
    expect(await via.ok(['-n', ns, 'logs', 'agent-env'])).toContain(line);
    expect(await via.ok(['-n', ns, 'logs', 'agent-env'])).toContain(dbLine);
    expect(await via.ok(['-n', ns, 'exec', 'agent-env', '--', 'echo', `pushing with ${token}`])).toBe(`pushing with ${token}\n`);
  }, 150_000);

  it("masks an agent's exec into a protected namespace once a person approved it (approving the session is not unmasking it)", async () => {
    const prod = `${ns}-prod`;
    const shell = await createRunningPod(direct, prod, 'shell');
    await direct.ok(['label', 'namespace', prod, 'gatehouse.dev/protected=true']);
    try {
      const token = sessionToken();
      const agent = await identity(gateway, 'prod-agent', prod, { kind: 'agent', groups: 'ai-agents' });
      const command = ['-n', prod, 'exec', shell, '--', 'echo', `deploying with ${token}`];
      const held = await agent.kubectl(command);
      const approval = /Approval (apr_[\w-]+) is waiting/.exec(held.stderr)?.[1];
      expect(held.stderr).toContain('"protected-exec"');
      expect(approval, held.stderr).toBeDefined();
      const approver = await identity(gateway, 'prod-approver', prod, { kind: 'human', groups: 'gatehouse:approvers' });
      expect((await approver.approvals(['approve', approval!])).code).toBe(0);
      expect(await agent.kubectl.ok(command)).toBe(`deploying with ${sessionMask(token)}\n`);
    } finally {
      await direct(['delete', 'namespace', prod, '--wait=false']);
    }
  });

  it('holds a binding to a ClusterRole that grants every verb, read from the cluster, but not one to a narrow role', async () => {
    // The roles exist only in the cluster: the gateway reads the one a binding names with its own credential.
    const wide = `${ns}-wide`;
    const narrow = `${ns}-narrow`;
    await direct.ok(['create', 'clusterrole', wide, '--verb=*', '--resource=configmaps']);
    await direct.ok(['create', 'clusterrole', narrow, '--verb=get,list', '--resource=configmaps']);
    try {
      // -v=6 logs each response's status: kubectl create rolebinding prints only the message.
      const stderr = await refused(['-n', ns, 'create', 'rolebinding', 'wide', `--clusterrole=${wide}`, '--user=someone', '-v=6']);
      expect(stderr).toMatch(/POST https:\/\/\S+\/rolebindings\S* 403 Forbidden/);
      expect(stderr).toContain('error: failed to create rolebinding: needs approval: policy rule "rbac-bind-wildcard-role"');
      expect(stderr).toContain(`binding the ClusterRole ${wide}, which grants "*" verbs or resources`);
      expect((await direct(['-n', ns, 'get', 'rolebinding', 'wide'])).code).toBe(1);
      expect(await via.ok(['-n', ns, 'create', 'rolebinding', 'narrow', `--clusterrole=${narrow}`, '--user=someone'])).toBe(
        'rolebinding.rbac.authorization.k8s.io/narrow created\n',
      );
    } finally {
      await direct(['delete', 'clusterrole', wide, narrow]);
    }
  });
});

describe('without code generation', () => {
  it('runs the shipped guardrail tests with the CEL library alone (node --disallow-code-generation-from-strings)', async () => {
    // Compiled expressions are generated JavaScript; where Node refuses that, every rule is evaluated by the library.
    const r = await run(process.execPath, ['--disallow-code-generation-from-strings', 'bin/gatehouse.js', 'policy', 'test', 'policies/guardrails/tests']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/\n\d+ passed, 0 failed\n$/);
    expect(r.code).toBe(0);
  });
});
