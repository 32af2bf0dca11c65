import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Approval } from '../../src/approvals/types.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { gatehouse, identity } from './helpers/identities.js';
import type { Identity } from './helpers/identities.js';
import { kubectlFor } from './helpers/run.js';
import type { RunResult } from './helpers/run.js';

// Just-in-time approvals end to end: an agent's real kubectl is held at the
// gateway while a person decides with `gatehouse approvals` (the console API);
// the decision travels back to the waiting kubectl. A second gateway with no
// hold shows the timeout → approve → retry-with-grant path.
const cluster = inject('cluster');
const ns = `approvals-${randomBytes(3).toString('hex')}`;
const direct = kubectlFor(cluster.adminKubeconfig);
let held: GatewayProcess;
let noHold: GatewayProcess;

/** Asserts a CLI call succeeded, showing its stderr when it did not. */
function succeeded(r: RunResult): RunResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

async function list(who: Identity, state = 'pending'): Promise<Approval[]> {
  const out = await who.approvals(['list', '--state', state, '--json']);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as Approval[];
}

/** Waits until an approval for `summary` shows up (the held request reached the gateway). */
async function arrival(who: Identity, summary: RegExp): Promise<Approval> {
  let found: Approval | undefined;
  await expect.poll(async () => (found = (await list(who)).find((a) => summary.test(a.summary))), { timeout: 30_000, interval: 250 }).toBeDefined();
  return found!;
}

let agent: Identity;
let approver: Identity;
let approver2: Identity;
let auditor: Identity;

beforeAll(async () => {
  await direct.ok(['create', 'namespace', ns]);
  [held, noHold] = await Promise.all([startGatewayProcess(cluster.adminKubeconfig), startGatewayProcess(cluster.adminKubeconfig, ['--approval-hold', '0'])]);
  agent = await identity(held, 'cursor', ns, { kind: 'agent', groups: 'agents' });
  approver = await identity(held, 'alice', ns, { kind: 'human', groups: 'gatehouse:approvers' });
  approver2 = await identity(held, 'carol', ns, { kind: 'human', groups: 'gatehouse:approvers' });
  auditor = await identity(held, 'audrey', ns, { kind: 'human', groups: 'gatehouse:auditors' });
}, 120_000);
afterAll(async () => {
  await direct(['delete', 'namespace', ns, '--wait=false']);
  await Promise.all([held?.stop(), noHold?.stop()]);
});

describe('approvals, with the request held', () => {
  it('forwards a held kubectl run --privileged once a person approves it; kubectl completes normally', async () => {
    const pending = agent.kubectl(['run', 'priv-ok', '--image=registry.invalid/app:1', '--privileged']);
    const a = await arrival(approver, /create pods priv-ok/);
    expect(a).toMatchObject({
      state: 'pending',
      rule: 'privileged-containers',
      requester: { subject: 'token:cursor', kind: 'agent' },
      request: { verb: 'create', resource: 'pods', namespace: ns, name: 'priv-ok' },
      requirements: { approverGroups: ['gatehouse:approvers'], quorum: 1 },
    });
    // What the approver is shown: the pod the API server would store (kubectl sent protobuf; the dry-run decoded it).
    expect(JSON.stringify(a.object)).toContain('"privileged":true');

    const shown = await approver.approvals(['show', a.id]);
    expect(shown.stdout).toContain(`Rule:       privileged-containers: a container asks to run privileged`);

    // Nobody approves their own request, and an auditor is not an approver.
    const self = await agent.approvals(['approve', a.id]);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain('403');
    const audit = await auditor.approvals(['approve', a.id]);
    expect(audit.code).toBe(1);
    expect(audit.stderr).toContain('403');

    const approved = await approver.approvals(['approve', a.id, '-m', 'ok for the incident']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toBe(`${a.id}: approved\n`);
    const done = await pending;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe('pod/priv-ok created\n');
    expect(await direct.ok(['-n', ns, 'get', 'pod', 'priv-ok', '-o', 'jsonpath={.spec.containers[0].securityContext.privileged}'])).toBe('true');
  });

  it('shows approvers the reason the agent declared with gatehouse reason (kubectl cannot send the header)', async () => {
    const declared = await agent.cli(['reason', 'rolling back the 14:02 deploy (INC-2231)', '--for', '10m']);
    expect(declared.code, declared.stderr).toBe(0);
    expect(declared.stdout).toMatch(/^token:cursor: "rolling back the 14:02 deploy \(INC-2231\)" until \d{4}-/);
    const pending = agent.kubectl(['run', 'priv-why', '--image=registry.invalid/app:1', '--privileged']);
    const a = await arrival(approver, /create pods priv-why/);
    expect(a.reason).toBe('rolling back the 14:02 deploy (INC-2231)');
    succeeded(await approver.approvals(['deny', a.id, '-m', 'not needed']));
    expect((await pending).code).toBe(1);
    expect((await agent.cli(['reason', '--clear'])).stdout).toBe('token:cursor: no declared reason\n');
  });

  it('answers a denied request with the approver and their reason', async () => {
    const pending = agent.kubectl(['run', 'priv-no', '--image=registry.invalid/app:1', '--privileged']);
    const a = await arrival(approver, /create pods priv-no/);
    const denyWithout = await approver.approvals(['deny', a.id]);
    expect(denyWithout.code).toBe(1);
    expect(denyWithout.stderr).toContain('deny needs --message');
    succeeded(await approver.approvals(['deny', a.id, '-m', 'use the debug namespace']));
    const done = await pending;
    expect(done.code).toBe(1);
    expect(done.stderr).toContain(`Error from server (Forbidden): denied by token:alice (approval ${a.id}): "use the debug namespace"`);
    expect((await direct(['-n', ns, 'get', 'pod', 'priv-no'])).code).toBe(1);
    expect((await list(approver, 'denied')).map((x) => x.id)).toContain(a.id);
  });

  it('shows approvers the diff a patch would make to the live object', async () => {
    await direct.ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/app:1']);
    const patch = JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'app', securityContext: { privileged: true } }] } } } });
    const pending = agent.kubectl(['patch', 'deployment', 'web', '-p', patch]);
    const a = await arrival(approver, /patch deployments\.apps web/);
    expect(a.diff).toMatch(/^--- live\n\+\+\+ after this request\n/);
    expect(a.diff).toMatch(/\n\+ +securityContext:\n\+ +privileged: true\n/);
    succeeded(await approver.approvals(['deny', a.id, '-m', 'not this way']));
    expect((await pending).code).toBe(1);
  });

  it('refuses a second decision on an approval that is already settled', async () => {
    const pending = agent.kubectl(['run', 'priv-two', '--image=registry.invalid/app:1', '--privileged']);
    const a = await arrival(approver, /create pods priv-two/);
    // The default quorum is 1, so one approval settles it; the second approver then meets a settled approval.
    expect((await approver2.approvals(['approve', a.id])).stdout).toBe(`${a.id}: approved\n`);
    const late = await approver.approvals(['approve', a.id]);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('409');
    expect((await pending).code).toBe(0);
  });
});

