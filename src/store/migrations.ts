/**
 * The store's schema, one numbered migration at a time. A migration is never
 * edited once released; a change is a new migration with the next number.
 * The SQL sticks to what SQLite and PostgreSQL both accept where it can
 * (times are integer milliseconds since the epoch, lists are JSON text).
 */
import { CLUSTER_AGENT_TOKENS_TABLE } from './cluster-agent-tokens.js';
import { PROPOSALS_TABLE } from './proposals-rows.js';

export interface Migration {
  version: number;
  name: string;
  /** The SQL for SQLite, and for PostgreSQL unless `postgres` is set. */
  sql: string;
  /** The PostgreSQL dialect of `sql`, when the two differ. */
  postgres?: string;
}

/**
 * The audit tables (migration 2) in either dialect: an integer key that is
 * SQLite's rowid, BLOB vs BYTEA. One head row holds where the chain ends, so
 * writers on several replicas take turns on it (see src/audit/store.ts).
 */
function auditTables(dialect: 'sqlite' | 'postgres'): string {
  const seqKey = dialect === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'BIGINT PRIMARY KEY';
  const blob = dialect === 'sqlite' ? 'BLOB' : 'BYTEA';
  return `
      CREATE TABLE audit_chain_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        checkpoint_seq BIGINT NOT NULL,
        checkpoint_time_ms BIGINT NOT NULL
      );
      INSERT INTO audit_chain_head (id, seq, hash, checkpoint_seq, checkpoint_time_ms) VALUES (1, 0, '${'0'.repeat(64)}', 0, 0);
      CREATE TABLE audit_events (
        seq ${seqKey},
        id TEXT NOT NULL,
        time_ms BIGINT NOT NULL,
        request_id TEXT NOT NULL,
        subject TEXT,
        verb TEXT NOT NULL,
        api_group TEXT NOT NULL,
        resource TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        decision TEXT,
        status INTEGER NOT NULL,
        kubectl_session TEXT,
        stream_session TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        event_json TEXT NOT NULL
      );
      CREATE INDEX audit_events_time ON audit_events (time_ms);
      CREATE INDEX audit_events_subject ON audit_events (subject, seq);
      CREATE INDEX audit_events_namespace ON audit_events (namespace, seq);
      CREATE INDEX audit_events_resource ON audit_events (resource, seq);
      CREATE INDEX audit_events_kubectl_session ON audit_events (kubectl_session);
      CREATE INDEX audit_events_stream_session ON audit_events (stream_session);
      CREATE TABLE audit_checkpoints (
        seq BIGINT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('periodic', 'seal')),
        hash TEXT NOT NULL,
        time TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (seq, kind)
      );
      CREATE TABLE audit_stream_chunks (
        session_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        time TEXT NOT NULL,
        channel TEXT NOT NULL,
        data ${blob} NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
      );
    `;
}

/**
 * Stream bytes many chunks share (migration 8): the clients of one shared
 * watch are each sent, and record, the same events; their chunks keep the
 * SHA-256 of one copy instead of the bytes. The index serves pruning, which
 * lets go of copies no chunk refers to.
 */
function sharedChunkData(blob: 'BLOB' | 'BYTEA'): string {
  return `
      CREATE TABLE audit_chunk_data (
        sha256 TEXT PRIMARY KEY,
        data ${blob} NOT NULL
      );
      ALTER TABLE audit_stream_chunks ADD COLUMN data_sha256 TEXT;
      CREATE INDEX audit_stream_chunks_data ON audit_stream_chunks (data_sha256) WHERE data_sha256 IS NOT NULL;
    `;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tokens',
    sql: `
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('agent', 'ci', 'human')),
        groups_json TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        sponsor TEXT,
        description TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        last_used_at BIGINT,
        revoked_at BIGINT
      );
      CREATE INDEX tokens_name ON tokens (name);
    `,
  },
  { version: 2, name: 'audit', sql: auditTables('sqlite'), postgres: auditTables('postgres') },
  {
    version: 3,
    name: 'approvals',
    // The whole approval is record_json; the columns are what lookups filter on.
    sql: `
      CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        grant_expires_at BIGINT,
        record_json TEXT NOT NULL
      );
      CREATE INDEX approvals_open ON approvals (subject, fingerprint, created_at);
      CREATE INDEX approvals_state ON approvals (state, created_at);
    `,
  },
  {
    version: 4,
    name: 'declared-reasons',
    // What a requester said it is working on, for approvers: kubectl cannot send the Gatehouse-Reason header.
    sql: `
      CREATE TABLE declared_reasons (
        subject TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'budgets',
    // Blast-radius budget counts (src/budgets): one row per budget, key and fixed window, pruned once expired.
    sql: `
      CREATE TABLE budget_counters (
        budget TEXT NOT NULL,
        counter_key TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        count INTEGER NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (budget, counter_key, window_start)
      );
      CREATE INDEX budget_counters_expiry ON budget_counters (expires_at);
    `,
  },
  // Join tokens of cluster agents (`gatehouse clusters add`): never client credentials, so not in `tokens`.
  { version: 6, name: 'cluster-agent-tokens', sql: CLUSTER_AGENT_TOKENS_TABLE },
  // Writes held in propose-only mode (src/proposals): the whole proposal is record_json.
  { version: 7, name: 'proposals', sql: PROPOSALS_TABLE },
  { version: 8, name: 'shared-chunk-data', sql: sharedChunkData('BLOB'), postgres: sharedChunkData('BYTEA') },
];
