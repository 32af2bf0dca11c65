/**
 * Compiles the common shapes of a type-checked CEL AST to JavaScript
 * closures: the guardrails' field selection, `has()`, `.?`/`orValue`,
 * `exists`/`all`/`map`/`filter`, `cel.bind`, `==`/`in`/`+` on JSON values.
 * The library's tree-walking interpreter spends most of a rule's time
 * dispatching between nodes; a closure tree does the same work directly.
 *
 * The closures cover the values a JSON object gives (null, bool, int,
 * double, string, list, map), read from the JSON variables unconverted
 * (see json()), and bail out — throw {@link BAIL} — on anything
 * else and on every error: a missing field, an operand of another type, a
 * non-bool condition. The program then evaluates the expression again with
 * the library, from a fresh meter, so every result that is not a plain
 * success (errors, error absorption by `||`/`exists`, type errors) is the
 * library's own. An expression with a node outside the covered shapes is not
 * compiled at all. The closures charge the meter exactly what the
 * instrumented library charges (the same functions from instrument.ts), so
 * costs and the cost limit are the same on both paths;
 * test/unit/policy/cel/closures.test.ts checks both against each other.
 */
import { Optional } from '@marcbachmann/cel-js';
import type { VARIABLES } from './env.js';
import { FAST_BINARY, NOT_FAST, chargeOperands, chargeOperator, optionalField, rangeSize, unitsPerItem, type Node } from './instrument.js';
import { charge } from './meter.js';
import { regexMatches } from './regex.js';
import { sharedKeyOf, sharedValue } from './shared.js';
import { AdmissionRequest, GroupVersionKind, GroupVersionResource, PrincipalValue, UserInfo, celNumber } from './values.js';

class Bail extends Error {}

/** Thrown by a closure that cannot give the library's answer itself (always this one object: throwing it allocates nothing). */
export const BAIL: Error = new Bail('evaluate with the CEL library');

/** A compiled expression: reads its variables from slots of a frame (the activation's variables first). */
export type Closure = (frame: unknown[]) => unknown;

export interface CompiledClosure {
  readonly run: Closure;
  /** Frame size: the activation's variables, then one slot per comprehension or `cel.bind` variable. */
  readonly slots: number;
}

type Scope = ReadonlyMap<string, number>;

/** A macro's data as the library keeps it on `meta.macro` (has, orValue, cel.bind). */
interface Macro {
  macroHasProps?: Node[];
  receiver?: Node;
  arg?: Node;
  var?: string;
  val?: Node;
  exp?: Node;
}

const TYPED: ReadonlySet<unknown> = new Set([AdmissionRequest, GroupVersionKind, GroupVersionResource, UserInfo, PrincipalValue]);

function bail(): never {
  throw BAIL;
}

/**
 * A value read out of a list or map. The JSON variables come in as given,
 * not converted to CEL values (converting a pod copied every part of it
 * that holds a number, a fifth of a policy decision); what is read from
 * them is converted here, one value at a time. So an integral number is an
 * int, as the conversion makes it; an integral double can then only come
 * from a literal, and expressions with one are not compiled (compileLiteral).
 * A hole in a list is null; what CEL cannot hold bails, and the library
 * reports it.
 */
function json(x: unknown): unknown {
  switch (typeof x) {
    case 'string':
    case 'boolean':
    case 'object':
    case 'bigint':
      return x;
    case 'number':
      return celNumber(x);
    case 'undefined':
      return null;
    default:
      return bail();
  }
}

/** A map's keys; a key whose value is undefined (which the conversion drops) bails. */
function keysOf(v: Record<string, unknown>): string[] {
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) if (v[keys[i]!] === undefined) bail();
  return keys;
}

/** A JSON object as the library sees a map (Maps from objects with `constructor` keys bail). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const ctor = v.constructor;
  return ctor === Object || ctor === undefined;
}

/**
 * Compiles `root` (checked and instrumented) over the variables in
 * `variables` (frame slots 0…); undefined when some node is outside the
 * covered shapes.
 */
export function compileClosure(root: Node, variables: readonly (typeof VARIABLES)[number][]): CompiledClosure | undefined {
  let slots = variables.length;
  const newSlot = (): number => slots++;
  const scope: Scope = new Map(variables.map((v, i) => [v, i]));
  const run = compileNode(root, scope, newSlot);
  return run === undefined ? undefined : { run, slots };
}

