/**
 * Compiles the common shapes of a type-checked CEL AST to one JavaScript
 * function per expression: the guardrails' field selection, `has()`,
 * `.?`/`orValue`, `exists`/`all`/`map`/`filter`, `cel.bind`, `==`/`in`/`+`
 * on JSON values. The library's tree-walking interpreter spends most of a
 * rule's time dispatching between nodes. A tree of closures removed the
 * dispatch but kept a call per node, and its shared helpers saw every
 * rule's objects, so V8 could not specialise their property reads. The
 * generated source reads each field where the expression names it, loops
 * over lists in place, and calls only small helpers V8 inlines.
 *
 * The generated code covers the values a JSON object gives (null, bool,
 * int, double, string, list, map), read from the JSON variables unconverted
 * (see json()), and bails out — throws {@link BAIL} — on anything else and
 * on every error: a missing field, an operand of another type, a non-bool
 * condition. The program then evaluates the expression again with the
 * library, from a fresh meter, so every result that is not a plain success
 * (errors, error absorption by `||`/`exists`, type errors) is the library's
 * own. An expression with a node outside the covered shapes is not compiled
 * at all. The generated code charges the meter exactly what the
 * instrumented library charges (the same functions from instrument.ts), so
 * costs and the cost limit are the same on both paths;
 * test/unit/policy/cel/codegen.test.ts checks both against each other.
 *
 * Nothing from the expression's text reaches the generated source but field
 * names that are plain identifiers (as JSON string literals) and the fixed
 * operator spellings of this file; every other literal is a constant the
 * function receives.
 */
import { Optional } from '@marcbachmann/cel-js';
import type { VARIABLES } from './env.js';
import { FAST_BINARY, NOT_FAST, chargeOperands, chargeOperator, optionalField, rangeSize, unitsPerItem, type Node } from './instrument.js';
import { charge } from './meter.js';
import { regexMatches } from './regex.js';
import { sharedKeyOf, sharedValue } from './shared.js';
import { AdmissionRequest, GroupVersionKind, GroupVersionResource, PrincipalValue, UserInfo, celNumber } from './values.js';

class Bail extends Error {}

/** Thrown by compiled code that cannot give the library's answer itself (always this one object: throwing it allocates nothing). */
export const BAIL: Error = new Bail('evaluate with the CEL library');

/** A compiled expression: reads its variables from slots of a frame (the activation's variables first). */
export type CompiledFunction = (frame: unknown[]) => unknown;

