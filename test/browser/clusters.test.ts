import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgentProcess } from '../e2e/helpers/agent.js';
import type { AgentProcess } from '../e2e/helpers/agent.js';
import { startGatewayProcess } from '../e2e/helpers/gateway.js';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { launchBrowser, screenshot, signInWithToken, VIEWPORTS } from './helpers/browser.js';
import { gatehouse, requireWebBuild } from './helpers/stack.js';

// The Clusters page on a real gateway that serves two clusters: "staging",
// reached directly (the shared e2e control plane), and "prod", reached only
// through agents. The admin sees prod without an agent, makes a join token in
// the page, starts a real `gatehouse agent` with the secret the page showed
// once, sees the agent appear without reloading, and revokes the token; an
// auditor sees the same clusters but none of the join-token controls.
const cluster = inject('cluster');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'));
let gateway: GatewayProcess;
let auditorToken = '';
const agents: AgentProcess[] = [];

/** What the page put on the clipboard (the root typecheck has no DOM types, so the page function is text). */
const clipboard = (page: Page): Promise<string> => page.evaluate<string>('navigator.clipboard.readText()');
const clustersTable = (page: Page) => page.getByRole('table', { name: 'Clusters', exact: true });
const clusterRow = (page: Page, name: string) => clustersTable(page).getByRole('row').filter({ has: page.getByRole('cell', { name, exact: true }) });

