import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { gatehouse, identity } from './helpers/identities.js';
import { kubectlFor, run } from './helpers/run.js';

// The MCP server end to end: the SDK's own client drives `gatehouse mcp`
// (stdio) and the gateway's `/mcp` (Streamable HTTP); every tool call is a
// Kubernetes request through the real gateway in front of the real test
// cluster, so policy, approvals, masking and audit apply as for kubectl.
const cluster = inject('cluster');
const ns = `mcp-${randomBytes(3).toString('hex')}`;
const direct = kubectlFor(cluster.adminKubeconfig);
const SECRET_VALUE = 'hunter2-do-not-show';
let gateway: GatewayProcess;
let agentKubeconfig: string;
let agentToken: string;
let approverKubeconfig: string;
const clients: Client[] = [];

async function stdioClient(extraArgs: string[] = []): Promise<Client> {
  const client = new Client({ name: 'e2e-agent', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: ['bin/gatehouse.js', 'mcp', '--kubeconfig', agentKubeconfig, ...extraArgs], stderr: 'pipe' }));
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  return { text, isError: result.isError === true };
}

const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: priv
spec:
  containers:
  - name: app
    image: registry.invalid/app:1
    securityContext:
      privileged: true
`;

let agent: Client;

beforeAll(async () => {
  await direct.ok(['create', 'namespace', ns]);
  await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'db', `--from-literal=password=${SECRET_VALUE}`]);
  await direct.ok(['-n', ns, 'run', 'web', '--image=registry.invalid/web:1']);
  // No hold: a review answers at once with the approval id, and the identical retry spends the grant.
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--approval-hold', '0']);
  ({ kubeconfig: agentKubeconfig, token: agentToken } = await identity(gateway, 'claude', ns, { kind: 'agent', groups: 'agents' }));
  ({ kubeconfig: approverKubeconfig } = await identity(gateway, 'alice', ns, { kind: 'human', groups: 'gatehouse:approvers' }));
  agent = await stdioClient();
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await direct(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('gatehouse mcp (stdio)', () => {
  it('lists its tools with their input schemas', async () => {
    const { tools } = await agent.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['list_resources', 'get_resource', 'apply_manifest', 'exec', 'can_i', 'wait_for_approval']));
    const apply = tools.find((t) => t.name === 'apply_manifest')!;
    expect(apply.inputSchema.required).toEqual(['manifest']);
    expect(apply.annotations?.readOnlyHint).toBe(false);
  });

  it('lists pods in the kubeconfig namespace as a table', async () => {
    const r = await call(agent, 'list_resources', { resource: 'po' });
    expect(r.isError, r.text).toBe(false);
    expect(r.text).toMatch(/^NAME\s+READY\s+STATUS/);
    expect(r.text).toMatch(/\nweb\s/);
  });

  it('gets a Secret with its values masked', async () => {
    const r = await call(agent, 'get_resource', { resource: 'secret', name: 'db' });
    expect(r.isError, r.text).toBe(false);
    expect(r.text).toContain('password: PG1hc2tlZCBieSBnYXRlaG91c2U+');
    expect(r.text).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));
    expect(r.text).not.toContain('managedFields');
  });

  it('applies a harmless ConfigMap, then shows a dry-run diff without changing it', async () => {
    const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: ${value}\n`;
    const r = await call(agent, 'apply_manifest', { manifest: cm('fast'), reason: 'e2e' });
    expect(r, r.text).toEqual({ text: 'configmaps/settings created', isError: false });
    expect(await direct.ok(['-n', ns, 'get', 'configmap', 'settings', '-o', 'jsonpath={.data.mode}'])).toBe('fast');

    const dry = await call(agent, 'apply_manifest', { manifest: cm('slow'), dryRun: true });
    expect(dry.isError, dry.text).toBe(false);
    expect(dry.text).toContain('--- live\n+++ after apply\n');
    expect(dry.text).toContain('-  mode: fast\n+  mode: slow');
    expect(await direct.ok(['-n', ns, 'get', 'configmap', 'settings', '-o', 'jsonpath={.data.mode}'])).toBe('fast');
  });

  it('says clearly what is wrong with bad input, and keeps serving', async () => {
    const unknown = await call(agent, 'get_resource', { resource: 'widgets', name: 'x' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain('the cluster has no resource type "widgets"');
    expect(await call(agent, 'apply_manifest', { manifest: 'kind: ConfigMap\nmetadata: {name: x}\n' })).toMatchObject({ isError: true, text: 'invalid manifest: document 1 has no apiVersion' });
    expect(await call(agent, 'get_resource', { resource: 'configmaps', name: 'nope' })).toEqual({ isError: true, text: 'configmaps "nope" not found' });
    expect((await call(agent, 'list_resources', { resource: 'configmaps' })).isError).toBe(false);
  });

  it('deletes and scales', async () => {
    await direct.ok(['-n', ns, 'create', 'deployment', 'api', '--image=registry.invalid/api:1']);
    expect(await call(agent, 'scale', { name: 'api', replicas: 3 })).toEqual({ isError: false, text: 'deployments.apps/api scaled to 3 replicas' });
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'api', '-o', 'jsonpath={.spec.replicas}'])).toBe('3');
    expect(await call(agent, 'delete_resource', { resource: 'deploy', name: 'api' })).toEqual({ isError: false, text: 'deployments.apps/api deleted' });
  });

  it('reads logs and runs a command in a pod', async () => {
    const logs = await call(agent, 'pod_logs', { pod: 'web', tailLines: 5 });
    expect(logs.isError, logs.text).toBe(false);
    const exec = await call(agent, 'exec', { pod: 'web', command: ['echo', 'hello from mcp'] });
    expect(exec, exec.text).toEqual({ isError: false, text: 'exit code 0\n--- stdout\nhello from mcp\n' });
  });

  it('holds a privileged pod for approval; once approved, the identical retry goes through', async () => {
    const check = await call(agent, 'can_i', { verb: 'create', manifest: privilegedPod });
    expect(check.text).toMatch(/^REVIEW: POST \/api\/v1\/namespaces\/mcp-\w+\/pods\nBy rule "privileged-containers"/);

    const first = await call(agent, 'apply_manifest', { manifest: privilegedPod, reason: 'debugging the node' });
    expect(first.isError).toBe(true);
    const id = /Approval (apr_[\w-]+) is waiting for a person/.exec(first.text)?.[1];
    expect(id, first.text).toBeDefined();
    expect(first.text).toContain(`Approve it at ${gateway.url}/ui/approvals/${id}, then retry the same command`);
    expect(first.text).toContain(`Call wait_for_approval with approval_id "${id}"`);

    const approved = await gatehouse(['approvals', 'approve', id!, '--kubeconfig', approverKubeconfig]);
    expect(approved.code, approved.stderr).toBe(0);
    const retried = await call(agent, 'apply_manifest', { manifest: privilegedPod, reason: 'debugging the node' });
    expect(retried, retried.text).toEqual({ isError: false, text: 'pods/priv created' });
    expect(await direct.ok(['-n', ns, 'get', 'pod', 'priv', '-o', 'jsonpath={.spec.containers[0].securityContext.privileged}'])).toBe('true');

    const shown = JSON.parse((await gatehouse(['approvals', 'show', id!, '--json', '--kubeconfig', approverKubeconfig])).stdout) as { reason: string };
    expect(shown.reason).toBe('debugging the node');
  });

  it('can_i judges a RoleBinding by what its role grants, looking the role up as the live request does', async () => {
    const wild = `${ns}-wild`;
    await direct.ok(['create', 'clusterrole', wild, '--verb=*', '--resource=configmaps']);
    try {
      const binding = (role: string) =>
        `apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: to-${role}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: ${role}\nsubjects:\n- kind: ServiceAccount\n  name: default\n  namespace: ${ns}\n`;
      const wildcard = await call(agent, 'can_i', { verb: 'create', manifest: binding(wild) });
      expect(wildcard.text).toMatch(/^REVIEW: POST \/apis\/rbac\.authorization\.k8s\.io\/v1\/namespaces\/mcp-\w+\/rolebindings\nBy rule "rbac-bind-wildcard-role": binding the ClusterRole mcp-\w+-wild, which grants/);
      const view = await call(agent, 'can_i', { verb: 'create', manifest: binding('view') });
      expect(view.text).toMatch(/^ALLOW: POST /);
    } finally {
      await direct(['delete', 'clusterrole', wild]);
    }
  });

  it('wait_for_approval sends the held request again once a person approves', async () => {
    const manifest = privilegedPod.replace('name: priv\n', 'name: priv-wait\n');
    const held = await call(agent, 'apply_manifest', { manifest });
    const id = /approval_id "(apr_[\w-]+)"/.exec(held.text)?.[1];
    expect(id, held.text).toBeDefined();
    const waiting = agent.callTool({ name: 'wait_for_approval', arguments: { approval_id: id, timeoutSeconds: 60 } }) as Promise<CallToolResult>;
    await new Promise((r) => setTimeout(r, 1000));
    expect((await gatehouse(['approvals', 'approve', id!, '--kubeconfig', approverKubeconfig])).code).toBe(0);
    const done = await waiting;
    expect(done.isError).toBeFalsy();
    expect(done.content).toEqual([{ type: 'text', text: 'Approved: Pod/priv-wait went through (HTTP 201, created).' }]);
  });

  it('records each tool call with the MCP user agent and the tool as the command', async () => {
    const out = await gatehouse(['audit', 'search', '--data-dir', gateway.dataDir, '--namespace', ns, '--json', '--limit', '200']);
    expect(out.code, out.stderr).toBe(0);
    const events = (JSON.parse(out.stdout) as { event: { client: { userAgent: string; kubectlCommand?: string; kubectlSession?: string }; request: { verb: string; resource: string } } }[]).map((r) => r.event);
    const created = events.find((e) => e.request.resource === 'configmaps' && e.client.kubectlCommand?.includes('dryRun=false'));
    expect(created?.client).toMatchObject({ userAgent: 'gatehouse-mcp/0.1.0 (e2e-agent/1.0.0)', kubectlCommand: 'mcp apply_manifest dryRun=false forceConflicts=false' });
    // Every request of one MCP session shares its session id.
    expect(new Set(events.filter((e) => e.client.userAgent.includes('e2e-agent')).map((e) => e.client.kubectlSession)).size).toBe(1);
  });

  it('answers every call a script sends before it closes stdin, then exits', async () => {
    const lines = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'script', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get_resource', arguments: { resource: 'secret', name: 'db' } } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_resources', arguments: { resource: 'po' } } },
    ];
    const r = await run(process.execPath, ['bin/gatehouse.js', 'mcp', '--kubeconfig', agentKubeconfig], { input: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
    expect(r.code, r.stderr).toBe(0);
    const answers = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; result?: CallToolResult });
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2, 3]);
    const text = (id: number) => answers.find((a) => a.id === id)!.result!.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
    expect(text(2)).toContain('password: PG1hc2tlZCBieSBnYXRlaG91c2U+');
    expect(text(3)).toMatch(/\nweb\s/);
  });

  it('offers no write tools in read-only mode', async () => {
    const readOnly = await stdioClient(['--read-only']);
    const names = (await readOnly.listTools()).tools.map((t) => t.name);
    expect(names).toContain('get_resource');
    for (const write of ['apply_manifest', 'delete_resource', 'scale', 'rollout_restart', 'exec']) expect(names).not.toContain(write);
  });
});

