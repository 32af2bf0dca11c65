/**
 * Exec / attach recordings as asciicast v2 (what asciinema-player plays).
 * The chunks are checked against the event that closed the session first; a
 * recording that does not verify is refused unless `unverified=true` (as
 * `gatehouse audit replay --unverified`), e.g. for a session still open.
 *
 * @module
 */

import { z } from 'zod';
import { asciicastInfo, readSessionRecording, toAsciicast } from '../audit/asciicast.js';
import type { AuditRepo } from '../audit/store.js';
import { AUDIT_READERS } from './audit.js';
import { ConsoleError } from './errors.js';
import { API_HEADERS, parseQuery } from './http.js';
import { route } from './router.js';
import type { Route } from './router.js';

const castQuery = z.object({ unverified: z.enum(['true', 'false']).default('false') }).strict();

/**
 * @example
 * const routes = [streamRoute(store.audit)];
 */
export function streamRoute(repo: AuditRepo): Route {
  return route('GET', '/gatehouse/v1/streams/:streamSession/asciicast', AUDIT_READERS, async ({ res, url, params }) => {
    const id = params['streamSession']!;
    const { unverified } = parseQuery(castQuery, url.searchParams);
    const recording = await readSessionRecording(repo, id);
    if (recording.chunks.length === 0 && recording.event === undefined) throw new ConsoleError('not-found', `no stream ${JSON.stringify(id)} is recorded`);
    if (recording.problem !== undefined && unverified !== 'true') {
      throw new ConsoleError('recording-unverified', `the recording does not verify: ${recording.problem} (unverified=true plays it anyway)`);
    }
    const cast = toAsciicast(recording.event ? asciicastInfo(recording.event) : { title: `session ${id}` }, recording.chunks);
    res.writeHead(200, { ...API_HEADERS, 'content-type': 'application/x-asciicast; charset=utf-8', 'content-length': Buffer.byteLength(cast) });
    res.end(cast);
    return undefined;
  });
}