type NewSlot = () => number;

function compileNode(n: Node, scope: Scope, newSlot: NewSlot): Closure | undefined {
  const inner = compileBare(n, scope, newSlot);
  const key = sharedKeyOf(n);
  if (inner === undefined || key === undefined) return inner;
  return (f) => sharedValue(key, inner, f);
}

function compileBare(n: Node, scope: Scope, newSlot: NewSlot): Closure | undefined {
  const meta = n.meta;
  if (meta?.alternate !== undefined) return meta.alternate.op === 'comprehension' ? compileComprehension(n, meta.alternate, scope, newSlot) : undefined;
  if (meta?.macro !== undefined) return compileMacro(n, meta.macro as Macro, scope, newSlot);
  const c = (x: Node): Closure | undefined => compileNode(x, scope, newSlot);
  switch (n.op) {
    case 'value':
      return compileLiteral(n.args);
    case 'id': {
      const slot = typeof n.args === 'string' ? scope.get(n.args) : undefined;
      return slot === undefined ? undefined : (f) => f[slot];
    }
    case '.': {
      // `a.b.c` as one closure down the keys (stopping at a shared part).
      const keys: string[] = [];
      let base = n;
      while (base.op === '.' && (base === n || sharedKeyOf(base) === undefined)) {
        const [left, key] = base.args as [Node, string];
        keys.unshift(key);
        base = left;
      }
      const l = c(base);
      if (l === undefined) return undefined;
      if (keys.length === 1) {
        const key = keys[0]!;
        return (f) => field(l(f), key);
      }
      return (f) => {
        let v = l(f);
        for (let k = 0; k < keys.length; k++) v = field(v, keys[k]!);
        return v;
      };
    }
    case '.?': {
      const [left, key] = n.args as [Node, string];
      const l = c(left);
      return (
        l &&
        ((f) => {
          const v = optionalField(l(f), key);
          return v === NOT_FAST ? bail() : v;
        })
      );
    }
    case '[]': {
      const [left, index] = n.args as [Node, Node];
      const l = c(left);
      const i = c(index);
      return l && i && ((f) => element(l(f), i(f)));
    }
    case '?:': {
      const [cond, yes, no] = (n.args as Node[]).map(c);
      return cond && yes && no && ((f) => (bool(cond(f)) ? yes(f) : no(f)));
    }
    case '&&': {
      const [l, r] = (n.args as Node[]).map(c);
      return l && r && ((f) => bool(l(f)) && bool(r(f)));
    }
    case '||': {
      const [l, r] = (n.args as Node[]).map(c);
      return l && r && ((f) => bool(l(f)) || bool(r(f)));
    }
    case '!_': {
      const x = c(n.args as Node);
      return x && ((f) => !bool(x(f)));
    }
    case 'list': {
      const nodes = n.args as Node[];
      // A list of literals is built once (nothing mutates a list value).
      if (nodes.every((x) => x.op === 'value' && compileLiteral(x.args) !== undefined)) {
        const constant = Object.freeze(nodes.map((x) => x.args));
        return () => constant;
      }
      const items = nodes.map(c);
      if (!items.every((x) => x !== undefined)) return undefined;
      const run = items;
      return (f) => {
        const out = new Array<unknown>(run.length);
        for (let i = 0; i < run.length; i++) out[i] = run[i]!(f);
        return out;
      };
    }
    case 'map': {
      const entries = n.args as [Node, Node][];
      const keys = entries.map(([k]) => (k.op === 'value' && typeof k.args === 'string' ? k.args : undefined));
      // Literal string keys only, none the library would drop (it skips __proto__, constructor, prototype).
      if (keys.some((k) => k === undefined || k === '__proto__' || k === 'constructor' || k === 'prototype') || new Set(keys).size !== keys.length) return undefined;
      const values = entries.map(([, v]) => c(v));
      if (!values.every((x) => x !== undefined)) return undefined;
      return (f) => {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < keys.length; i++) out[keys[i]!] = values[i]!(f);
        return out;
      };
    }
    case 'rcall':
    case 'call':
      return compileCall(n, scope, newSlot);
    default:
      return compileOperator(n, c);
  }
}

