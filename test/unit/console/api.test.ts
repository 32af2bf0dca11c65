/**
 * The console JSON API over HTTP: every endpoint, who may call it, and how
 * it refuses (401, 403, CSRF, 400 with a message naming the field).
 */
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Approval } from '../../../src/approvals/types.js';
import type { BacktestReport } from '../../../src/policy/backtest.js';
import type { RoleRef, StoredRole } from '../../../src/policy/bound-role.js';
import { sampleEvent } from '../audit/stores.js';
import { errorOf, startConsoleFixture } from './fixture.js';
import type { ConsoleFixture } from './fixture.js';
import { pendingApproval } from './fake-approvals.js';

type ApprovalView = Approval & { canDecide: boolean; cannotDecideReason: string | null };

/** 12 kubectl events (sessions session-0…3, two principals), then 3 by carol with no kubectl session. */
const EVENTS = [
  ...Array.from({ length: 12 }, (_, i) => sampleEvent(i)),
  ...[20, 21, 22].map((i) =>
    sampleEvent(i, {
      principal: { subject: 'oidc:carol', groups: ['sre'], kind: 'human', via: 'oidc', tokenId: undefined },
      headers: { 'user-agent': 'curl/8' },
      decision: { action: 'deny', rule: 'no-curl', matched: [{ rule: 'no-curl', action: 'deny' }] },
    }),
  ),
];

let fx: ConsoleFixture;
beforeAll(async () => {
  fx = await startConsoleFixture({ events: EVENTS, keepaliveMs: 100 });
});
afterAll(() => fx.close());

describe('authentication', () => {
  it('refuses a request without credentials with 401', async () => {
    const response = await fx.call('GET', '/gatehouse/v1/whoami');
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { code: 'unauthenticated', message: expect.stringContaining('sign in') as unknown } });
  });

  it('refuses a bearer token the gateway does not accept, even beside a valid cookie', async () => {
    const cookie = await fx.sessionCookie({ subject: 'oidc:alice', groups: ['approvers'], via: 'oidc' });
    const response = await fx.call('GET', '/gatehouse/v1/whoami', { as: 'nobody', cookie });
    expect(response.status).toBe(401);
  });

  it('resolves roles from groups; the bootstrap admin holds every role', async () => {
    const admin = await (await fx.call('GET', '/gatehouse/v1/whoami', { as: 'admin' })).json();
    expect(admin).toEqual({ subject: 'gatehouse-admin', kind: 'human', groups: ['gatehouse:admins'], roles: ['admin', 'approver', 'auditor'], via: 'bootstrap-token' });
    const bob = await (await fx.call('GET', '/gatehouse/v1/whoami', { as: 'bob' })).json();
    expect(bob).toMatchObject({ subject: 'oidc:bob', roles: [] });
    const auditor = await (await fx.call('GET', '/gatehouse/v1/whoami', { as: 'auditor' })).json();
    expect(auditor).toMatchObject({ roles: ['auditor'] });
  });

  it('accepts the session cookie, and refuses a forged or expired one', async () => {
    const cookie = await fx.sessionCookie({ subject: 'oidc:alice', groups: ['approvers'], via: 'oidc' });
    const ok = await fx.call('GET', '/gatehouse/v1/whoami', { cookie });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ subject: 'oidc:alice', roles: ['approver'], via: 'console-oidc' });

    const [header, payload, signature] = cookie.slice('gatehouse_session='.length).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, groups: ['gatehouse:admins'] })).toString('base64url');
    expect((await fx.call('GET', '/gatehouse/v1/whoami', { cookie: `gatehouse_session=${header}.${forged}.${signature}` })).status).toBe(401);

    const expired = await fx.sessionCookie({ subject: 'oidc:alice', groups: [], via: 'oidc' }, -60_000);
    expect((await fx.call('GET', '/gatehouse/v1/whoami', { cookie: expired })).status).toBe(401);
  });

  it('needs the CSRF header for a change made with the cookie, not with a bearer token', async () => {
    fx.approvals.add(pendingApproval('csrf-1', 'oidc:bob'));
    const cookie = await fx.sessionCookie({ subject: 'oidc:alice', groups: ['approvers'], via: 'oidc' });
    const without = await fx.call('POST', '/gatehouse/v1/approvals/csrf-1/approve', { cookie, body: {} });
    expect(without.status).toBe(403);
    expect(await errorOf(without)).toMatchObject({ code: 'csrf-header-missing', message: expect.stringContaining('X-Gatehouse-Console: 1') as unknown });
    expect((await fx.approvals.get('csrf-1'))?.state).toBe('pending');

    const withHeader = await fx.call('POST', '/gatehouse/v1/approvals/csrf-1/approve', { cookie, csrf: true, body: {} });
    expect(withHeader.status).toBe(200);

    fx.approvals.add(pendingApproval('csrf-2', 'oidc:bob'));
    expect((await fx.call('POST', '/gatehouse/v1/approvals/csrf-2/approve', { as: 'alice', body: {} })).status).toBe(200);
  });

  it('signs out by clearing the cookie; logout needs the CSRF header', async () => {
    expect((await fx.call('POST', '/gatehouse/v1/auth/logout')).status).toBe(403);
    const response = await fx.call('POST', '/gatehouse/v1/auth/logout', { csrf: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toMatch(/^gatehouse_session=; Path=\/; Max-Age=0; HttpOnly; Secure; SameSite=Strict$/);
  });

  it('has no dev-login unless configured, and says which sign-in methods exist', async () => {
    const response = await fx.call('POST', '/gatehouse/v1/auth/dev-login', { csrf: true });
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ message: expect.stringContaining('console.devLogin') as unknown });
    expect(await (await fx.call('GET', '/gatehouse/v1/auth/methods')).json()).toEqual({ oidc: false, devLogin: false });
    expect((await fx.call('GET', '/gatehouse/v1/auth/login')).status).toBe(404);
  });
});

