/**
 * The variables of one request, converted to CEL values once and shared by
 * every expression evaluated on them, with what those evaluations share
 * (subexpression values, deep sizes for the meter). Compiled code reads
 * the JSON variables as given (codegen.ts), so a request whose rules all
 * run as compiled code never converts its object. Held by the request's
 * activation, not in WeakMaps keyed by its objects: entries of a WeakMap
 * keyed by per-request objects make every young-generation collection
 * process them, which cost more than the evaluations themselves.
 */
import type { CelActivation } from './compile.js';
import type { Kept } from './shared.js';
import { CelInputError, checkCelInput, toCel, toPrincipal, toRequest } from './values.js';

const UNSET: unique symbol = Symbol('unset');

/**
 * An activation prepared for many evaluations (the rules of a policy on one
 * request). It is a {@link CelActivation} too: its plain fields are the
 * values it was made from, which must not change afterwards.
 *
 * @example
 * const a = prepareActivation({ object, oldObject: null, request, namespaceObject: null, principal });
 * for (const rule of rules) rule.when.evaluate(a); // converts object once
 */
export class PreparedActivation implements CelActivation {
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly request: unknown;
  readonly namespaceObject: unknown;
  readonly principal: unknown;
  readonly boundRole: unknown;
  readonly #shared = new Map<string, Kept>();
  readonly #sharedUnconverted = new Map<string, Kept>();
  readonly #deepSizes = new Map<object, number>();
  readonly #converted: Record<string, unknown> = {};
  readonly #checked: Partial<Record<'object' | 'oldObject' | 'namespaceObject' | 'boundRole', true | CelInputError>> = {};

  constructor(a: CelActivation) {
    this.object = a.object;
    this.oldObject = a.oldObject;
    this.request = a.request;
    this.namespaceObject = a.namespaceObject;
    this.principal = a.principal;
    this.boundRole = a.boundRole;
  }

  /** Values of shared subexpressions over `object` (shared.ts), as the CEL library computed them. */
  get shared(): Map<string, Kept> {
    return this.#shared;
  }

  /**
   * The same for compiled code, kept apart: theirs hold JSON read as
   * given (integral numbers not yet ints), which the library must not see.
   */
  get sharedUnconverted(): Map<string, Kept> {
    return this.#sharedUnconverted;
  }

  /** Deep sizes of large values, for the meter (meter.ts). */
  get deepSizes(): Map<object, number> {
    return this.#deepSizes;
  }

  /** The CEL value of a variable, converted on first use. Throws CelInputError for values CEL cannot hold. */
  value(name: 'object' | 'oldObject' | 'request' | 'namespaceObject' | 'principal' | 'boundRole'): unknown {
    const hit = Object.hasOwn(this.#converted, name) ? this.#converted[name] : UNSET;
    if (hit !== UNSET) return hit;
    const raw = this[name];
    const value = name === 'request' ? toRequest(raw) : name === 'principal' ? toPrincipal(raw) : toCel(raw);
    this.#converted[name] = value;
    return value;
  }

  /**
   * A variable as compiled code reads it: `request` and `principal` as
   * their typed values, the others (JSON) as given, only a scalar or a
   * missing one converted. Throws CelInputError for values CEL cannot hold,
   * anywhere in it, as the conversion does.
   */
  unconverted(name: 'object' | 'oldObject' | 'request' | 'namespaceObject' | 'principal' | 'boundRole'): unknown {
    if (name === 'request' || name === 'principal') return this.value(name);
    const raw = this[name];
    if (typeof raw !== 'object' || raw === null) return toCel(raw);
    // Checked once: what the conversion would refuse fails every expression that reads the variable, on both paths.
    let checked = this.#checked[name];
    if (checked === undefined) {
      try {
        checkCelInput(raw);
        checked = true;
      } catch (err) {
        if (!(err instanceof CelInputError)) throw err;
        checked = err;
      }
      this.#checked[name] = checked;
    }
    if (checked !== true) throw checked;
    return raw;
  }
}

/** Prepares an activation for evaluating many expressions on it (a prepared one is returned as it is). */
export function prepareActivation(a: CelActivation): PreparedActivation {
  return a instanceof PreparedActivation ? a : new PreparedActivation(a);
}
