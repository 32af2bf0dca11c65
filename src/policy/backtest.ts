/**
 * Policy backtest: what a proposed policy would have decided for recorded
 * requests. Each audit event is turned back into the engine's input (the
 * classified request, the principal, the recorded request body) and
 * evaluated with the same engine the gateway runs. Where the decision would
 * depend on data the record does not hold, the request is undetermined: it
 * is counted and explained, never guessed. See docs/policy.md.
 *
 * @module
 */

import { parse as parseYaml } from 'yaml';
import type { AuditDecision, AuditEvent } from '../audit/event.js';
import { auditEventSchema } from '../audit/event.js';
import { exportRows } from '../audit/export.js';
import type { AuditFilter, AuditRepo } from '../audit/store.js';
import type { KubeRequest } from '../classify/kube-request.js';
import type { Principal } from '../identity/principal.js';
import { classifyRequest } from '../kube/request-info.js';
import { candidateRules, decide, needsOf, requestFacts } from './engine.js';
import type { Decision } from './engine.js';
import type { CompiledPolicy } from './model.js';
import { table } from './explain.js';
import { describeRoleRef, roleRefOf } from './bound-role.js';

/** The parts of a decision a backtest compares: the recorded one, a shadow one or a fresh one all fit. */
export interface DecisionOutcome {
  readonly action: string;
  readonly rule?: string | undefined;
  readonly matched?: ReadonlyArray<{ readonly rule: string; readonly action: string }> | undefined;
}

/** Why the record cannot say what the proposed policy would have decided. */
export const undeterminedReasons = [
  'body-not-recorded',
  'body-truncated',
  'body-not-decodable',
  'patch-result-not-recorded',
  'old-object-not-recorded',
  'namespace-labels-not-recorded',
  'bound-role-not-recorded',
  'name-not-recorded',
  'recorded-decision-error',
] as const;
export type UndeterminedReason = (typeof undeterminedReasons)[number];

export type Replay =
  /** The request never reached policy (refused by identity or classify, an outage record, the end of an exec session). */
  | { readonly kind: 'skipped' }
  | { readonly kind: 'undetermined'; readonly reason: UndeterminedReason; readonly detail: string }
  | { readonly kind: 'decided'; readonly decision: Decision };

const WRITE_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch']);
/** Recorded streams that are the request's only event; other streams (exec, attach) close a session whose start event holds the decision. */
const SINGLE_EVENT_STREAMS: ReadonlySet<string> = new Set(['watch', 'log']);

/**
 * Evaluates a policy for one recorded request, as the policy stage would
 * have at the time, or says why the record cannot tell.
 *
 * @example
 * const replay = replayEvent(policy, event);
 * if (replay.kind === 'decided') console.log(replay.decision.action);
 */
export function replayEvent(policy: CompiledPolicy, event: AuditEvent): Replay {
  const recorded = event.decision;
  if (recorded === undefined || event.principal === undefined || event.request.verb === '' || event.outage !== undefined) return { kind: 'skipped' };
  if (event.stream !== undefined && !SINGLE_EVENT_STREAMS.has(event.stream.kind)) return { kind: 'skipped' };
  const refused = recordedError(recorded);
  if (refused !== undefined) return { kind: 'undetermined', reason: 'recorded-decision-error', detail: refused };

  const body = recordedObject(event);
  const request = kubeRequestOf(event, body.object);
  if (request === undefined) return { kind: 'skipped' };
  const principal = principalOf(event.principal);
  const facts = requestFacts(request, principal, body.object);
  const candidates = candidateRules(policy, facts);
  const needs = needsOf(candidates);
  const verb = request.verb;
  // A create names its object in the body; without the body a rule's `names` could not be checked.
  if (facts.name === '' && body.missing !== undefined && verb === 'create' && policy.rules.some((r) => r.match.fields.some((f) => f.field === 'names'))) {
    return { kind: 'undetermined', reason: 'name-not-recorded', detail: `the object's name is in the body, and ${body.missing.detail}` };
  }
  if (needs.object && verb === 'patch') {
    return { kind: 'undetermined', reason: 'patch-result-not-recorded', detail: 'a rule reads the object this patch produced, which the record does not hold (it holds the patch)' };
  }
  if (needs.object && WRITE_VERBS.has(verb) && body.missing !== undefined) return { kind: 'undetermined', ...body.missing };
  if (needs.oldObject && (verb === 'update' || verb === 'patch')) {
    return { kind: 'undetermined', reason: 'old-object-not-recorded', detail: 'a rule reads oldObject, the object as it was before the write, which the record does not hold' };
  }
  let namespaceLabels: Readonly<Record<string, string>> | undefined;
  if (needs.namespace && request.namespace !== '') {
    namespaceLabels = recordedLabels(recorded);
    if (namespaceLabels === undefined) {
      return { kind: 'undetermined', reason: 'namespace-labels-not-recorded', detail: `a rule needs the labels of namespace "${request.namespace}", which this record does not hold` };
    }
  }
  const ref = needs.boundRole ? roleRefOf(facts, body.object) : undefined;
  if (ref !== undefined) {
    return { kind: 'undetermined', reason: 'bound-role-not-recorded', detail: `a rule reads boundRole, the rules of ${describeRoleRef(ref)} at the time, which the record does not hold` };
  }
  const decision = decide(policy, candidates, facts, { request, principal, object: body.object, namespaceLabels, requestId: event.requestId });
  return { kind: 'decided', decision };
}