function compileLiteral(v: unknown): Closure | undefined {
  // An integral double (`2.0`) would read as an int once in a list (see json()).
  if (typeof v === 'number' && Number.isInteger(v)) return undefined;
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'number') return () => v;
  return undefined;
}

/** `==`, `!=`, `in`, `+` with the library's fast paths; `<`… on two ints or two doubles. */
function compileOperator(n: Node, c: (x: Node) => Closure | undefined): Closure | undefined {
  const op = n.op;
  const compare = COMPARE[op];
  const fast = FAST_BINARY[op];
  if (compare === undefined && fast === undefined) return undefined;
  const [left, right] = n.args as [Node, Node];
  const l = c(left);
  const literal = op === 'in' ? stringLiterals(right) : undefined;
  if (l !== undefined && literal !== undefined) {
    // `x in ['a', 'b']`: a set look-up, charged as the list it is.
    const set = new Set(literal);
    return (f) => {
      const a = l(f);
      chargeOperator(op, a, literal);
      return typeof a === 'string' ? set.has(a) : bail();
    };
  }
  const r = c(right);
  if (l === undefined || r === undefined) return undefined;
  if (compare !== undefined) {
    return (f) => {
      const a = l(f);
      const b = r(f);
      chargeOperator(op, a, b);
      return (typeof a === 'bigint' && typeof b === 'bigint') || (typeof a === 'number' && typeof b === 'number') ? compare(a, b) : bail();
    };
  }
  const equality = op === '==' || op === '!=';
  return (f) => {
    const a = l(f);
    const b = r(f);
    chargeOperator(op, a, b);
    const v = fast!(a, b);
    if (v !== NOT_FAST) return v;
    // CEL equality of null and a JSON value of another type is false.
    if (equality && (a === null || b === null) && isJsonValue(a) && isJsonValue(b)) return (a === b) === (op === '==');
    return bail();
  };
}

/** The strings of a list literal of string literals. */
function stringLiterals(n: Node): readonly string[] | undefined {
  const items = n.op === 'list' ? (n.args as Node[]) : undefined;
  if (items === undefined || !items.every((x) => x.op === 'value' && typeof x.args === 'string')) return undefined;
  return Object.freeze(items.map((x) => x.args as string));
}

function isJsonValue(v: unknown): boolean {
  return v === null || typeof v !== 'object' || Array.isArray(v) || isPlainObject(v);
}

const COMPARE: Readonly<Record<string, (a: bigint | number, b: bigint | number) => boolean>> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

function bool(v: unknown): boolean {
  return typeof v === 'boolean' ? v : bail();
}

/** `a.b`: a field of a JSON object or of `request`/`principal`; anything else (a missing field) bails. */
function field(obj: unknown, key: string): unknown {
  if (obj !== null && typeof obj === 'object' && (isPlainObject(obj) || TYPED.has(obj.constructor)) && Object.hasOwn(obj, key)) {
    const v = (obj as Record<string, unknown>)[key];
    if (v !== undefined) return json(v);
  }
  return bail();
}

/** `a[i]`: a list element by int index, a map value by string key. */
function element(obj: unknown, index: unknown): unknown {
  if (Array.isArray(obj) && typeof index === 'bigint' && index >= 0n && index < BigInt(obj.length)) return json(obj[Number(index)]);
  if (typeof index === 'string' && isPlainObject(obj) && Object.hasOwn(obj, index)) {
    const v = obj[index];
    if (v !== undefined) return json(v);
  }
  return bail();
}

function compileMacro(n: Node, macro: Macro, scope: Scope, newSlot: NewSlot): Closure | undefined {
  const name = (n.args as [string])[0];
  if (n.op === 'call' && name === 'has' && macro.macroHasProps !== undefined) return compileHas(macro.macroHasProps, scope, newSlot);
  if (n.op === 'rcall' && name === 'orValue' && macro.receiver !== undefined && macro.arg !== undefined) {
    const dflt = compileNode(macro.arg, scope, newSlot);
    const chain = optionalChain(macro.receiver);
    if (chain !== undefined) {
      const base = compileNode(chain.base, scope, newSlot);
      return base && dflt && orValueOfChain(base, chain.keys, dflt);
    }
    const opt = compileNode(macro.receiver, scope, newSlot);
    return (
      opt &&
      dflt &&
      ((f) => {
        const o = opt(f);
        if (!(o instanceof Optional)) return bail();
        return o.hasValue() ? json(o.value()) : dflt(f);
      })
    );
  }
  if (n.op === 'rcall' && name === 'bind' && macro.var !== undefined && macro.val !== undefined && macro.exp !== undefined) {
    const val = compileNode(macro.val, scope, newSlot);
    const slot = newSlot();
    const exp = compileNode(macro.exp, new Map([...scope, [macro.var, slot]]), newSlot);
    return (
      val &&
      exp &&
      ((f) => {
        f[slot] = val(f);
        return exp(f);
      })
    );
  }
  return undefined;
}