describe('approvals, when nobody decides in time', () => {
  it('tells the client where to approve, then lets the identical retry through exactly once', async () => {
    const agentNoHold = await identity(noHold, 'claude', ns, { kind: 'agent', groups: 'agents' });
    const alice = await identity(noHold, 'alice', ns, { kind: 'human', groups: 'gatehouse:approvers' });
    const cmd = ['run', 'priv-later', '--image=registry.invalid/app:1', '--privileged'];
    const first = await agentNoHold.kubectl(cmd);
    expect(first.code).toBe(1);
    const id = /Approval (apr_[\w-]+) is waiting for a person/.exec(first.stderr)?.[1];
    expect(id, first.stderr).toBeDefined();
    expect(first.stderr).toContain(`Approve it at ${noHold.url}/ui/approvals/${id}, then retry the same command`);

    // A retry before anyone decided joins the same approval rather than opening another.
    const again = await agentNoHold.kubectl(cmd);
    expect(again.stderr).toContain(`Approval ${id} is waiting`);
    expect((await alice.approvals(['list', '--json'])).stdout.match(/"id": "apr_/g)).toHaveLength(1);

    succeeded(await alice.approvals(['approve', id!]));
    const retried = await agentNoHold.kubectl(cmd);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toBe('pod/priv-later created\n');

    // The grant was for one use: a different request (a new name) needs its own approval.
    const other = await agentNoHold.kubectl(['run', 'priv-other', '--image=registry.invalid/app:1', '--privileged']);
    expect(other.code).toBe(1);
    expect(other.stderr).not.toContain(id!);
  });
});

describe('approvals, when the gateway shuts down', () => {
  it('answers a held request at once with a retryable Status and keeps its approval open', async () => {
    const leaving = await startGatewayProcess(cluster.adminKubeconfig, ['--approval-hold', '300']);
    try {
      const who = await identity(leaving, 'cursor-late', ns, { kind: 'agent', groups: 'agents' });
      const watcher = await identity(leaving, 'alice-late', ns, { kind: 'human', groups: 'gatehouse:approvers' });
      const held = who.kubectl(['run', 'priv-late', '--image=registry.invalid/app:1', '--privileged'], { timeoutMs: 120_000 });
      const approval = await arrival(watcher, /priv-late/);
      const stopped = leaving.kill('SIGTERM');
      const answer = await held;
      expect(answer.code).toBe(1);
      expect(answer.stderr).toContain(`Approval ${approval.id} is waiting for a person, and this gateway is restarting`);
      await stopped;
      // Its record: refused as pending (403), not cut off; the approval itself was never decided.
      const found = await gatehouse(['audit', 'search', '--data-dir', leaving.dataDir, '--namespace', ns, '--json']);
      expect(found.code, found.stderr).toBe(0);
      expect(found.stdout).toContain('GH_APPROVAL_PENDING');
    } finally {
      await leaving.stop();
    }
  });
});
