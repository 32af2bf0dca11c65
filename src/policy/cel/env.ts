/**
 * The one CEL environment every policy expression is compiled in: the
 * Kubernetes ValidatingAdmissionPolicy variables plus `principal`, the
 * Kubernetes extension functions.
 *
 * Built once at module load (building an environment is the expensive part
 * of the CEL library); programs share it.
 */
import { Environment, EvaluationError } from '@marcbachmann/cel-js';
import * as ext from './ext.js';
import { CelCostLimitError } from './meter.js';
import { Quantity, isQuantity, parseQuantityCached, quantityFromInt } from './quantity.js';
import { regexFind, regexFindAll, regexMatches } from './regex.js';
import { Url, parseUrl } from './url.js';
import { AdmissionRequest, GroupVersionKind, GroupVersionResource, PrincipalValue, UserInfo } from './values.js';

/** Names of the variables an expression may use. */
export const VARIABLES = ['object', 'oldObject', 'request', 'namespaceObject', 'principal', 'boundRole'] as const;

/** Prefix of internal function names; expressions may not call them. */
export const INTERNAL_PREFIX = '__gatehouse';

/**
 * Turns any error thrown by an extension function into a CEL evaluation
 * error (so the library attaches the source position), except the meter's
 * cost-limit error, which must pass through untouched.
 */
function guarded<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    try {
      return fn(...args);
    } catch (err) {
      if (err instanceof CelCostLimitError || err instanceof EvaluationError) throw err;
      throw new EvaluationError({ code: 'function_error', message: err instanceof Error ? err.message : String(err) });
    }
  };
}