/** `b.?k1.?k2…`: its base and the keys, in order; undefined for anything else. */
function optionalChain(n: Node): { base: Node; keys: string[] } | undefined {
  const keys: string[] = [];
  let x = n;
  while (x.op === '.?') {
    const [left, key] = x.args as [Node, string];
    keys.unshift(key);
    x = left;
  }
  return keys.length === 0 ? undefined : { base: x, keys };
}

/**
 * `b.?k1.?k2….orValue(d)` without an optional per step: the field if every
 * step finds one, else `d`. A step on null, a scalar or a list finds none
 * (as the library's optional selection); on anything but a JSON object
 * (a typed value, a Map) it bails.
 */
function orValueOfChain(base: Closure, keys: readonly string[], dflt: Closure): Closure {
  return (f) => {
    let v = base(f);
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return dflt(f);
      if (!isPlainObject(v)) return bail();
      const x = Object.hasOwn(v, key) ? v[key] : undefined;
      if (x === undefined) return dflt(f);
      v = x;
    }
    return json(v);
  };
}

/**
 * `has(a.b.c)`: false when the last field is missing, and when a field is
 * read from a value that has none (null, a string, a list), as the library
 * answers; a missing field before the last is an error (bail).
 */
function compileHas(props: Node[], scope: Scope, newSlot: NewSlot): Closure | undefined {
  // props: the outermost selection first, the variable last.
  const base = props.at(-1);
  const selects = props.slice(0, -1).reverse();
  if (base === undefined || !selects.every((s) => s.op === '.')) return undefined;
  const root = compileNode(base, scope, newSlot);
  const keys = selects.map((s) => (s.args as [Node, string])[1]);
  return (
    root &&
    ((f) => {
      let v = root(f);
      for (let i = 0; i < keys.length; i++) {
        if (isPlainObject(v)) v = Object.hasOwn(v, keys[i]!) ? v[keys[i]!] : undefined;
        else if (v === null || typeof v !== 'object' || Array.isArray(v)) v = undefined;
        else return bail();
        if (v === undefined) return i === keys.length - 1 ? false : bail();
      }
      return true;
    })
  );
}

type Loop = (items: readonly unknown[], f: unknown[]) => unknown;

/** The macros over a list or a map's keys, as the library expands them. */
function compileComprehension(n: Node, expansion: Node, scope: Scope, newSlot: NewSlot): Closure | undefined {
  const [name, receiver, args] = n.args as [string, Node, Node[]];
  const iterVar = (expansion.args as { iterVarName?: unknown }).iterVarName;
  if (n.op !== 'rcall' || typeof iterVar !== 'string') return undefined;
  const range = compileNode(receiver, scope, newSlot);
  const slot = newSlot();
  const inner = new Map([...scope, [iterVar, slot]]);
  const body = args.slice(1).map((a) => compileNode(a, inner, newSlot));
  if (range === undefined || !body.every((b) => b !== undefined)) return undefined;
  const [first, second] = body;
  const loop = loopOf(name, body.length, slot, first!, second);
  if (loop === undefined) return undefined;
  const perItem = unitsPerItem(expansion);
  return (f) => {
    const r = range(f);
    if (Array.isArray(r)) {
      charge(1 + r.length * perItem);
      return loop(r, f);
    }
    if (!isPlainObject(r)) {
      charge(1 + rangeSize(r) * perItem);
      return bail();
    }
    const keys = keysOf(r);
    charge(1 + keys.length * perItem);
    return loop(keys, f);
  };
}

