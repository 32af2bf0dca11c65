/**
 * `gatehouse audit replay`: a session's calls as a compact log, and
 * recordings (exec / attach / watch / logs) played in the terminal at the
 * speed they happened.
 *
 * @module
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { asciicastInfo, readSessionRecording, toAsciicast } from '../audit/asciicast.js';
import { auditEventSchema, resultLabel } from '../audit/event.js';
import type { AuditEvent } from '../audit/event.js';
import { jsonlRecord } from '../audit/export.js';
import { findSessions, readSession, sessionSummary } from '../audit/sessions.js';
import type { AuditRepo, StoredEventRow } from '../audit/store.js';
import { alignColumns } from './table.js';

export interface PlayOptions {
  /** 2: twice as fast. */
  speed: number;
  /** Longest pause kept between two outputs, in seconds (Infinity: real time). */
  maxPauseSeconds: number;
  write: (text: string) => void;
}

export interface ReplaySessionOptions extends PlayOptions {
  json: boolean;
  /** Play each recording after its line. */
  play: boolean;
  /** Play recordings whose chunks do not verify too. */
  unverified: boolean;
  warn: (text: string) => void;
}

const PAGE = 1000;

export const REPLAY_EXAMPLES = `
Examples:
  # the calls of one kubectl invocation (its Kubectl-Session id, from \`audit search --json\`)
  gatehouse audit replay --session 5f0c1e9a-…
  # a principal's most recent session, with its exec sessions and log follows played back twice as fast
  gatehouse audit replay --session token:cursor-bob --play --speed 2
  # one exec recording, played in this terminal, or written as an asciicast file for \`asciinema play\`
  gatehouse audit replay 3d1f…-request-id --play
  gatehouse audit replay 3d1f…-request-id -o session.cast
`;

/** A recording's `o` and `m` entries written at their times (divided by `speed`); input and resizes are not replayed. */
export async function playAsciicast(cast: string, options: PlayOptions): Promise<void> {
  let at = 0;
  for (const line of cast.trimEnd().split('\n').slice(1)) {
    const [time, code, data] = JSON.parse(line) as [number, string, string];
    const pause = Math.min(time - at, options.maxPauseSeconds);
    at = time;
    if (code !== 'o' && code !== 'm') continue;
    if (pause > 0) await sleep((pause * 1000) / options.speed);
    options.write(code === 'o' ? data : `\r\n[gatehouse: ${data.trimEnd()}]\r\n`);
  }
}

/** Plays a recorded stream in the terminal; false (and why, through `warn`) when it is not played. */
export async function playRecording(repo: AuditRepo, streamId: string, options: ReplaySessionOptions): Promise<boolean> {
  const recording = await readSessionRecording(repo, streamId);
  if (recording.chunks.length === 0) {
    options.warn(`no recording ${streamId} is stored\n`);
    return false;
  }
  if (recording.problem) {
    options.warn(`the recording ${streamId} does not verify: ${recording.problem}${options.unverified ? '' : ' (not played; --unverified plays it)'}\n`);
    if (!options.unverified) return false;
  }
  await playAsciicast(toAsciicast(recording.event ? asciicastInfo(recording.event) : { title: streamId }, recording.chunks), options);
  return true;
}

/**
 * Prints the calls of the session `text` names (a console session id, a
 * kubectl session id or a principal: then its most recent session) in order.
 * Returns false when there is no such session.
 */
export async function replaySession(repo: AuditRepo, text: string, options: ReplaySessionOptions): Promise<boolean> {
  const [found, ...others] = await findSessions(repo, text);
  if (found === undefined) return false;
  if (others.length > 0) {
    options.warn(`${found.subject} has ${others.length} earlier session(s) too; showing the latest. Others:\n`);
    for (const s of others) options.warn(`  --session ${sessionSummary(s).id}   ${new Date(s.firstMs).toISOString()}  ${s.events} call(s)\n`);
  }
  const rows: StoredEventRow[] = [];
  for (let afterSeq: number | undefined; ; afterSeq = rows.at(-1)!.seq) {
    const page = await readSession(repo, found, { afterSeq, limit: PAGE });
    rows.push(...(page?.rows ?? []));
    if ((page?.rows.length ?? 0) < PAGE) break;
  }
  const summary = sessionSummary(found);
  if (options.json) {
    options.write(`{"session":${JSON.stringify(summary)},"events":[${rows.map(jsonlRecord).join(',\n')}]}\n`);
    return true;
  }
  options.write(
    `session ${summary.kubectlSession ?? `of the hour from ${summary.start}`} by ${summary.subject}` +
      `${summary.command ? ` (${summary.command})` : ''}: ${summary.events} call(s), ${summary.start} – ${summary.end}\n\n`,
  );
  const events = rows.map((row) => auditEventSchema.parse(JSON.parse(row.eventJson)));
  const lines = [['TIME', 'VERB', 'RESOURCE', 'DECISION', 'STATUS', 'APPROVAL', 'RECORDING'], ...events.map(logLine)];
  const table = alignColumns(lines).split('\n');
  options.write(`${table[0]}\n`);
  for (const [i, event] of events.entries()) {
    options.write(`${table[i + 1]}\n`);
    // Played in place, so what was typed and shown sits between the calls before and after it.
    if (options.play && event.stream && (await playRecording(repo, event.stream.sessionId, options))) options.write('\n');
  }
  if (!options.play && events.some((e) => e.stream)) options.warn('\n--play plays the recordings in place; `gatehouse audit replay <recording>` plays or exports one.\n');
  return true;
}

/** One call: time, verb, resource/name (namespace), decision (rule), status (code), approval, recording id. */
function logLine(e: AuditEvent): string[] {
  const r = e.request;
  const resource = [r.resource, r.name, r.subresource].filter(Boolean).join('/') || r.path || '-';
  const approval = e.approval ? `${e.approval.id}${e.approval.by ? ` by ${e.approval.by}` : ''}` : '-';
  return [
    e.time.slice(11, 23),
    r.verb || r.method.toLowerCase() || '-',
    r.namespace ? `${resource} (${r.namespace})` : resource,
    e.decision ? e.decision.action + (e.decision.rule ? ` (${e.decision.rule})` : '') : '-',
    resultLabel(e.result),
    approval,
    e.stream ? `${e.stream.kind} ${e.stream.sessionId}${e.stream.truncated ? ' (truncated)' : ''}` : '',
  ];
}
