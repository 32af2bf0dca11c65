import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalsConfigSchema } from '../../../src/approvals/config.js';
import { createNotifier, slackMessage } from '../../../src/approvals/notify.js';
import type { ApprovalNotification } from '../../../src/approvals/notify.js';
import type { Approval } from '../../../src/approvals/types.js';
import { newApproval } from './fixtures.js';

const approval: Approval = {
  ...newApproval(),
  id: 'apr_1',
  state: 'pending',
  createdAt: '2026-11-25T12:00:00.000Z',
  expiresAt: '2026-11-25T13:00:00.000Z',
  decidedAt: null,
  decisions: [],
  grant: null,
};

describe('approval webhooks', () => {
  const received: Array<{ path: string; headers: Record<string, unknown>; body: unknown }> = [];
  let base = '';
  let failuresLeft = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/flaky' && failuresLeft-- > 0) {
        res.writeHead(503).end();
        return;
      }
      received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(req.url === '/refuse' ? 400 : 204).end();
    });
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const hooks = (list: unknown[]) => approvalsConfigSchema.parse({ notify: { webhooks: list } }).notify.webhooks;

  it('posts the documented JSON payload and a Slack message, each to the hooks that want the event', async () => {
    received.length = 0;
    const notify = createNotifier(
      hooks([
        { url: `${base}/json`, headers: { authorization: 'Bearer s3cret' } },
        { url: `${base}/slack`, format: 'slack', events: ['created'] },
      ]),
      (id) => `https://gh.test/ui/approvals/${id}`,
      pino({ level: 'silent' }),
    );
    notify('created', approval);
    notify('decided', { ...approval, state: 'denied', decisions: [{ by: 'alice', decision: 'deny', comment: 'no', at: '2026-11-25T12:01:00.000Z' }] });
    await expect.poll(() => received.length).toBe(3);
    const json = received.filter((r) => r.path === '/json');
    expect(json.map((r) => (r.body as ApprovalNotification).type).sort()).toEqual(['approval.created', 'approval.decided']);
    expect(json[0]!.headers.authorization).toBe('Bearer s3cret');
    expect(json[0]!.body).toMatchObject({ url: 'https://gh.test/ui/approvals/apr_1', approval: { id: 'apr_1', rule: 'privileged-containers' } });
    const slack = received.find((r) => r.path === '/slack')!.body as { text: string };
    expect(slack.text).toBe('Approval needed: agent-1 (agent) wants to create pods web in namespace default — https://gh.test/ui/approvals/apr_1');
  });

  it('retries a failing receiver and logs when it gives up', async () => {
    received.length = 0;
    failuresLeft = 1;
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const notify = createNotifier(hooks([{ url: `${base}/flaky` }, { url: `${base}/refuse` }]), (id) => id, log);
    notify('created', approval);
    await expect.poll(() => received.filter((r) => r.path === '/flaky').length, { timeout: 5000 }).toBe(1);
    await expect.poll(() => warnings.join('')).toContain('approval notification failed');
    expect(warnings.join('')).toContain('the receiver answered 400');
  });

  it('escapes Slack markup in what requesters control', () => {
    const msg = slackMessage({ type: 'approval.created', url: 'https://x', approval: { ...approval, reason: '<!channel> & <http://evil|click>' } });
    expect(JSON.stringify(msg.blocks)).toContain('&lt;!channel&gt; &amp; &lt;http://evil|click&gt;');
  });
});
