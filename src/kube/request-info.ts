/**
 * Request classifier: a port of the Kubernetes API server's RequestInfo
 * resolver (`k8s.io/apiserver` `pkg/endpoints/request/requestinfo.go`,
 * checked against v0.33). This module turns the request line into a
 * RequestInfo; the list-option decoding it depends on lives in
 * `list-query.ts` (`net/url` query parsing, the `watch` boolean) and
 * `selectors.ts` (field and label selector parsing).
 *
 * The port has to agree with the API server, because the API server authorizes
 * what *it* parses: if Gatehouse reads a different verb, namespace or name out
 * of the same request line, policy is enforced on something that is not what
 * runs upstream. Where agreement cannot be guaranteed (encoded separators, dot
 * segments, bytes a proxy in between might normalise) the request is refused
 * instead of guessed at.
 *
 * Deliberate differences from the Go resolver are marked "Gatehouse:" below.
 *
 * @module
 */

import { decodeListOptions, hexValue, readListQuery } from './list-query.js';

/** What the API server's RequestInfo resolver derives from a request line. */
export interface RequestInfo {
  /** True for `/api/{v}/...` and `/apis/{g}/{v}/...` with at least a resource. */
  isResourceRequest: boolean;
  /** The percent-decoded path, as the API server's `req.URL.Path`. */
  path: string;
  /**
   * Resource requests: get list watch create update patch delete
   * deletecollection proxy, or '' for a method with no Kubernetes verb.
   * Non-resource requests: the lower-case HTTP method.
   */
  verb: string;
  /**
   * 'api', 'apis' or ''. As in Go, a discovery path `/apis/{group}/{version}`
   * is a non-resource request that still reports 'apis' here.
   */
  apiPrefix: string;
  /** '' for the core (legacy) group. */
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** Path parts from the resource on: resource, name, subresource, then anything else. */
  parts: string[];
  /**
   * The raw `fieldSelector` query value, for list, watch and deletecollection
   * only (the API server's AuthorizeWithSelectors behaviour, on by default
   * since 1.32); '' otherwise.
   */
  fieldSelector: string;
  /** The raw `labelSelector` query value, under the same rule as `fieldSelector`. */
  labelSelector: string;
}

export type ClassifyResult = { ok: true; info: RequestInfo } | { ok: false; reason: string };

const API_PREFIXES: ReadonlySet<string> = new Set(['api', 'apis']);
const GROUPLESS_API_PREFIXES: ReadonlySet<string> = new Set(['api']);
/** Path prefixes that name the verb (deprecated API server forms). */
const SPECIAL_VERBS: ReadonlySet<string> = new Set(['proxy', 'watch']);
/** Words after `namespaces/{ns}` that are subresources of the namespace, not resources inside it. */
const NAMESPACE_SUBRESOURCES: ReadonlySet<string> = new Set(['status', 'finalize']);
const SELECTOR_VERBS: ReadonlySet<string> = new Set(['list', 'watch', 'deletecollection']);
/** Pod subresources that open a stream and that the API server authorizes as `create`. */
const STREAMING_POD_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;
const DOT = 0x2e;

/**
 * Classify one request the way the Kubernetes API server does before
 * authorization.
 *
 * @param method The HTTP method, exactly as received (methods are case-sensitive).
 * @param rawUrl The request target exactly as received: origin-form path and optional `?query`.
 * @returns The request attributes, or a reason why the target is refused (the caller answers 400).
 *
 * @example
 * const r = classifyRequest('GET', '/api/v1/namespaces/default/pods?watch=1');
 * // r.ok === true; r.info.verb === 'watch'; r.info.namespace === 'default'; r.info.resource === 'pods'
 */