describe('token sign-in', () => {
  const login = (token: string, csrf = true) => fx.call('POST', '/gatehouse/v1/auth/token-login', { body: { token }, csrf });
  it('turns a person\'s token into a browser session with the same roles', async () => {
    const response = await login('admin');
    expect(response.status).toBe(200);
    const cookie = /gatehouse_session=[^;]+/.exec(response.headers.get('set-cookie') ?? '')?.[0];
    expect(cookie).toBeDefined();
    const me = (await (await fx.call('GET', '/gatehouse/v1/whoami', { cookie })).json()) as { subject: string; roles: string[]; via: string };
    expect(me).toMatchObject({ subject: 'gatehouse-admin', roles: ['admin', 'approver', 'auditor'], via: 'bootstrap-token' });
  });
  it('refuses unknown tokens, agent tokens, and a form post without the console header', async () => {
    expect((await login('nobody')).status).toBe(401);
    const agent = await login('agent');
    expect(agent.status).toBe(403);
    expect(await errorOf(agent)).toMatchObject({ message: 'an agent token cannot sign in to the console; sign in as a person' });
    expect((await login('admin', false)).status).toBe(403);
  });
});

describe('dev-login', () => {
  let dev: ConsoleFixture;
  beforeAll(async () => {
    dev = await startConsoleFixture({ devLogin: true });
  });
  afterAll(() => dev.close());

  it('says so in a 401, so the sign-in page can offer it', async () => {
    expect(await (await dev.call('GET', '/gatehouse/v1/whoami')).json()).toMatchObject({ error: { code: 'unauthenticated', devLogin: true } });
  });

  it('signs in a local admin with a Strict, HttpOnly, Secure session cookie', async () => {
    expect((await dev.call('POST', '/gatehouse/v1/auth/dev-login')).status).toBe(403);
    const response = await dev.call('POST', '/gatehouse/v1/auth/dev-login', { csrf: true });
    expect(response.status).toBe(200);
    const setCookie = response.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^gatehouse_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=28800; HttpOnly; Secure; SameSite=Strict$/);
    const whoami = await dev.call('GET', '/gatehouse/v1/whoami', { cookie: setCookie.split(';')[0] });
    expect(await whoami.json()).toMatchObject({ subject: 'dev:admin', roles: ['admin', 'approver', 'auditor'], via: 'dev-login' });
  });
});

describe('routing', () => {
  it('answers unknown API paths with 404 and wrong methods with 405 and Allow', async () => {
    const missing = await fx.call('GET', '/gatehouse/v1/nothing-here', { as: 'admin' });
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toMatchObject({ code: 'not-found' });
    const wrong = await fx.call('DELETE', '/gatehouse/v1/whoami', { as: 'admin' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
  });

  it('leaves paths it does not own to the next handler', async () => {
    for (const path of ['/api/v1/pods', '/gatehouse/v2/whoami', '/gatehouse', '/uix', '/']) {
      expect((await fx.call('GET', path)).status, path).toBe(418);
    }
  });

  it('refuses dot segments instead of normalising them into another path', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      // A path option is sent as it is; a URL would be normalised by the client first.
      const { hostname, port } = new URL(fx.url);
      const options = { hostname, port, path: '/gatehouse/v1/approvals/%2e%2e/tokens', headers: { authorization: 'Bearer admin' } };
      const req = httpRequest(options, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject).end();
    });
    expect(status).toBe(400);
  });
});

