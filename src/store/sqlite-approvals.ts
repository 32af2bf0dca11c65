import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import { APPROVAL_INSERT_COLUMNS, approvalColumns, expired } from '../approvals/store.js';
import type { ApprovalChange, ApprovalsRepo } from '../approvals/store.js';
import type { Approval } from '../approvals/types.js';

type Row = { record_json: string };

/** Approvals in the embedded SQLite store; changes are announced within this process. */
export function createSqliteApprovalsRepo(db: Database.Database): ApprovalsRepo {
  const insert = db.prepare(`INSERT INTO approvals (${APPROVAL_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const byId = db.prepare<[string], Row>('SELECT record_json FROM approvals WHERE id = ?');
  const write = db.prepare<[string, number | null, string, string]>('UPDATE approvals SET state = ?, grant_expires_at = ?, record_json = ? WHERE id = ?');
  const open = db.prepare<[string, string, number, number], Row>(
    `SELECT record_json FROM approvals WHERE subject = ? AND fingerprint = ?
       AND ((state = 'pending' AND expires_at > ?) OR (state = 'approved' AND grant_expires_at > ?))
     ORDER BY created_at DESC LIMIT 1`,
  );
  const due = db.prepare<[number], Row>("SELECT record_json FROM approvals WHERE state = 'pending' AND expires_at <= ?");
  const upsertReason = db.prepare<[string, string, number]>(
    'INSERT INTO declared_reasons (subject, reason, expires_at) VALUES (?, ?, ?) ON CONFLICT (subject) DO UPDATE SET reason = excluded.reason, expires_at = excluded.expires_at',
  );
  const clearReason = db.prepare<[string]>('DELETE FROM declared_reasons WHERE subject = ?');
  const readReason = db.prepare<[string, number], { reason: string }>('SELECT reason FROM declared_reasons WHERE subject = ? AND expires_at > ?');
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const parse = (row: Row | undefined): Approval | undefined => (row === undefined ? undefined : (JSON.parse(row.record_json) as Approval));
  const store = (a: Approval): void => {
    const cols = approvalColumns(a);
    write.run(a.state, cols[6], cols[7], a.id);
  };

  const update = db.transaction(<T>(id: string, change: ApprovalChange<T>): { result: T; written: boolean } | undefined => {
    const current = parse(byId.get(id));
    if (current === undefined) return undefined;
    const { next, result } = change(current);
    if (next !== undefined) store(next);
    return { result, written: next !== undefined };
  });
  const expireDue = db.transaction((now: number): Approval[] => {
    const out = due.all(now).map((row) => expired(parse(row)!, now));
    for (const a of out) store(a);
    return out;
  });

  return {
    insert(approval) {
      insert.run(...approvalColumns(approval));
      changes.emit('change', approval.id);
      return Promise.resolve();
    },
    get: (id) => Promise.resolve(parse(byId.get(id))),
    list(filter) {
      const where: string[] = [];
      const args: string[] = [];
      if (filter.state !== undefined) {
        where.push('state = ?');
        args.push(filter.state);
      }
      if (filter.requester !== undefined) {
        where.push('subject = ?');
        args.push(filter.requester);
      }
      const sql = `SELECT record_json FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC LIMIT ${Math.trunc(filter.limit)}`;
      return Promise.resolve(db.prepare<string[], Row>(sql).all(...args).map((r) => parse(r)!));
    },
    findOpen: (subject, fp, now) => Promise.resolve(parse(open.get(subject, fp, now, now))),
    update<T>(id: string, change: ApprovalChange<T>) {
      const done = update.immediate(id, change) as { result: T; written: boolean } | undefined;
      if (done === undefined) return Promise.resolve(undefined);
      if (done.written) changes.emit('change', id);
      return Promise.resolve({ result: done.result });
    },
    expire(now) {
      const out = expireDue.immediate(now);
      for (const a of out) changes.emit('change', a.id);
      return Promise.resolve(out);
    },
    declareReason(subject, reason, expiresAt) {
      if (reason === null) clearReason.run(subject);
      else upsertReason.run(subject, reason, expiresAt);
      return Promise.resolve();
    },
    declaredReason: (subject, now) => Promise.resolve(readReason.get(subject, now)?.reason),
    watch(listener) {
      changes.on('change', listener);
      return () => changes.off('change', listener);
    },
  };
}
