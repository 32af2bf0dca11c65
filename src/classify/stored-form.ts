/**
 * Where a body decoded in Node would differ from what the API server's Go
 * decoder and conversion make of it, so policy judges what gets stored.
 *
 * @module
 */

import { isRecord } from '../kube/object.js';

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const ESCAPE = 0x5c;

/** What makes a body JSON.parse accepted unfit to judge: a key twice in one object, or nesting past a limit. */
export type StructureIssue = { readonly duplicateKey: string } | { readonly deeperThan: number };

/**
 * The first structural issue of a JSON document, or undefined.
 *
 * A key that appears twice in one object: Go's decoder (sigs.k8s.io/json)
 * decodes a repeated key into the same field again and so merges
 * `{"spec":{A},"spec":{B}}` into A+B, while JSON.parse keeps only B: the two
 * readers disagree, so such bodies are refused.
 *
 * Objects and arrays nested deeper than `maxDepth`: no Kubernetes object
 * is, and what judges and records a body (JSON.stringify past ~5 000
 * levels, the masker past 512) would fail on it.
 *
 * @param text A document JSON.parse accepted.
 * @example
 * structureIssue('{"a":1,"a":2}', 512); // { duplicateKey: 'a' }
 * structureIssue('[[[]]]', 2); // { deeperThan: 2 }
 */
export function structureIssue(text: string, maxDepth: number): StructureIssue | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (stack.length === maxDepth) return { deeperThan: maxDepth };
      stack.push(c === OPEN_OBJECT ? new Set() : null);
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = stack[stack.length - 1] != null;
    } else if (c === QUOTE) {
      let end = i + 1;
      while (text.charCodeAt(end) !== QUOTE) end += text.charCodeAt(end) === ESCAPE ? 2 : 1;
      const keys = stack[stack.length - 1];
      if (expectKey && keys != null) {
        // Compare decoded keys: "sp\u0065c" is "spec" to both readers.
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return { duplicateKey: key };
        keys.add(key);
        expectKey = false;
      }
      i = end;
    }
  }
  return undefined;
}

/**
 * A core v1 Secret as the API server stores it: its v1 → internal conversion
 * writes every `stringData` entry over `data` (base64, as `data` is in JSON)
 * and drops `stringData`. A rule reading `object.data` then sees both.
 * Anything not shaped like that is returned unchanged (the API server
 * refuses it).
 *
 * @example
 * secretAsStored({ stringData: { k: 'v' } }); // { data: { k: 'dg==' } }
 */
export function secretAsStored(object: unknown): unknown {
  if (!isRecord(object) || object.stringData === undefined || object.stringData === null) return object;
  const stringData = object.stringData;
  const data = object.data ?? {};
  if (!isRecord(stringData) || !isRecord(data)) return object;
  const merged: Record<string, unknown> = { ...data };
  for (const [key, value] of Object.entries(stringData)) {
    if (typeof value !== 'string') return object;
    merged[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  const stored: Record<string, unknown> = { ...object, data: merged };
  delete stored.stringData;
  return stored;
}

/** Where each built-in kind that stamps pods keeps its PodSpec, by `group/resource`. */
const POD_SPEC_PATHS: ReadonlyMap<string, readonly string[]> = new Map([
  ['/pods', ['spec']],
  ['/podtemplates', ['template', 'spec']],
  ['/replicationcontrollers', ['spec', 'template', 'spec']],
  ['apps/deployments', ['spec', 'template', 'spec']],
  ['apps/statefulsets', ['spec', 'template', 'spec']],
  ['apps/daemonsets', ['spec', 'template', 'spec']],
  ['apps/replicasets', ['spec', 'template', 'spec']],
  ['batch/jobs', ['spec', 'template', 'spec']],
  ['batch/cronjobs', ['spec', 'jobTemplate', 'spec', 'template', 'spec']],
]);

/**
 * Applies the v1 PodSpec alias the API server resolves in conversion: the
 * deprecated `serviceAccount` becomes `serviceAccountName` when that is
 * empty, so a rule on `serviceAccountName` cannot be sidestepped with the old
 * spelling. Changes the freshly decoded `object` in place.
 *
 * @example
 * podAliasesAsStored('', 'pods', { spec: { serviceAccount: 'sa' } }); // spec.serviceAccountName === 'sa'
 */
export function podAliasesAsStored(group: string, resource: string, object: unknown): void {
  const path = POD_SPEC_PATHS.get(`${group}/${resource}`);
  if (path === undefined) return;
  let spec: unknown = object;
  for (const key of path) spec = isRecord(spec) ? spec[key] : undefined;
  if (!isRecord(spec)) return;
  const alias = spec.serviceAccount;
  if (typeof alias === 'string' && alias !== '' && (spec.serviceAccountName === undefined || spec.serviceAccountName === '')) spec.serviceAccountName = alias;
}

