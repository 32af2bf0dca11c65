/**
 * YAML documents validated by a zod schema, with every problem placed at a
 * file, line and column: the offending node, the unknown key itself, or the
 * nearest parent of a missing field.
 *
 * @module
 */

import { isMap, isNode, isScalar, LineCounter, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import type { z } from 'zod';
import type { SourceLocation } from './model.js';

export interface PolicyProblem extends SourceLocation {
  readonly message: string;
}

export interface ParsedDocument<T> {
  readonly data: T;
  /**
   * Where the node at `path` starts (or the deepest parent that exists).
   * With `inner`, the place of character `inner.offset` of the node's value
   * when the value appears verbatim in the file (a one-line plain or quoted
   * scalar), else the node's start.
   */
  readonly at: (path: readonly PropertyKey[], inner?: { value: string; offset: number }) => SourceLocation;
}

/**
 * Parses every document of a YAML file and validates each with `schema`.
 * Empty documents are skipped, and so are those `select` turns down.
 * Problems are appended to `problems`; only valid documents are returned.
 *
 * @example
 * const docs = parseDocuments('team.yaml', text, policyDocumentSchema, problems);
 * docs[0]?.at(['spec', 'rules', 0]) // { file: 'team.yaml', line: 6, col: 7 }
 */
export function parseDocuments<T>(
  file: string,
  text: string,
  schema: z.ZodType<T>,
  problems: PolicyProblem[],
  select: (value: unknown) => boolean = () => true,
): ParsedDocument<T>[] {
  const lines = new LineCounter();
  const position = (offset: number): SourceLocation => {
    const pos = lines.linePos(offset);
    return { file, line: pos.line, col: pos.col };
  };
  const out: ParsedDocument<T>[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true })) {
    const syntax = doc.errors[0];
    if (syntax !== undefined) {
      // Only the first: the rest of a broken document mostly repeats it.
      problems.push({ ...position(syntax.pos[0]), message: `invalid YAML: ${syntax.message.split('\n', 1)[0]}` });
      continue;
    }
    const js: unknown = doc.toJS({ maxAliasCount: 100 });
    if (js === null || js === undefined || !select(js)) continue; // an empty document, e.g. after a trailing `---`
    const parsed = schema.safeParse(js);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push({ ...position(locate(doc, issue)), message: describeIssue(issue, js) });
      continue;
    }
    out.push({
      data: parsed.data,
      at: (path, inner) => {
        const start = offsetOf(doc, path);
        if (inner === undefined) return position(start);
        const node: unknown = doc.getIn(path, true);
        const end = isNode(node) && node.range ? node.range[1] : start;
        const k = text.slice(start, end).indexOf(inner.value);
        return position(k < 0 ? start : start + k + inner.offset);
      },
    });
  }
  return out;
}

function offsetOf(doc: Document, path: readonly PropertyKey[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return 0;
}

function locate(doc: Document, issue: z.core.$ZodIssue): number {
  if (issue.code === 'unrecognized_keys') {
    const node: unknown = doc.getIn(issue.path, true);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === issue.keys[0]);
      if (pair && isNode(pair.key) && pair.key.range) return pair.key.range[0];
    }
  }
  return offsetOf(doc, issue.path);
}

function describeIssue(issue: z.core.$ZodIssue, js: unknown): string {
  const where = issue.path.length === 0 ? '(document)' : formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && valueAt(js, issue.path) === undefined) {
    return `${where}: required (${issue.message})`;
  }
  return `${where}: ${issue.message}`;
}

/** `spec.rules[0].when` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function valueAt(js: unknown, path: readonly PropertyKey[]): unknown {
  let v = js;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}
