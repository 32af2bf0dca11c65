import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { kubectlFor } from '../e2e/helpers/run.js';
import type { Kubectl } from '../e2e/helpers/run.js';
import { launchBrowser, screenshot } from './helpers/browser.js';
import type { TestBrowser } from './helpers/browser.js';
import { gatehouse, requireWebBuild, signInThroughProvider, startStack, tokenKubectl } from './helpers/stack.js';
import type { Stack } from './helpers/stack.js';

// Proposals in the web console on the real stack: an agent's kubectl apply
// becomes a proposal; alice, signed in through the real OIDC provider (a
// browser session, no bearer token), reads the diff and applies it; the
// gateway sends the write as her, and the Deployment exists.
const cluster = inject('cluster');
const ns = `ui-proposals-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-browser-proposals-'));
const direct = kubectlFor(cluster.adminKubeconfig);
let stack: Stack;
let gateway: GatewayProcess;
let agent: Kubectl;
let alice: TestBrowser;

beforeAll(async () => {
  requireWebBuild();
  const policyFile = join(work, 'propose.yaml');
  writeFileSync(
    policyFile,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'propose' },
      spec: { rules: [{ name: 'agents-propose', match: { principalKinds: ['agent'], namespaces: [ns] }, action: 'propose', message: 'agents propose; people apply' }] },
    }),
  );
  await direct.ok(['create', 'namespace', ns]);
  stack = await startStack(cluster.adminKubeconfig, work, [['--policy', policyFile]]);
  gateway = stack.gateways[0]!;
  agent = await tokenKubectl(gateway, 'prop-bot', ns, { kind: 'agent', groups: 'agents' });
  alice = await launchBrowser({ baseURL: gateway.url });
  await alice.page.goto('/ui/proposals');
  await signInThroughProvider(alice.page, stack.idp, 'alice');
}, 180_000);

afterAll(async () => {
  await alice?.close();
  await direct(['delete', 'namespace', ns, '--wait=false']);
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('proposals in the browser', () => {
  it('lists the agent’s proposal, shows its diff, and applies it as the signed-in person', async () => {
    const file = join(work, 'web.yaml');
    writeFileSync(
      file,
      stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'ui-web', namespace: ns },
        spec: { replicas: 1, selector: { matchLabels: { app: 'ui-web' } }, template: { metadata: { labels: { app: 'ui-web' } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } } },
      }),
    );
    const r = await agent(['apply', '-f', file]);
    expect(r.code).toBe(1);
    const id = /proposal (prp_[\w-]+)/.exec(r.stderr)?.[1];
    expect(id, r.stderr).toBeDefined();

    const page = alice.page;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Proposals' }).click();
    // The list was loaded at sign-in, before the proposal existed; it is read again on demand.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('link', { name: id }).click();
    await page.getByRole('heading', { level: 1, name: /create deployments\.apps ui-web/ }).waitFor();
    const diff = page.getByRole('region', { name: 'What it would change' });
    expect(await diff.innerText()).toContain('+kind: Deployment');
    await screenshot(page, 'proposal-pending');

    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.locator('#proposal-h .badge', { hasText: 'applied' }).waitFor();
    await screenshot(page, 'proposal-applied');
    expect(await page.getByRole('region', { name: 'Proposed write' }).innerText()).toContain('applied by oidc:alice@example.com');
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'ui-web', '-o', 'name'])).toBe('deployment.apps/ui-web\n');

    // Recorded as alice's request, applying the proposal.
    const out = await gatehouse(['audit', 'search', '--data-dir', gateway.dataDir, '--namespace', ns, '--verb', 'create', '--json', '--limit', '50']);
    const events = (JSON.parse(out.stdout) as { event: { principal?: { subject: string; via: string }; proposal?: { id: string; action: string } } }[]).map((e) => e.event);
    expect(events.find((e) => e.proposal?.action === 'applied')).toMatchObject({ principal: { subject: 'oidc:alice@example.com', via: 'oidc' }, proposal: { id } });
  }, 120_000);
});
