/**
 * The masker: walks a decoded Kubernetes response (object, list, Table,
 * watch event, Status…) and replaces sensitive values, copying only the
 * objects on the way to a change (an unchanged input comes back as the same
 * reference, so a caller can forward the original bytes).
 *
 * What decides masking is the decoded object's `kind`, never the URL:
 * - every object with a string `kind` and `apiVersion` is a resource (a
 *   watch event's `object`, a Table row's `object`, a `List` item…); so are
 *   the items of a `…List` (which the API server sends without `kind`: their
 *   kind is the list's without `List`) and the top-level value;
 * - rules whose `kinds` include a resource's kind apply from that resource;
 * - the `kubectl.kubernetes.io/last-applied-configuration` annotation is
 *   parsed and masked as the object it records, then re-serialised;
 * - in `managedFields[].fieldsV1`, keys that carry values (`v:…` set members,
 *   `k:{…}` list-map keys) are scanned with the detectors;
 * - every other string is scanned with the detectors.
 *
 * @module
 */
import { GatehouseError } from '../errors/codes.js';
import { ReportBuilder, formatPath, type MaskReport } from './report.js';
import { MASK_BASE64, MASK_TEXT, enabledRules, maskingConfigSchema, type MaskingConfigInput, type SessionMaskingConfig } from './config.js';
import { createTextScanner, type TextScanner } from './detectors/index.js';
import { ObjectMembers, compactJson, isObject, parseFramedText, type Replacement } from './json-frame.js';
import { MEMO_BUDGET, NO_STATES, StateSet, type CompiledRule, type State } from './path-states.js';
import { plainJsonHasNoFinding } from './plain-json.js';
import { compilePattern, parseRulePath } from './rule-path.js';
import { applySpans } from './text.js';

/**
 * Masks decoded API responses and text. Create one per configuration with
 * {@link createMasker}; it holds only compiled, immutable state and can be
 * shared by every request.
 */
export interface Masker {
  /**
   * Masks a decoded JSON value: an object, a `…List`, a `Table`, a watch
   * event, a `Status` (passed through unless a detector fires). The input is
   * never modified; when nothing was masked the same reference comes back.
   *
   * @throws GatehouseError (GH_MASKING_FAILED) when the value nests deeper than {@link MAX_DEPTH}: fail closed.
   */
  maskValue(value: unknown): { value: unknown; report: MaskReport };
  /** Masks credentials in free text (a log line, a string) with the detectors. */
  maskText(text: string): { text: string; report: MaskReport };
  /** The detectors this masker applies to strings. */
  readonly detectors: TextScanner;
  /** How exec and attach output is masked (`masking.sessions`). */
  readonly sessions: Readonly<SessionMaskingConfig>;
}