function build(): Environment {
  const env = new Environment({
    enableOptionalTypes: true,
    // Kubernetes (cel-go) accepts mixed list/map literals as list(dyn)/map(dyn).
    homogeneousAggregateLiterals: false,
    limits: { maxAstNodes: 10_000, maxDepth: 100, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 },
  });

  // Typed variables.
  env.registerType('GroupVersionKind', { ctor: GroupVersionKind, fields: { group: 'string', version: 'string', kind: 'string' } });
  env.registerType('GroupVersionResource', { ctor: GroupVersionResource, fields: { group: 'string', version: 'string', resource: 'string' } });
  env.registerType('UserInfo', {
    ctor: UserInfo,
    fields: { username: 'string', uid: 'string', groups: 'list<string>', extra: 'map<string, list<string>>' },
  });
  env.registerType('AdmissionRequest', {
    ctor: AdmissionRequest,
    fields: {
      uid: 'string',
      kind: 'GroupVersionKind',
      resource: 'GroupVersionResource',
      subResource: 'string',
      requestKind: 'GroupVersionKind',
      requestResource: 'GroupVersionResource',
      requestSubResource: 'string',
      name: 'string',
      namespace: 'string',
      operation: 'string',
      userInfo: 'UserInfo',
      dryRun: 'bool',
      verb: 'string',
      path: 'string',
      cluster: 'string',
      labelSelector: 'string',
    },
  });
  env.registerType('Principal', {
    ctor: PrincipalValue,
    fields: { subject: 'string', groups: 'list<string>', kind: 'string', via: 'string', tokenId: 'string' },
  });
  env.registerVariable('object', 'dyn', { description: 'The object of the request; null for DELETE and CONNECT.' });
  env.registerVariable('oldObject', 'dyn', { description: 'The existing object for UPDATE and DELETE; null otherwise.' });
  env.registerVariable('namespaceObject', 'dyn', { description: 'The Namespace of a namespaced request; null otherwise.' });
  env.registerVariable('request', 'AdmissionRequest', { description: 'Attributes of the API request.' });
  env.registerVariable('principal', 'Principal', { description: 'Who is asking, as Gatehouse authenticated them.' });
  env.registerVariable('boundRole', 'dyn', { description: 'The Role or ClusterRole a binding write refers to, as stored; null otherwise.' });

  // Regex (RE2). `string.matches` is the library's own and uses JS RegExp: programs
  // re-route those calls to regexMatches when they are compiled (see instrument.ts).
  env.registerFunction('matches(string, string): bool', guarded(regexMatches));
  env.registerFunction('string.find(string): string', guarded(regexFind));
  env.registerFunction('string.findAll(string): list<string>', guarded((s: string, re: string) => regexFindAll(s, re)));
  env.registerFunction(
    'string.findAll(string, int): list<string>',
    guarded((s: string, re: string, n: bigint) => regexFindAll(s, re, n < 0n ? -1 : Number(n > 1_000_000n ? 1_000_000n : n))),
  );

  // Strings extension (the rest is built in).
  env.registerFunction('string.replace(string, string): string', guarded((s: string, a: string, b: string) => ext.replace(s, a, b)));
  env.registerFunction('string.replace(string, string, int): string', guarded(ext.replace));
  env.registerFunction('string.charAt(int): string', guarded(ext.charAt));
  env.registerFunction('string.reverse(): string', guarded(ext.reverseString));
  env.registerFunction('string.format(list): string', guarded(ext.format));

  // Lists extension.
  env.registerFunction('list<A>.isSorted(): bool', guarded(ext.isSorted));
  env.registerFunction('list<A>.sum(): A', guarded(ext.sum));
  env.registerFunction('list<A>.min(): A', guarded(ext.min));
  env.registerFunction('list<A>.max(): A', guarded(ext.max));
  env.registerFunction('list<A>.indexOf(A): int', guarded(ext.indexOf));
  env.registerFunction('list<A>.lastIndexOf(A): int', guarded(ext.lastIndexOf));
  env.registerFunction('list<A>.distinct(): list<A>', guarded(ext.distinct));
  env.registerFunction('list<A>.reverse(): list<A>', guarded(ext.reverseList));
  env.registerFunction('list<A>.slice(int, int): list<A>', guarded(ext.slice));
  env.registerFunction('list<list<A>>.flatten(): list<A>', guarded(ext.flatten));

  // Sets extension: `sets.f(…)` is a method call on the constant `sets`.
  env.registerType('SetsNamespace', ext.SetsNamespace);
  env.registerConstant('sets', 'SetsNamespace', new ext.SetsNamespace());
  env.registerFunction('SetsNamespace.contains(list, list): bool', guarded((_: unknown, a: unknown[], b: unknown[]) => ext.setsContains(a, b)));
  env.registerFunction('SetsNamespace.intersects(list, list): bool', guarded((_: unknown, a: unknown[], b: unknown[]) => ext.setsIntersects(a, b)));
  env.registerFunction('SetsNamespace.equivalent(list, list): bool', guarded((_: unknown, a: unknown[], b: unknown[]) => ext.setsEquivalent(a, b)));

  // Quantity.
  env.registerType('Quantity', { ctor: Quantity, fields: {} });
  env.registerFunction('quantity(string): Quantity', guarded(parseQuantityCached));
  env.registerFunction('isQuantity(string): bool', guarded(isQuantity));
  env.registerFunction('Quantity.sign(): int', guarded((q: Quantity) => q.sign()));
  env.registerFunction('Quantity.isInteger(): bool', guarded((q: Quantity) => q.isInteger()));
  env.registerFunction('Quantity.asInteger(): int', guarded((q: Quantity) => q.asInteger()));
  env.registerFunction('Quantity.asApproximateFloat(): double', guarded((q: Quantity) => q.asApproximateFloat()));
  env.registerFunction('Quantity.add(Quantity): Quantity', guarded((q: Quantity, o: Quantity) => q.add(o)));
  env.registerFunction('Quantity.add(int): Quantity', guarded((q: Quantity, n: bigint) => q.add(quantityFromInt(n))));
  env.registerFunction('Quantity.sub(Quantity): Quantity', guarded((q: Quantity, o: Quantity) => q.sub(o)));
  env.registerFunction('Quantity.sub(int): Quantity', guarded((q: Quantity, n: bigint) => q.sub(quantityFromInt(n))));
  env.registerFunction('Quantity.isLessThan(Quantity): bool', guarded((q: Quantity, o: Quantity) => q.compareTo(o) < 0n));
  env.registerFunction('Quantity.isGreaterThan(Quantity): bool', guarded((q: Quantity, o: Quantity) => q.compareTo(o) > 0n));
  env.registerFunction('Quantity.compareTo(Quantity): int', guarded((q: Quantity, o: Quantity) => q.compareTo(o)));
  // Registering == also gives !=.
  env.registerOperator('Quantity == Quantity', (a: Quantity, b: Quantity) => a.nanos === b.nanos);

  // URL.
  env.registerType('URL', { ctor: Url, fields: {} });
  env.registerFunction('url(string): URL', guarded(parseUrl));
  env.registerFunction(
    'isURL(string): bool',
    guarded((s: string) => {
      try {
        parseUrl(s);
        return true;
      } catch {
        return false;
      }
    }),
  );
  env.registerFunction('URL.getScheme(): string', guarded((u: Url) => u.scheme));
  env.registerFunction('URL.getHost(): string', guarded((u: Url) => u.host));
  env.registerFunction('URL.getHostname(): string', guarded((u: Url) => u.hostname()));
  env.registerFunction('URL.getPort(): string', guarded((u: Url) => u.port()));
  env.registerFunction('URL.getEscapedPath(): string', guarded((u: Url) => u.path));
  env.registerFunction('URL.getQuery(): map<string, list<string>>', guarded((u: Url) => u.query()));

  return env;
}

/** The shared environment. */
export const celEnv: Environment = build();
