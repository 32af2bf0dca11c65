/**
 * The audit record: what the gateway wires in. See docs/audit.md.
 *
 * @example
 * ```ts
 * const store = await openStore(location);                       // src/store/open.ts
 * const writer = createAuditWriter(store.audit, auditWriterOptions(config.audit, loadAuditSigner(config.dataDir)));
 * // per request, when the response is decided:
 * await writer.append(buildAuditEvent({ requestId: ctx.id, method, path, principal: ctx.principal, request: ctx.request,
 *   decision: ctx.decision, clientAddress, headers: req.headers, upstream, result: { status }, bodies }));
 * ```
 *
 * @module
 */
export { auditConfigSchema, auditWriterOptions, postgresStoreConfigSchema, type AuditConfig } from './config.js';
export { buildAuditEvent, captureBody, nowMicros, auditEventSchema, type AuditEvent, type AuditEventInput, type AuditBody } from './event.js';
export { loadAuditSigner, trustedKeysFromPem, type AuditSigner, type Checkpoint } from './checkpoint.js';
export { createAuditWriter, type AuditWriter, type AuditWriterOptions, type AuditWriterStats, type AppendedEvent } from './writer.js';
export type { StreamRecorder } from './stream.js';
export { verifyAuditStore, type VerifyReport, type ChainBreak } from './verify.js';
export { pruneAuditBefore } from './retention.js';
export type { AuditRepo, AuditFilter } from './store.js';
