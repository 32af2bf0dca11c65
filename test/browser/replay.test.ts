import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { createRunningPod } from '../e2e/helpers/pods.js';
import { kubectlFor } from '../e2e/helpers/run.js';
import { launchBrowser, screenshot } from './helpers/browser.js';
import { requireWebBuild, signInThroughProvider, startStack, tokenKubectl } from './helpers/stack.js';
import type { Stack } from './helpers/stack.js';

// Session replay in the web console: an agent types commands into `kubectl
// exec` through a real gateway; the auditor signs in through the real OIDC
// provider, finds the session, and replays it: the API calls in order and
// the recorded terminal in asciinema-player.
const cluster = inject('cluster');
const ns = `ui-replay-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'));
const direct = kubectlFor(cluster.adminKubeconfig);
let stack: Stack;
let gateway: GatewayProcess;
let pod: string;

beforeAll(async () => {
  requireWebBuild();
  pod = await createRunningPod(direct, ns, 'web');
  stack = await startStack(cluster.adminKubeconfig, work, [[]]);
  gateway = stack.gateways[0]!;
}, 180_000);

afterAll(async () => {
  await direct(['delete', 'namespace', ns, '--wait=false']);
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('session replay in the browser', () => {
  it('shows an exec session typed through the gateway: its API calls and the terminal playback', async () => {
    const agent = await tokenKubectl(gateway, 'replayer', ns, { kind: 'agent', groups: 'agents' });
    const token = randomBytes(4).toString('hex');
    // The second line prints two seconds into the recording: later than the player's poster (its first second) shows.
    const typed = await agent(['exec', '-i', pod, '--', 'sh'], { input: `echo typed-${token}\nsleep 2; echo later-${token}\nexit\n`, timeoutMs: 30_000 });
    expect(typed.code, typed.stderr).toBe(0);
    expect(typed.stdout).toBe(`typed-${token}\nlater-${token}\n`);

    const auditor = await launchBrowser({ baseURL: gateway.url });
    try {
      const page = auditor.page;
      await page.goto('/ui/sessions');
      await signInThroughProvider(page, stack.idp, 'auditor');
      expect(new URL(page.url()).pathname).toBe('/ui/sessions');
      // The exec session is closed (and listed with its recording) once the client has left; a reload re-reads the list.
      const row = page.getByRole('row').filter({ hasText: 'token:replayer' }).filter({ hasText: '1 recording' });
      await expect
        .poll(async () => {
          if ((await row.count()) > 0) return true;
          await page.reload();
          await page.getByRole('table').or(page.getByText('No sessions recorded yet.')).waitFor();
          return (await row.count()) > 0;
        }, { timeout: 30_000, interval: 500 })
        .toBe(true);
      await screenshot(page, 'sessions');

      await row.getByRole('link').click();
      await page.getByRole('heading', { level: 1, name: /by token:replayer/ }).waitFor();
      const calls = page.getByRole('table', { name: "The session's API calls, in order" });
      // kubectl reads the pod, then opens the exec stream; the stream's start and its end are both recorded.
      const rows = await calls.locator('tbody > tr').allInnerTexts();
      const readAt = rows.findIndex((r) => r.includes(`pods/${pod} in ${ns}`) && r.includes('get'));
      const execRows = rows.flatMap((r, i) => (r.includes(`pods/exec/${pod} in ${ns}`) ? [i] : []));
      expect(readAt, rows.join('\n')).toBeGreaterThanOrEqual(0);
      expect(execRows, rows.join('\n')).toHaveLength(2);
      expect(execRows[0]).toBeGreaterThan(readAt);
      expect(rows[execRows[0]!]).toMatch(/\b101\b/);
      expect(rows[execRows[1]!]).toContain('101 (exec ended)');
      const exec = calls.locator('tr.has-stream');

      const player = page.getByRole('region', { name: /playback of exec stream/i });
      const terminal = player.locator('.ap-term');
      // Before playing: the poster, the first second of the session.
      await terminal.filter({ hasText: `typed-${token}` }).waitFor();
      expect(await terminal.innerText()).not.toContain(`later-${token}`);
      await screenshot(page, 'session-replay-poster');
      await player.getByRole('button', { name: 'Play' }).click();
      // Played at real speed to the end; the last frame stays on screen.
      await terminal.filter({ hasText: `later-${token}` }).waitFor({ timeout: 30_000 });
      await screenshot(page, 'session-replay');

      await exec.getByRole('button', { name: /^Show/ }).click();
      await page.getByText(/recording plays under/).waitFor();
    } finally {
      await auditor.close();
    }
  });
});
