/**
 * `compileCel`: parse, type-check and prepare a CEL expression once; evaluate
 * it per request under a cost budget, never throwing.
 */
import type { ParseResult } from '@marcbachmann/cel-js';
import { celEnv, VARIABLES } from './env.js';
import { identifiers, instrument, staticIssues, type Node } from './instrument.js';
import { CelCostLimitError, DEFAULT_COST_LIMIT, lastCost, meterExhausted, startMeter, stopMeter } from './meter.js';
import { CelInputError, fromCel } from './values.js';
import { prepareActivation } from './activation.js';
import { shareFor, shareSubexpressions, stopSharing } from './shared.js';
import { BAIL, compileCode, type CompiledCode } from './codegen.js';

/**
 * The variables an expression sees, as the gateway has them (JSON-shaped).
 * A missing `object`/`oldObject`/`namespaceObject`/`boundRole` is `null`, as in
 * Kubernetes. `request` is AdmissionRequest-shaped and `principal` is
 * Gatehouse's principal; their missing fields read as zero values (`''`,
 * `false`, `[]`). Values are treated as immutable: a prepared activation
 * (activation.ts) converts them once for every rule evaluated on it.
 */
export interface CelActivation {
  object: unknown;
  oldObject: unknown;
  request: unknown;
  namespaceObject: unknown;
  principal: unknown;
  /** The role a RoleBinding/ClusterRoleBinding write refers to (src/policy/bound-role.ts); missing is `null`. */
  boundRole?: unknown;
}

/**
 * Outcome of one evaluation. `value` is plain JS: CEL `int`/`uint` are
 * `bigint`, `double` is `number`, lists are arrays, maps are plain objects, an optional is its value or `null`, quantities and
 * URLs are their strings. Errors (type errors, missing fields, cost limit)
 * are `ok: false`; the policy engine treats them as rule errors.
 */
export type CelResult = { ok: true; value: unknown } | { ok: false; error: string };

/** A compiled expression. */
export interface CelProgram {
  /** The expression text. */
  readonly source: string;
  /** The type the checker inferred, e.g. `bool`, `string`, `dyn`. */
  readonly resultType: string;
  /** The cost budget of each evaluation. */
  readonly costLimit: number;
  /**
   * Evaluates against one request. Never throws. Pass the same
   * {@link prepareActivation | prepared activation} to every program of a
   * request so its values are converted once and shared.
   */
  evaluate(activation: CelActivation): CelResult;
}

/** Where in the source a compile error is (1-based line and column, 0-based offset). */
export interface SourcePosition {
  line: number;
  column: number;
  offset: number;
}

export type CompileResult = { ok: true; program: CelProgram } | { ok: false; error: string; position?: SourcePosition };

/** Longest expression accepted (characters). */
export const MAX_SOURCE_LENGTH = 10_000;

/** Options of {@link compileCel}. */
export interface CompileOptions {
  /** Cost units one evaluation may use (default {@link DEFAULT_COST_LIMIT}); see meter.ts. */
  costLimit?: number;
  /** Evaluate with the CEL library only, never with compiled code (codegen.ts); for the tests that compare the two. */
  interpretOnly?: boolean;
}

function positionOf(source: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  const end = Math.max(0, Math.min(offset, source.length));
  for (let i = 0; i < end; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1, offset: end };
}

/** `line:column: message`, then the source line with a caret. */
function compileError(source: string, message: string, offset: number | undefined): CompileResult {
  if (offset === undefined) return { ok: false, error: message };
  const position = positionOf(source, offset);
  const lineStart = position.offset - (position.column - 1);
  let lineEnd = source.indexOf('\n', lineStart);
  if (lineEnd < 0) lineEnd = source.length;
  const text = source.slice(lineStart, lineEnd);
  const caret = `${' '.repeat(position.column - 1)}^`;
  return { ok: false, error: `${position.line}:${position.column}: ${message}\n | ${text}\n | ${caret}`, position };
}

