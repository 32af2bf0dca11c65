import { EventEmitter } from 'node:events';
import pg from 'pg';
import { expired } from '../approvals/store.js';
import type { ApprovalChange, ApprovalsRepo } from '../approvals/store.js';
import type { Approval } from '../approvals/types.js';
import { APPROVAL_SQL, approvalColumns, listQuery, parseApproval, writeArgs } from './approvals-rows.js';
import type { ApprovalRow } from './approvals-rows.js';
import { numberPlaceholders } from './audit-rows.js';
import { inTransaction } from './postgres-tx.js';

const CHANNEL = 'gatehouse_approvals';
// The shared SQL in PostgreSQL's $n placeholders, numbered once.
const SQL = Object.fromEntries(Object.entries(APPROVAL_SQL).map(([k, v]) => [k, numberPlaceholders(v)])) as Record<keyof typeof APPROVAL_SQL, string>;

/**
 * Approvals in PostgreSQL, shared by every replica. Each write sends a
 * NOTIFY (delivered at commit); one dedicated connection LISTENs, so a
 * decision taken on one replica releases a request held on another. The
 * listener reconnects with backoff; holders also re-read periodically, so a
 * lost notification only delays a release.
 */
export function createPostgresApprovalsRepo(pool: pg.Pool, options: { onListenError?: (err: Error) => void } = {}): ApprovalsRepo & { close(): Promise<void> } {
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const parse = parseApproval;
  const write = async (client: pg.PoolClient, a: Approval): Promise<void> => {
    await client.query(SQL.write, writeArgs(a));
    await client.query('SELECT pg_notify($1, $2)', [CHANNEL, a.id]);
  };

  let listener: pg.Client | undefined;
  // While LISTEN is up, every write comes back as a notification (ours too); announce locally only when it is not.
  let listening = false;
  const announce = (id: string): void => {
    if (!listening) changes.emit('change', id);
  };
  let closed = false;
  let retryMs = 250;
  const listen = async (): Promise<void> => {
    if (closed || listener !== undefined || changes.listenerCount('change') === 0) return;
    const client = new pg.Client(pool.options);
    listener = client;
    const retry = (err: Error): void => {
      options.onListenError?.(err);
      if (listener === client) {
        listener = undefined;
        listening = false;
      }
      client.end().catch(() => undefined);
      if (closed) return;
      setTimeout(() => void listen(), retryMs).unref();
      retryMs = Math.min(retryMs * 2, 10_000);
    };
    client.on('error', retry);
    client.on('notification', (msg) => {
      if (msg.channel === CHANNEL && msg.payload) changes.emit('change', msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      listening = listener === client;
      retryMs = 250;
    } catch (err) {
      client.off('error', retry);
      retry(err as Error);
    }
  };

  return {
    async insert(approval) {
      await inTransaction(pool, async (client) => {
        await client.query(SQL.insert, approvalColumns(approval));
        await client.query('SELECT pg_notify($1, $2)', [CHANNEL, approval.id]);
      });
      announce(approval.id);
    },
    async get(id) {
      const { rows } = await pool.query<ApprovalRow>(SQL.byId, [id]);
      return parse(rows[0]);
    },
    async list(filter) {
      const { sql, args } = listQuery(filter);
      const { rows } = await pool.query<ApprovalRow>(numberPlaceholders(sql), args);
      return rows.map((r) => parse(r)!);
    },
    async findOpen(subject, fp, now) {
      const { rows } = await pool.query<ApprovalRow>(SQL.open, [subject, fp, now, now]);
      return parse(rows[0]);
    },
    async update<T>(id: string, change: ApprovalChange<T>) {
      const done = await inTransaction(pool, async (client) => {
        const { rows } = await client.query<ApprovalRow>(`${SQL.byId} FOR UPDATE`, [id]);
        const current = parse(rows[0]);
        if (current === undefined) return undefined;
        const { next, result } = change(current);
        if (next !== undefined) await write(client, next);
        return { result, written: next !== undefined };
      });
      if (done === undefined) return undefined;
      if (done.written) announce(id);
      return { result: done.result };
    },
    async expire(now) {
      const out = await inTransaction(pool, async (client) => {
        const { rows } = await client.query<ApprovalRow>(`${SQL.due} FOR UPDATE SKIP LOCKED`, [now]);
        const list = rows.map((row) => expired(parse(row)!, now));
        for (const a of list) await write(client, a);
        return list;
      });
      for (const a of out) announce(a.id);
      return out;
    },
    async declareReason(subject, reason, expiresAt) {
      if (reason === null) await pool.query(SQL.clearReason, [subject]);
      else await pool.query(SQL.upsertReason, [subject, reason, expiresAt]);
    },
    async declaredReason(subject, now) {
      const { rows } = await pool.query<{ reason: string }>(SQL.readReason, [subject, now]);
      return rows[0]?.reason;
    },
    watch(fn) {
      changes.on('change', fn);
      void listen();
      return () => changes.off('change', fn);
    },
    async close() {
      closed = true;
      const client = listener;
      listener = undefined;
      listening = false;
      await client?.end().catch(() => undefined);
    },
  };
}
