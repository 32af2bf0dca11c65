import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { approvalsConfigSchema } from '../../../src/approvals/config.js';
import { createApprovals } from '../../../src/approvals/service.js';
import type { Approvals } from '../../../src/approvals/service.js';
import type { Approval } from '../../../src/approvals/types.js';
import { postgresFactory, sqliteFactory } from '../audit/stores.js';
import type { OpenedStore } from '../audit/stores.js';
import { newApproval, requirements } from './fixtures.js';

const log = pino({ level: 'silent' });
const alice = { subject: 'alice', groups: ['approvers'] };
const carol = { subject: 'carol', groups: ['approvers'] };

describe.each([sqliteFactory(), postgresFactory()])('approvals on $name', (factory) => {
  let opened: OpenedStore;
  let clock = Date.UTC(2026, 10, 25, 12);
  const open: Approvals[] = [];
  const service = (store = opened.store): Approvals => {
    const s = createApprovals({ repo: store.approvals, config: approvalsConfigSchema.parse({}), consoleUrl: () => 'https://gh.test/ui', log, now: () => clock });
    open.push(s);
    return s;
  };

  beforeAll(() => factory.setup(), 120_000);
  afterAll(() => factory.teardown());
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    await opened?.close();
  });

  it('creates a pending approval and finds it again by requester and fingerprint', async () => {
    opened = await factory.open();
    const approvals = service();
    const created = await approvals.create(newApproval());
    expect(created).toMatchObject({ state: 'pending', decisions: [], grant: null, decidedAt: null });
    expect(created.id).toMatch(/^apr_/);
    expect(Date.parse(created.expiresAt) - Date.parse(created.createdAt)).toBe(3_600_000);
    expect(await approvals.findOpen('agent-1', 'fp-1')).toEqual(created);
    expect(await approvals.findOpen('agent-2', 'fp-1')).toBeUndefined();
    expect(await approvals.findOpen('agent-1', 'fp-2')).toBeUndefined();
    expect(approvals.approvalUrl(created.id)).toBe(`https://gh.test/ui/approvals/${created.id}`);
  });

  it('approves with a quorum of distinct people, then spends the grant exactly as often as allowed', async () => {
    opened = await factory.open();
    const approvals = service();
    const a = await approvals.create(newApproval({ requirements: requirements({ quorum: 2, grantUses: 2 }) }));
    const first = (await approvals.decide(a.id, alice, 'approve', 'looks fine')) as Approval;
    expect(first.state).toBe('pending');
    expect(await approvals.decide(a.id, alice, 'approve', null)).toMatchObject({ code: 'conflict' });
    const second = (await approvals.decide(a.id, carol, 'approve', null)) as Approval;
    expect(second).toMatchObject({ state: 'approved', grant: { usesLeft: 2 } });
    expect(second.decisions.map((d) => d.by)).toEqual(['alice', 'carol']);
    expect((await approvals.spend(a.id))?.grant?.usesLeft).toBe(1);
    expect((await approvals.spend(a.id))?.grant?.usesLeft).toBe(0);
    expect(await approvals.spend(a.id)).toBeUndefined();
    expect(await approvals.findOpen('agent-1', 'fp-1')).toMatchObject({ id: a.id });
  });

  it('refuses self-approval, outsiders, and decisions on settled approvals', async () => {
    opened = await factory.open();
    const approvals = service();
    const a = await approvals.create(newApproval());
    expect(await approvals.decide(a.id, { subject: 'agent-1', groups: ['approvers'] }, 'approve', null)).toMatchObject({ code: 'forbidden' });
    expect(await approvals.decide(a.id, { subject: 'auditor', groups: ['auditors'] }, 'approve', null)).toMatchObject({ code: 'forbidden' });
    expect(await approvals.decide(a.id, alice, 'deny', '  ')).toMatchObject({ code: 'invalid' });
    expect(await approvals.decide(a.id, alice, 'deny', 'not on a Friday')).toMatchObject({ state: 'denied' });
    expect(await approvals.decide(a.id, carol, 'approve', null)).toMatchObject({ code: 'conflict' });
    expect(await approvals.decide('apr_missing', carol, 'approve', null)).toMatchObject({ code: 'not-found' });
    expect(await approvals.spend(a.id)).toBeUndefined();
  });

  it('keeps an agent\'s sponsor from approving its requests unless the rule allows it', async () => {
    opened = await factory.open();
    const approvals = service();
    const requester = { subject: 'token:cursor', kind: 'agent' as const, groups: ['agents'], tokenId: 't', sponsor: 'alice' };
    const strict = await approvals.create(newApproval({ requester, requirements: requirements({ sponsorMayApprove: false }) }));
    const refused = await approvals.decide(strict.id, { subject: 'oidc:alice@example.com', groups: ['approvers'] }, 'approve', null);
    expect(refused).toMatchObject({ code: 'forbidden', message: 'oidc:alice@example.com sponsors token:cursor, and this rule needs an approver other than the sponsor' });
    expect(await approvals.decide(strict.id, carol, 'approve', null)).toMatchObject({ state: 'approved' });
    const relaxed = await approvals.create(newApproval({ fingerprint: 'fp-2', requester, requirements: requirements({ sponsorMayApprove: true }) }));
    expect(await approvals.decide(relaxed.id, { subject: 'oidc:alice@example.com', groups: ['approvers'] }, 'approve', null)).toMatchObject({ state: 'approved' });
  });

  it('expires a pending approval past its expiry and an unused grant past its TTL', async () => {
    opened = await factory.open();
    const approvals = service();
    const a = await approvals.create(newApproval());
    clock += 3_600_001;
    expect((await approvals.get(a.id))?.state).toBe('expired');
    expect(await approvals.findOpen('agent-1', 'fp-1')).toBeUndefined();
    expect(await approvals.decide(a.id, alice, 'approve', null)).toMatchObject({ code: 'conflict' });
    expect((await approvals.list({ state: 'expired' })).map((x) => x.id)).toEqual([a.id]);
    expect(await approvals.list({ state: 'pending' })).toEqual([]);

    const b = await approvals.create(newApproval({ fingerprint: 'fp-2' }));
    await approvals.decide(b.id, alice, 'approve', null);
    clock += 900_001;
    expect(await approvals.spend(b.id)).toBeUndefined();
    expect(await approvals.findOpen('agent-1', 'fp-2')).toBeUndefined();
  });

  it('releases a waiting request when a decision is made, on this replica or another', async () => {
    opened = await factory.open();
    const here = service();
    const other = service(await opened.openAnother());
    const a = await here.create(newApproval());
    const waiting = here.waitForDecision(a.id, 60_000, new AbortController().signal);
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    await other.decide(a.id, alice, 'approve', 'go');
    const settled = await waiting;
    expect(settled.state).toBe('approved');
    // Released by the change notification or the fallback poll, never by the 60 s hold running out.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('lets two replicas racing on one approval decide it once and spend a one-use grant once', async () => {
    opened = await factory.open();
    const replicas = [service(), service(await opened.openAnother()), service(await opened.openAnother())];
    const a = await replicas[0]!.create(newApproval({ requirements: requirements({ quorum: 1, grantUses: 1 }) }));
    // The same approver clicking on two replicas at once, and a second approver: one decision lands, the rest conflict.
    const decisions = await Promise.all([
      replicas[0]!.decide(a.id, alice, 'approve', null),
      replicas[1]!.decide(a.id, alice, 'approve', null),
      replicas[2]!.decide(a.id, carol, 'deny', 'no'),
    ]);
    const landed = decisions.filter((d) => 'state' in d);
    expect(landed).toHaveLength(1);
    const settled = await replicas[1]!.waitForDecision(a.id, 0, new AbortController().signal);
    expect(settled.decisions).toHaveLength(1);
    expect(settled.state).toBe(settled.decisions[0]!.decision === 'approve' ? 'approved' : 'denied');

    // Three identical retries arriving on three replicas: exactly one spends a one-use grant.
    const b = await replicas[0]!.create(newApproval({ fingerprint: 'fp-race', requirements: requirements({ quorum: 1, grantUses: 1 }) }));
    await replicas[2]!.decide(b.id, carol, 'approve', null);
    const spent = await Promise.all(replicas.map((r) => r.spend(b.id)));
    expect(spent.filter((s) => s !== undefined)).toHaveLength(1);
  });

  it('gives back the approval as it stands when the hold ends or the client leaves', async () => {
    opened = await factory.open();
    const approvals = service();
    const a = await approvals.create(newApproval());
    expect((await approvals.waitForDecision(a.id, 20, new AbortController().signal)).state).toBe('pending');
    const gone = new AbortController();
    const waiting = approvals.waitForDecision(a.id, 60_000, gone.signal);
    gone.abort();
    expect((await waiting).state).toBe('pending');
  });

  it('keeps a declared reason per requester until it expires or is cleared', async () => {
    opened = await factory.open();
    const approvals = service();
    await approvals.declareReason('agent-1', 'fixing INC-7', 60_000);
    await approvals.declareReason('agent-1', 'fixing INC-8', 60_000);
    expect(await approvals.declaredReason('agent-1')).toBe('fixing INC-8');
    expect(await approvals.declaredReason('agent-2')).toBeUndefined();
    clock += 60_001;
    expect(await approvals.declaredReason('agent-1')).toBeUndefined();
    await approvals.declareReason('agent-1', 'again', 60_000);
    await approvals.declareReason('agent-1', null, 0);
    expect(await approvals.declaredReason('agent-1')).toBeUndefined();
  });

  it('tells subscribers about every new and changed approval', async () => {
    opened = await factory.open();
    const approvals = service();
    const seen: string[] = [];
    const unsubscribe = approvals.subscribe((a) => seen.push(`${a.id}:${a.state}`));
    const a = await approvals.create(newApproval());
    await approvals.decide(a.id, alice, 'deny', 'no');
    // One announcement per write; each carries the approval as it is when read (so possibly already denied).
    await expect.poll(() => seen.length).toBe(2);
    expect(seen[1]).toBe(`${a.id}:denied`);
    expect(seen[0]).toMatch(new RegExp(`^${a.id}:(pending|denied)$`));
    unsubscribe();
  });
});