/** A recorded decision that was a refusal or a rule failure, not a policy outcome; undefined when it is one. */
function recordedError(recorded: AuditDecision): string | undefined {
  if (recorded.errors !== undefined && recorded.errors.length > 0) return `rule ${recorded.errors[0]!.rule} could not be evaluated: ${recorded.errors[0]!.error}`;
  // The stage records a refusal (labels or dry-run unavailable, unreadable body) as a deny with no rule;
  // a real default decision always says "no policy rule …" (engine.ts).
  if (recorded.rule === undefined && recorded.matched.length === 0 && recorded.action === 'deny' && !(recorded.message ?? '').startsWith('no policy rule')) {
    return `the gateway refused it before policy could decide: ${recorded.message ?? 'no message'}`;
  }
  return undefined;
}

/** Namespace labels the stage recorded with the decision (see PolicyStage), when it looked them up. */
function recordedLabels(recorded: AuditDecision): Readonly<Record<string, string>> | undefined {
  const labels: unknown = recorded.namespaceLabels;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return undefined;
  return Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

interface RecordedObject {
  readonly object: unknown;
  /** Why the body is not available as an object, when it is not. */
  readonly missing?: { readonly reason: UndeterminedReason; readonly detail: string } | undefined;
}

function recordedObject(event: AuditEvent): RecordedObject {
  const body = event.bodies.request;
  if (!WRITE_VERBS.has(event.request.verb)) return { object: undefined };
  if (body === undefined) {
    return { object: undefined, missing: { reason: 'body-not-recorded', detail: 'the request body was not recorded (Secret bodies never are)' } };
  }
  if (body.truncated) return { object: undefined, missing: { reason: 'body-truncated', detail: `the recorded body was cut at ${body.data.length} of ${body.size} bytes` } };
  const type = body.contentType ?? 'application/json';
  if (body.encoding !== 'utf8' || !(type.endsWith('json') || type.endsWith('yaml'))) {
    return { object: undefined, missing: { reason: 'body-not-decodable', detail: `the body is ${type}, which the backtest cannot decode` } };
  }
  try {
    return { object: type.endsWith('yaml') ? parseYaml(body.data, { maxAliasCount: 100 }) : JSON.parse(body.data) };
  } catch (err) {
    return { object: undefined, missing: { reason: 'body-not-decodable', detail: `the recorded body does not parse: ${(err as Error).message}` } };
  }
}

/** The classified request again: the recorded path through the gateway's own classifier, then the recorded fields. */
function kubeRequestOf(event: AuditEvent, object: unknown): KubeRequest | undefined {
  const r = event.request;
  const classified = classifyRequest(r.method, r.query === '' ? r.path : `${r.path}?${r.query}`);
  if (!classified.ok) return undefined;
  return {
    ...classified.info,
    verb: r.verb,
    apiGroup: r.apiGroup,
    apiVersion: r.apiVersion,
    namespace: r.namespace,
    resource: r.resource,
    subresource: r.subresource,
    name: r.name,
    query: r.query,
    cluster: r.cluster,
    contentType: event.bodies.request?.contentType,
    object,
  };
}

function principalOf(p: NonNullable<AuditEvent['principal']>): Principal {
  return {
    subject: p.subject,
    groups: p.groups,
    kind: p.kind as Principal['kind'],
    via: p.via as Principal['via'],
    tokenId: p.tokenId,
    ...(p.sponsor !== undefined ? { sponsor: p.sponsor } : {}),
  };
}

// ---------------------------------------------------------------------------
// Comparing and reporting.
// ---------------------------------------------------------------------------

/** `allow→deny`, or `mask→mask (rules)` when the same action masks with other rules; undefined when nothing changed. */
export function transitionOf(before: DecisionOutcome, after: DecisionOutcome): string | undefined {
  if (before.action !== after.action) return `${before.action}→${after.action}`;
  if (before.action === 'mask' && maskRules(before) !== maskRules(after)) return 'mask→mask (rules)';
  return undefined;
}

/** The mask rules that shape an answer (the masker applies every matched mask rule). */
function maskRules(d: DecisionOutcome): string {
  return (d.matched ?? [])
    .filter((m) => m.action === 'mask')
    .map((m) => m.rule)
    .sort()
    .join(',');
}

export interface ExampleRequest {
  readonly time: string;
  readonly requestId: string;
  readonly principal: string;
  readonly verb: string;
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  readonly before: string;
  readonly after: string;
  /** For an undetermined request: why. */
  readonly detail?: string;
}

export interface Group {
  readonly key: string;
  count: number;
  readonly examples: ExampleRequest[];
}

export interface BacktestReport {
  /** The window searched (milliseconds since the epoch), when bounded. */
  readonly sinceMs: number | undefined;
  readonly untilMs: number | undefined;
  /** Events read; those that never reached policy are `skipped`. */
  events: number;
  skipped: number;
  /** Requests evaluated (decided or undetermined). */
  evaluated: number;
  unchanged: number;
  changed: number;
  undetermined: number;
  /** By transition (`allow→deny`), by deciding rule and by principal; largest first. */
  readonly transitions: Group[];
  readonly rules: Group[];
  readonly principals: Group[];
  /** By reason. */
  readonly undeterminedReasons: Group[];
  durationMs: number;
  /** Evaluated requests per second. */
  perSecond: number;
}

/** Accumulates a report, one request at a time, keeping a few examples per group. */
export class ReportBuilder {
  readonly report: BacktestReport;
  private readonly groups = { transitions: new Map<string, Group>(), rules: new Map<string, Group>(), principals: new Map<string, Group>(), undeterminedReasons: new Map<string, Group>() };
  private readonly started = performance.now();

  constructor(
    window: { sinceMs?: number | undefined; untilMs?: number | undefined },
    private readonly examplesPerGroup = 5,
  ) {
    this.report = {
      sinceMs: window.sinceMs,
      untilMs: window.untilMs,
      events: 0,
      skipped: 0,
      evaluated: 0,
      unchanged: 0,
      changed: 0,
      undetermined: 0,
      transitions: [],
      rules: [],
      principals: [],
      undeterminedReasons: [],
      durationMs: 0,
      perSecond: 0,
    };
  }

  skip(): void {
    this.report.events++;
    this.report.skipped++;
  }

  /** Counts one request whose proposed outcome is `after` (or undetermined), against the recorded `before`. */
  add(event: AuditEvent, before: DecisionOutcome, after: DecisionOutcome | { reason: string; detail: string }): void {
    this.report.events++;
    this.report.evaluated++;
    if ('reason' in after) {
      this.report.undetermined++;
      this.bump('undeterminedReasons', after.reason, exampleOf(event, before, '?', after.detail));
      return;
    }
    const transition = transitionOf(before, after);
    if (transition === undefined) {
      this.report.unchanged++;
      return;
    }
    this.report.changed++;
    const example = exampleOf(event, before, describe(after));
    this.bump('transitions', transition, example);
    this.bump('rules', `${after.rule ?? before.rule ?? '(default action)'} ${transition}`, example);
    this.bump('principals', `${example.principal} ${transition}`, example);
  }

  finish(): BacktestReport {
    const r = this.report;
    for (const [key, map] of Object.entries(this.groups) as Array<[keyof typeof this.groups, Map<string, Group>]>) {
      r[key].push(...[...map.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key)));
    }
    r.durationMs = Math.round(performance.now() - this.started);
    r.perSecond = r.durationMs > 0 ? Math.round((r.evaluated * 1000) / r.durationMs) : r.evaluated;
    return r;
  }

  private bump(kind: keyof typeof this.groups, key: string, example: ExampleRequest): void {
    const map = this.groups[kind];
    let group = map.get(key);
    if (group === undefined) map.set(key, (group = { key, count: 0, examples: [] }));
    group.count++;
    if (group.examples.length < this.examplesPerGroup) group.examples.push(example);
  }
}