describe('approvals', () => {
  beforeAll(() => {
    fx.approvals.add(pendingApproval('a-bob', 'oidc:bob', { ageSeconds: 30 }));
    fx.approvals.add(pendingApproval('a-alice', 'oidc:alice', { ageSeconds: 20 }));
    fx.approvals.add(pendingApproval('a-sre', 'oidc:bob', { ageSeconds: 10, approverGroups: ['sre'] }));
  });
  const list = async (as: string, query = '') => {
    const response = await fx.call('GET', `/gatehouse/v1/approvals${query}`, { as });
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: ApprovalView[] }).items;
  };

  it('lists newest first with whether the caller may decide each', async () => {
    const forAlice = await list('alice', '?state=pending&requester=oidc:bob');
    expect(forAlice.map((a) => a.id)).toEqual(['a-sre', 'a-bob']);
    expect(forAlice.find((a) => a.id === 'a-bob')).toMatchObject({ canDecide: true, cannotDecideReason: null });
    expect(forAlice.find((a) => a.id === 'a-sre')).toMatchObject({ canDecide: false, cannotDecideReason: 'only members of sre decide this' });
    const own = (await list('alice', '?requester=oidc:alice'))[0];
    expect(own).toMatchObject({ id: 'a-alice', canDecide: false, cannotDecideReason: 'nobody decides their own request' });
    const forAuditor = await list('auditor', '?requester=oidc:bob&limit=1');
    expect(forAuditor).toHaveLength(1);
    expect(forAuditor[0]).toMatchObject({ canDecide: false, cannotDecideReason: 'you are not an approver' });
  });

  it('refuses bad query parameters with 400 naming them', async () => {
    const bad = await fx.call('GET', '/gatehouse/v1/approvals?state=maybe&limit=0', { as: 'alice' });
    expect(bad.status).toBe(400);
    const { code, message } = await errorOf(bad);
    expect(code).toBe('bad-request');
    expect(message).toMatch(/^invalid query: state: .*; limit: /);
    expect((await fx.call('GET', '/gatehouse/v1/approvals?color=red', { as: 'alice' })).status).toBe(400);
  });

  it('reads one approval; an unknown id is 404; someone without a role gets 403', async () => {
    expect(await (await fx.call('GET', '/gatehouse/v1/approvals/a-bob', { as: 'auditor' })).json()).toMatchObject({ id: 'a-bob', summary: 'delete pods/web in default' });
    expect((await fx.call('GET', '/gatehouse/v1/approvals/none', { as: 'auditor' })).status).toBe(404);
    const bob = await fx.call('GET', '/gatehouse/v1/approvals', { as: 'bob' });
    expect(bob.status).toBe(403);
    expect(await errorOf(bob)).toMatchObject({ code: 'forbidden', message: expect.stringContaining('approvers or auditors or admins') as unknown });
  });

  it('an auditor cannot approve; nobody approves their own request', async () => {
    expect((await fx.call('POST', '/gatehouse/v1/approvals/a-bob/approve', { as: 'auditor', body: {} })).status).toBe(403);
    const own = await fx.call('POST', '/gatehouse/v1/approvals/a-alice/approve', { as: 'alice', body: {} });
    expect(own.status).toBe(403);
    expect(await errorOf(own)).toEqual({ code: 'forbidden', message: 'nobody decides their own request' });
    expect((await fx.approvals.get('a-alice'))?.state).toBe('pending');
  });

  it('approves once (with the comment recorded), then answers 409', async () => {
    const response = await fx.call('POST', '/gatehouse/v1/approvals/a-bob/approve', { as: 'alice', body: { comment: 'looks fine' } });
    expect(response.status).toBe(200);
    const approved = (await response.json()) as ApprovalView;
    expect(approved).toMatchObject({ state: 'approved', canDecide: false, decisions: [{ by: 'oidc:alice', decision: 'approve', comment: 'looks fine' }] });
    const again = await fx.call('POST', '/gatehouse/v1/approvals/a-bob/deny', { as: 'carol', body: { comment: 'no' } });
    expect(again.status).toBe(409);
    expect(await errorOf(again)).toMatchObject({ code: 'conflict' });
  });

  it("applies the rule's approver groups; a denial needs a comment", async () => {
    expect((await fx.call('POST', '/gatehouse/v1/approvals/a-sre/deny', { as: 'alice', body: { comment: 'no' } })).status).toBe(403);
    const noComment = await fx.call('POST', '/gatehouse/v1/approvals/a-sre/deny', { as: 'carol', body: { comment: '  ' } });
    expect(noComment.status).toBe(400);
    expect((await errorOf(noComment)).message).toBe('invalid body: comment: a denial needs a comment saying why');
    const denied = await fx.call('POST', '/gatehouse/v1/approvals/a-sre/deny', { as: 'carol', body: { comment: 'not during the freeze' } });
    expect(await denied.json()).toMatchObject({ state: 'denied', decisions: [{ by: 'oidc:carol', comment: 'not during the freeze' }] });
    expect((await fx.call('POST', '/gatehouse/v1/approvals/missing/approve', { as: 'carol', body: {} })).status).toBe(404);
  });

  it('refuses bodies that are not JSON, not JSON-typed, or carry unknown fields', async () => {
    const notJson = await fx.call('POST', '/gatehouse/v1/approvals/a-alice/approve', { as: 'carol', raw: '{"comment":' });
    expect(notJson.status).toBe(400);
    expect((await errorOf(notJson)).message).toMatch(/^the request body is not valid JSON: /);
    const form = await fx.call('POST', '/gatehouse/v1/approvals/a-alice/approve', { as: 'carol', raw: 'comment=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    const extra = await fx.call('POST', '/gatehouse/v1/approvals/a-alice/approve', { as: 'carol', body: { comment: 'ok', force: true } });
    expect(extra.status).toBe(400);
    expect((await errorOf(extra)).message).toMatch(/force/);
    expect((await fx.approvals.get('a-alice'))?.state).toBe('pending');
  });
});

