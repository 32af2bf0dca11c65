/**
 * Compile-time pass over a type-checked AST:
 *
 * - validates literal arguments (regex patterns, quantities, URLs) so a typo
 *   is a compile error with a position, not a rule error on every request;
 * - re-routes `s.matches(re)` to RE2 (the library's own uses JS RegExp);
 * - wraps comprehension nodes so they charge the meter for their iterations,
 *   and operator and call nodes so they charge by operand size (meter.ts).
 *
 * It relies on the CEL library's AST shape: `op`, `args` and `meta` (public,
 * see the library's `ASTNode` type) and the `handle` function each
 * operator/call/comprehension node gets from the type checker (internal). The library version is pinned, and
 * the meter and RE2 tests fail if that shape changes.
 */
import { EvaluationError, Optional } from '@marcbachmann/cel-js';
import { INTERNAL_PREFIX } from './env.js';
import { MAX_RESULT_STRING_LENGTH } from './ext.js';
import { CelCostLimitError, charge, deepUnits, shallowUnits } from './meter.js';
import { parseQuantity } from './quantity.js';
import { compileRegex, regexMatches } from './regex.js';
import { parseUrl } from './url.js';

/** The parts of a library AST node this pass reads or writes. */
export interface Node {
  op: string;
  args: unknown;
  start: number;
  end: number;
  /** Macros (`all`, `exists`, `map`, …) expand to a `comprehension` node kept in `alternate`; `has`, `orValue`, `cel.bind` keep their parts in `macro`. */
  readonly meta?: { alternate?: Node; macro?: unknown };
  handle?: (...a: unknown[]) => unknown;
}

/** The parts of a comprehension node's `args` this pass reads. */
interface ComprehensionArgs {
  step?: unknown;
}

/** A problem found at compile time, with the source offset it refers to. */
export interface StaticIssue {
  message: string;
  offset: number;
}

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && 'op' in x && 'args' in x && typeof (x as Node).op === 'string';
}

/** Every node reachable through `args` (the user-written tree; macro expansions reuse these nodes). */
export function* walk(root: Node): Generator<Node> {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const x = stack.pop();
    if (Array.isArray(x)) {
      for (const y of x) stack.push(y);
    } else if (isNode(x)) {
      yield x;
      stack.push(x.args);
    }
  }
}

/** Every identifier the expression mentions. */
export function identifiers(root: Node): Set<string> {
  const ids = new Set<string>();
  for (const n of walk(root)) if (n.op === 'id' && typeof n.args === 'string') ids.add(n.args);
  return ids;
}

function literalString(n: unknown): string | undefined {
  return isNode(n) && n.op === 'value' && typeof n.args === 'string' ? n.args : undefined;
}

/** Calls as `[name, receiver | undefined, args]`. */
function callParts(n: Node): [string, Node | undefined, Node[]] | undefined {
  if (n.op === 'call') {
    const [name, args] = n.args as [string, Node[]];
    return [name, undefined, args];
  }
  if (n.op === 'rcall') {
    const [name, receiver, args] = n.args as [string, Node, Node[]];
    return [name, receiver, args];
  }
  return undefined;
}

const REGEX_FUNCTIONS = new Set(['matches', 'find', 'findAll']);

/** Checks that need no types: internal names and literal arguments. Run before type checking. */
export function staticIssues(root: Node): StaticIssue | undefined {
  for (const n of walk(root)) {
    const parts = callParts(n);
    if (!parts) {
      if (n.op === 'id' && typeof n.args === 'string' && n.args.startsWith(INTERNAL_PREFIX)) {
        return { message: `Unknown variable: ${n.args}`, offset: n.start };
      }
      continue;
    }
    const [name, receiver, args] = parts;
    if (name.startsWith(INTERNAL_PREFIX)) return { message: `Unknown function: ${name}`, offset: n.start };
    const pattern = REGEX_FUNCTIONS.has(name) ? literalString(receiver ? args[0] : args[1]) : undefined;
    if (pattern !== undefined) {
      const re = compileRegex(pattern);
      if (typeof re === 'string') return { message: re, offset: (receiver ? args[0] : args[1])?.start ?? n.start };
    }
    const arg0 = receiver ? undefined : literalString(args[0]);
    if (arg0 !== undefined && (name === 'quantity' || name === 'url')) {
      try {
        if (name === 'quantity') parseQuantity(arg0);
        else parseUrl(arg0);
      } catch (err) {
        return { message: (err as Error).message, offset: args[0]?.start ?? n.start };
      }
    }
  }
  return undefined;
}

