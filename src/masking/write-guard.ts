/**
 * Refusing writes that carry a masked value back. A client that read an
 * object through the gateway holds `<masked by gatehouse>` (or its base64,
 * or `<masked:jwt>`) where the real values were; applying or replacing that
 * object as it was read would store the placeholder over the real value:
 * a Secret's password, a container's env value. An agent that edits an
 * object by reading it whole and sending it back does exactly that, so such
 * a write is refused before policy, approval or the API server see it.
 *
 * @module
 */
import { parse as parseYaml } from 'yaml';
import { GatehouseError } from '../errors/codes.js';
import { CONTINUE, stop } from '../pipeline/context.js';
import type { RequestContext, Stage, StageOutcome } from '../pipeline/context.js';
import { MASK_BASE64, MASK_TEXT } from './config.js';
import { detectorNames } from './detectors/index.js';
import { MAX_DEPTH } from './masker.js';
import { formatPath } from './report.js';

const WRITE_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch']);

/**
 * What betrays a masked value in a body, in any encoding a client may use:
 * the marker's words (Go's JSON writer escapes its `<` and `>`, YAML and
 * protobuf carry it raw), its base64 (Secret `data`, ConfigMap
 * `binaryData`), and the detectors' `masked:<name>` with the closing `>`
 * raw or escaped.
 */
const MASKED = new RegExp(
  [escape(MASK_TEXT.slice(1, -1)), escape(MASK_BASE64.replace(/=+$/, '')), `masked:(?:${detectorNames.map(escape).join('|')})(?:>|\\\\u003[eE])`].join('|'),
);

/** Most field paths named in the refusal. */
const MAX_PATHS = 3;

/**
 * The stage: a create, update or patch whose body holds a masked value is
 * refused with GH_MASKED_VALUE, naming where (in the decoded object, when it
 * can). Runs after classify, which read the body.
 *
 * @example
 * const stages = [identity, classify, createMaskedWriteGuard(), policy];
 */
export function createMaskedWriteGuard(): Stage {
  return {
    name: 'masked-write-guard',
    run(ctx: RequestContext): StageOutcome {
      const request = ctx.request;
      const body = ctx.body;
      if (request === undefined || body === undefined || body.length === 0 || !WRITE_VERBS.has(request.verb)) return CONTINUE;
      // latin1 keeps every byte one character, so the search sees protobuf and invalid UTF-8 as they are.
      if (!MASKED.test(body.toString('latin1'))) return CONTINUE;
      const paths: string[] = [];
      maskedPaths(request.object ?? yamlObject(body, request.contentType), [], paths);
      const where = paths.length > 0 ? ` (at ${paths.join(', ')})` : '';
      return stop(
        new GatehouseError(
          'GH_MASKED_VALUE',
          `the request would store a value Gatehouse masked${where}: "${MASK_TEXT}" is a placeholder the gateway put in a response, not the real value, so it is not written over it. Send only the fields you mean to change (kubectl patch, kubectl set, kubectl edit), or the real value`,
        ),
      );
    },
  };
}

/**
 * Collects the paths (`data.password`, `spec.containers[0].env[1].value`,
 * `metadata.annotations["a.b/c"]`, written as the masker's reports write
 * them) of strings in `value` that hold a masked value; no deeper than the
 * masker walks (the refusal stands without them).
 */
function maskedPaths(value: unknown, path: (string | number)[], out: string[]): void {
  if (out.length >= MAX_PATHS || path.length > MAX_DEPTH) return;
  if (typeof value === 'string') {
    if (MASKED.test(value)) out.push(path.length === 0 ? '(the body)' : formatPath(path));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const entries: Iterable<[string | number, unknown]> = Array.isArray(value) ? value.entries() : Object.entries(value);
  for (const [key, item] of entries) {
    path.push(key);
    maskedPaths(item, path, out);
    path.pop();
  }
}

/**
 * A YAML body (a server-side apply) decoded only to name the fields: classify
 * leaves YAML to the API server, and the refusal stands whether or not this
 * parses.
 */
function yamlObject(body: Buffer, contentType: string | undefined): unknown {
  if (contentType === undefined || !contentType.endsWith('yaml')) return undefined;
  try {
    return parseYaml(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