describe('declared reasons', () => {
  it('records the caller\'s own reason as one line, clears it, and refuses bad durations', async () => {
    const set = await fx.call('POST', '/gatehouse/v1/reason', { as: 'bob', body: { reason: '  fixing\n INC-7 ', ttl: '30m' } });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ subject: 'oidc:bob', reason: 'fixing INC-7' });
    expect(fx.approvals.reasons.get('oidc:bob')).toBe('fixing INC-7');
    const cleared = await fx.call('POST', '/gatehouse/v1/reason', { as: 'bob', body: { reason: null } });
    expect(await cleared.json()).toMatchObject({ reason: null, expiresAt: null });
    expect(fx.approvals.reasons.has('oidc:bob')).toBe(false);
    const tooLong = await fx.call('POST', '/gatehouse/v1/reason', { as: 'bob', body: { reason: 'x', ttl: '3d' } });
    expect(tooLong.status).toBe(400);
    expect((await fx.call('POST', '/gatehouse/v1/reason', { body: { reason: 'x' } })).status).toBe(401);
  });
});

describe('server-sent events', () => {
  afterEach(() => expect.poll(() => fx.approvals.listeners()).toBe(0));

  it('streams approvals as the caller sees them, with keepalive comments, and unsubscribes on close', async () => {
    const abort = new AbortController();
    const response = await fetch(`${fx.url}/gatehouse/v1/events`, { headers: { authorization: 'Bearer carol' }, signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += value;
      }
    };
    await readUntil(/^: connected\n\n/);
    expect(fx.approvals.listeners()).toBe(1);
    fx.approvals.add(pendingApproval('sse-1', 'oidc:bob'));
    await readUntil(/event: approval\ndata: .*\n\n/);
    const data = /event: approval\ndata: (.*)\n\n/.exec(text)![1]!;
    expect(JSON.parse(data)).toMatchObject({ id: 'sse-1', state: 'pending', canDecide: true });
    await readUntil(/: keepalive\n\n/);
    abort.abort();
  });

  it('is for approvers, auditors and admins only', async () => {
    expect((await fx.call('GET', '/gatehouse/v1/events', { as: 'bob' })).status).toBe(403);
    expect((await fx.call('GET', '/gatehouse/v1/events')).status).toBe(401);
  });
});

describe('audit', () => {
  interface EventsPage {
    items: Array<{ seq: number; hash: string; requestId: string; principal?: { subject: string }; decision?: { action: string } }>;
    nextBefore: string | null;
  }
  const page = async (query: string) => {
    const response = await fx.call('GET', `/gatehouse/v1/audit/events${query}`, { as: 'auditor' });
    expect(response.status).toBe(200);
    return (await response.json()) as EventsPage;
  };

  it('lists events newest first and pages with nextBefore', async () => {
    const first = await page('?limit=4');
    expect(first.items.map((e) => e.seq)).toEqual([15, 14, 13, 12]);
    expect(first.nextBefore).toBe('12');
    const second = await page(`?limit=4&before=${first.nextBefore}`);
    expect(second.items.map((e) => e.seq)).toEqual([11, 10, 9, 8]);
    const last = await page('?limit=100&before=3');
    expect(last).toMatchObject({ nextBefore: null });
    expect(last.items.map((e) => e.requestId)).toEqual(['req-1', 'req-0']);
  });

  it('filters by subject, verb, decision and time', async () => {
    const carol = await page('?subject=oidc:carol&decision=deny');
    expect(carol.items.map((e) => e.requestId)).toEqual(['req-22', 'req-21', 'req-20']);
    const patches = await page('?verb=patch,create&decision=review');
    expect(patches.items).toHaveLength(6);
    const window = await page(`?since=2025-01-01T00:00:02Z&until=2025-01-01T00:00:04Z`);
    expect(window.items.map((e) => e.requestId)).toEqual(['req-3', 'req-2']);
    const bad = await fx.call('GET', '/gatehouse/v1/audit/events?since=yesterday', { as: 'auditor' });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toContain('since: must be an RFC 3339 time');
  });

  it('is for auditors and admins only', async () => {
    expect((await fx.call('GET', '/gatehouse/v1/audit/events', { as: 'alice' })).status).toBe(403);
    expect((await fx.call('GET', '/gatehouse/v1/audit/integrity', { as: 'bob' })).status).toBe(403);
    expect((await fx.call('GET', '/gatehouse/v1/audit/events', { as: 'admin' })).status).toBe(200);
  });

  it('reports the integrity of the chain and the last checkpoint', async () => {
    const response = await fx.call('GET', '/gatehouse/v1/audit/integrity', { as: 'auditor' });
    expect(await response.json()).toMatchObject({ ok: true, events: 15, firstSeq: 1, lastSeq: 15, lastCheckpointSeq: 15, checkpoint: { seq: 15, time: expect.stringMatching(/Z$/) as unknown }, problem: null });
  });

  it('reports the first broken link after a record is edited', async () => {
    fx.store.db.prepare("UPDATE audit_events SET event_json = replace(event_json, 'req-7', 'req-x') WHERE seq = 8").run();
    const report = (await (await fx.call('GET', '/gatehouse/v1/audit/integrity', { as: 'admin' })).json()) as { ok: boolean; problem: { kind: string; seq: number } };
    expect(report).toMatchObject({ ok: false, problem: { kind: 'edited', seq: 8 } });
    fx.store.db.prepare("UPDATE audit_events SET event_json = replace(event_json, 'req-x', 'req-7') WHERE seq = 8").run();
    expect(await (await fx.call('GET', '/gatehouse/v1/audit/integrity', { as: 'admin' })).json()).toMatchObject({ ok: true });
  });
});