export function classifyRequest(method: string, rawUrl: string): ClassifyResult {
  if (!isHttpToken(method)) return refuse('the HTTP method is not a valid token');
  if (rawUrl.length === 0 || rawUrl.charCodeAt(0) !== SLASH) {
    return refuse(`the request target must be an origin-form path starting with '/'`);
  }

  const scan = scanTarget(rawUrl);
  if (typeof scan === 'string') return refuse(scan);
  const path = scan.path;

  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(), // the method is an ASCII token here, so this is Go's ToLower
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
    fieldSelector: '',
    labelSelector: '',
  };

  // ---- The Go resolver, step by step. ----
  const segs = splitPath(path);
  if (segs.length < 3 || !API_PREFIXES.has(segs[0]!)) return nonResource(info, scan);
  info.apiPrefix = segs[0]!;
  let i = 1;
  if (!GROUPLESS_API_PREFIXES.has(info.apiPrefix)) {
    // Go returns here with apiPrefix already set: /apis/{group}/{version} is discovery.
    if (segs.length - i < 3) return nonResource(info, scan);
    info.apiGroup = segs[i]!;
    i++;
  }
  info.isResourceRequest = true;
  info.apiVersion = segs[i]!;
  i++;

  let verbViaPathPrefix = false;
  if (SPECIAL_VERBS.has(segs[i]!)) {
    if (segs.length - i < 2) return refuse(`the path names the '${segs[i]!}' verb but no resource`);
    info.verb = segs[i]!;
    i++;
    verbViaPathPrefix = true;
  } else {
    info.verb = verbForMethod(method);
  }

  if (segs[i] === 'namespaces') {
    if (segs.length - i > 1) {
      info.namespace = segs[i + 1]!;
      // namespaces/{ns}/{x}: {x} is a resource inside the namespace unless it is a namespace subresource.
      if (segs.length - i > 2 && !NAMESPACE_SUBRESOURCES.has(segs[i + 2]!)) i += 2;
    }
  }

  const parts = segs.slice(i);
  info.parts = parts;
  if (parts.length >= 3 && info.verb !== 'proxy') info.subresource = parts[2]!;
  if (parts.length >= 2) info.name = parts[1]!;
  info.resource = parts[0]!;

  // Segments from here on are an opaque path handed to a node, service or pod.
  let tailStart = -1;
  if (info.verb === 'proxy' && parts.length >= 2) tailStart = i + 2;
  else if (info.subresource === 'proxy') tailStart = i + 3;
  const unsafe = checkStrictSegments(scan, tailStart);
  if (unsafe !== undefined) return refuse(unsafe);

  if (info.name.length === 0 && (info.verb === 'get' || info.verb === 'delete')) {
    const query = readListQuery(rawUrl, scan.queryStart);
    if (typeof query === 'string') return refuse(query);

    if (info.verb === 'get') {
      const opts = decodeListOptions(query);
      info.verb = opts.watch ? 'watch' : 'list';
      if (opts.exactName !== undefined && isValidPathSegmentName(opts.exactName)) info.name = opts.exactName;
    }
    // A name may have come from the field selector above; only a nameless delete is a collection delete.
    if (info.name.length === 0 && info.verb === 'delete') info.verb = 'deletecollection';

    if (!verbViaPathPrefix && SELECTOR_VERBS.has(info.verb)) {
      info.fieldSelector = query.fieldSelector ?? '';
      info.labelSelector = query.labelSelector ?? '';
    }
  }

  // Gatehouse: a WebSocket exec/attach/portforward handshake is a GET (the
  // default transport since KEP-4006), yet it starts a process or a tunnel
  // exactly like the SPDY POST, which is authorized as `create`. The API
  // server only added a matching `create` check in 1.35 (feature gate
  // AuthorizePodWebsocketUpgradeCreatePermission); classifying it as `create`
  // here gives policy one verb whatever the transport or upstream version.
  // HEAD becomes `get` in Go and is treated the same, so no method reaches
  // these subresources with a read-only verb.
  if (
    info.verb === 'get' &&
    info.apiPrefix === 'api' &&
    info.resource === 'pods' &&
    STREAMING_POD_SUBRESOURCES.has(info.subresource)
  ) {
    info.verb = 'create';
  }

  return { ok: true, info };
}

function refuse(reason: string): ClassifyResult {
  return { ok: false, reason };
}

function nonResource(info: RequestInfo, scan: TargetScan): ClassifyResult {
  const unsafe = checkStrictSegments(scan, -1);
  if (unsafe !== undefined) return refuse(unsafe);
  return { ok: true, info };
}

function verbForMethod(method: string): string {
  switch (method) {
    case 'POST':
      return 'create';
    case 'GET':
    case 'HEAD':
      return 'get';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return '';
  }
}

/** Go's splitPath: trim every leading and trailing '/', then split on '/'. */
function splitPath(path: string): string[] {
  let start = 0;
  let end = path.length;
  while (start < end && path.charCodeAt(start) === SLASH) start++;
  while (end > start && path.charCodeAt(end - 1) === SLASH) end--;
  const out: string[] = [];
  if (start === end) return out;
  // indexOf + slice is about twice as fast as slice + split on a fresh string.
  for (;;) {
    const slash = path.indexOf('/', start);
    if (slash < 0 || slash >= end) {
      out.push(path.slice(start, end));
      return out;
    }
    out.push(path.slice(start, slash));
    start = slash + 1;
  }
}

// ---------------------------------------------------------------------------
// Request-target checks and path decoding.
// ---------------------------------------------------------------------------

interface TargetScan {
  /** Decoded path. */
  path: string;
  /** Index of the first query character in the raw target, or -1 without '?'. */
  queryStart: number;
  /**
   * Index (in the raw path, counted like the API server's path parts) of the
   * first segment that only a strict reader may accept, and why; -1 if none.
   */
  strictIndex: number;
  strictReason: string;
}

