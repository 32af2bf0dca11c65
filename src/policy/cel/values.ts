/**
 * Conversion between the gateway's JSON-shaped values and CEL values.
 *
 * In: Kubernetes decodes JSON integers as CEL `int` and other numbers as
 * `double`; JS has only `number`, so integral numbers become `bigint` and the
 * rest stay `number`. Only the parts of an object that need converting are
 * copied; the rest is shared with the input (which must not be mutated).
 * Objects with a `constructor` or `__proto__` key become `Map`s. `request` and `principal` become typed
 * values so that a typo like `request.operaton` fails at compile time.
 * A prepared activation (activation.ts) converts a request's values once for
 * every rule of a policy; they must not be mutated afterwards.
 *
 * Out: results become plain JS: `bigint` for int and uint, `number` for
 * double, arrays, plain objects for maps, `null` for an empty optional and
 * the optional's value otherwise, quantities and URLs as their strings.
 */
import { Optional } from '@marcbachmann/cel-js';
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { displayObject } from './ext.js';
import { Quantity } from './quantity.js';
import { Url } from './url.js';

/** Deepest nesting of input objects accepted. */
export const MAX_INPUT_DEPTH = 100;

/** Raised when an input value cannot be represented in CEL. */
export class CelInputError extends Error {
  override readonly name = 'CelInputError';
}

const INT64_LIMIT = 2 ** 63;

/**
 * A JSON number as CEL sees it: `int` (a bigint) when it is integral and
 * fits in 64 bits, else `double`. Idempotent on what it returns.
 *
 * @example
 * celNumber(3) // 3n
 * celNumber(0.5) // 0.5
 */
export function celNumber(v: number): bigint | number {
  return Number.isInteger(v) && Math.abs(v) < INT64_LIMIT ? BigInt(v) : v;
}

/**
 * Converts a JSON-like value to a CEL value (see module doc).
 *
 * @example
 * toCel({ replicas: 3, ratio: 0.5 }) // { replicas: 3n, ratio: 0.5 }
 */
export function toCel(v: unknown): unknown {
  inheritedKeys = Object.keys(Object.prototype).length > 0;
  return convert(v, 0);
}

/**
 * Whether `for…in` over a plain object can yield keys that are not its own
 * (something made properties of Object.prototype enumerable). Checked once
 * per conversion: an own-key check per key is a third of the conversion.
 */
let inheritedKeys = false;

/**
 * Checks, without converting, that `v` converts: throws the CelInputError
 * {@link toCel} would (nested too deep, a value CEL cannot hold). Compiled
 * code reads the JSON variables unconverted; this keeps input it
 * cannot judge failing closed wherever it is, as the conversion does.
 */
export function checkCelInput(v: unknown): void {
  inheritedKeys = Object.keys(Object.prototype).length > 0;
  check(v, 0);
}

/** Whether a value is a container to look into, or a scalar {@link check} must refuse. */
function needsCheck(x: unknown): boolean {
  const t = typeof x;
  return t === 'object' || t === 'function' || t === 'symbol';
}

function check(v: unknown, depth: number): void {
  if (typeof v !== 'object') {
    if (typeof v === 'function' || typeof v === 'symbol') throw unsupported(v);
    return;
  }
  if (v === null) return;
  if (depth >= MAX_INPUT_DEPTH) throw tooDeep();
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (needsCheck(v[i])) check(v[i], depth + 1);
    return;
  }
  const plain = Object.getPrototypeOf(v) === Object.prototype;
  if (!plain && v instanceof Uint8Array) return;
  if (!plain && v instanceof Map) {
    for (const [k, x] of v as Map<unknown, unknown>) {
      if (typeof k !== 'string') throw mapKeys();
      if (needsCheck(x)) check(x, depth + 1);
    }
    return;
  }
  const src = v as Record<string, unknown>;
  const ownCheck = !plain || inheritedKeys;
  for (const k in src) {
    if (ownCheck && !Object.hasOwn(src, k)) continue;
    const x = src[k];
    if (needsCheck(x)) check(x, depth + 1);
  }
}

