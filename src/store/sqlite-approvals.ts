import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import { expired } from '../approvals/store.js';
import type { ApprovalChange, ApprovalsRepo } from '../approvals/store.js';
import type { Approval } from '../approvals/types.js';
import { APPROVAL_SQL, approvalColumns, listQuery, parseApproval, writeArgs } from './approvals-rows.js';
import type { ApprovalRow } from './approvals-rows.js';

/** Approvals in the embedded SQLite store; changes are announced within this process. */
export function createSqliteApprovalsRepo(db: Database.Database): ApprovalsRepo {
  const insert = db.prepare(APPROVAL_SQL.insert);
  const byId = db.prepare<[string], ApprovalRow>(APPROVAL_SQL.byId);
  const write = db.prepare<[string, number | null, string, string]>(APPROVAL_SQL.write);
  const open = db.prepare<[string, string, number, number], ApprovalRow>(APPROVAL_SQL.open);
  const due = db.prepare<[number], ApprovalRow>(APPROVAL_SQL.due);
  const upsertReason = db.prepare<[string, string, number]>(APPROVAL_SQL.upsertReason);
  const clearReason = db.prepare<[string]>(APPROVAL_SQL.clearReason);
  const readReason = db.prepare<[string, number], { reason: string }>(APPROVAL_SQL.readReason);
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const parse = parseApproval;
  const store = (a: Approval): void => void write.run(...writeArgs(a));

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
      const { sql, args } = listQuery(filter);
      return Promise.resolve(db.prepare<string[], ApprovalRow>(sql).all(...args).map((r) => parse(r)!));
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