/**
 * One pass over the raw target: rejects bytes and escapes no two readers
 * agree on, decodes the path, and remembers the first segment that is safe
 * only inside an opaque proxy tail (empty, or hiding '/', '\', '.' or '%').
 */
function scanTarget(raw: string): TargetScan | string {
  const len = raw.length;
  let pathEnd = len;
  let hasPercent = false;
  let segIndex = 0;
  let segStart = 1;
  let strictIndex = -1;
  let strictReason = '';

  // raw[0] is the leading '/', checked by the caller; segment 0 starts after it.
  for (let i = 1; i < len; i++) {
    const c = raw.charCodeAt(i);
    // Fast path: digits, letters and the plain punctuation between them.
    if (c >= 0x30 && c <= 0x7a && c !== QUESTION && c !== BACKSLASH) continue;
    if (c === SLASH) {
      if (i === segStart && strictIndex < 0) {
        strictIndex = segIndex;
        strictReason = `the request path contains an empty segment ('//')`;
      }
      if (isDotSegment(raw, segStart, i)) return DOT_SEGMENT;
      segIndex++;
      segStart = i + 1;
    } else if (c === PERCENT) {
      const hi = i + 1 < len ? hexValue(raw.charCodeAt(i + 1)) : -1;
      const lo = i + 2 < len ? hexValue(raw.charCodeAt(i + 2)) : -1;
      if (hi < 0 || lo < 0) return `the request path has an invalid percent-escape '${raw.slice(i, i + 3)}'`;
      const byte = (hi << 4) | lo;
      if (byte === 0) return 'the request path contains an encoded NUL byte (%00)';
      if (strictIndex < 0 && (byte === SLASH || byte === BACKSLASH || byte === DOT || byte === PERCENT)) {
        strictIndex = segIndex;
        strictReason = `the request path percent-encodes '${String.fromCharCode(byte)}' outside a proxied sub-path`;
      }
      hasPercent = true;
      i += 2;
    } else if (c === QUESTION) {
      pathEnd = i;
      break;
    } else if (c === BACKSLASH) {
      return `the request path contains '\\', which some servers read as '/'`;
    } else {
      const bad = badTargetChar(c);
      if (bad !== undefined) return bad;
    }
  }
  for (let i = pathEnd + 1; i < len; i++) {
    const bad = badTargetChar(raw.charCodeAt(i));
    if (bad !== undefined) return bad;
  }

  if (isDotSegment(raw, segStart, pathEnd)) return DOT_SEGMENT;

  const rawPath = pathEnd === len ? raw : raw.slice(0, pathEnd);
  let path = rawPath;
  if (hasPercent) {
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return 'the percent-encoded bytes in the request path are not valid UTF-8';
    }
    // Escapes can spell dot segments too (%2E%2E, or %5C as a separator).
    if (hasDotSegment(path)) return DOT_SEGMENT;
  }

  return { path, queryStart: pathEnd === len ? -1 : pathEnd + 1, strictIndex, strictReason };
}

/** Why a character may not appear raw in a request target, or undefined if it may. */
function badTargetChar(c: number): string | undefined {
  if (c < 0x21 || c > 0x7e) {
    return 'the request target contains a control, space or non-ASCII character that should have been percent-encoded';
  }
  if (c === HASH) return `the request target contains '#'; fragments are never sent to a server`;
  return undefined;
}

/**
 * Every segment before `tailStart` (all of them when it is -1) must be one
 * that the API server, Gatehouse and anything in between split and decode
 * the same way. A single trailing '/' is fine: the API server trims it.
 */
function checkStrictSegments(scan: TargetScan, tailStart: number): string | undefined {
  if (scan.strictIndex < 0) return undefined;
  if (tailStart >= 0 && scan.strictIndex >= tailStart) return undefined;
  return scan.strictReason;
}

// Dot segments are refused everywhere, even in an opaque proxy tail: URL
// parsers and proxies between us and the API server resolve them (also when
// written as %2E, or with '\' as separator), which would move the request to
// another resource after it was classified.
const DOT_SEGMENT = `the request path contains a '.' or '..' segment`;

function isDotSegment(s: string, start: number, end: number): boolean {
  const n = end - start;
  return (n === 1 || n === 2) && s.charCodeAt(start) === DOT && s.charCodeAt(end - 1) === DOT;
}

function hasDotSegment(path: string): boolean {
  let segStart = 0;
  const len = path.length;
  for (let i = 0; i <= len; i++) {
    const c = i < len ? path.charCodeAt(i) : SLASH;
    if (c !== SLASH && c !== BACKSLASH) continue;
    if (isDotSegment(path, segStart, i)) return true;
    segStart = i + 1;
  }
  return false;
}

function isHttpToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alnum && "!#$%&'*+-.^_`|~".indexOf(s[i]!) < 0) return false;
  }
  return true;
}

/** apimachinery path.IsValidPathSegmentName. */
function isValidPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}
