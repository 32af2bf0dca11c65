import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { kubectlFor } from '../e2e/helpers/run.js';
import type { Kubectl } from '../e2e/helpers/run.js';
import { launchBrowser, screenshot, VIEWPORTS } from './helpers/browser.js';
import type { TestBrowser } from './helpers/browser.js';
import { gatehouse, kubectlWithToken, requireWebBuild, signInThroughProvider, startStack, tokenKubectl } from './helpers/stack.js';
import type { Stack } from './helpers/stack.js';

// Approvals in the web console on the real stack: an agent's kubectl is held
// at a real gateway; alice signs in through the real OIDC provider's login
// page, sees the request arrive live, reads why it was held and what it
// would do, and decides; the decision travels back to the waiting kubectl.
const cluster = inject('cluster');
const ns = `ui-approvals-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'));
const direct = kubectlFor(cluster.adminKubeconfig);
let stack: Stack;
let held: GatewayProcess;
let noHold: GatewayProcess;
let agent: Kubectl;
let alice: TestBrowser;

/** The inbox card of the approval whose summary matches, once it is listed. */
const card = (page: Page, summary: RegExp) => page.locator('li.approval-card').filter({ has: page.locator('.card-title', { hasText: summary }) });

/** The inbox through the main navigation (its label carries the pending count). */
const toInbox = (page: Page) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Inbox/ }).click();

/** Opens an approval from its inbox card; returns its id (the last segment of the page's address). */
async function openFromInbox(page: Page, summary: RegExp): Promise<string> {
  await card(page, summary).locator('.card-title').click();
  await page.getByRole('heading', { level: 1, name: summary }).waitFor();
  return new URL(page.url()).pathname.split('/').pop()!;
}

/** Fills the comment and presses Approve or Deny; waits until the page shows the settled state. */
async function decide(page: Page, decision: 'Approve' | 'Deny', comment: string, name: string): Promise<void> {
  await page.getByLabel('Comment (required to deny)').fill(comment);
  await screenshot(page, `${name}-before-decision`);
  await page.getByRole('button', { name: decision, exact: true }).click();
  const settled = decision === 'Approve' ? 'approved' : 'denied';
  await page.locator('#approval-h .badge', { hasText: settled }).waitFor();
  await page.locator('.decisions blockquote', { hasText: comment }).waitFor();
  await screenshot(page, `${name}-${settled}`);
}

beforeAll(async () => {
  requireWebBuild();
  await direct.ok(['create', 'namespace', ns]);
  stack = await startStack(cluster.adminKubeconfig, work, [[], ['--approval-hold', '0']]);
  [held, noHold] = stack.gateways as [GatewayProcess, GatewayProcess];
  agent = await tokenKubectl(held, 'cursor', ns, { kind: 'agent', groups: 'agents' });
  alice = await launchBrowser({ baseURL: held.url });
  await alice.page.goto('/ui/');
  await signInThroughProvider(alice.page, stack.idp, 'alice');
}, 180_000);

afterAll(async () => {
  await alice?.close();
  await direct(['delete', 'namespace', ns, '--wait=false']);
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the approver in the browser, with the request held', () => {
  it('sees the held kubectl run --privileged arrive live, approves it, and kubectl completes', async () => {
    const page = alice.page;
    await toInbox(page);
    await page.getByText('Live: new requests appear here as they arrive.').waitFor();
    await screenshot(page, 'inbox-empty-live');
    // Live means without loading the document again.
    let loads = 0;
    const countLoad = (): void => void loads++;
    page.on('load', countLoad);

    const pending = agent(['run', 'ui-ok', '--image=registry.invalid/app:1', '--privileged']);
    await card(page, /create pods ui-ok/).waitFor({ timeout: 30_000 });
    page.off('load', countLoad);
    expect(loads).toBe(0);
    await expect.poll(() => page.title()).toBe('(1) Gatehouse');
    const arrived = card(page, /create pods ui-ok/);
    expect(await arrived.innerText()).toContain('token:cursor (agent)');
    expect(await arrived.innerText()).toContain('privileged-containers');
    await page.getByRole('status').filter({ hasText: 'New approval request' }).waitFor();
    await screenshot(page, 'inbox-arrival');

    await openFromInbox(page, /create pods ui-ok/);
    // The banner pointed here; on the approval's own page it is gone.
    expect(await page.getByText('New approval request').count()).toBe(0);
    const reasons = page.getByRole('region', { name: 'Why it was held' });
    expect(await reasons.innerText()).toMatch(/privileged-containers: a container asks to run privileged/);
    const object = page.getByRole('region', { name: 'Object' });
    expect(await object.innerText()).toContain('"privileged": true');
    expect(await page.getByRole('region', { name: 'Request' }).innerText()).toContain(`/api/v1/namespaces/${ns}/pods`);
    await screenshot(page, 'approval-run-privileged');

    await decide(page, 'Approve', 'ok for the incident', 'approval-run-privileged');
    const done = await pending;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe('pod/ui-ok created\n');
  });

  it('denies with a comment; kubectl exits 1 and prints the reason', async () => {
    const page = alice.page;
    await toInbox(page);
    const pending = agent(['run', 'ui-no', '--image=registry.invalid/app:1', '--privileged']);
    await card(page, /create pods ui-no/).waitFor({ timeout: 30_000 });
    const id = await openFromInbox(page, /create pods ui-no/);

    // A denial without a comment is stopped in the page, before the gateway.
    await page.getByRole('button', { name: 'Deny', exact: true }).click();
    await page.getByRole('alert').getByText('Say why you deny it').waitFor();
    await decide(page, 'Deny', 'use the debug namespace', 'approval-deny');

    const done = await pending;
    expect(done.code).toBe(1);
    expect(done.stderr).toContain(`denied by oidc:alice@example.com (approval ${id}): "use the debug namespace"`);
    expect((await direct(['-n', ns, 'get', 'pod', 'ui-no'])).code).toBe(1);
  });

  it('shows the diff of a patch against the live object before approving it', async () => {
    const page = alice.page;
    await direct.ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/app:1']);
    await toInbox(page);
    const patch = JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'app', securityContext: { privileged: true } }] } } } });
    const pending = agent(['patch', 'deployment', 'web', '-p', patch]);
    await card(page, /patch deployments\.apps web/).waitFor({ timeout: 30_000 });
    await openFromInbox(page, /patch deployments\.apps web/);
    const diff = (await page.getByLabel('Unified diff of the change').innerText()).split('\n').filter((l) => l.trim() !== '');
    expect(diff.slice(0, 2)).toEqual(['--- live', '+++ after this request']);
    const added = diff.findIndex((l) => /^\+\s+securityContext:$/.test(l));
    expect(diff[added + 1], diff.join('\n')).toMatch(/^\+\s+privileged: true$/);
    await screenshot(page, 'approval-patch-diff');

    // The same page at phone size, as an approver on call would see it.
    await page.setViewportSize(VIEWPORTS.phone);
    await screenshot(page, 'approval-patch-diff-phone');
    await page.getByRole('link', { name: '← Back to the inbox' }).click();
    await card(page, /patch deployments\.apps web/).waitFor();
    await screenshot(page, 'inbox-phone');
    await openFromInbox(page, /patch deployments\.apps web/);
    await decide(page, 'Approve', 'debugging the node agent', 'approval-patch-phone');
    await page.setViewportSize(VIEWPORTS.desktop);

    const done = await pending;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe('deployment.apps/web patched\n');
  });
});

describe('who may decide, in the browser', () => {
  it('does not let alice approve her own request, and shows bob (no console role) no decision at all', async () => {
    const { idToken } = await stack.idp.loginAs('alice');
    const aliceKubectl = await kubectlWithToken(held, 'alice-oidc', idToken, ns);
    const page = alice.page;
    await toInbox(page);
    const pending = aliceKubectl(['run', 'ui-own', '--image=registry.invalid/app:1', '--privileged']);
    await card(page, /create pods ui-own/).waitFor({ timeout: 30_000 });
    // Listed, but nobody calls her to act on her own request.
    expect(await page.getByText('New approval request').count()).toBe(0);
    const id = await openFromInbox(page, /create pods ui-own/);
    await page.locator('#cannot-decide', { hasText: 'You cannot decide this request: nobody approves their own request' }).waitFor();
    expect(await page.getByRole('button', { name: 'Approve', exact: true }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Deny', exact: true }).isDisabled()).toBe(true);
    await screenshot(page, 'approval-own-request');

    const bob = await launchBrowser({ baseURL: held.url });
    try {
      await bob.page.goto(`/ui/approvals/${id}`);
      await signInThroughProvider(bob.page, stack.idp, 'bob');
      // Back on the approval's address, which his roles do not open.
      expect(new URL(bob.page.url()).pathname).toBe(`/ui/approvals/${id}`);
      await bob.page.getByText('Your roles do not include this page: it needs the approver, auditor or admin role, and you have no console role.').waitFor();
      expect(await bob.page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      expect(await bob.page.locator('header .me').innerText()).toContain('no console role');
      await screenshot(bob.page, 'approval-bob-no-role');
    } finally {
      await bob.close();
    }

    // Another approver settles it (with the CLI), so nothing is left held.
    const carol = await tokenKubectl(held, 'carol', ns, { kind: 'human', groups: 'approvers' });
    const denied = await gatehouse(['approvals', 'deny', id, '-m', 'ask someone else first', '--kubeconfig', carol.kubeconfig]);
    expect(denied.code, denied.stderr).toBe(0);
    const done = await pending;
    expect(done.code).toBe(1);
    expect(done.stderr).toContain('"ask someone else first"');
  });
});

describe('the approver in the browser, when nobody decided in time', () => {
  it('approves from the URL kubectl printed; the identical retry then succeeds', async () => {
    const agentNoHold = await tokenKubectl(noHold, 'claude', ns, { kind: 'agent', groups: 'agents' });
    const cmd = ['run', 'ui-later', '--image=registry.invalid/app:1', '--privileged'];
    const first = await agentNoHold(cmd);
    expect(first.code).toBe(1);
    const id = /Approval (apr_[\w-]+) is waiting for a person/.exec(first.stderr)?.[1];
    expect(id, first.stderr).toBeDefined();
    const url = new RegExp(`Approve it at (${noHold.url.replace(/[.]/g, '\\.')}/ui/approvals/${id}), then retry the same command`).exec(first.stderr)?.[1];
    expect(url, first.stderr).toBeDefined();

    // Another gateway: its own session cookie, so a browser of its own; the deep link survives the sign-in.
    const browser = await launchBrowser();
    try {
      await browser.page.goto(url!);
      await screenshot(browser.page, 'timeout-signin');
      await signInThroughProvider(browser.page, stack.idp, 'alice');
      expect(browser.page.url()).toBe(url);
      await browser.page.getByRole('heading', { level: 1, name: /create pods ui-later/ }).waitFor();
      await decide(browser.page, 'Approve', 'retry is fine', 'timeout-approval');
      expect(await browser.page.getByRole('region', { name: 'Requirements and decisions' }).innerText()).toMatch(/valid until .*, 1 use left/);
    } finally {
      await browser.close();
    }

    const retried = await agentNoHold(cmd);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toBe('pod/ui-later created\n');
  });
});