interface LibraryError {
  summary?: unknown;
  message?: unknown;
  range?: { start?: unknown };
}

function summaryOf(err: unknown): string {
  const e = err as LibraryError | null;
  if (e && typeof e.summary === 'string') return e.summary;
  if (e && typeof e.message === 'string') return e.message;
  return String(err);
}

function offsetOf(err: unknown): number | undefined {
  const start = (err as LibraryError | null)?.range?.start;
  return typeof start === 'number' ? start : undefined;
}

type Variable = (typeof VARIABLES)[number];

const EMPTY: CelActivation = { object: null, oldObject: null, request: null, namespaceObject: null, principal: null };

/** Which variables an expression mentions (comprehension variables shadowing them count too: harmless). */
function variablesUsed(root: Node): Record<Variable, boolean> {
  const ids = identifiers(root);
  return Object.fromEntries(VARIABLES.map((v) => [v, ids.has(v)])) as Record<Variable, boolean>;
}

class Program implements CelProgram {
  readonly #fn: ParseResult;
  readonly #costError: string;
  /** The variables the expression mentions: only those are converted, so a rule on `request` never pays for the object. */
  readonly #names: readonly Variable[];
  /** The expression as generated JavaScript (codegen.ts), tried first; undefined when it uses something the generator does not cover. */
  readonly #compiled: CompiledCode | undefined;
  /** Where `object` is in the frame (-1: the expression does not read it, so it shares nothing). */
  readonly #objectSlot: number;

  constructor(
    readonly source: string,
    readonly resultType: string,
    readonly costLimit: number,
    fn: ParseResult,
    uses: Readonly<Record<Variable, boolean>>,
    useCompiledCode: boolean,
  ) {
    this.#fn = fn;
    this.#names = VARIABLES.filter((v) => uses[v]);
    this.#costError = `cost limit exceeded (limit ${costLimit})`;
    this.#compiled = useCompiledCode ? compileCode(fn.ast, this.#names) : undefined;
    this.#objectSlot = this.#names.indexOf('object');
  }

  /** Whether evaluations try the compiled code before the library (for tests). */
  get compiled(): boolean {
    return this.#compiled !== undefined;
  }