function describe(d: DecisionOutcome): string {
  return d.rule === undefined ? `${d.action} (default)` : `${d.action} (${d.rule})`;
}

function exampleOf(event: AuditEvent, before: DecisionOutcome, after: string, detail?: string): ExampleRequest {
  const r = event.request;
  return {
    time: event.time,
    requestId: event.requestId,
    principal: event.principal?.subject ?? '-',
    verb: r.verb,
    resource: [r.resource, r.subresource].filter(Boolean).join('/') || r.path,
    namespace: r.namespace,
    name: r.name,
    before: describe(before),
    after,
    ...(detail !== undefined ? { detail } : {}),
  };
}

export interface BacktestOptions {
  /** Principal subject, time window: the audit search filter. */
  filter: Pick<AuditFilter, 'subject' | 'sinceMs' | 'untilMs'>;
  /** Only requests for this named cluster (records made before clusters existed count as `default`). */
  cluster?: string | undefined;
  examplesPerGroup?: number;
}

/**
 * Streams the recorded requests in the window and evaluates the proposed
 * policy for each, against its recorded decision.
 *
 * @example
 * const report = await backtestPolicy(store.audit, loadPolicy(paths, { compile }), { filter: { sinceMs: Date.now() - 7 * 86_400_000 } });
 * process.stdout.write(formatReport(report));
 */
