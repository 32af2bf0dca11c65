/**
 * Playing back exec / attach recordings: a session's chunks, checked against
 * the event that closed it, as an asciicast v2 file (what `asciinema play`
 * and asciinema-player read). See docs/audit.md.
 *
 * @module
 */

import { TextDecoder } from 'node:util';
import { auditEventSchema, eventTimeMicros } from './event.js';
import type { AuditEvent } from './event.js';
import type { AuditRepo } from './store.js';
import { MARKER_CHANNEL, streamChunksProblem } from './stream.js';
import type { StreamChunk } from './stream.js';

/** The header facts of a cast; width and height come from the first resize chunk. */
export interface AsciicastInfo {
  title: string;
  /** Seconds since the epoch; default: the first chunk's time. */
  timestamp?: number | undefined;
  env?: Record<string, string> | undefined;
}

const DEFAULT_SIZE = { width: 80, height: 24 };

/**
 * The chunks of one session as asciicast v2: a header line, then one
 * `[seconds, code, data]` line per chunk — stdout, stderr, watch events and log lines as "o" (the last two with CR LF line ends), stdin as
 * "i", resize as "r" (`COLSxROWS`), the gateway's markers and the error
 * channel (the command's exit Status) as "m". Times are relative to the first
 * chunk. Bytes are decoded as UTF-8 per direction, so a character split
 * across chunks stays whole; invalid sequences become U+FFFD.
 *
 * @example
 * const cast = toAsciicast({ title: 'kubectl exec web-0 -- sh' }, await repo.chunks(sessionId));
 */
export function toAsciicast(info: AsciicastInfo, chunks: readonly StreamChunk[]): string {
  const start = chunks.length > 0 ? eventTimeMicros(chunks[0]!.time) : 0;
  const resize = chunks.find((c) => c.channel === 'resize');
  const size = (resize && terminalSize(resize.data)) ?? DEFAULT_SIZE;
  const header = { version: 2, ...size, timestamp: info.timestamp ?? Math.floor(start / 1e6), env: info.env, title: info.title };
  const output = new TextDecoder();
  const input = new TextDecoder();
  const lines = [JSON.stringify(header)];
  for (const chunk of chunks) {
    const entry = castEntry(chunk, output, input);
    if (!entry) continue;
    const seconds = Math.round(eventTimeMicros(chunk.time) - start) / 1e6;
    lines.push(JSON.stringify([seconds, entry[0], entry[1]]));
  }
  return lines.join('\n') + '\n';
}

function castEntry(chunk: StreamChunk, output: TextDecoder, input: TextDecoder): [string, string] | undefined {
  switch (chunk.channel) {
    case 'stdout':
    case 'stderr':
      return ['o', output.decode(chunk.data, { stream: true })];
    case 'stdin':
      return ['i', input.decode(chunk.data, { stream: true })];
    // Watch events and log lines are newline-separated text: a terminal needs CR LF to start each at the left.
    case 'watch':
    case 'log':
      return ['o', output.decode(chunk.data, { stream: true }).replace(/(?<!\r)\n/g, '\r\n')];
    case 'resize': {
      const size = terminalSize(chunk.data);
      return size && ['r', `${size.width}x${size.height}`];
    }
    case 'error':
    case MARKER_CHANNEL:
      return ['m', chunk.data.toString('utf8')];
    default:
      return undefined;
  }
}

/** A resize message: `{"Width":120,"Height":40}`. */
function terminalSize(data: Buffer): { width: number; height: number } | undefined {
  try {
    const parsed = JSON.parse(data.toString('utf8')) as { Width?: unknown; Height?: unknown };
    const width = parsed.Width;
    const height = parsed.Height;
    return typeof width === 'number' && typeof height === 'number' && width > 0 && height > 0 ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

/** A session's recording as read back from the store. */
export interface SessionRecording {
  /** The event written when the session closed; undefined while it is still open (or when the gateway stopped before it closed). */
  event: AuditEvent | undefined;
  chunks: StreamChunk[];
  /** Why the chunks do not match the event's `stream.hash` (or why they cannot be checked); undefined when they verify. */
  problem: string | undefined;
}

/**
 * Reads a session's chunks (in order) and the event that closed it, and
 * checks the chunks' hash chain against that event. The stream id is the
 * exec request's id (`requestId` / `stream.sessionId` in its events).
 *
 * @example
 * const rec = await readSessionRecording(store.audit, id);
 * if (!rec.problem) res.end(toAsciicast(asciicastInfo(rec.event!), rec.chunks));
 */
export async function readSessionRecording(repo: AuditRepo, sessionId: string): Promise<SessionRecording> {
  const [rows, chunks] = await Promise.all([repo.search({ streamSession: sessionId, limit: 1, order: 'desc' }), repo.chunks(sessionId)]);
  const event = rows[0] && auditEventSchema.parse(JSON.parse(rows[0].eventJson));
  const ref = event?.stream;
  let problem: string | undefined;
  if (!ref || ref.hash === undefined) problem = `no closed session ${sessionId} is recorded (it may still be open), so its ${chunks.length} chunk(s) cannot be checked`;
  else problem = streamChunksProblem(ref, chunks)?.message;
  return { event, chunks, problem };
}

/** Header facts from the session's event: who ran what where. */
export function asciicastInfo(event: AuditEvent): AsciicastInfo {
  const r = event.request;
  const command = new URLSearchParams(r.query).getAll('command').join(' ');
  const who = event.principal?.subject ?? 'unknown';
  return {
    title: `${who}: ${r.subresource || 'session'} ${r.namespace}/${r.name}${command ? ` -- ${command}` : ''}`,
    timestamp: Math.floor(eventTimeMicros(event.time) / 1e6),
  };
}