// Index loops, here and in field chains: these closures run for every comprehension, and for…of left V8 allocating an
// iterator result per element (2.7 of the 13.4 KB a pod create's evaluation allocated).
function loopOf(name: string, arity: number, slot: number, first: Closure, second: Closure | undefined): Loop | undefined {
  if (name === 'exists' && arity === 1) {
    return (items, f) => {
      for (let i = 0; i < items.length; i++) {
        const x = json(items[i]);
        f[slot] = x;
        if (bool(first(f))) return true;
      }
      return false;
    };
  }
  if (name === 'all' && arity === 1) {
    return (items, f) => {
      for (let i = 0; i < items.length; i++) {
        const x = json(items[i]);
        f[slot] = x;
        if (!bool(first(f))) return false;
      }
      return true;
    };
  }
  if (name === 'exists_one' && arity === 1) {
    return (items, f) => {
      let count = 0;
      for (let i = 0; i < items.length; i++) {
        const x = json(items[i]);
        f[slot] = x;
        if (bool(first(f))) count++;
      }
      return count === 1;
    };
  }
  if (name === 'filter' && arity === 1) {
    return (items, f) => {
      const out: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const x = json(items[i]);
        f[slot] = x;
        if (bool(first(f))) out.push(x);
      }
      return out;
    };
  }
  if (name === 'map' && arity === 1) {
    return (items, f) => {
      const out: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const x = json(items[i]);
        f[slot] = x;
        out.push(first(f));
      }
      return out;
    };
  }
  if (name === 'map' && arity === 2 && second !== undefined) {
    return (items, f) => {
      const out: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const x = json(items[i]);
        f[slot] = x;
        if (bool(first(f))) out.push(second(f));
      }
      return out;
    };
  }
  return undefined;
}

/** String tests, `matches` (RE2), `split`, `size`, and optionals' `hasValue`/`value`. */
function compileCall(n: Node, scope: Scope, newSlot: NewSlot): Closure | undefined {
  const [name, receiver, args] = n.op === 'rcall' ? (n.args as [string, Node, Node[]]) : [(n.args as [string])[0], undefined, (n.args as [string, Node[]])[1]];
  const fn = receiver === undefined ? GLOBAL_FUNCTIONS[`${name}/${args.length}`] : METHODS[`${name}/${args.length}`];
  // Every covered function takes one or two values (the receiver counts).
  const parts = (receiver === undefined ? args : [receiver, ...args]).map((x) => compileNode(x, scope, newSlot));
  if (fn === undefined || !parts.every((p) => p !== undefined)) return undefined;
  const [first, second] = parts as [Closure, Closure | undefined];
  const b = second ?? ((): undefined => undefined);
  // `matches` is routed to RE2 by instrument.ts, which charges for the scan itself; other calls charge for their operands.
  const charged = !(receiver !== undefined && name === 'matches');
  return (f) => {
    const x = first(f);
    const y = b(f);
    if (charged) chargeOperands(x, y);
    return fn(x, y);
  };
}

type Fn = ((a: unknown) => unknown) | ((a: unknown, b: unknown) => unknown);

function strings(then: (a: string, b: string) => unknown): Fn {
  return (a: unknown, b: unknown) => (typeof a === 'string' && typeof b === 'string' ? then(a, b) : bail());
}

function size(v: unknown): bigint {
  if (typeof v === 'string') {
    // Code points, as the library counts them: a surrogate pair is one.
    let count = 0;
    for (let i = 0; i < v.length; i++, count++) {
      const c = v.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < v.length && (v.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    }
    return BigInt(count);
  }
  if (Array.isArray(v)) return BigInt(v.length);
  return isPlainObject(v) ? BigInt(keysOf(v).length) : bail();
}

const METHODS: Readonly<Record<string, Fn>> = {
  'contains/1': strings((a, b) => a.includes(b)),
  'startsWith/1': strings((a, b) => a.startsWith(b)),
  'endsWith/1': strings((a, b) => a.endsWith(b)),
  'matches/1': strings(regexMatches),
  'split/1': strings((a, b) => a.split(b)),
  'size/0': size,
  'hasValue/0': (o: unknown) => (o instanceof Optional ? o.hasValue() : bail()),
  'value/0': (o: unknown) => (o instanceof Optional && o.hasValue() ? json(o.value()) : bail()),
};

const GLOBAL_FUNCTIONS: Readonly<Record<string, Fn>> = {
  'size/1': size,
};
