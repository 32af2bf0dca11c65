/**
 * Subexpressions shared between the rules of a policy, evaluated once per
 * request. The guardrails repeat the same pieces of `object` in rule after
 * rule (every container of the pod:
 * `(has(object.spec.containers) ? object.spec.containers : []) + …`); a
 * closed subexpression — one that reads `object` and nothing bound inside
 * the expression — has one value per request, so the first rule to evaluate
 * it keeps the value for the others in the request's prepared activation
 * (activation.ts), keyed by the subexpression's syntax tree, not its
 * spelling: rules that write it with other spaces, line breaks or
 * parentheses share it too.
 *
 * A kept value charges the meter what computing it cost, so every rule
 * costs what it would without sharing and the cost limit fails the same
 * expressions. Errors are not kept (they carry their own expression's source
 * position), and neither are asynchronous results. Values are immutable,
 * like the converted object they come from.
 */
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import type { Node } from './instrument.js';
import { identifiers, walk } from './instrument.js';
import { charge, remainingUnits } from './meter.js';

/** Smallest subexpression worth keeping (AST nodes): below this a look-up costs about what evaluating does. */
const MIN_NODES = 8;

/** Functions whose first argument names a variable bound inside the expression. */
const BINDERS: ReadonlySet<string> = new Set(['all', 'exists', 'exists_one', 'map', 'filter', 'bind']);

export interface Kept {
  readonly value: unknown;
  readonly cost: number;
}

let current: Map<string, Kept> | undefined;

/**
 * Makes a request's shared values (its prepared activation's) available to
 * the evaluation that follows; undefined shares nothing (no object).
 */
export function shareFor(table: Map<string, Kept> | undefined): void {
  current = table;
}

/** Ends sharing after an evaluation, so nothing outside one reads a request's values. */
export function stopSharing(): void {
  current = undefined;
}

/**
 * Marks the maximal closed subexpressions over `object` of a type-checked,
 * instrumented AST so they are shared (see module doc). An expression that
 * binds a variable named `object` (`l.exists(object, …)`) shares nothing.
 */
export function shareSubexpressions(root: Node): void {
  for (const n of walk(root)) if (bindsObject(n)) return;
  const facts = new Map<Node, { objectOnly: boolean; size: number }>();
  const factsOf = (n: Node): { objectOnly: boolean; size: number } => {
    let f = facts.get(n);
    if (f !== undefined) return f;
    let objectOnly = n.op !== 'id' || n.args === 'object';
    let size = 1;
    for (const child of children(n)) {
      const c = factsOf(child);
      objectOnly &&= c.objectOnly;
      size += c.size;
    }
    facts.set(n, (f = { objectOnly, size }));
    return f;
  };
  const visit = (n: Node, isRoot: boolean): void => {
    const f = factsOf(n);
    // A subexpression without `object` (a literal list) is as cheap to evaluate as to look up.
    if (!isRoot && f.objectOnly && f.size >= MIN_NODES && identifiers(n).has('object')) {
      const key = keyOf(n);
      if (key !== undefined) keep(n, key);
      return;
    }
    for (const child of children(n)) visit(child, false);
  };
  visit(root, true);
}

/** A macro (`exists`, `map`, `cel.bind`…) whose variable is named `object`. */
function bindsObject(n: Node): boolean {
  if (n.op !== 'rcall') return false;
  const [name, , args] = n.args as [string, Node | undefined, Node[]];
  const first = args[0];
  return BINDERS.has(name) && first?.op === 'id' && first.args === 'object';
}

/** The direct child nodes of a node (through `args`, as `walk` goes). */
function children(n: Node): Node[] {
  const out: Node[] = [];
  const stack: unknown[] = [n.args];
  while (stack.length > 0) {
    const x = stack.pop();
    if (Array.isArray(x)) for (const y of x) stack.push(y);
    else if (typeof x === 'object' && x !== null && 'op' in x && 'args' in x) out.push(x as Node);
  }
  return out;
}

/**
 * A subexpression's syntax tree as a string: each node's operator and its
 * arguments, literals with their CEL type, so two trees have the same key
 * only when they are the same expression. Undefined for a literal of a kind
 * not listed (nothing is shared then).
 */
function keyOf(n: Node): string | undefined {
  try {
    return JSON.stringify(shape(n));
  } catch {
    return undefined;
  }
}

function shape(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(shape);
  switch (typeof x) {
    case 'string':
    case 'boolean':
      return x;
    case 'bigint':
      return { int: x.toString() };
    case 'number':
      return { double: Object.is(x, -0) ? '-0' : String(x) };
    case 'object':
      if (x === null) return null;
      if (isNode(x)) return { op: x.op, args: shape(x.args) };
      if (x instanceof UnsignedInt) return { uint: x.valueOf().toString() };
      if (x instanceof Uint8Array) return { bytes: Buffer.from(x).toString('hex') };
      break;
    default:
      break;
  }
  throw new Error('a literal with no key');
}

function isNode(x: object): x is Node {
  return 'op' in x && 'args' in x;
}

/** The nodes marked shared, with the key their values are kept under (codegen.ts shares them too). */
const keptKey = new WeakMap<Node, string>();

/** The key a shared node's value is kept under; undefined for a node that is not shared. */
export function sharedKeyOf(node: Node): string | undefined {
  return keptKey.get(node);
}

/**
 * The kept value of the subexpression with this key for the current request, or
 * `compute(arg)`'s, kept with what it cost. A kept value charges that cost again.
 */
export function sharedValue<A>(key: string, compute: (arg: A) => unknown, arg: A): unknown {
  const kept = current?.get(key);
  if (kept !== undefined) {
    charge(kept.cost);
    return kept.value;
  }
  const table = current;
  const before = remainingUnits();
  const value = compute(arg);
  const cost = before - remainingUnits();
  if (table !== undefined && Number.isFinite(cost) && !(value instanceof Promise)) table.set(key, { value, cost });
  return value;
}

type Evaluate = (ev: unknown, ast: unknown, ctx: unknown) => unknown;

/**
 * Wraps a node's `evaluate`. The library resolves a node's evaluator on its
 * first evaluation and stores it on the node; the wrapper lets it do that
 * once, takes the resolved one, and puts itself back.
 */
function keep(node: Node, key: string): void {
  keptKey.set(node, key);
  const target = node as unknown as { evaluate: Evaluate };
  let inner: Evaluate | undefined;
  const shared: Evaluate = (ev, ast, ctx) => {
    if (inner === undefined) {
      delete (target as Partial<typeof target>).evaluate;
      const first = target.evaluate(ev, ast, ctx);
      inner = target.evaluate;
      target.evaluate = shared;
      return first;
    }
    const evaluate = inner;
    return sharedValue(key, () => evaluate.call(target, ev, ast, ctx), undefined);
  };
  target.evaluate = shared;
}