describe('sessions', () => {
  interface SessionRow { id: string; kubectlSession: string | null; subject: string; kind: string; command: string | null; start: string; end: string; events: number; denied: number; reviewed: number; streams: number }
  const sessions = async (query = '') => ((await (await fx.call('GET', `/gatehouse/v1/sessions${query}`, { as: 'auditor' })).json()) as { items: SessionRow[] }).items;

  it('groups by kubectl session and principal, and by principal and hour without one', async () => {
    const all = await sessions();
    expect(all[0]).toMatchObject({ kubectlSession: null, subject: 'oidc:carol', kind: 'human', command: null, events: 3, denied: 3, streams: 0, start: '2025-01-01T00:00:20.000Z', end: '2025-01-01T00:00:22.000Z' });
    const bob = all.filter((s) => s.subject === 'token:cursor-bob' && s.kubectlSession === 'session-1');
    // Events 1 and 5 (9 is alice's): patches (odd i) need review.
    expect(bob).toEqual([expect.objectContaining({ events: 2, reviewed: 2, kind: 'agent', command: 'kubectl patch' })]);
    expect(await sessions('?subject=oidc:alice@example.com&since=2025-01-01T00:00:05Z')).toEqual([
      expect.objectContaining({ kubectlSession: 'session-1', events: 1 }),
      expect.objectContaining({ kubectlSession: 'session-2', events: 1 }),
    ]);
  });

  it('lists a session’s events in order with decisions and bodies as recorded', async () => {
    const row = (await sessions()).find((s) => s.subject === 'token:cursor-bob' && s.kubectlSession === 'session-1')!;
    const detail = (await (await fx.call('GET', `/gatehouse/v1/sessions/${row.id}`, { as: 'auditor' })).json()) as {
      session: SessionRow;
      events: Array<{ seq: number; requestId: string; decision: { action: string }; bodies: { request?: { data: string } } }>;
    };
    expect(detail.session).toEqual(row);
    expect(detail.events.map((e) => e.requestId)).toEqual(['req-1', 'req-5']);
    expect(detail.events[0]).toMatchObject({ decision: { action: 'review' }, bodies: { request: { data: '{"spec":{"replicas":1}}' } } });

    const carol = (await sessions()).find((s) => s.subject === 'oidc:carol')!;
    const carolDetail = (await (await fx.call('GET', `/gatehouse/v1/sessions/${carol.id}?limit=2`, { as: 'auditor' })).json()) as { session: SessionRow; events: unknown[]; nextAfter: string };
    expect(carolDetail.session.events).toBe(3);
    expect(carolDetail.events).toHaveLength(2);
    expect(carolDetail.nextAfter).toBe('14');
  });

  it('answers 404 for an id that is not a session', async () => {
    for (const id of ['garbage', Buffer.from('["x","y",5]').toString('base64url'), Buffer.from('["nope","oidc:alice",null]').toString('base64url')]) {
      expect((await fx.call('GET', `/gatehouse/v1/sessions/${id}`, { as: 'auditor' })).status, id).toBe(404);
    }
  });
});

