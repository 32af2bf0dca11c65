import { z } from 'zod';
import type { AuditSigner } from './checkpoint.js';
import { DEFAULT_MAX_STREAM_BYTES } from './stream.js';
import { AUDIT_WRITER_DEFAULTS as WRITER } from './writer.js';
import type { AuditWriterOptions } from './writer.js';

// Request and response bodies are recorded up to this many bytes each.
const MAX_BODY_BYTES = 64 * 1024;

const SESSIONS_DEFAULT = { maxBytes: 16 * 1024 * 1024, onLimit: 'stop-recording' } as const;

/** `audit.sessions`: how much of one exec / attach session is recorded, and what happens past that. */
export const sessionsConfigSchema = z
  .object({
    /** Recorded bytes (stdin + stdout + stderr + resize) per session. */
    maxBytes: z.number().int().positive().default(SESSIONS_DEFAULT.maxBytes),
    /** stop-recording: write a marker and keep the session going unrecorded; end-session: close it. */
    onLimit: z.enum(['stop-recording', 'end-session']).default(SESSIONS_DEFAULT.onLimit),
  })
  .strict()
  .default(SESSIONS_DEFAULT);

export type SessionsConfig = z.infer<typeof sessionsConfigSchema>;

const ALWAYS_REFUSED =
  'only plain reads may be configured to pass while the audit store is down; writes, deletes, exec / attach / port-forward, watches, logs, proxies and Secret reads always fail closed';
const WHEN_STORE_DOWN_DEFAULT = { reads: 'refuse', writes: 'refuse' } as const;

/**
 * `audit.whenStoreDown`: what the gateway does with requests while the audit
 * store takes no records. Fail closed by default; only plain reads (get /
 * list of a resource other than Secrets, no subresource, or a discovery
 * GET, that policy allowed without an approval) may be let through, each
 * logged at warn, counted, and summed up in the outage event written when
 * the store is back (docs/audit.md, "When the store is down").
 */
export const whenStoreDownSchema = z
  .object({
    /** refuse (503 GH_AUDIT_UNAVAILABLE), or allow-unrecorded: plain reads pass without an event of their own. */
    reads: z.enum(['refuse', 'allow-unrecorded']).default(WHEN_STORE_DOWN_DEFAULT.reads),
    /** Always refuse: present so a config that asks otherwise is rejected, not ignored. */
    writes: z.literal('refuse', { error: ALWAYS_REFUSED }).default(WHEN_STORE_DOWN_DEFAULT.writes),
  })
  .strict()
  .default(WHEN_STORE_DOWN_DEFAULT);

export type WhenStoreDown = z.infer<typeof whenStoreDownSchema>;

/**
 * The `audit:` section of gatehouse.yaml (for src/config/schema.ts to
 * include), validated once; {@link auditWriterOptions} turns it into the
 * writer's options.
 *
 * @example
 * // in configSchema: audit: auditConfigSchema, store: { …, postgres: postgresStoreConfigSchema.optional() }
 * const writer = createAuditWriter(store.audit, auditWriterOptions(config.audit, loadAuditSigner(config.dataDir)));
 */
export const auditConfigSchema = z
  .object({
    /** A signed checkpoint at least every this many events… */
    checkpointEvery: z.number().int().positive().default(WRITER.checkpointEvery),
    /** …and at least this often while events arrive. */
    checkpointIntervalMs: z.number().int().positive().default(WRITER.checkpointIntervalMs),
    /** Most events and stream chunks in one transaction. */
    maxBatch: z.number().int().positive().default(WRITER.maxBatch),
    /** Extra wait before a batch is written, to gather more (0: next tick). */
    batchWindowMs: z.number().int().min(0).default(WRITER.batchWindowMs),
    /**
     * Reads recorded after their answer and stream chunks wait up to this
     * long for other records before a batch starts (0: next tick); a record a
     * request waits for starts it at once.
     */
    backgroundWindowMs: z.number().int().min(0).max(1000).default(WRITER.backgroundWindowMs),
    /** Records waiting beyond which requests are refused (GH_AUDIT_UNAVAILABLE). */
    maxQueue: z.number().int().positive().default(WRITER.maxQueue),
    /** Request and response bodies are recorded up to this many bytes each, then marked truncated. */
    maxBodyBytes: z.number().int().min(0).default(MAX_BODY_BYTES),
    /** Per watch / log stream. */
    maxStreamBytes: z.number().int().min(0).default(DEFAULT_MAX_STREAM_BYTES),
    /** exec / attach sessions (docs/audit.md, sessions). */
    sessions: sessionsConfigSchema,
    /**
     * Also hold read responses until their event is committed. Off: reads are
     * recorded right after the response (docs/audit.md, durability).
     */
    awaitReads: z.boolean().default(false),
    /** Fail closed per verb class while the store is down (see {@link whenStoreDownSchema}). */
    whenStoreDown: whenStoreDownSchema,
  })
  .strict()
  .default({
    checkpointEvery: WRITER.checkpointEvery,
    checkpointIntervalMs: WRITER.checkpointIntervalMs,
    maxBatch: WRITER.maxBatch,
    batchWindowMs: WRITER.batchWindowMs,
    backgroundWindowMs: WRITER.backgroundWindowMs,
    maxQueue: WRITER.maxQueue,
    maxBodyBytes: MAX_BODY_BYTES,
    maxStreamBytes: DEFAULT_MAX_STREAM_BYTES,
    sessions: SESSIONS_DEFAULT,
    awaitReads: false,
    whenStoreDown: WHEN_STORE_DOWN_DEFAULT,
  });

export type AuditConfig = z.infer<typeof auditConfigSchema>;

/** `store.postgres` in gatehouse.yaml: the shared store for several replicas. */
export const postgresStoreConfigSchema = z
  .object({
    /** `postgres://user[:password]@host:port/database` (or set PGPASSWORD in the environment). */
    url: z.string().regex(/^postgres(?:ql)?:\/\//, 'a postgres:// URL'),
    maxConnections: z.number().int().positive().default(4),
    timeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();

export function auditWriterOptions(config: AuditConfig, signer: AuditSigner, onError?: (err: unknown) => void): AuditWriterOptions {
  return {
    signer,
    checkpointEvery: config.checkpointEvery,
    checkpointIntervalMs: config.checkpointIntervalMs,
    maxBatch: config.maxBatch,
    batchWindowMs: config.batchWindowMs,
    backgroundWindowMs: config.backgroundWindowMs,
    maxQueue: config.maxQueue,
    onError,
  };
}