beforeAll(async () => {
  requireWebBuild();
  const configFile = join(work, 'gatehouse.yaml');
  writeFileSync(
    configFile,
    [
      // The shorthand's one direct cluster (its kubeconfig comes from --upstream-kubeconfig), named, plus an agent-mode cluster.
      'upstream: { name: staging }',
      'clusters:',
      '  - name: prod',
      '    agent: { waitSeconds: 1 }',
      'console:',
      '  roles: { auditors: [auditors] }',
      '',
    ].join('\n'),
  );
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--config', configFile]);
  const tokenFile = join(work, 'auditor.token');
  const made = await gatehouse(['tokens', 'create', '--data-dir', gateway.dataDir, '--name', 'audrey', '--kind', 'human', '--groups', 'auditors', '--ttl', '1d', '-o', tokenFile]);
  expect(made.code, made.stderr).toBe(0);
  auditorToken = readFileSync(tokenFile, 'utf8').trim();
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill('SIGTERM')));
  await gateway?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the Clusters page', () => {
  it('lets an admin see both clusters, make a join token shown once, connect an agent with it and revoke it', async () => {
    const admin = await launchBrowser({ baseURL: gateway.url });
    try {
      const page = admin.page;
      await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway.url });
      await page.goto('/ui/clusters');
      await signInWithToken(page, gateway.adminToken);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clusters' }).click();
      await page.getByRole('heading', { level: 1, name: 'Clusters' }).waitFor();

      // Both clusters, how each is reached; prod has no agent yet and says so.
      await clusterRow(page, 'prod').waitFor();
      const staging = await clusterRow(page, 'staging').innerText();
      expect(staging).toContain('direct');
      expect(staging).toContain('default');
      expect(staging).toContain(new URL(cluster.server).origin);
      const prodRow = clusterRow(page, 'prod');
      expect(await prodRow.locator('.badge').allInnerTexts()).toEqual(['agent', 'no agent connected']);
      expect(await prodRow.innerText()).not.toContain('default');
      const prod = page.getByRole('region', { name: 'prod' });
      await prod.getByText('No agent is connected to prod').waitFor();
      await prod.getByText('No join tokens for prod yet.').waitFor();
      await screenshot(page, 'clusters-no-agent');

      // A join token, with a description; its secret and the agent command are shown once.
      await prod.getByLabel('Description (optional)').fill('browser test agent');
      await prod.getByRole('button', { name: 'Make a join token' }).click();
      const shown = prod.getByRole('status').filter({ hasText: 'Join token for prod made.' });
      await shown.waitFor();
      const secret = await shown.getByLabel('Secret').inputValue();
      expect(secret).toMatch(/^ghj_[\w-]{20,}$/);
      const command = `gatehouse agent --gateway ${new URL(gateway.url).origin} --cluster prod --token-file prod.token --gateway-ca ca.crt`;
      expect(await shown.locator('pre').innerText()).toBe(command);
      await shown.getByRole('button', { name: 'Copy', exact: true }).click();
      await shown.getByRole('button', { name: 'Copied', exact: true }).waitFor();
      expect(await clipboard(page)).toBe(secret);
      await shown.getByRole('button', { name: 'Copy command' }).click();
      await expect.poll(() => clipboard(page)).toBe(command);
      await screenshot(page, 'clusters-join-token-made');

      // Listed, without its secret.
      const tokens = prod.getByRole('table', { name: 'Join tokens for prod' });
      const tokenRow = tokens.getByRole('row').filter({ hasText: 'browser test agent' });
      await tokenRow.waitFor();
      expect(await tokenRow.innerText()).not.toContain(secret);
      await shown.getByRole('button', { name: 'Done' }).click();
      await shown.waitFor({ state: 'detached' });
      expect(await page.content()).not.toContain(secret);

      // The agent the page told us to run, with the secret it showed: it appears without a reload.
      const tokenFile = join(work, 'prod.token');
      writeFileSync(tokenFile, secret, { mode: 0o600 });
      const agent = await startAgentProcess({ gateway, cluster: 'prod', tokenFile, kubeconfig: cluster.adminKubeconfig });
      agents.push(agent);
      let loads = 0;
      const countLoad = (): void => void loads++;
      page.on('load', countLoad);
      const agentsTable = prod.getByRole('table', { name: 'Agents connected to prod' });
      await agentsTable.waitFor({ timeout: 30_000 }).catch((err: unknown) => {
        throw new Error(`the agent did not show up: ${String(err)}\nagent:\n${agent.stderr()}`);
      });
      page.off('load', countLoad);
      expect(loads).toBe(0);
      expect(await prodRow.innerText()).toContain('1 agent');
      expect(await prodRow.getByText('no agent connected').count()).toBe(0);
      const agentRow = (await agentsTable.locator('tbody > tr').allInnerTexts()).join('\n');
      expect(agentRow).toMatch(/\bv1\.\d+\.\d+/);
      expect(agentRow).toMatch(/127\.0\.0\.1/);
      expect(agentRow).toMatch(/\d+s ago/);
      expect(await prod.getByText('No agent is connected to prod').count()).toBe(0);
      // The token has been used now; the list says so once it is read again.
      await page.reload();
      await expect.poll(async () => (await tokenRow.locator('td').nth(4).innerText()).trim(), { timeout: 10_000 }).not.toBe('—');
      await screenshot(page, 'clusters-agent-connected');
      await page.setViewportSize(VIEWPORTS.phone);
      await screenshot(page, 'clusters-agent-connected-phone');
      await page.setViewportSize(VIEWPORTS.desktop);

      // Revoked after the browser's confirmation; the row then says when.
      const question: string[] = [];
      page.once('dialog', (d) => {
        question.push(d.message());
        void d.accept();
      });
      await tokenRow.getByRole('button', { name: 'Revoke browser test agent' }).click();
      await tokenRow.getByText(/^revoked /).waitFor();
      expect(question).toEqual(['Revoke the join token "browser test agent" for prod? Agents using it are disconnected within 30 seconds.']);
      expect(await tokenRow.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
      await screenshot(page, 'clusters-join-token-revoked');
    } finally {
      await admin.close();
    }
  });

  it('shows an auditor the clusters and agents but no join-token controls', async () => {
    const auditor = await launchBrowser({ baseURL: gateway.url });
    try {
      const page = auditor.page;
      await page.goto('/ui/clusters');
      await signInWithToken(page, auditorToken);
      await page.getByRole('heading', { level: 1, name: 'Clusters' }).waitFor();
      const nav = page.getByRole('navigation', { name: 'Main' });
      expect(await nav.getByRole('link', { name: 'Clusters' }).getAttribute('aria-current')).toBe('page');
      expect(await nav.getByRole('link', { name: 'Tokens' }).count()).toBe(0);

      await clusterRow(page, 'staging').waitFor();
      expect(await clusterRow(page, 'prod').locator('.badge').first().innerText()).toBe('agent');
      const prod = page.getByRole('region', { name: 'prod' });
      await prod.getByRole('heading', { name: 'prod' }).waitFor();
      // The agent started by the admin's test may still be connected (revoking ends it within 30 s): either view is fine here.
      await prod.getByRole('table', { name: 'Agents connected to prod' }).or(prod.getByText('No agent is connected to prod')).first().waitFor();
      expect(await page.getByRole('button', { name: 'Make a join token' }).count()).toBe(0);
      expect(await page.getByText('Join tokens').count()).toBe(0);
      expect(await page.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
      await screenshot(page, 'clusters-auditor');
    } finally {
      await auditor.close();
    }
  });
});

// The Tokens page shares SecretOnce and RevokeButton with the Clusters page.
describe('the Tokens page', () => {
  it("still shows a new token's secret once and revokes it", async () => {
    const admin = await launchBrowser({ baseURL: gateway.url });
    try {
      const page = admin.page;
      await page.goto('/ui/tokens');
      await signInWithToken(page, gateway.adminToken);
      await page.getByLabel('Name').fill('ci-deployer');
      await page.getByRole('button', { name: 'Create token' }).click();
      const shown = page.getByRole('status').filter({ hasText: 'Token ci-deployer created. Copy its secret now: it is not shown again.' });
      expect(await shown.getByLabel('Secret').inputValue()).toMatch(/^ght_/);
      await shown.getByRole('button', { name: 'Done' }).click();
      const row = page.getByRole('row').filter({ hasText: 'ci-deployer' });
      page.once('dialog', (d) => void d.accept());
      await row.getByRole('button', { name: 'Revoke ci-deployer' }).click();
      // The page lists active tokens only (GET /tokens without all=true): a revoked one leaves the table.
      await row.waitFor({ state: 'detached' });
    } finally {
      await admin.close();
    }
  });
});
