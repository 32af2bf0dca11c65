/**
 * The static part of a rule's `match`: compiled once into small predicates
 * over the request line and the principal, so the request path runs set
 * look-ups and precompiled globs, nothing else.
 *
 * @module
 */

import type { LabelSelectorSpec, MatchSpec } from './model.js';
import { coversCorePods } from './model.js';

/** What the static matchers look at, computed once per request. */
export interface RequestFacts {
  readonly isResourceRequest: boolean;
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource: string;
  /** '' for cluster-scoped requests and for lists across all namespaces. */
  readonly namespace: string;
  /** From the path, or for a create from the body's metadata.name; '' when the request names no object. */
  readonly name: string;
  readonly path: string;
  /** The named cluster the request is for. */
  readonly cluster: string;
  /** The workload whose pod template policy may judge (`apps/deployments`…), for a request on the workload itself. */
  readonly workload: string | undefined;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: string;
}

/** One constrained field of a rule's match, with what the explain tool prints. */
export interface MatchField {
  readonly field: string;
  /** The rule's side, e.g. `[create, update, patch]`. */
  readonly expected: string;
  test(facts: RequestFacts): boolean;
  /** The request's side, e.g. `"get"`. */
  actual(facts: RequestFacts): string;
}

export interface CompiledMatch {
  /** Only the fields the rule constrains; an empty list matches every request. */
  readonly fields: readonly MatchField[];
  readonly namespaceSelector: LabelSelector | undefined;
  readonly includeWorkloadTemplates: boolean;
}

export interface LabelSelector {
  readonly expected: string;
  test(labels: Readonly<Record<string, string>>): boolean;
}

/** The first static field of a rule that the request does not satisfy, or undefined when all do. */
export function staticMismatch(match: CompiledMatch, facts: RequestFacts): MatchField | undefined {
  for (const field of match.fields) if (!field.test(facts)) return field;
  return undefined;
}

/**
 * Compiles a validated `match` block.
 *
 * @example
 * const m = compileMatch({ verbs: ['delete'], namespaces: ['prod-*', '!prod-sandbox'] });
 * staticMismatch(m, facts) === undefined; // the request matches every field
 */
