import type { AuditEvent } from './event.js';
import { eventTimeMs } from './event.js';
import type { EventColumns } from './store.js';

/**
 * The indexed columns of an event row, all derived from the event. Stores
 * write them for search; verify recomputes them, so a row edited only in a
 * column (to hide it from a search) is caught too.
 */
export function eventColumns(event: AuditEvent): EventColumns {
  return {
    id: event.id,
    timeMs: eventTimeMs(event.time),
    requestId: event.requestId,
    subject: event.principal?.subject ?? null,
    verb: event.request.verb,
    apiGroup: event.request.apiGroup,
    resource: event.request.resource,
    namespace: event.request.namespace,
    name: event.request.name,
    decision: event.decision?.action ?? null,
    status: event.result.status,
    kubectlSession: event.client.kubectlSession ?? null,
    streamSession: event.stream?.sessionId ?? null,
  };
}

/** Column names in the tables, in {@link eventColumns} order. */
export const EVENT_COLUMN_NAMES: Readonly<Record<keyof EventColumns, string>> = {
  id: 'id',
  timeMs: 'time_ms',
  requestId: 'request_id',
  subject: 'subject',
  verb: 'verb',
  apiGroup: 'api_group',
  resource: 'resource',
  namespace: 'namespace',
  name: 'name',
  decision: 'decision',
  status: 'status',
  kubectlSession: 'kubectl_session',
  streamSession: 'stream_session',
};
