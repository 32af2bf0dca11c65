import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from '../e2e/helpers/gateway.js';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { launchBrowser, screenshot, signInWithToken } from './helpers/browser.js';
import { requireWebBuild } from './helpers/stack.js';

// The Gateway page on a real gateway started from a config file: an admin
// sees when it started and from which file, then the file is broken (the
// page shows the rejection and its reason without a reload of the page) and
// fixed with a restart-only change (the page shows what applied and what
// waits for a restart).
const cluster = inject('cluster');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'));
const configFile = join(work, 'gatehouse.yaml');
let gateway: GatewayProcess;

beforeAll(async () => {
  requireWebBuild();
  writeFileSync(configFile, 'limits: { maxBodyBytes: 1048576 }\n');
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--config', configFile]);
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the Gateway page', () => {
  it('shows the config file and how each reload went, with the settings that wait for a restart', async () => {
    const admin = await launchBrowser({ baseURL: gateway.url });
    try {
      const page = admin.page;
      await page.goto('/ui/gateway');
      await signInWithToken(page, gateway.adminToken);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Gateway' }).click();
      await page.getByRole('heading', { level: 1, name: 'Gateway' }).waitFor();
      await page.getByText('No reload since the gateway started.').waitFor();
      expect(await page.locator('dl.facts').innerText()).toContain(configFile);

      // A broken file: rejected, the reason shown where people look, the old config still in force.
      writeFileSync(configFile, 'limits: { maxBodyBytes: [\n');
      const rejected = page.getByRole('alert').filter({ hasText: 'was rejected' });
      await rejected.waitFor({ timeout: 20_000 });
      expect(await rejected.innerText()).toMatch(/an edit of the config file[\s\S]*gatehouse\.yaml/);
      await screenshot(page, 'gateway-reload-rejected');

      // Fixed, with a change that applies live and one that needs a restart.
      writeFileSync(configFile, ['limits: { maxBodyBytes: 4096 }', 'store: { sqlite: { path: other.db } }', ''].join('\n'));
      await page.getByText(/Reloaded on .*limits\s*changed\./).waitFor({ timeout: 20_000 });
      const waiting = page.getByRole('table', { name: 'Changed settings waiting for a restart' });
      await waiting.waitFor();
      expect(await waiting.getByRole('row').allInnerTexts()).toEqual([expect.stringMatching(/^Setting/), expect.stringMatching(/^store\s+\S/)]);
      await screenshot(page, 'gateway-reload-applied');
    } finally {
      await admin.close();
    }
  });
});
