/**
 * The configuration reference (docs/config.md), generated from the config
 * schema itself so it cannot drift: every key with its type, default and
 * allowed values. A unit test fails when the committed file differs;
 * `npm run docs:config` rewrites it.
 *
 * @module
 */

import { homedir } from 'node:os';
import { z } from 'zod';
import { configSchema } from './schema.js';

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
};

/** Where each top-level section is explained in prose. */
const SECTION_DOCS: Readonly<Record<string, string>> = {
  upstream: 'docs/clusters.md',
  clusters: 'docs/clusters.md',
  defaultCluster: 'docs/clusters.md',
  identity: 'README.md#who-is-asking',
  masking: 'docs/masking.md',
  approvals: 'docs/approvals.md',
  audit: 'docs/audit.md',
  policy: 'docs/policy.md',
  store: 'docs/audit.md',
  console: 'docs/console-api.md',
  log: 'docs/operations.md',
  metrics: 'docs/operations.md',
  tracing: 'docs/operations.md',
  shutdown: 'docs/operations.md',
  timeouts: 'docs/errors.md',
  limits: 'docs/errors.md',
  watches: 'docs/operations.md',
  tls: 'README.md#commands',
  listen: 'README.md#commands',
  dataDir: 'README.md#commands',
};

interface Row {
  path: string;
  type: string;
  required: boolean;
  default: string;
  allowed: string;
}

/**
 * The reference as Markdown, one table per top-level section.
 *
 * @example
 * writeFileSync('docs/config.md', configReferenceMarkdown());
 */
export function configReferenceMarkdown(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from the config schema (src/config/schema.ts) by `npm run docs:config`; a unit test keeps it current. Do not edit by hand. -->',
    '',
    '`gatehouse serve --config gatehouse.yaml` reads one YAML file with these keys (`gatehouse up` writes a',
    'commented starter). Unknown keys are refused with the key named, so a typo never passes silently.',
    'Command-line flags override the file. Paths are as given (relative to the working directory).',
    '',
  ];
  const required = new Set(schema.required ?? []);
  for (const [key, section] of Object.entries(schema.properties ?? {})) {
    const rows: Row[] = [];
    collect(key, section, required.has(key), rows);
    const doc = SECTION_DOCS[key];
    out.push(`## \`${key}\``, '');
    if (doc !== undefined) out.push(`Explained in [${doc}](${doc.startsWith('README') ? '../' : ''}${doc.replace(/^docs\//, '')}).`, '');
    out.push('| key | type | default | allowed values |', '|---|---|---|---|');
    for (const r of rows) out.push(`| \`${r.path}\`${r.required ? ' (required)' : ''} | ${r.type} | ${r.default} | ${r.allowed} |`);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function collect(path: string, node: JsonSchema, required: boolean, rows: Row[]): void {
  const variants = node.anyOf ?? node.oneOf;
  if (variants !== undefined && variants.every((v) => v.type === 'object')) {
    // A union of object shapes (e.g. an OIDC issuer form): list every key any of them has.
    rows.push(row(path, node, required, 'object (one of several shapes)'));
    for (const v of variants) for (const [k, child] of Object.entries(v.properties ?? {})) collectOnce(`${path}.${k}`, child, (v.required ?? []).includes(k), rows);
    return;
  }
  const type = typeOf(node);
  if (type === 'object' && node.properties !== undefined && Object.keys(node.properties).length > 0) {
    rows.push(row(path, node, required, 'object'));
    const inner = new Set(node.required ?? []);
    for (const [k, child] of Object.entries(node.properties)) collect(`${path}.${k}`, child, inner.has(k), rows);
    return;
  }
  if (node.type === 'array' && node.items?.properties !== undefined) {
    rows.push(row(path, node, required, 'list of objects'));
    const inner = new Set(node.items.required ?? []);
    for (const [k, child] of Object.entries(node.items.properties)) collect(`${path}[].${k}`, child, inner.has(k), rows);
    return;
  }
  rows.push(row(path, node, required, type));
}

function collectOnce(path: string, node: JsonSchema, required: boolean, rows: Row[]): void {
  if (rows.some((r) => r.path === path)) return;
  collect(path, node, required, rows);
}

function row(path: string, node: JsonSchema, required: boolean, type: string): Row {
  return { path, type, required, default: node.default === undefined ? '' : `\`${shown(node.default)}\``, allowed: allowed(node) };
}

function typeOf(node: JsonSchema): string {
  if (node.enum !== undefined) return 'string';
  if (node.const !== undefined) return typeof node.const;
  const variants = node.anyOf ?? node.oneOf;
  if (variants !== undefined) return [...new Set(variants.map(typeOf))].join(' or ');
  if (Array.isArray(node.type)) return node.type.join(' or ');
  if (node.type === 'array') return node.items === undefined ? 'list' : `list of ${typeOf(node.items)}`;
  if (node.type === 'object' && typeof node.additionalProperties === 'object') return `map of ${typeOf(node.additionalProperties)}`;
  return node.type ?? 'any';
}

function allowed(node: JsonSchema): string {
  const parts: string[] = [];
  const variants = node.anyOf ?? node.oneOf;
  const values = node.enum ?? variants?.flatMap((v) => v.enum ?? (v.const !== undefined ? [v.const] : []));
  if (values !== undefined && values.length > 0) parts.push(values.map((v) => `\`${String(v)}\``).join(', '));
  // zod's int() bounds are the safe-integer range: no news to a reader.
  if (node.minimum !== undefined && node.minimum !== Number.MIN_SAFE_INTEGER) parts.push(`≥ ${node.minimum}`);
  if (node.exclusiveMinimum !== undefined) parts.push(`> ${node.exclusiveMinimum}`);
  if (node.maximum !== undefined && node.maximum !== Number.MAX_SAFE_INTEGER) parts.push(`≤ ${node.maximum}`);
  if (node.minLength === 1) parts.push('not empty');
  else if (node.minLength !== undefined && node.minLength > 1) parts.push(`at least ${node.minLength} characters`);
  if (node.maxLength !== undefined) parts.push(`at most ${node.maxLength} characters`);
  if (node.pattern !== undefined) parts.push(`matches \`${node.pattern.replace(/\|/g, '\\|')}\``);
  if (node.type === 'array' && node.items !== undefined && node.items.properties === undefined) {
    const inner = allowed(node.items);
    if (inner !== '') parts.push(`each: ${inner}`);
  }
  return parts.join('; ');
}

/** A default as YAML-ish text, with the home directory of the machine that generated it written as `~`. */
function shown(value: unknown): string {
  const home = homedir();
  return JSON.stringify(value)
    .replaceAll(home, '~')
    .replace(/\|/g, '\\|');
}