const unsupported = (v: unknown): CelInputError => new CelInputError(`unsupported input value of type ${typeof v}`);
const tooDeep = (): CelInputError => new CelInputError(`input nested deeper than ${MAX_INPUT_DEPTH} levels`);
const mapKeys = (): CelInputError => new CelInputError('map input keys must be strings');

/** Sets `obj[k]`, keeping a `__proto__` key an own property rather than the prototype. */
export function put(obj: Record<string, unknown>, k: string, x: unknown): void {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: x, enumerable: true, writable: true, configurable: true });
  else obj[k] = x;
}


/**
 * Converts `v`, returning `v` itself when nothing in it needs converting:
 * subtrees without integral numbers or undefined values (labels,
 * annotations, most of a container) are shared with the input instead of
 * copied.
 */
function convert(v: unknown, depth: number): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'number':
      return celNumber(v);
    case 'undefined':
      return null;
    case 'object':
      break;
    default:
      throw unsupported(v);
  }
  if (v === null) return null;
  if (depth >= MAX_INPUT_DEPTH) throw tooDeep();
  if (Array.isArray(v)) {
    let arr: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const c = convert(x, depth + 1);
      if (c !== x && arr === undefined) arr = v.slice(0, i);
      if (arr !== undefined) arr.push(c);
    }
    return arr ?? v;
  }
  const plain = Object.getPrototypeOf(v) === Object.prototype;
  if (!plain && v instanceof Uint8Array) return v;
  if (!plain && v instanceof Map) return toMap(v, depth);
  const src = v as Record<string, unknown>;
  // Null-prototype and class instances are copied into plain objects (the CEL
  // library recognises maps by their constructor; V8 keeps null-prototype
  // objects in slow dictionary mode). A spread is V8's fastest copy.
  let obj: Record<string, unknown> | undefined = plain ? undefined : { ...src };
  const ownCheck = !plain || inheritedKeys;
  let undefinedValues = false;
  for (const k in src) {
    if (ownCheck && !Object.hasOwn(src, k)) continue;
    // The CEL library tells maps from other values by their `constructor`: such keys stay data in a Map.
    if (k === 'constructor' || k === '__proto__') return toMap(src, depth);
    const x = src[k];
    if (x === undefined) undefinedValues = true;
    else if (typeof x !== 'string') {
      const c = convert(x, depth + 1);
      if (c !== x) (obj ??= { ...src })[k] = c;
    }
  }
  // Undefined values are missing fields: a copy leaves them out (the library's type checks refuse undefined).
  if (undefinedValues) {
    obj ??= { ...src };
    for (const k of Object.keys(obj)) if (obj[k] === undefined) delete obj[k];
  }
  return obj ?? v;
}

function toMap(v: Map<unknown, unknown> | Record<string, unknown>, depth: number): Map<string, unknown> {
  const map = new Map<string, unknown>();
  const entries = v instanceof Map ? v.entries() : Object.entries(v);
  for (const [k, x] of entries) {
    if (typeof k !== 'string') throw mapKeys();
    if (x !== undefined) map.set(k, convert(x, depth + 1));
  }
  return map;
}

// ---------------------------------------------------------------------------
// Typed variables. Field types are declared in env.ts; missing fields get the
// zero value, as Kubernetes' typed `request` variable has them.

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function rec(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

/** `request.kind`, `request.requestKind`. */
export class GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  constructor(v: unknown) {
    const o = rec(v);
    this.group = str(o.group);
    this.version = str(o.version);
    this.kind = str(o.kind);
  }
}

/** `request.resource`. */
export class GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  constructor(v: unknown) {
    const o = rec(v);
    this.group = str(o.group);
    this.version = str(o.version);
    this.resource = str(o.resource);
  }
}

/** `request.userInfo`. */
export class UserInfo {
  readonly username: string;
  readonly uid: string;
  readonly groups: string[];
  readonly extra: Record<string, string[]>;
  constructor(v: unknown) {
    const o = rec(v);
    this.username = str(o.username);
    this.uid = str(o.uid);
    this.groups = strList(o.groups);
    const extra: Record<string, string[]> = {};
    for (const [k, x] of Object.entries(rec(o.extra))) put(extra, k, strList(x));
    this.extra = extra;
  }
}

