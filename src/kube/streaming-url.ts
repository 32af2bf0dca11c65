/**
 * Which Kubernetes requests stream for as long as the client wants rather
 * than until the answer is complete, judged from the request URL alone:
 * the gateway's drain and its upstream (which carries them as HTTP/2
 * streams) both need to know before any stage has classified the request.
 *
 * @module
 */

const WATCH_QUERY = /[?&]watch=(?:true|1)(?:&|$)/;
// The legacy /watch/ path prefix: /api/v1/watch/... and /apis/{group}/{version}/watch/...
const WATCH_PATH = /^\/(?:api\/[^/?]+|apis\/[^/?]+\/[^/?]+)\/watch\//;
const FOLLOW_QUERY = /[?&]follow=(?:true|1)(?:&|$)/;
// A pod's log: .../pods/<name>/log, with or without a query.
const LOG_PATH = /\/log(?:\?|$)/;

/** A watch: `?watch=true` (or `1`), or a path under the legacy `/watch/` prefix. */
export function isWatchUrl(url: string): boolean {
  return WATCH_QUERY.test(url) || WATCH_PATH.test(url);
}

/** Requests that end when the client wants, not when the answer is complete: a watch, or a followed log. */
export function isStreamingUrl(url: string): boolean {
  return isWatchUrl(url) || (FOLLOW_QUERY.test(url) && LOG_PATH.test(url));
}