export function compileMatch(spec: MatchSpec): CompiledMatch {
  const fields: MatchField[] = [];
  const list = (values: readonly string[]): string => `[${values.join(', ')}]`;

  if (spec.verbs !== undefined && !spec.verbs.includes('*')) {
    const verbs = new Set(spec.verbs);
    fields.push({ field: 'verbs', expected: list(spec.verbs), test: (f) => verbs.has(f.verb), actual: (f) => quote(f.verb) });
  }
  if (spec.resources !== undefined) {
    const test = compileResources(spec.resources, spec.includeWorkloadTemplates ?? false);
    const shown = spec.resources.map((r) => `${r.group === '' ? 'core' : r.group}/${r.resource}`);
    fields.push({
      field: spec.includeWorkloadTemplates ? 'resources (with workload templates)' : 'resources',
      expected: list(shown),
      test,
      actual: (f) => (f.isResourceRequest ? quote(resourceOf(f)) : `the non-resource path ${quote(f.path)}`),
    });
  }
  if (spec.nonResourceURLs !== undefined) {
    const paths = compilePatterns(spec.nonResourceURLs);
    fields.push({
      field: 'nonResourceURLs',
      expected: list(spec.nonResourceURLs),
      test: (f) => !f.isResourceRequest && paths.test(f.path),
      actual: (f) => (f.isResourceRequest ? `the resource ${quote(resourceOf(f))}` : quote(f.path)),
    });
  }
  if (spec.namespaces !== undefined) {
    const namespaces = compilePatterns(spec.namespaces);
    const clusterWide = spec.namespaces.includes('');
    fields.push({
      field: 'namespaces',
      expected: list(spec.namespaces.map((n) => (n === '' ? '""' : n))),
      test: (f) => (f.namespace === '' ? clusterWide : namespaces.test(f.namespace)),
      actual: (f) => (f.namespace === '' ? 'no namespace (cluster-scoped, or across all namespaces)' : quote(f.namespace)),
    });
  }
  if (spec.names !== undefined) {
    const names = compilePatterns(spec.names);
    fields.push({
      field: 'names',
      expected: list(spec.names),
      test: (f) => f.name !== '' && names.test(f.name),
      actual: (f) => (f.name === '' ? 'no name (the request names no single object)' : quote(f.name)),
    });
  }
  if (spec.clusters !== undefined) {
    const clusters = compilePatterns(spec.clusters);
    fields.push({ field: 'clusters', expected: list(spec.clusters), test: (f) => clusters.test(f.cluster), actual: (f) => quote(f.cluster) });
  }
  if (spec.users !== undefined) {
    const users = compilePatterns(spec.users);
    fields.push({ field: 'users', expected: list(spec.users), test: (f) => users.test(f.subject), actual: (f) => quote(f.subject) });
  }
  if (spec.groups !== undefined) {
    const groups = compilePatterns(spec.groups);
    fields.push({
      field: 'groups',
      expected: list(spec.groups),
      test: (f) => groups.testAny(f.groups),
      actual: (f) => list(f.groups),
    });
  }
  if (spec.principalKinds !== undefined) {
    const kinds = new Set<string>(spec.principalKinds);
    fields.push({ field: 'principalKinds', expected: list(spec.principalKinds), test: (f) => kinds.has(f.kind), actual: (f) => quote(f.kind) });
  }

  return Object.freeze({
    fields: Object.freeze(fields),
    namespaceSelector: spec.namespaceSelector === undefined ? undefined : compileLabelSelector(spec.namespaceSelector),
    includeWorkloadTemplates: spec.includeWorkloadTemplates ?? false,
  });
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function resourceOf(f: RequestFacts): string {
  const group = f.group === '' ? 'core' : f.group;
  return `${group}/${f.resource}${f.subresource === '' ? '' : `/${f.subresource}`}`;
}

type ResourceTest = (group: string, resource: string, subresource: string) => boolean;

/**
 * RBAC's resource rules, plus `resource/*`: `*` is every resource and
 * subresource, `pods` is pods only (not `pods/log`), `pods/exec` one
 * subresource, `*\/scale` that subresource of anything, `pods/*` every
 * subresource of pods.
 */
function compileResources(refs: readonly { group: string; resource: string }[], includeWorkloadTemplates: boolean): (f: RequestFacts) => boolean {
  const tests: ResourceTest[] = refs.map(({ group, resource }) => {
    const slash = resource.indexOf('/');
    const res = slash < 0 ? resource : resource.slice(0, slash);
    const sub = slash < 0 ? '' : resource.slice(slash + 1);
    const groupOk = (g: string): boolean => group === '*' || g === group;
    if (res === '*' && slash < 0) return (g) => groupOk(g);
    return (g, r, s) => groupOk(g) && (res === '*' || r === res) && (sub === '*' ? s !== '' : s === sub);
  });
  const matches: ResourceTest = (g, r, s) => tests.some((t) => t(g, r, s));
  const templates = includeWorkloadTemplates && refs.some((r) => coversCorePods(r.group, r.resource));
  return (f) => f.isResourceRequest && (matches(f.group, f.resource, f.subresource) || (templates && f.workload !== undefined));
}

/** A list of globs (`*` any run of characters, `?` one) where `!pattern` excludes. */
export interface PatternSet {
  /** Some positive pattern matches (or there are none) and no negative one does. */
  test(value: string): boolean;
  /** Some value matches a positive pattern (or there are none) and no value matches a negative one. */
  testAny(values: readonly string[]): boolean;
}

export function compilePatterns(patterns: readonly string[]): PatternSet {
  const positive = compileGlobs(patterns.filter((p) => !p.startsWith('!')));
  const negative = compileGlobs(patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1)));
  return {
    test: (v) => (positive === undefined || positive(v)) && !(negative?.(v) ?? false),
    testAny: (vs) => (positive === undefined || vs.some(positive)) && !(negative !== undefined && vs.some(negative)),
  };
}

/** One predicate for a list of globs: a set for the literal ones, one regular expression for the rest. */
function compileGlobs(globs: readonly string[]): ((value: string) => boolean) | undefined {
  if (globs.length === 0) return undefined;
  const exact = new Set(globs.filter((g) => !/[*?]/.test(g)));
  const wild = globs.filter((g) => /[*?]/.test(g));
  if (wild.length === 0) return (v) => exact.has(v);
  const source = wild.map((g) => g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')).join('|');
  const re = new RegExp(`^(?:${source})$`, 's');
  return (v) => exact.has(v) || re.test(v);
}

/** Kubernetes label selector semantics: every matchLabels pair and every expression must hold. */
export function compileLabelSelector(spec: LabelSelectorSpec): LabelSelector {
  const checks: ((labels: Readonly<Record<string, string>>) => boolean)[] = [];
  const shown: string[] = [];
  for (const [key, value] of Object.entries(spec.matchLabels ?? {})) {
    checks.push((l) => Object.hasOwn(l, key) && l[key] === value);
    shown.push(`${key}=${value}`);
  }
  for (const { key, operator, values = [] } of spec.matchExpressions ?? []) {
    const set = new Set(values);
    const has = (l: Readonly<Record<string, string>>): boolean => Object.hasOwn(l, key);
    switch (operator) {
      case 'In':
        checks.push((l) => has(l) && set.has(l[key]!));
        shown.push(`${key} in (${values.join(',')})`);
        break;
      case 'NotIn':
        checks.push((l) => !has(l) || !set.has(l[key]!));
        shown.push(`${key} notin (${values.join(',')})`);
        break;
      case 'Exists':
        checks.push(has);
        shown.push(key);
        break;
      case 'DoesNotExist':
        checks.push((l) => !has(l));
        shown.push(`!${key}`);
        break;
    }
  }
  return { expected: shown.join(','), test: (labels) => checks.every((c) => c(labels)) };
}