describe('policy', () => {
  it('lists the active rules with their file and line', async () => {
    const response = await fx.call('GET', '/gatehouse/v1/policy', { as: 'bob' });
    const body = (await response.json()) as { defaultAction: string; rules: Array<{ name: string; action: string; location: string }> };
    expect(body.defaultAction).toBe('deny');
    expect(body.rules).toContainEqual(expect.objectContaining({ name: 'secret-reads', action: 'mask', location: expect.stringMatching(/access\.yaml:\d+:\d+$/) as unknown }));
    expect(body.rules.at(-1)).toMatchObject({ name: 'allow-everything-else', action: 'allow' });
  });

  it('explains a request with every rule’s verdict', async () => {
    const response = await fx.call('POST', '/gatehouse/v1/policy/explain', { as: 'bob', body: { method: 'GET', path: '/api/v1/namespaces/default/secrets/db' } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { decision: { action: string; rule: string }; rules: Array<{ name: string; outcome: string }> };
    expect(body.decision).toMatchObject({ action: 'mask', rule: 'secret-reads', hint: null });
    expect(body.rules.find((r) => r.name === 'secret-reads')).toMatchObject({ outcome: 'matched' });
    expect(body.rules.find((r) => r.name === 'crd-changes')).toMatchObject({ outcome: 'not-matched' });
  });

  it('evaluates the body, given as YAML or JSON text', async () => {
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx:latest}]\n';
    const explain = async (body: string) =>
      (await (await fx.call('POST', '/gatehouse/v1/policy/explain', { as: 'bob', body: { method: 'POST', path: '/api/v1/namespaces/default/pods', body } })).json()) as {
        decision: { action: string; rule: string | null };
      };
    expect((await explain(pod)).decision).toMatchObject({ action: 'deny', rule: 'latest-or-untagged-images' });
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx:latest' }] } });
    expect((await explain(json)).decision).toMatchObject({ action: 'deny', rule: 'latest-or-untagged-images' });
    const bad = await fx.call('POST', '/gatehouse/v1/policy/explain', { as: 'bob', body: { method: 'POST', path: '/api/v1/namespaces/default/pods', body: '{ [' } });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toMatch(/^invalid body: body: not valid YAML or JSON/);
  });

  it('refuses an incomplete or unclassifiable request with 400', async () => {
    const missing = await fx.call('POST', '/gatehouse/v1/policy/explain', { as: 'bob', body: { path: '/api/v1/pods' } });
    expect(missing.status).toBe(400);
    expect((await errorOf(missing)).message).toMatch(/^invalid body: method: /);
    const relative = await fx.call('POST', '/gatehouse/v1/policy/explain', { as: 'bob', body: { method: 'GET', path: 'api/v1/pods' } });
    expect((await errorOf(relative)).message).toBe('invalid body: path: must start with /');
    expect((await fx.call('POST', '/gatehouse/v1/policy/explain', { body: { method: 'GET', path: '/api' } })).status).toBe(401);
  });
});

describe('policy explain of a binding write (boundRole)', () => {
  const roles: Record<string, StoredRole> = {
    wild: { labels: {}, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }] },
    view: { labels: {}, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] },
  };
  const asked: RoleRef[] = [];
  let withRoles: ConsoleFixture;
  beforeAll(async () => {
    withRoles = await startConsoleFixture({
      boundRole: (ref) => {
        asked.push(ref);
        return ref.name === 'broken' ? Promise.reject(new Error('connection refused')) : Promise.resolve(roles[ref.name]);
      },
    });
  });
  afterAll(() => withRoles.close());

  const bind = async (target: ConsoleFixture, role: string) => {
    const body = JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'b' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role }, subjects: [] });
    const response = await target.call('POST', '/gatehouse/v1/policy/explain', { as: 'bob', body: { method: 'POST', path: '/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings', body } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { decision: { action: string; rule: string | null; message: string } }).decision;
  };

  it('looks up the bound role as the policy stage does, and judges what it grants', async () => {
    expect(await bind(withRoles, 'wild')).toMatchObject({ action: 'review', rule: 'rbac-bind-wildcard-role', message: 'binding the ClusterRole wild, which grants "*" verbs or resources, needs a person\'s approval' });
    expect(await bind(withRoles, 'view')).toMatchObject({ action: 'allow' });
    // A role that does not exist grants nothing.
    expect(await bind(withRoles, 'missing')).toMatchObject({ action: 'allow' });
    expect(asked).toEqual(['wild', 'view', 'missing'].map((name) => ({ kind: 'ClusterRole', name, namespace: '' })));
  });

  it('fails closed, as the live request would, when the role cannot be read or no lookup is configured', async () => {
    expect(await bind(withRoles, 'broken')).toMatchObject({ action: 'deny', rule: 'rbac-bind-wildcard-role', message: expect.stringContaining('ClusterRole "broken", which this binding refers to, was not looked up') as unknown });
    expect(await bind(fx, 'view')).toMatchObject({ action: 'deny', rule: 'rbac-bind-wildcard-role' });
  });

  it('looks nothing up for requests no boundRole rule could match', async () => {
    asked.length = 0;
    await withRoles.call('POST', '/gatehouse/v1/policy/explain', { as: 'bob', body: { method: 'GET', path: '/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings/b' } });
    expect(asked).toEqual([]);
  });
});