export interface CompiledCode {
  readonly run: CompiledFunction;
  /** Frame size: the activation's variables, then one slot per comprehension or `cel.bind` variable. */
  readonly slots: number;
  /** The generated function's source (for tests and for reading what an expression became). */
  readonly source: string;
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
 * from a literal, and expressions with one are not compiled (literal()).
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

/** Whether `a.b` may read a field of `v`: a JSON object or `request`/`principal` and their parts. */
function hasFields(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && (isPlainObject(v) || TYPED.has(v.constructor));
}

function bool(v: unknown): boolean {
  return typeof v === 'boolean' ? v : bail();
}

/** `a.?b` as an optional, or bail where the library must answer. */
function optional(l: unknown, key: string): unknown {
  const v = optionalField(l, key);
  return v === NOT_FAST ? bail() : v;
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

function isJsonValue(v: unknown): boolean {
  return v === null || typeof v !== 'object' || Array.isArray(v) || isPlainObject(v);
}

/** `==`/`!=`/`in`/`+` past their fast path: CEL equality of null and a JSON value of another type is false; the rest bails. */
function slowBinary(op: string, a: unknown, b: unknown): boolean {
  if ((op === '==' || op === '!=') && (a === null || b === null) && isJsonValue(a) && isJsonValue(b)) return (a === b) === (op === '==');
  return bail();
}

/** Orders two ints or two doubles; anything else bails. */
function ordered(a: unknown, b: unknown): boolean {
  return (typeof a === 'bigint' && typeof b === 'bigint') || (typeof a === 'number' && typeof b === 'number') ? true : bail();
}

/** A range a comprehension iterates: a list, or a map's keys; charged before the loop (as instrument.ts charges the library's). */
function rangeOf(r: unknown, perItem: number): readonly unknown[] {
  if (Array.isArray(r)) {
    charge(1 + r.length * perItem);
    return r;
  }
  if (!isPlainObject(r)) {
    charge(1 + rangeSize(r) * perItem);
    return bail();
  }
  const keys = keysOf(r);
  charge(1 + keys.length * perItem);
  return keys;
}

function orValueOf(o: unknown): unknown {
  return o instanceof Optional ? o : bail();
}

/** What the generated code calls, by the names it calls them. */
const RUNTIME = {
  $bail: bail,
  $json: json,
  $bool: bool,
  $isPlainObject: isPlainObject,
  $hasFields: hasFields,
  $hasOwn: Object.hasOwn,
  $optional: optional,
  $element: element,
  $orValueOf: orValueOf,
  $chargeOperator: chargeOperator,
  $chargeOperands: chargeOperands,
  $NOT_FAST: NOT_FAST,
  $slowBinary: slowBinary,
  $ordered: ordered,
  $rangeOf: rangeOf,
  $sharedValue: sharedValue,
} as const;
const RUNTIME_NAMES = Object.keys(RUNTIME);
const RUNTIME_VALUES = Object.values(RUNTIME);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One expression's generated source: its functions, constants and frame slots. */
class Emitter {
  readonly constants: unknown[] = [];
  readonly functions: string[] = [];
  slots: number;

  constructor(variables: number) {
    this.slots = variables;
  }

  newSlot(): number {
    return this.slots++;
  }

  /** A constant the code reads (any value; never spelled into the source). */
  constant(v: unknown): string {
    this.constants.push(v);
    return `K[${this.constants.length - 1}]`;
  }

  /**
   * A field: its name as an expression, and how to read it from `v`. An
   * identifier is spelled out (V8 reads `v.spec` as a named property, with
   * what it learns kept for this one place); any other name is a constant.
   */
  field(k: string): { name: string; read: string } {
    if (IDENTIFIER.test(k)) return { name: JSON.stringify(k), read: `v.${k}` };
    const name = this.constant(k);
    return { name, read: `v[${name}]` };
  }

  /** A function of the frame with this body; returns its name. */
  function(body: string): string {
    const name = `g${this.functions.length}`;
    this.functions.push(`function ${name}(f) {\n${body}\n}`);
    return name;
  }

  /** The same, called: the expression giving its value. */
  hoist(body: string): string {
    return `${this.function(body)}(f)`;
  }
}

/**
 * Compiles `root` (checked and instrumented) over the variables in
 * `variables` (frame slots 0…); undefined when some node is outside the
 * covered shapes.
 */
export function compileCode(root: Node, variables: readonly (typeof VARIABLES)[number][]): CompiledCode | undefined {
  const emitter = new Emitter(variables.length);
  const scope: Scope = new Map(variables.map((v, i) => [v, i]));
  const body = compileNode(root, scope, emitter);
  if (body === undefined) return undefined;
  const source = `"use strict";\n${emitter.functions.join('\n')}\nreturn function run(f) {\nreturn ${body};\n};`;
  let run: CompiledFunction;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the source is built from this file's templates only (see the module comment)
    const factory = new Function(...RUNTIME_NAMES, 'K', source) as (...a: unknown[]) => CompiledFunction;
    run = factory(...RUNTIME_VALUES, emitter.constants);
  } catch {
    // Code generation disallowed (--disallow-code-generation-from-strings, an EvalError), or a source this file got
    // wrong: either way the library, the reference, evaluates. codegen.test.ts compiles every shipped expression, so
    // a wrong source shows there rather than as a slower policy.
    return undefined;
  }
  return { run, slots: emitter.slots, source };
}

/** A node as a JavaScript expression over the frame `f`; undefined when it is outside the covered shapes. */
type Code = string | undefined;

function compileNode(n: Node, scope: Scope, e: Emitter): Code {
  const inner = compileBare(n, scope, e);
  const key = sharedKeyOf(n);
  if (inner === undefined || key === undefined) return inner;
  return `$sharedValue(${e.constant(key)}, ${e.function(`return ${inner};`)}, f)`;
}

function compileBare(n: Node, scope: Scope, e: Emitter): Code {
  const meta = n.meta;
  if (meta?.alternate !== undefined) return meta.alternate.op === 'comprehension' ? compileComprehension(n, meta.alternate, scope, e) : undefined;
  if (meta?.macro !== undefined) return compileMacro(n, meta.macro as Macro, scope, e);
  const c = (x: Node): Code => compileNode(x, scope, e);
  switch (n.op) {
    case 'value':
      return literal(n.args, e);
    case 'id': {
      const slot = typeof n.args === 'string' ? scope.get(n.args) : undefined;
      return slot === undefined ? undefined : `f[${slot}]`;
    }
    case '.': {
      // `a.b.c` as one function down the keys (stopping at a shared part).
      const keys: string[] = [];
      let base = n;
      while (base.op === '.' && (base === n || sharedKeyOf(base) === undefined)) {
        const [left, key] = base.args as [Node, string];
        keys.unshift(key);
        base = left;
      }
      const l = c(base);
      if (l === undefined) return undefined;
      // A missing field, or one read from a value that has none, bails (the library reports the error).
      const steps = keys.map((k) => {
        const { name, read } = e.field(k);
        return `if (!$hasFields(v) || !$hasOwn(v, ${name})) return $bail();\nv = ${read};\nif (v === undefined) return $bail();`;
      });
      return e.hoist(`let v = ${l};\n${steps.join('\n')}\nreturn $json(v);`);
    }
    case '.?': {
      const [left, key] = n.args as [Node, string];
      const l = c(left);
      return l && `$optional(${l}, ${e.field(key).name})`;
    }
    case '[]': {
      const [left, index] = n.args as [Node, Node];
      const l = c(left);
      const i = c(index);
      return l && i && `$element(${l}, ${i})`;
    }
    case '?:': {
      const [cond, yes, no] = (n.args as Node[]).map(c);
      return cond && yes && no && `($bool(${cond}) ? ${yes} : ${no})`;
    }
    case '&&':
    case '||': {
      const [l, r] = (n.args as Node[]).map(c);
      return l && r && `($bool(${l}) ${n.op} $bool(${r}))`;
    }
    case '!_': {
      const x = c(n.args as Node);
      return x && `!$bool(${x})`;
    }
    case 'list': {
      const nodes = n.args as Node[];
      // A list of literals is made once (nothing mutates a list value).
      if (nodes.every((x) => x.op === 'value' && literal(x.args, e) !== undefined)) return e.constant(Object.freeze(nodes.map((x) => x.args)));
      const items = nodes.map(c);
      return items.every((x) => x !== undefined) ? `[${items.join(', ')}]` : undefined;
    }
    case 'map': {
      const entries = n.args as [Node, Node][];
      const keys = entries.map(([k]) => (k.op === 'value' && typeof k.args === 'string' ? k.args : undefined));
      // Literal string keys only, none the library would drop (it skips __proto__, constructor, prototype).
      if (keys.some((k) => k === undefined || k === '__proto__' || k === 'constructor' || k === 'prototype') || new Set(keys).size !== keys.length) return undefined;
      const values = entries.map(([, v]) => c(v));
      if (!values.every((x) => x !== undefined)) return undefined;
      return `{ ${keys.map((k, i) => `[${e.constant(k)}]: ${values[i]!}`).join(', ')} }`;
    }
    case 'rcall':
    case 'call':
      return compileCall(n, scope, e);
    default:
      return compileOperator(n, c, e);
  }
}

function literal(v: unknown, e: Emitter): Code {
  // An integral double (`2.0`) would read as an int once in a list (see json()).
  if (typeof v === 'number' && Number.isInteger(v)) return undefined;
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'string' || typeof v === 'bigint' || typeof v === 'number') return e.constant(v);
  return undefined;
}