const DEEP_OPS = new Set(['==', '!=', 'in']);
const BINARY_OPS = new Set(['==', '!=', 'in', '+', '-', '*', '/', '%', '<', '<=', '>', '>=']);

function noOverload(name: string, args: unknown[]): EvaluationError {
  const types = args.map((a) => (a === null ? 'null' : Array.isArray(a) ? 'list' : typeof a));
  return new EvaluationError({ code: 'no_matching_overload', message: `found no matching overload for '${name}' applied to (${types.join(', ')})` });
}

function rethrow(err: unknown, ast: unknown): never {
  if (err instanceof CelCostLimitError) throw err;
  const e = err instanceof EvaluationError ? err : new EvaluationError({ code: 'function_error', message: err instanceof Error ? err.message : String(err) });
  throw e.withAst(ast as never);
}

/**
 * Wraps the type-checked AST's operator and call nodes with meter charges,
 * and routes `matches` to RE2. Run once per program, after type checking.
 */
export function instrument(root: Node): void {
  for (const n of walk(root)) {
    const alternate = n.meta?.alternate;
    if (alternate?.op === 'comprehension') instrumentComprehension(alternate);
    const original = n.handle;
    if (typeof original !== 'function') continue;
    if (BINARY_OPS.has(n.op)) {
      const op = n.op;
      const fast = FAST_BINARY[op];
      n.handle = (l: unknown, r: unknown, ast: unknown, ev: unknown): unknown => {
        chargeOperator(op, l, r);
        const quick = fast === undefined ? NOT_FAST : fast(l, r);
        return quick !== NOT_FAST ? quick : original(l, r, ast, ev);
      };
      continue;
    }
    if (n.op === '.?') {
      // (receiver, field name, ast, ev); the field name is the node's own, not evaluated.
      n.handle = (l: unknown, key: unknown, ast: unknown, ev: unknown): unknown => {
        const quick = optionalField(l, key);
        return quick !== NOT_FAST ? quick : original(l, key, ast, ev);
      };
      continue;
    }
    const parts = callParts(n);
    if (!parts) continue;
    const [name, receiver, args] = parts;
    if (n.op === 'rcall' && name === 'matches' && args.length === 1) {
      // (values, ev, ast) for receiver calls; values[0] is the receiver.
      n.handle = (values: unknown, _ev: unknown, ast: unknown): unknown => {
        const [s, re] = values as unknown[];
        if (typeof s !== 'string' || typeof re !== 'string') throw noOverload('matches', values as unknown[]).withAst(ast as never);
        try {
          return regexMatches(s, re);
        } catch (err) {
          return rethrow(err, ast);
        }
      };
      continue;
    }
    const isJoin = receiver !== undefined && name === 'join';
    // call: (values, ast, ev); rcall: (values, ev, ast). Both take the evaluated values first.
    n.handle = (values: unknown, b: unknown, c: unknown): unknown => {
      chargeCall(values as unknown[], isJoin);
      return original(values, b, c);
    };
  }
}

/** What a binary operator costs: the deep size of the smaller side for `==`/`!=` (of the list for `in`) on two objects, else the operands' shallow sizes. */
export function chargeOperator(op: string, l: unknown, r: unknown): void {
  if (DEEP_OPS.has(op) && typeof l === 'object' && typeof r === 'object') charge(op === 'in' ? deepUnits(r) : Math.min(deepUnits(l), deepUnits(r)));
  else chargeOperands(l, r);
}

/** What a call or operator on one or two values costs by their shallow sizes (as {@link chargeCall}; `b` may be left out). */
export function chargeOperands(a: unknown, b?: unknown): void {
  charge(shallowUnits(a) + shallowUnits(b));
}