describe('policy backtest', () => {
  const PROPOSED = `apiVersion: gatehouse.dev/v1alpha1
kind: Policy
metadata: { name: proposed }
spec:
  rules:
    - name: no-pod-lists
      match: { verbs: [list], resources: [{ group: "", resource: pods }] }
      action: deny
    - name: allow-all
      action: allow
`;
  const backtest = (as: string, body: Record<string, unknown>) => fx.call('POST', '/gatehouse/v1/policy/backtest', { as, body });
  const counts = (groups: Array<{ key: string; count: number }>) => Object.fromEntries(groups.map((g) => [g.key, g.count]));

  it('reports the recorded requests whose decision would change, grouped as the CLI does', async () => {
    const response = await backtest('auditor', { policy: PROPOSED, examples: 2 });
    expect(response.status).toBe(200);
    const report = (await response.json()) as BacktestReport;
    expect(report).toMatchObject({ events: EVENTS.length, evaluated: EVENTS.length, changed: 13, unchanged: 2, undetermined: 0 });
    expect(counts(report.transitions)).toEqual({ 'allow→deny': 6, 'review→allow': 6, 'deny→allow': 1 });
    expect(counts(report.rules)).toMatchObject({ 'no-pod-lists allow→deny': 6 });
    const example = report.transitions.find((g) => g.key === 'allow→deny')!.examples;
    expect(example).toHaveLength(2);
    expect(example[0]).toMatchObject({ verb: 'list', resource: 'pods', before: 'allow (default)', after: 'deny (no-pod-lists)' });
  });

  it('narrows to a principal and a window', async () => {
    const carol = (await (await backtest('admin', { policy: PROPOSED, principal: 'oidc:carol' })).json()) as BacktestReport;
    expect(counts(carol.transitions)).toEqual({ 'deny→allow': 1 });
    const recent = (await (await backtest('admin', { policy: PROPOSED, since: '7d' })).json()) as BacktestReport;
    expect(recent).toMatchObject({ events: 0, sinceMs: expect.any(Number) as unknown });
    const bad = await backtest('admin', { policy: PROPOSED, since: 'last week' });
    expect((await errorOf(bad)).message).toMatch(/^invalid body: since: invalid time "last week"/);
  });

  it('refuses an invalid policy with 400 naming the file, line and reason', async () => {
    const response = await backtest('auditor', { policy: PROPOSED.replace('action: deny', 'action: block'), file: 'proposed.yaml' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string; problems: Array<{ file: string; line: number; message: string }> } };
    expect(body.error.code).toBe('invalid-policy');
    expect(body.error.problems).toEqual([expect.objectContaining({ file: 'proposed.yaml', line: 8, message: expect.stringContaining('action') as unknown })]);
    expect(body.error.message).toContain('proposed.yaml:8:15');
  });

  it('is for auditors and admins only, and caps the policy text', async () => {
    expect((await backtest('alice', { policy: PROPOSED })).status).toBe(403);
    expect((await backtest('bob', { policy: PROPOSED })).status).toBe(403);
    const huge = await backtest('admin', { policy: 'x'.repeat(130 * 1024) });
    expect(huge.status).toBe(400);
    expect((await errorOf(huge)).message).toMatch(/^invalid body: policy: at most/);
  });

  it('answers the shadow report only when shadow mode is on', async () => {
    expect((await fx.call('GET', '/gatehouse/v1/policy/shadow-report?since=1d', { as: 'alice' })).status).toBe(403);
    const off = await fx.call('GET', '/gatehouse/v1/policy/shadow-report?since=1d', { as: 'auditor' });
    expect(off.status).toBe(404);
    expect((await errorOf(off)).message).toMatch(/^shadow mode is off/);
  });
});