/** `<`… on two ints or two doubles (spelled as they are in JavaScript). */
const COMPARE: ReadonlySet<string> = new Set(['<', '<=', '>', '>=']);

/** `==`, `!=`, `in`, `+` with the library's fast paths; `<`… on two ints or two doubles. */
function compileOperator(n: Node, c: (x: Node) => Code, e: Emitter): Code {
  const op = n.op;
  const fast = FAST_BINARY[op];
  if (!COMPARE.has(op) && fast === undefined) return undefined;
  const [left, right] = n.args as [Node, Node];
  const l = c(left);
  const name = e.constant(op);
  const literals = op === 'in' ? stringLiterals(right) : undefined;
  if (l !== undefined && literals !== undefined) {
    // `x in ['a', 'b']`: a set look-up, charged as the list it is.
    return e.hoist(`const a = ${l};\n$chargeOperator(${name}, a, ${e.constant(literals)});\nreturn typeof a === 'string' ? ${e.constant(new Set(literals))}.has(a) : $bail();`);
  }
  const r = c(right);
  if (l === undefined || r === undefined) return undefined;
  const operands = `const a = ${l};\nconst b = ${r};\n$chargeOperator(${name}, a, b);`;
  if (COMPARE.has(op)) return e.hoist(`${operands}\nreturn $ordered(a, b) && a ${op} b;`);
  return e.hoist(`${operands}\nconst v = ${e.constant(fast)}(a, b);\nreturn v !== $NOT_FAST ? v : $slowBinary(${name}, a, b);`);
}

