/**
 * Where the masker stands in its rules' paths while it walks an object: the
 * set of rule paths matched so far, stepped over keys and array elements.
 *
 * The items of a list repeat the same keys, so the sets reached from a
 * kind's root remember their steps over keys (within a budget per masker):
 * walking the next item's keys is a map lookup, not a pass over every rule.
 *
 * @module
 */
import { isObject } from './json-frame.js';
import type { PathStep, StringTest } from './rule-path.js';

/** A masking rule, compiled. */
export interface CompiledRule {
  readonly name: string;
  readonly kinds: ReadonlySet<string> | undefined;
  readonly keyTest: StringTest | undefined;
  readonly replacement: string;
  /** `replacement` as a JSON string. */
  readonly replacementJson: string;
  readonly paths: readonly (readonly PathStep[])[];
}

/** A rule path matched up to `at` (the next step to match is `steps[at]`). */
export interface State {
  readonly rule: CompiledRule;
  readonly steps: readonly PathStep[];
  readonly at: number;
}

/** A step over an object key: the states under it, and the first rule whose path ends there (and whose keyPattern matches the key). */
export interface KeyStep {
  readonly next: StateSet;
  readonly target: CompiledRule | undefined;
}

/** Steps over keys a masker remembers, all sets together (each about a hundred bytes). */
export const MEMO_BUDGET = 16_384;

/** What a masker has left of {@link MEMO_BUDGET}. */
export interface MemoBudget {
  left: number;
}

/** The states at one place of an object, with its steps memoised when `budget` is set. */
export class StateSet {
  private byKey: Map<string, KeyStep> | undefined;
  /** The step over any element, when no state filters elements (so it does not depend on the element). */
  private anyElement: StateSet | undefined;

  constructor(
    readonly states: readonly State[],
    private readonly budget: MemoBudget | undefined,
  ) {}

  get empty(): boolean {
    return this.states.length === 0;
  }

  /** These states and `other`'s (a resource nested in another); not memoised. */
  concat(other: StateSet): StateSet {
    return new StateSet([...this.states, ...other.states], undefined);
  }

  /** Steps every state over an object key. */
  key(key: string): KeyStep {
    if (this.states.length === 0) return NO_STEP;
    let step = this.byKey?.get(key);
    if (step === undefined) {
      step = advanceKey(this.states, key, this.budget);
      if (this.budget !== undefined && this.budget.left > 0) {
        this.budget.left--;
        (this.byKey ??= new Map()).set(key, step);
      }
    }
    return step;
  }

  /** Steps every state over an array element (`[*]`, or `[?field…]` when the element's field passes). */
  element(element: unknown): StateSet {
    if (this.states.length === 0) return NO_STATES;
    if (this.anyElement !== undefined) return this.anyElement;
    let next: State[] | undefined;
    let filtered = false;
    for (const s of this.states) {
      const step = s.steps[s.at]!;
      if (step.type === 'filter') filtered = true;
      if (step.type === 'each' || (step.type === 'filter' && isObject(element) && typeof element[step.field] === 'string' && step.test(element[step.field] as string))) {
        (next ??= []).push({ rule: s.rule, steps: s.steps, at: s.at + 1 });
      }
    }
    const set = next === undefined ? NO_STATES : new StateSet(next, filtered ? undefined : this.budget);
    if (!filtered && this.budget !== undefined && this.budget.left > 0) {
      this.budget.left--;
      this.anyElement = set;
    }
    return set;
  }
}

/** No states: nothing matched, nothing will. */
export const NO_STATES = new StateSet([], undefined);

const NO_STEP: KeyStep = { next: NO_STATES, target: undefined };

function advanceKey(states: readonly State[], key: string, budget: MemoBudget | undefined): KeyStep {
  let next: State[] | undefined;
  let target: CompiledRule | undefined;
  for (const s of states) {
    const step = s.steps[s.at]!;
    if (step.type === 'key' ? step.name !== key : step.type !== 'anyKey') continue;
    if (s.at + 1 === s.steps.length) {
      if (target === undefined && (s.rule.keyTest === undefined || s.rule.keyTest(key))) target = s.rule;
    } else {
      (next ??= []).push({ rule: s.rule, steps: s.steps, at: s.at + 1 });
    }
  }
  return next === undefined && target === undefined ? NO_STEP : { next: next === undefined ? NO_STATES : new StateSet(next, budget), target };
}