describe('tokens', () => {
  it('lets an admin create (secret shown once), list (no secrets) and revoke', async () => {
    const created = await fx.call('POST', '/gatehouse/v1/tokens', { as: 'admin', body: { name: 'ci-deploy', kind: 'ci', groups: ['deployers'], ttl: '30d', description: 'deploys' } });
    expect(created.status).toBe(201);
    const { secret: token, token: record } = (await created.json()) as { secret: string; token: { id: string; sponsor: string; status: string; expiresAt: string } };
    expect(token).toMatch(/^ght_[\w-]{43}$/);
    expect(record).toMatchObject({ sponsor: 'gatehouse-admin', status: 'active' });

    const listed = await (await fx.call('GET', '/gatehouse/v1/tokens', { as: 'admin' })).text();
    expect(listed).toContain('"name":"ci-deploy"');
    expect(listed).not.toContain(token);
    expect(listed).not.toMatch(/sha256/);

    const taken = await fx.call('POST', '/gatehouse/v1/tokens', { as: 'admin', body: { name: 'ci-deploy', kind: 'ci', groups: [] } });
    expect(taken.status).toBe(409);

    const revoked = await fx.call('DELETE', `/gatehouse/v1/tokens/${record.id}`, { as: 'admin' });
    expect(await revoked.json()).toMatchObject({ token: { id: record.id, status: 'revoked' }, alreadyRevoked: false });
    expect(((await (await fx.call('GET', '/gatehouse/v1/tokens', { as: 'admin' })).json()) as { items: unknown[] }).items).toHaveLength(0);
    expect(((await (await fx.call('GET', '/gatehouse/v1/tokens?all=true', { as: 'admin' })).json()) as { items: unknown[] }).items).toHaveLength(1);
  });

  it('refuses bad input with 400, unknown tokens with 404, and non-admins with 403', async () => {
    const ttl = await fx.call('POST', '/gatehouse/v1/tokens', { as: 'admin', body: { name: 'x1', kind: 'agent', ttl: '3 weeks' } });
    expect(ttl.status).toBe(400);
    expect((await errorOf(ttl)).message).toMatch(/invalid TTL "3 weeks"/);
    const name = await fx.call('POST', '/gatehouse/v1/tokens', { as: 'admin', body: { name: 'Bad Name', kind: 'agent' } });
    expect((await errorOf(name)).message).toMatch(/invalid token name/);
    const kind = await fx.call('POST', '/gatehouse/v1/tokens', { as: 'admin', body: { name: 'x2', kind: 'robot' } });
    expect((await errorOf(kind)).message).toMatch(/^invalid body: kind: /);
    expect((await fx.call('DELETE', '/gatehouse/v1/tokens/nope', { as: 'admin' })).status).toBe(404);
    expect((await fx.call('GET', '/gatehouse/v1/tokens', { as: 'auditor' })).status).toBe(403);
    expect((await fx.call('POST', '/gatehouse/v1/tokens', { as: 'alice', body: { name: 'x3', kind: 'agent' } })).status).toBe(403);
  });
});

describe('clusters and join tokens', () => {
  it('lists clusters for admins and auditors, not for others', async () => {
    const listed = (await (await fx.call('GET', '/gatehouse/v1/clusters', { as: 'auditor' })).json()) as { items: { name: string; mode: string }[] };
    expect(listed.items.map((c) => [c.name, c.mode])).toEqual([
      ['default', 'direct'],
      ['prod', 'agent'],
    ]);
    expect((await fx.call('GET', '/gatehouse/v1/clusters', { as: 'alice' })).status).toBe(403);
  });

  it('makes, lists and revokes join tokens of agent-mode clusters, for admins only', async () => {
    const created = await fx.call('POST', '/gatehouse/v1/clusters/prod/join-tokens', { as: 'admin', body: { description: 'rack 3' } });
    expect(created.status).toBe(201);
    const { joinToken, secret } = (await created.json()) as { joinToken: { id: string; cluster: string; createdBy: string }; secret: string };
    expect(secret).toMatch(/^ghj_[A-Za-z0-9_-]{43}$/);
    expect(joinToken).toMatchObject({ cluster: 'prod', createdBy: expect.any(String) as unknown });
    const listed = (await (await fx.call('GET', '/gatehouse/v1/clusters/prod/join-tokens', { as: 'admin' })).json()) as { items: { id: string }[] };
    expect(listed.items.map((t) => t.id)).toEqual([joinToken.id]);
    expect(JSON.stringify(listed)).not.toContain(secret);
    const revoked = (await (await fx.call('DELETE', `/gatehouse/v1/clusters/prod/join-tokens/${joinToken.id}`, { as: 'admin' })).json()) as { alreadyRevoked: boolean };
    expect(revoked.alreadyRevoked).toBe(false);
    const again = (await (await fx.call('DELETE', `/gatehouse/v1/clusters/prod/join-tokens/${joinToken.id}`, { as: 'admin' })).json()) as { alreadyRevoked: boolean };
    expect(again.alreadyRevoked).toBe(true);
  });

  it('refuses tokens for direct or unknown clusters, unknown ids, and non-admins', async () => {
    const direct = await fx.call('POST', '/gatehouse/v1/clusters/default/join-tokens', { as: 'admin', body: {} });
    expect(direct.status).toBe(409);
    expect((await errorOf(direct)).message).toContain('reached directly from a kubeconfig');
    expect((await fx.call('POST', '/gatehouse/v1/clusters/nope/join-tokens', { as: 'admin', body: {} })).status).toBe(404);
    expect((await fx.call('DELETE', '/gatehouse/v1/clusters/prod/join-tokens/nope', { as: 'admin' })).status).toBe(404);
    expect((await fx.call('POST', '/gatehouse/v1/clusters/prod/join-tokens', { as: 'auditor', body: {} })).status).toBe(403);
    expect((await fx.call('POST', '/gatehouse/v1/clusters/prod/join-tokens', { as: 'admin', body: { extra: 1 } })).status).toBe(400);
  });
});
