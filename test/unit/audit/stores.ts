/**
 * The two audit stores under test, behind one shape: a real SQLite file and
 * a real PostgreSQL database (a server started once per test file), each
 * with raw SQL access for tampering and a way to take the store away and
 * bring it back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { buildAuditEvent } from '../../../src/audit/event.js';
import type { AuditEvent, AuditEventInput } from '../../../src/audit/event.js';
import { startPostgres } from '../../../src/harness/postgres.js';
import type { PostgresServer } from '../../../src/harness/postgres.js';
import { numberPlaceholders } from '../../../src/store/audit-rows.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';

export interface OpenedStore {
  store: Store;
  /** Runs SQL with `?` placeholders directly against the database (the way an attacker with file or database access would). */
  sql: (query: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;
  /** Another connection to the same database, as a second gateway replica would have. */
  openAnother: () => Promise<Store>;
  /** Makes the store unavailable (SQLite: another process holds the write lock; PostgreSQL: the server stops). */
  outage: () => Promise<void>;
  restore: () => Promise<void>;
  close: () => Promise<void>;
}

export interface StoreFactory {
  name: string;
  setup(): Promise<void>;
  open(): Promise<OpenedStore>;
  teardown(): Promise<void>;
}

export function sqliteFactory(): StoreFactory {
  let dir: string;
  let n = 0;
  return {
    name: 'sqlite',
    setup() {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
      return Promise.resolve();
    },
    open() {
      const path = join(dir, `audit-${++n}.db`);
      const store = openSqliteStore(path, { busyTimeoutMs: 100 });
      const others: Store[] = [];
      let locker: Database.Database | undefined;
      return Promise.resolve({
        store,
        sql: (query, params = []) => {
          const statement = store.db.prepare(query);
          return Promise.resolve(statement.reader ? (statement.all(...params) as Array<Record<string, unknown>>) : (statement.run(...params), []));
        },
        openAnother: () => {
          const other = openSqliteStore(path, { busyTimeoutMs: 5000 });
          others.push(other);
          return Promise.resolve(other);
        },
        outage: () => {
          locker = new Database(path);
          locker.exec('BEGIN EXCLUSIVE');
          return Promise.resolve();
        },
        restore: () => {
          locker?.exec('ROLLBACK');
          locker?.close();
          locker = undefined;
          return Promise.resolve();
        },
        close: async () => {
          locker?.close();
          for (const other of others) await other.close();
          if (store.db.open) await store.close();
        },
      });
    },
    teardown() {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

export function postgresFactory(): StoreFactory {
  let server: PostgresServer | undefined;
  let n = 0;
  return {
    name: 'postgres',
    async setup() {
      server = await startPostgres();
    },
    async open() {
      const pgServer = server!;
      const url = await pgServer.createDatabase(`audit_${++n}`);
      const store = await openPostgresStore(url, { timeoutMs: 2000 });
      const others: Store[] = [];
      return {
        store,
        sql: async (query, params = []) => (await store.pool.query(numberPlaceholders(query), params)).rows as Array<Record<string, unknown>>,
        openAnother: async () => {
          const other = await openPostgresStore(url, { timeoutMs: 5000 });
          others.push(other);
          return other;
        },
        outage: () => pgServer.stop('immediate'),
        restore: () => pgServer.start(),
        close: async () => {
          for (const other of others) await other.close();
          await store.close();
        },
      };
    },
    async teardown() {
      await server?.destroy();
    },
  };
}

let counter = 0;

/** A plausible event (the i-th, i seconds after 2025-01-01): a pod read (even i) or a deployment write (odd i) by one of two principals. */
export function sampleEvent(i = counter++, overrides: Partial<AuditEventInput> = {}): AuditEvent {
  const write = i % 2 === 1;
  return buildAuditEvent({
    requestId: `req-${i}`,
    method: write ? 'PATCH' : 'GET',
    path: write ? `/apis/apps/v1/namespaces/team-a/deployments/web-${i}` : `/api/v1/namespaces/default/pods?limit=${i}`,
    principal: { subject: i % 3 === 0 ? 'oidc:alice@example.com' : 'token:cursor-bob', groups: ['dev'], kind: i % 3 === 0 ? 'human' : 'agent', via: i % 3 === 0 ? 'oidc' : 'token', tokenId: i % 3 === 0 ? undefined : 'tok-1' },
    request: {
      isResourceRequest: true,
      path: write ? `/apis/apps/v1/namespaces/team-a/deployments/web-${i}` : '/api/v1/namespaces/default/pods',
      verb: write ? 'patch' : 'list',
      apiPrefix: write ? 'apis' : 'api',
      apiGroup: write ? 'apps' : '',
      apiVersion: 'v1',
      namespace: write ? 'team-a' : 'default',
      resource: write ? 'deployments' : 'pods',
      subresource: '',
      name: write ? `web-${i}` : '',
      parts: [],
      fieldSelector: '',
      labelSelector: '',
      query: write ? '' : `limit=${i}`,
      contentType: write ? 'application/merge-patch+json' : undefined,
      object: undefined,
    },
    clientAddress: '127.0.0.1',
    headers: { 'user-agent': 'kubectl/v1.33.0', 'kubectl-command': write ? 'kubectl patch' : 'kubectl get', 'kubectl-session': `session-${i % 4}` },
    decision: { action: write ? 'review' : 'allow', rule: write ? 'writes-need-review' : undefined, matched: write ? [{ rule: 'writes-need-review', action: 'review' }] : [] },
    upstream: { status: 200, latencyMs: 1.25, bytesIn: write ? 40 : 0, bytesOut: 512 },
    result: { status: 200 },
    // One second apart from 2025-01-01, so time filters and retention cut-offs are exact.
    timeMicros: Date.UTC(2025, 0, 1) * 1000 + i * 1_000_000,
    bodies: {
      request: write ? { contentType: 'application/merge-patch+json', encoding: 'utf8', data: `{"spec":{"replicas":${i}}}`, size: 23, truncated: false } : undefined,
      response: { contentType: 'application/json', encoding: 'utf8', data: `{"kind":"PodList","items":[],"note":"hello ${i}"}`, size: 40, truncated: false },
      masked: false,
    },
    ...overrides,
  });
}