/** The annotation where `kubectl apply` keeps the whole applied object, Secret data included. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

type JsonObject = Record<string, unknown>;

/** Sets an own property (also for a key named `__proto__`, which JSON may carry). */
function setOwn(obj: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

/**
 * Creates a masker from the `masking` config (validated here; defaults are
 * the secure ones).
 *
 * @throws ZodError when the config is invalid (bad rule path or pattern…).
 * @example
 * const masker = createMasker();
 * const { value, report } = masker.maskValue(JSON.parse(body));
 * // value: the Secret with data values replaced by base64("<masked by gatehouse>")
 * // report: { masked: 2, paths: ['data.password', 'data.username'], detectors: ['secret-data'] }
 */
export function createMasker(config?: MaskingConfigInput): Masker {
  const parsed = maskingConfigSchema.parse(config ?? {});
  const rules: CompiledRule[] = enabledRules(parsed).map((rule, i) => {
    const replacement = rule.encoding === 'base64' ? MASK_BASE64 : MASK_TEXT;
    return {
      name: rule.name ?? `rule-${i}`,
      kinds: rule.kinds === undefined ? undefined : new Set(rule.kinds),
      keyTest: rule.keyPattern === undefined ? undefined : compilePattern(rule.keyPattern),
      replacement,
      replacementJson: JSON.stringify(replacement),
      paths: rule.paths.map(parseRulePath),
    };
  });
  const scanner = createTextScanner(parsed.detectors);
  const budget = { left: MEMO_BUDGET };
  const rootStatesByKind = new Map<string, StateSet>();
  const rootStates = (kind: string | undefined): StateSet => {
    const key = kind ?? '';
    let states = rootStatesByKind.get(key);
    if (states === undefined) {
      const list: State[] = [];
      for (const rule of rules) {
        if (rule.kinds !== undefined && (kind === undefined || !rule.kinds.has(kind))) continue;
        for (const steps of rule.paths) list.push({ rule, steps, at: 0 });
      }
      states = list.length === 0 ? NO_STATES : new StateSet(list, budget);
      if (rootStatesByKind.size < 1024) rootStatesByKind.set(key, states);
    }
    return states;
  };
  const shared: Shared = { scanner, rootStates, maxPaths: parsed.maxReportPaths };
  const masker: Masker = {
    detectors: scanner,
    sessions: Object.freeze({ ...parsed.sessions }),
    maskValue(value) {
      const walk = new Walk(shared, new ReportBuilder(shared.maxPaths));
      const masked = isObject(value) ? walk.object(value, NO_STATES, undefined, true, undefined) : walk.value(value, NO_STATES, undefined);
      return { value: masked, report: walk.report.build() };
    },
    maskText: (text) => maskTextWith(scanner, text, parsed.maxReportPaths),
  };
  internals.set(masker, shared);
  return masker;
}

/** Masks the findings of `scanner` in free text (what {@link Masker.maskText} does with a masker's detectors). */
export function maskTextWith(scanner: TextScanner, text: string, maxReportPaths: number): { text: string; report: MaskReport } {
  const spans = scanner.scan(text);
  if (spans === undefined) return { text, report: { masked: 0, paths: [], detectors: [] } };
  const report = new ReportBuilder(maxReportPaths);
  for (const s of spans) report.add(s.detector, undefined);
  return { text: applySpans(text, spans), report: report.build() };
}

const internals = new WeakMap<Masker, Shared>();

/** Keys whose values the masker treats apart from their strings (see {@link PartMasker.listItem}). */
const WALKED_KEYS: readonly string[] = ['kind', LAST_APPLIED_ANNOTATION];

/** Objects with at most this many members are checked for a key given twice by comparing keys, not with a set. */
const FEW_KEYS = 16;

/**
 * True when every key of `members` is one a list item's text path can take:
 * not `kind` (a nested resource), not integer-like (JavaScript orders those
 * first), none twice. `seen` is emptied and reused for many members.
 */
function fieldKeysOnly(members: ObjectMembers, seen: Set<string>): boolean {
  const keys = members.keys;
  const few = members.count <= FEW_KEYS;
  if (!few) seen.clear();
  for (let m = 0; m < members.count; m++) {
    const key = keys[m]!;
    const first = key.charCodeAt(0);
    if (key === 'kind' || (first >= 0x30 && first <= 0x39)) return false;
    if (few) {
      for (let other = 0; other < m; other++) if (keys[other] === key) return false;
    } else {
      if (seen.has(key)) return false;
      seen.add(key);
    }
  }
  return true;
}

/** A piece of a top-level JSON object that arrives in parts: one member, or one element of an array member. */
export interface ResponsePart {
  /** The top-level object's `kind` (undefined when it has none). */
  kind: string | undefined;
  /** The member's key. */
  key: string;
  /** For an element of an array member: its index. */
  index?: number;
  value: unknown;
}

/**
 * Masks the parts of one top-level object, each exactly as
 * {@link Masker.maskValue} would mask it inside the whole object, adding
 * findings to the report. For the streaming maskers of this folder (a
 * List's items arrive one by one); one per stream, parts in order.
 */
export interface PartMasker {
  /** Masks one part; the same reference when nothing changed. */
  part(part: ResponsePart): unknown;
  /**
   * Masks an element of the `items` of a `…List` from its JSON text. Members
   * no rule reaches, with no finding in any string, are not parsed (see
   * plain-json.ts); the others are parsed and masked as {@link part} would.
   * Returns the members to replace, each a whole member (as
   * `memberReplacements` gives them; none when nothing changed), or
   * undefined when the item has to be parsed whole and given to
   * {@link part}: not a list of one kind, a string with an escape, an item
   * with a `kind` of its own, a key twice or integer-like (JavaScript orders
   * those first). Nothing is reported when it returns undefined.
   *
   * @throws GatehouseError (GH_MASKING_FAILED) when a member parsed is not JSON (`what` names the response).
   */
  listItem(listKind: string | undefined, key: string, index: number, text: string, framed: FramedObject, what: string): Replacement[] | undefined;
}

/** What the framer of a list item tells of it (a `JsonValueFramer` right after its `take()`). */
export interface FramedObject {
  /** The offsets of the commas between its members. */
  readonly memberCommas: readonly number[];
  /** No string holds an escape or a control character. */
  readonly plainStrings: boolean;
}

/**
 * The {@link PartMasker} of one response, adding findings to `report`.
 *
 * @throws TypeError when `masker` was not made by {@link createMasker}.
 */
export function responsePartMasker(masker: Masker, report: ReportBuilder): PartMasker {
  const shared = internals.get(masker);
  if (shared === undefined) throw new TypeError('responsePartMasker needs a masker made by createMasker');
  const walk = new Walk(shared, report);
  return {
    part: (part) => walk.part(part),
    listItem: (listKind, key, index, text, framed, what) => walk.listItem(listKind, key, index, text, framed, what),
  };
}

/** What a list's items are: `SecretList` → `Secret`; a plain `List`'s items carry their own kind. */
function itemKindOf(listKind: string): string | undefined {
  return listKind === 'List' ? undefined : listKind.slice(0, -4);
}

interface Shared {
  readonly scanner: TextScanner;
  readonly rootStates: (kind: string | undefined) => StateSet;
  readonly maxPaths: number;
}

/**
 * Deepest nesting walked. Real objects nest a few dozen levels; deeper input
 * fails closed (GH_MASKING_FAILED) instead of exhausting the stack.
 */
export const MAX_DEPTH = 512;

/** One masking pass: the path being visited and the report. */
class Walk {
  private readonly path: (string | number)[] = [];
  private depth = 0;
  /** The members of the list item being masked from its text (reused: one item at a time). */
  private readonly members = new ObjectMembers();
  /** The members of one of its members, an object of strings (see {@link replacedStrings}). */
  private readonly strings = new ObjectMembers();
  private readonly stringTargets: CompiledRule[] = [];
  private readonly seenKeys = new Set<string>();

  constructor(
    private readonly shared: Shared,
    readonly report: ReportBuilder,
  ) {}

  /** Masks one member of a top-level object of `part.kind`, or one element of an array member. */
  part({ kind, key, index, value }: ResponsePart): unknown {
    const states = this.shared.rootStates(kind);
    const isList = kind !== undefined && kind.endsWith('List');
    if (index === undefined) return this.member(key, value, states, kind, isList, false);
    const next = states.key(key).next;
    const itemsAreRoots = isList && key === 'items';
    this.path.push(key);
    const masked = this.element(value, index, next, kind, itemsAreRoots, itemsAreRoots ? itemKindOf(kind) : undefined);
    this.path.pop();
    return masked;
  }

  /** See {@link PartMasker.listItem}. */
  listItem(listKind: string | undefined, key: string, index: number, text: string, framed: FramedObject, what: string): Replacement[] | undefined {
    const itemKind = listKind === undefined || key !== 'items' || !listKind.endsWith('List') || !framed.plainStrings ? undefined : itemKindOf(listKind);
    // Items that are lists, or that rules of the list's own kind reach into, are walked whole.
    if (itemKind === undefined || itemKind.endsWith('List') || !this.shared.rootStates(listKind).key(key).next.empty) return undefined;
    const members = this.members;
    if (!members.read(text, framed.memberCommas) || !fieldKeysOnly(members, this.seenKeys)) return undefined;
    const states = this.shared.rootStates(itemKind);
    const out: Replacement[] = [];
    this.enter();
    this.path.push(key, index);
    for (let m = 0; m < members.count; m++) {
      const name = members.keys[m]!;
      const from = members.valueFrom[m]!;
      const to = members.valueTo[m]!;
      const step = states.key(name);
      // A member no rule reaches changes only through a finding in a string, a nested resource (an object with a
      // `kind`: rules of its kind) or the last-applied annotation (masked as the object it records).
      const unchanged = step.target === undefined && step.next.empty && plainJsonHasNoFinding(text, from, to, this.shared.scanner, MAX_DEPTH - this.depth, WALKED_KEYS);
      if (unchanged) continue;
      const replaced = step.target === undefined ? this.replacedStrings(name, text, from, to, step.next) : undefined;
      if (replaced !== undefined) {
        out.push({ from: members.memberFrom[m]!, to, text: `"${name}":${replaced}` });
        continue;
      }
      const value = parseFramedText(text.slice(from, to), what);
      const masked = this.member(name, value, states, itemKind, false, false);
      if (masked !== value) out.push({ from: members.memberFrom[m]!, to, text: `"${name}":${compactJson(masked)}` });
    }
    this.path.pop();
    this.path.pop();
    this.depth--;
    return out;
  }

  /**
   * The masked JSON of the member `name` of a list item when its value,
   * `text[from, to)`, is an object of strings each of which a rule replaces
   * whole (a Secret's `data`): written from its keys, without a parse, a
   * walk or a stringify; findings reported as the walk would. Undefined
   * when anything else is there (a value that is not a string, a key no
   * rule replaces, a key `kind`, twice or integer-like, a space): the
   * caller then parses and walks it, which reports instead.
   */
  private replacedStrings(name: string, text: string, from: number, to: number, states: StateSet): string | undefined {
    const strings = this.strings;
    if (!strings.readStrings(text, from, to) || !fieldKeysOnly(strings, this.seenKeys)) return undefined;
    const targets = this.stringTargets;
    let out = '{';
    for (let k = 0; k < strings.count; k++) {
      const key = strings.keys[k]!;
      const step = states.key(key);
      if (step.target === undefined) return undefined;
      targets[k] = step.target;
      out += `${k === 0 ? '' : ','}"${key}":${step.target.replacementJson}`;
    }
    this.path.push(name);
    for (let k = 0; k < strings.count; k++) {
      this.path.push(strings.keys[k]!);
      this.found(targets[k]!.name);
      this.path.pop();
    }
    this.path.pop();
    return `${out}}`;
  }

  value(v: unknown, states: StateSet, kind: string | undefined): unknown {
    if (typeof v === 'string') return this.string(v);
    if (Array.isArray(v)) return this.array(v, states, kind, false, undefined);
    if (isObject(v)) return this.object(v, states, kind, false, undefined);
    return v;
  }

  /**
   * Walks an object. It is a resource when `asRoot` (list items, the top
   * level) or when it has a string `kind` and `apiVersion`; its own `kind`
   * wins over `rootKind`.
   */
  object(obj: JsonObject, states: StateSet, kind: string | undefined, asRoot: boolean, rootKind: string | undefined): JsonObject {
    this.enter();
    const ownKind = typeof obj.kind === 'string' ? obj.kind : undefined;
    const isRoot = asRoot || (ownKind !== undefined && typeof obj.apiVersion === 'string');
    if (isRoot) {
      kind = ownKind ?? rootKind;
      const own = this.shared.rootStates(kind);
      if (!own.empty) states = states.empty ? own : states.concat(own);
    }
    const isList = isRoot && kind !== undefined && kind.endsWith('List');
    const inAnnotations = this.path[this.path.length - 1] === 'annotations';
    let out: JsonObject | undefined;
    // for…in over a parsed JSON object visits its own keys (JSON.parse makes no inherited enumerable ones) and is
    // V8's fastest way to walk an object of unknown shape (its enum cache serves both the keys and the loads).
    for (const key in obj) {
      const child = obj[key];
      const masked = this.member(key, child, states, kind, isList, inAnnotations);
      if (masked !== child) {
        out ??= { ...obj };
        setOwn(out, key, masked);
      }
    }
    this.depth--;
    return out ?? obj;
  }

  /** Masks the value under `key` of an object whose path states are `states`. */
  private member(key: string, child: unknown, states: StateSet, kind: string | undefined, isList: boolean, inAnnotations: boolean): unknown {
    this.path.push(key);
    let masked: unknown;
    const step = states.key(key);
    if (step.target !== undefined && typeof child === 'string') {
      masked = step.target.replacement;
      this.found(step.target.name);
    } else if (inAnnotations && key === LAST_APPLIED_ANNOTATION && typeof child === 'string') {
      masked = this.lastApplied(child, kind);
    } else if (isList && key === 'items' && Array.isArray(child)) {
      masked = this.array(child, step.next, kind, true, itemKindOf(kind!));
    } else if (key === 'fieldsV1' && isObject(child)) {
      masked = this.fieldsV1(child);
    } else {
      masked = this.value(child, step.next, kind);
    }
    this.path.pop();
    return masked;
  }

  array(arr: readonly unknown[], states: StateSet, kind: string | undefined, itemsAreRoots: boolean, itemKind: string | undefined): unknown[] {
    this.enter();
    let out: unknown[] | undefined;
    for (let i = 0; i < arr.length; i++) {
      const child = arr[i];
      const masked = this.element(child, i, states, kind, itemsAreRoots, itemKind);
      if (masked !== child) {
        out ??= arr.slice();
        out[i] = masked;
      }
    }
    this.depth--;
    return out ?? (arr as unknown[]);
  }

  private element(child: unknown, i: number, states: StateSet, kind: string | undefined, itemsAreRoots: boolean, itemKind: string | undefined): unknown {
    const next = states.element(child);
    this.path.push(i);
    const masked = itemsAreRoots && isObject(child) ? this.object(child, next, kind, true, itemKind) : this.value(child, next, kind);
    this.path.pop();
    return masked;
  }

  string(s: string): string {
    const spans = this.shared.scanner.scan(s);
    if (spans === undefined) return s;
    for (const span of spans) this.found(span.detector);
    return applySpans(s, spans);
  }

  /**
   * The last-applied annotation holds the object as applied (a Secret's
   * `data` and `stringData` in clear): mask it as that object and
   * re-serialise it the way kubectl wrote it (compact JSON and a newline).
   * Unparseable on a Secret: replaced whole.
   */
  private lastApplied(text: string, kind: string | undefined): string {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (isObject(parsed)) {
      const masked = this.object(parsed, NO_STATES, kind, true, kind);
      return masked === parsed ? text : JSON.stringify(masked) + (text.endsWith('\n') ? '\n' : '');
    }
    if (kind === 'Secret') {
      this.found('last-applied-configuration');
      return MASK_TEXT;
    }
    return this.string(text);
  }

  /**
   * managedFields list field paths (`f:data: {f:password: {}}`): Secret data
   * and stringData are maps, so only their keys appear. Values appear in
   * two places only: members of set-type lists (`v:"…"`) and the key fields
   * of map-type lists (`k:{"name":"…"}`). Those keys are scanned; a key with
   * a finding is renamed with the finding masked.
   */
  private fieldsV1(obj: JsonObject): JsonObject {
    this.enter();
    // Most field sets hold nothing to mask: nothing is allocated until something is.
    let entries: [string, unknown][] | undefined;
    let i = 0;
    for (const key in obj) {
      const child = obj[key];
      let newKey = key;
      // `v:…` and `k:…`, tested by char code: this runs for every key of every managedFields entry.
      const first = key.charCodeAt(0);
      if ((first === 0x76 || first === 0x6b) && key.charCodeAt(1) === 0x3a) {
        const spans = this.shared.scanner.scan(key);
        if (spans !== undefined) {
          // The path names the object holding the key, never the key itself.
          for (const span of spans) this.found(span.detector);
          newKey = applySpans(key, spans);
        }
      }
      let masked = child;
      if (isObject(child)) {
        this.path.push(key);
        masked = this.fieldsV1(child);
        this.path.pop();
      }
      if (entries === undefined && (newKey !== key || masked !== child)) entries = Object.keys(obj).slice(0, i).map((k) => [k, obj[k]]);
      entries?.push([newKey, masked]);
      i++;
    }
    this.depth--;
    if (entries === undefined) return obj;
    const out: JsonObject = {};
    for (const [k, v] of entries) setOwn(out, k, v);
    return out;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) {
      throw new GatehouseError('GH_MASKING_FAILED', `the response nests deeper than ${MAX_DEPTH} levels; the gateway does not forward what it cannot mask`);
    }
  }

  private found(detector: string): void {
    this.report.add(detector, this.report.wantsPath() ? formatPath(this.path) : undefined);
  }
}
