import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startGatewayProcess } from '../e2e/helpers/gateway.js';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { kubectlFor } from '../e2e/helpers/run.js';
import { launchBrowser, screenshot, signInWithToken } from './helpers/browser.js';
import { requireWebBuild } from './helpers/stack.js';

// The Policy page's shadow report: a gateway runs a shadow policy that denies deletes beside the enforced
// one; a real kubectl delete goes through, and the page shows it as a would-be denial, with the request.
const cluster = inject('cluster');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-shadow-'));
const ns = `shadow-${randomBytes(3).toString('hex')}`;
const direct = kubectlFor(cluster.adminKubeconfig);
let gateway: GatewayProcess;

beforeAll(async () => {
  requireWebBuild();
  await direct.ok(['create', 'namespace', ns]);
  const shadow = join(work, 'shadow.yaml');
  writeFileSync(shadow, stringify({ apiVersion: 'gatehouse.dev/v1alpha1', kind: 'Policy', metadata: { name: 'no-deletes' }, spec: { rules: [{ name: 'no-deletes', match: { verbs: ['delete'], namespaces: [ns] }, action: 'deny' }] } }));
  const config = join(work, 'gatehouse.yaml');
  writeFileSync(config, stringify({ policy: { shadow: { paths: [join(process.cwd(), 'policies/baseline-allow.yaml'), shadow], builtinGuardrails: true } } }));
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--config', config]);
  const via = kubectlFor(gateway.adminKubeconfig);
  await via.ok(['-n', ns, 'create', 'configmap', 'doomed']);
  expect(await via.ok(['-n', ns, 'delete', 'configmap', 'doomed'])).toBe('configmap "doomed" deleted\n');
}, 120_000);

afterAll(async () => {
  await direct(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the shadow report in the console', () => {
  it('shows the delete that went through as one the shadow policy would have denied', async () => {
    const b = await launchBrowser({ baseURL: gateway.url });
    try {
      const page = b.page;
      await page.goto('/ui/policy');
      await signInWithToken(page, gateway.adminToken);
      const section = page.getByRole('region', { name: 'Shadow policy' });
      await section.getByRole('button', { name: 'Show the shadow report' }).click();
      const transitions = section.getByRole('table', { name: 'Changes by transition' });
      await transitions.waitFor();
      const row = transitions.getByRole('row').filter({ hasText: 'allow→deny' });
      expect(await row.innerText()).toMatch(/^1\s+allow→deny\s+delete configmaps .*\/doomed by gatehouse-admin/);
      expect(await section.innerText()).toContain('1 changed');
      await screenshot(page, 'policy-shadow-report');
    } finally {
      await b.close();
    }
  });
});