/** The strings of a list literal of string literals. */
function stringLiterals(n: Node): readonly string[] | undefined {
  const items = n.op === 'list' ? (n.args as Node[]) : undefined;
  if (items === undefined || !items.every((x) => x.op === 'value' && typeof x.args === 'string')) return undefined;
  return Object.freeze(items.map((x) => x.args as string));
}

function compileMacro(n: Node, macro: Macro, scope: Scope, e: Emitter): Code {
  const name = (n.args as [string])[0];
  if (n.op === 'call' && name === 'has' && macro.macroHasProps !== undefined) return compileHas(macro.macroHasProps, scope, e);
  if (n.op === 'rcall' && name === 'orValue' && macro.receiver !== undefined && macro.arg !== undefined) {
    const dflt = compileNode(macro.arg, scope, e);
    const chain = optionalChain(macro.receiver);
    if (chain !== undefined) {
      const base = compileNode(chain.base, scope, e);
      return base && dflt && orValueOfChain(base, chain.keys, dflt, e);
    }
    const opt = compileNode(macro.receiver, scope, e);
    return opt && dflt && e.hoist(`const o = $orValueOf(${opt});\nreturn o.hasValue() ? $json(o.value()) : ${dflt};`);
  }
  if (n.op === 'rcall' && name === 'bind' && macro.var !== undefined && macro.val !== undefined && macro.exp !== undefined) {
    const val = compileNode(macro.val, scope, e);
    const slot = e.newSlot();
    const exp = compileNode(macro.exp, new Map([...scope, [macro.var, slot]]), e);
    return val && exp && `(f[${slot}] = ${val}, ${exp})`;
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
function orValueOfChain(base: string, keys: readonly string[], dflt: string, e: Emitter): string {
  // The default is spelled once per step; a long one is a function of its own.
  const d = dflt.length > 40 ? e.hoist(`return ${dflt};`) : dflt;
  const steps = keys.map((k) => {
    const { name, read } = e.field(k);
    return `if (v === null || typeof v !== 'object' || Array.isArray(v)) return ${d};\nif (!$isPlainObject(v)) return $bail();\nv = $hasOwn(v, ${name}) ? ${read} : undefined;\nif (v === undefined) return ${d};`;
  });
  return e.hoist(`let v = ${base};\n${steps.join('\n')}\nreturn $json(v);`);
}

/**
 * `has(a.b.c)`: false when the last field is missing, and when a field is
 * read from a value that has none (null, a string, a list), as the library
 * answers; a missing field before the last is an error (bail).
 */
function compileHas(props: Node[], scope: Scope, e: Emitter): Code {
  // props: the outermost selection first, the variable last.
  const base = props.at(-1);
  const selects = props.slice(0, -1).reverse();
  if (base === undefined || !selects.every((s) => s.op === '.')) return undefined;
  const root = compileNode(base, scope, e);
  if (root === undefined) return undefined;
  const keys = selects.map((s) => (s.args as [Node, string])[1]);
  const steps = keys.map((k, i) => {
    const { name, read } = e.field(k);
    return `if ($isPlainObject(v)) v = $hasOwn(v, ${name}) ? ${read} : undefined;\nelse if (v === null || typeof v !== 'object' || Array.isArray(v)) v = undefined;\nelse return $bail();\nif (v === undefined) return ${i === keys.length - 1 ? 'false' : '$bail()'};`;
  });
  return e.hoist(`let v = ${root};\n${steps.join('\n')}\nreturn true;`);
}

/** The macros over a list or a map's keys, as the library expands them. */
function compileComprehension(n: Node, expansion: Node, scope: Scope, e: Emitter): Code {
  const [name, receiver, args] = n.args as [string, Node, Node[]];
  const iterVar = (expansion.args as { iterVarName?: unknown }).iterVarName;
  if (n.op !== 'rcall' || typeof iterVar !== 'string') return undefined;
  const range = compileNode(receiver, scope, e);
  const slot = e.newSlot();
  const inner = new Map([...scope, [iterVar, slot]]);
  const body = args.slice(1).map((a) => compileNode(a, inner, e));
  if (range === undefined || !body.every((b) => b !== undefined)) return undefined;
  const loop = loopOf(name, body);
  if (loop === undefined) return undefined;
  // Index loops: for…of left V8 allocating an iterator result per element.
  return e.hoist(
    `const items = $rangeOf(${range}, ${unitsPerItem(expansion)});\n${loop.before}\nfor (let i = 0; i < items.length; i++) {\nconst x = $json(items[i]);\nf[${slot}] = x;\n${loop.each}\n}\n${loop.after}`,
  );
}

/** A comprehension's loop, around `x`, the item (also in its frame slot). */
function loopOf(name: string, [first, second]: string[]): { before: string; each: string; after: string } | undefined {
  if (first === undefined) return undefined;
  if (second === undefined) {
    switch (name) {
      case 'exists':
        return { before: '', each: `if ($bool(${first})) return true;`, after: 'return false;' };
      case 'all':
        return { before: '', each: `if (!$bool(${first})) return false;`, after: 'return true;' };
      case 'exists_one':
        return { before: 'let count = 0;', each: `if ($bool(${first})) count++;`, after: 'return count === 1;' };
      case 'filter':
        return { before: 'const out = [];', each: `if ($bool(${first})) out.push(x);`, after: 'return out;' };
      case 'map':
        return { before: 'const out = [];', each: `out.push(${first});`, after: 'return out;' };
      default:
        return undefined;
    }
  }
  return name === 'map' ? { before: 'const out = [];', each: `if ($bool(${first})) out.push(${second});`, after: 'return out;' } : undefined;
}

/** String tests, `matches` (RE2), `split`, `size`, and optionals' `hasValue`/`value`. */
function compileCall(n: Node, scope: Scope, e: Emitter): Code {
  const [name, receiver, args] = n.op === 'rcall' ? (n.args as [string, Node, Node[]]) : [(n.args as [string])[0], undefined, (n.args as [string, Node[]])[1]];
  const fn = receiver === undefined ? GLOBAL_FUNCTIONS[`${name}/${args.length}`] : METHODS[`${name}/${args.length}`];
  // Every covered function takes one or two values (the receiver counts).
  const parts = (receiver === undefined ? args : [receiver, ...args]).map((x) => compileNode(x, scope, e));
  if (fn === undefined || !parts.every((p) => p !== undefined)) return undefined;
  const [first, second] = parts as [string, string | undefined];
  // `matches` is routed to RE2 by instrument.ts, which charges for the scan itself; other calls charge for their operands.
  const charged = !(receiver !== undefined && name === 'matches');
  return e.hoist(`const x = ${first};\nconst y = ${second ?? 'undefined'};\n${charged ? '$chargeOperands(x, y);\n' : ''}return ${e.constant(fn)}(x, y);`);
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