/** What a function call costs: its arguments' (and receiver's) shallow sizes, plus the result's length for `join`. */
function chargeCall(values: readonly unknown[], isJoin = false): void {
  let units = 0;
  for (const v of values) units += shallowUnits(v);
  if (isJoin) units += joinedLength(values);
  charge(units);
}

/** What a fast path answers when the library must decide. */
export const NOT_FAST: unique symbol = Symbol('not fast');

function isScalar(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'boolean' || t === 'bigint' || t === 'number';
}

const isString = (v: unknown): boolean => typeof v === 'string';

/**
 * Fast paths for operators on `dyn` operands (anything read from `object`):
 * the library picks their overload at run time from the operands' deep
 * types, which costs more than the operation. For the cases the guardrails
 * hit on every container the answer follows from `typeof` alone; each gives
 * exactly what the library's overload gives (CEL `==` of two values of one
 * scalar type is `===`; `in` a list compares with that `==`; list and
 * string `+` are concatenation), and anything else goes to the library.
 */
export const FAST_BINARY: Readonly<Record<string, (l: unknown, r: unknown) => unknown>> = {
  '==': (l, r) => (typeof l === typeof r && isScalar(l) ? l === r : NOT_FAST),
  '!=': (l, r) => (typeof l === typeof r && isScalar(l) ? l !== r : NOT_FAST),
  in: (l, r) => (typeof l === 'string' && Array.isArray(r) && r.every(isString) ? r.includes(l) : NOT_FAST),
  '+': (l, r) => (Array.isArray(l) && Array.isArray(r) ? (l as unknown[]).concat(r) : typeof l === 'string' && typeof r === 'string' ? l + r : NOT_FAST),
};

/**
 * `a.?b` on a JSON object (or an optional of one, or an empty optional): the field as an optional,
 * as the library's optional field selection gives it, without its run-time
 * type lookup and exception handling. Other receivers go to the library.
 */
export function optionalField(l: unknown, key: unknown): unknown {
  const obj = l instanceof Optional ? (l.orValue(undefined) as unknown) : l;
  // An empty optional's fields are empty (`a.?b.?c` with no `b`).
  if (obj === undefined) return Optional.none();
  if (typeof key !== 'string' || obj === null || typeof obj !== 'object' || (obj.constructor !== Object && obj.constructor !== undefined)) return NOT_FAST;
  const v = Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
  if (v === undefined) return Optional.none();
  if (v === null || isScalar(v) || Array.isArray(v) || (typeof v === 'object' && (v.constructor === Object || v.constructor === undefined))) return Optional.of(v);
  return NOT_FAST;
}

/**
 * A comprehension's handle gets the evaluated range first; charge
 * items × (1 + nodes in the body) before the library iterates.
 */
function instrumentComprehension(c: Node): void {
  const original = c.handle;
  if (typeof original !== 'function') throw new Error('comprehension node has no handle: CEL library shape changed');
  const perItem = unitsPerItem(c);
  c.handle = (items: unknown, args: unknown, ev: unknown, ctx: unknown): unknown => {
    charge(1 + rangeSize(items) * perItem);
    return original(items, args, ev, ctx);
  };
}

/** Units a comprehension node charges per item of its range: 1 + the nodes of its (expanded) step. */
export function unitsPerItem(c: Node): number {
  return 1 + [...walk((c.args as ComprehensionArgs).step as Node)].length;
}

/** Items a comprehension iterates: list elements, map keys. */
export function rangeSize(items: unknown): number {
  if (Array.isArray(items)) return items.length;
  if (items instanceof Map || items instanceof Set) return items.size;
  if (items !== null && typeof items === 'object') return Object.keys(items).length;
  return 0;
}

/** Characters `list.join()` would produce, checked against the result limit. */
function joinedLength(vs: readonly unknown[]): number {
  const list = vs[0];
  if (!Array.isArray(list)) return 0;
  let n = 0;
  for (const s of list) if (typeof s === 'string') n += s.length;
  if (typeof vs[1] === 'string') n += vs[1].length * Math.max(0, list.length - 1);
  if (n > MAX_RESULT_STRING_LENGTH) throw new EvaluationError({ code: 'function_error', message: `join result longer than ${MAX_RESULT_STRING_LENGTH} characters` });
  return Math.ceil(n / 16);
}