export async function backtestPolicy(repo: AuditRepo, policy: CompiledPolicy, options: BacktestOptions): Promise<BacktestReport> {
  return scanEvents(repo, options, (event, builder) => {
    const replay = replayEvent(policy, event);
    if (replay.kind === 'skipped') builder.skip();
    else builder.add(event, event.decision!, replay.kind === 'decided' ? replay.decision : replay);
  });
}

/**
 * Compares the shadow decisions recorded beside the real ones (`policy.shadow`).
 * Requests recorded without a shadow decision are skipped; one the shadow
 * policy could not decide with the enforced policy's inputs is undetermined.
 */
export async function shadowReport(repo: AuditRepo, options: BacktestOptions): Promise<BacktestReport> {
  return scanEvents(repo, options, (event, builder) => {
    const shadow = event.shadowDecision;
    if (event.decision === undefined || shadow === undefined) return builder.skip();
    builder.add(event, event.decision, shadow.action === 'undetermined' ? { reason: 'shadow-input-not-gathered', detail: shadow.message ?? '' } : shadow);
  });
}

async function scanEvents(repo: AuditRepo, options: BacktestOptions, each: (event: AuditEvent, builder: ReportBuilder) => void): Promise<BacktestReport> {
  const builder = new ReportBuilder(options.filter, options.examplesPerGroup);
  for await (const row of exportRows(repo, options.filter)) {
    const parsed = auditEventSchema.safeParse(JSON.parse(row.eventJson));
    if (!parsed.success) builder.skip();
    else if (options.cluster !== undefined && (parsed.data.request.cluster ?? 'default') !== options.cluster) continue;
    else each(parsed.data, builder);
  }
  return builder.finish();
}

/** The report for people: counts, then each group with its examples. */
export function formatReport(report: BacktestReport, title = 'backtest'): string {
  const out: string[] = [];
  const window = `${report.sinceMs === undefined ? 'the beginning' : new Date(report.sinceMs).toISOString()} – ${report.untilMs === undefined ? 'now' : new Date(report.untilMs).toISOString()}`;
  out.push(
    `${title}: ${report.evaluated} request(s) evaluated from ${window} (${report.skipped} never reached policy), in ${report.durationMs} ms (${report.perSecond}/s)`,
    `  unchanged: ${report.unchanged}   changed: ${report.changed}   undetermined: ${report.undetermined}`,
  );
  const section = (heading: string, groups: readonly Group[], withDetail = false) => {
    if (groups.length === 0) return;
    out.push('', heading);
    out.push(table(['COUNT', 'GROUP'], groups.map((g) => [String(g.count), g.key])));
    if (withDetail || heading.startsWith('CHANGES')) {
      for (const g of groups) {
        out.push('', `${g.key} (${g.count}), e.g.:`);
        const rows = g.examples.map((e) => [e.time.slice(0, 19) + 'Z', e.principal, e.verb, e.resource, e.namespace || '-', e.name || '-', e.before, withDetail ? (e.detail ?? '') : e.after, e.requestId]);
        out.push(indent(table(['TIME', 'PRINCIPAL', 'VERB', 'RESOURCE', 'NAMESPACE', 'NAME', 'RECORDED', withDetail ? 'WHY' : 'PROPOSED', 'REQUEST ID'], rows)));
      }
    }
  };
  section('CHANGES BY TRANSITION', report.transitions);
  section('CHANGES BY RULE', report.rules);
  section('CHANGES BY PRINCIPAL', report.principals);
  section('UNDETERMINED (the record does not hold what the decision depends on)', report.undeterminedReasons, true);
  return `${out.join('\n')}\n`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