/**
 * The `request` variable: Kubernetes AdmissionRequest fields, plus Gatehouse's
 * `verb` (the classified API verb, e.g. `get`, `patch`), `path`, `cluster`
 * and `labelSelector`.
 * `requestKind`/`requestResource`/`requestSubResource` default to
 * `kind`/`resource`/`subResource`.
 */
export class AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource: string;
  readonly requestKind: GroupVersionKind;
  readonly requestResource: GroupVersionResource;
  readonly requestSubResource: string;
  readonly name: string;
  readonly namespace: string;
  readonly operation: string;
  readonly userInfo: UserInfo;
  readonly dryRun: boolean;
  readonly verb: string;
  readonly path: string;
  readonly cluster: string;
  readonly labelSelector: string;
  constructor(v: unknown) {
    const o = rec(v);
    this.uid = str(o.uid);
    this.kind = new GroupVersionKind(o.kind);
    this.resource = new GroupVersionResource(o.resource);
    this.subResource = str(o.subResource);
    this.requestKind = o.requestKind === undefined ? this.kind : new GroupVersionKind(o.requestKind);
    this.requestResource = o.requestResource === undefined ? this.resource : new GroupVersionResource(o.requestResource);
    this.requestSubResource = o.requestSubResource === undefined ? this.subResource : str(o.requestSubResource);
    this.name = str(o.name);
    this.namespace = str(o.namespace);
    this.operation = str(o.operation);
    this.userInfo = new UserInfo(o.userInfo);
    this.dryRun = o.dryRun === true;
    this.verb = str(o.verb);
    this.path = str(o.path);
    this.cluster = str(o.cluster);
    this.labelSelector = str(o.labelSelector);
  }
}

/** The `principal` variable (Gatehouse identity). `tokenId` is `''` when no token was used. */
export class PrincipalValue {
  readonly subject: string;
  readonly groups: string[];
  readonly kind: string;
  readonly via: string;
  readonly tokenId: string;
  constructor(v: unknown) {
    const o = rec(v);
    this.subject = str(o.subject);
    this.groups = strList(o.groups);
    this.kind = str(o.kind);
    this.via = str(o.via);
    this.tokenId = str(o.tokenId);
  }
}

const EMPTY_REQUEST = new AdmissionRequest(undefined);
const EMPTY_PRINCIPAL = new PrincipalValue(undefined);

/** The typed `request` value for an AdmissionRequest-shaped object. */
export function toRequest(v: unknown): AdmissionRequest {
  return v === null || typeof v !== 'object' ? EMPTY_REQUEST : new AdmissionRequest(v);
}

/** The typed `principal` value. */
export function toPrincipal(v: unknown): PrincipalValue {
  return v === null || typeof v !== 'object' ? EMPTY_PRINCIPAL : new PrincipalValue(v);
}

// ---------------------------------------------------------------------------
// Out

/**
 * Converts a CEL result to plain JS (see module doc).
 *
 * @example
 * fromCel(Optional.none()) // null
 */
export function fromCel(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(fromCel);
  if (v instanceof Optional) return v.hasValue() ? fromCel(v.value()) : null;
  if (v instanceof Quantity || v instanceof Url) return v.toString();
  if (v instanceof Uint8Array) return v;
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v as Map<unknown, unknown>) put(out, String(k), fromCel(x));
    return out;
  }
  const ctor = (v as { constructor?: unknown }).constructor;
  if (ctor === undefined || ctor === Object) return plainObject(v);
  if (v instanceof UnsignedInt) return v.valueOf();
  if (v instanceof GroupVersionKind || v instanceof GroupVersionResource || v instanceof UserInfo || v instanceof AdmissionRequest || v instanceof PrincipalValue) {
    return plainObject(v);
  }
  return displayObject(v);
}

/** Copies an object's own enumerable properties into a plain object. */
function plainObject(v: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) put(out, k, fromCel((v as Record<string, unknown>)[k]));
  return out;
}