describe('MCP over Streamable HTTP at /mcp', () => {
  it('serves the same tools to a bearer token, and refuses a caller without one', async () => {
    const dispatcher = new Agent({ connect: { ca: readFileSync(join(gateway.dataDir, 'ca.crt')) } });
    const probe = await undiciFetch(`${gateway.url}/mcp`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: '{}' });
    // The MCP endpoint answers itself (JSON-RPC), not the Kubernetes pipeline (which would send a Status).
    const refused = (await probe.json()) as { jsonrpc?: string };
    expect(refused.jsonrpc).toBe('2.0');
    expect(probe.status).toBe(401);

    const client = new Client({ name: 'e2e-http', version: '2.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${agentToken}` } },
        // The gateway's private CA: Node's global fetch cannot be given one, undici's can.
        fetch: (url, init) => undiciFetch(url, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher }),
      }),
    );
    clients.push(client);
    const secret = await call(client, 'get_resource', { resource: 'secrets', name: 'db', namespace: ns });
    expect(secret.isError, secret.text).toBe(false);
    expect(secret.text).toContain('password: PG1hc2tlZCBieSBnYXRlaG91c2U+');
    const held = await call(client, 'apply_manifest', { manifest: privilegedPod.replace('name: priv\n', 'name: priv-http\n'), namespace: ns });
    expect(held.text).toMatch(/needs approval: .*Approval apr_[\w-]+ is waiting for a person/);
  });
});