  evaluate(activation: CelActivation): CelResult {
    const a = prepareActivation(activation ?? EMPTY);
    const names = this.#names;
    const compiled = this.#compiled;
    const objectSlot = this.#objectSlot;
    startMeter(this.costLimit, a.deepSizes);
    try {
      let v: unknown = BAIL;
      if (compiled !== undefined) {
        // The variables in frame slots 0…, then the compiled code's own slots.
        const frame = new Array<unknown>(compiled.slots);
        for (let i = 0; i < names.length; i++) frame[i] = a.unconverted(names[i]!);
        shareFor(objectSlot >= 0 && frame[objectSlot] !== null ? a.sharedUnconverted : undefined);
        v = runCompiled(compiled, frame);
        // A list or map from compiled code may hold JSON not yet converted: the library gives those.
        if (typeof v === 'object' && v !== null) v = BAIL;
      }
      if (v === BAIL) {
        // Not a plain success: the library gives the answer (and the error), from a fresh meter.
        const vars: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) vars[names[i]!] = a.value(names[i]!);
        startMeter(this.costLimit, a.deepSizes);
        shareFor(objectSlot >= 0 && vars.object !== null ? a.shared : undefined);
        v = this.#fn(vars);
      }
      if (meterExhausted()) return { ok: false, error: this.#costError };
      if (v instanceof Promise) return { ok: false, error: 'expression evaluated asynchronously' };
      return v === true ? TRUE : v === false ? FALSE : { ok: true, value: fromCel(v) };
    } catch (err) {
      if (err instanceof CelInputError) return { ok: false, error: `invalid activation: ${err.message}` };
      if (meterExhausted()) return { ok: false, error: this.#costError };
      const offset = offsetOf(err);
      const where = offset === undefined ? '' : `${positionOf(this.source, offset).line}:${positionOf(this.source, offset).column}: `;
      return { ok: false, error: `${where}${summaryOf(err)}` };
    } finally {
      stopSharing();
      stopMeter();
    }
  }
}

/** The results of `when` expressions, made once. */
const TRUE: CelResult = Object.freeze({ ok: true, value: true });
const FALSE: CelResult = Object.freeze({ ok: true, value: false });

/** The compiled code's value, or BAIL when the library must evaluate (the cost limit still ends the evaluation). */
function runCompiled(compiled: CompiledCode, frame: unknown[]): unknown {
  try {
    return compiled.run(frame);
  } catch (err) {
    if (err instanceof CelCostLimitError) throw err;
    return BAIL;
  }
}

/**
 * Compiles a CEL expression over `object`, `oldObject`, `request`,
 * `namespaceObject`, `principal` and `boundRole` (Kubernetes ValidatingAdmissionPolicy
 * variables plus Gatehouse's principal and bound role), with the Kubernetes extension
 * functions. Syntax errors, unknown variables/functions/fields of typed
 * variables, type errors and invalid literal regexes/quantities/URLs are
 * reported with their line and column. Never throws.
 *
 * @example
 * const r = compileCel("object.spec.containers.exists(c, c.?securityContext.?privileged.orValue(false))");
 * if (!r.ok) throw new Error(r.error);
 * const out = r.program.evaluate({ object: pod, oldObject: null, request, namespaceObject: null, principal });
 * // out: { ok: true, value: true } | { ok: false, error: '…' }
 */
export function compileCel(source: string, options?: CompileOptions): CompileResult {
  if (typeof source !== 'string') return { ok: false, error: 'expression must be a string' };
  if (source.trim() === '') return { ok: false, error: 'expression is empty' };
  if (source.length > MAX_SOURCE_LENGTH) return { ok: false, error: `expression longer than ${MAX_SOURCE_LENGTH} characters` };
  const costLimit = options?.costLimit ?? DEFAULT_COST_LIMIT;
  if (!Number.isSafeInteger(costLimit) || costLimit <= 0) return { ok: false, error: `costLimit must be a positive integer, got ${String(costLimit)}` };

  let fn: ParseResult;
  try {
    fn = celEnv.parse(source);
  } catch (err) {
    return compileError(source, summaryOf(err), offsetOf(err));
  }
  const root = fn.ast as unknown as Node;
  const issue = staticIssues(root);
  if (issue) return compileError(source, issue.message, issue.offset);

  let checked: ReturnType<ParseResult['check']>;
  try {
    checked = fn.check();
  } catch (err) {
    return compileError(source, summaryOf(err), offsetOf(err));
  }
  if (!checked.valid) return compileError(source, summaryOf(checked.error), offsetOf(checked.error));
  try {
    instrument(root);
    shareSubexpressions(root);
  } catch (err) {
    return { ok: false, error: `internal error preparing expression: ${summaryOf(err)}` };
  }
  return { ok: true, program: new Program(source, checked.type ?? 'dyn', costLimit, fn, variablesUsed(root), options?.interpretOnly !== true) };
}

/**
 * Whether a program tries compiled code (codegen.ts) before the library:
 * false for expressions using something it does not cover, and
 * with `interpretOnly`. For tests.
 *
 * @example
 * usesCompiledCode(compileCel('has(object.spec)').program) // true
 */
export function usesCompiledCode(program: CelProgram): boolean {
  return program instanceof Program && program.compiled;
}

/**
 * Cost units charged by the most recent evaluation of any program (for tests
 * and benchmarks; capped at the limit when it ran over).
 *
 * @example
 * program.evaluate(activation);
 * lastEvaluationCost() // e.g. 39 for a privileged-container check on a 3-container pod
 */
export function lastEvaluationCost(): number {
  return lastCost();
}
