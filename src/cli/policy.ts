import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import type { Principal } from '../identity/principal.js';
import { backtestPolicy, formatReport, shadowReport } from '../policy/backtest.js';
import type { BacktestOptions, BacktestReport } from '../policy/backtest.js';
import { compileCel } from '../policy/cel/index.js';
import type { Store } from '../store/types.js';
import { parseTime } from '../audit/time.js';
import { storeOptions, withStore } from './audit.js';
import type { StoreFlags } from './audit.js';
import { builtinGuardrailsDir } from '../policy/config.js';
import { explainPolicy, formatExplanation } from '../policy/explain.js';
import { isClusterScopedKind, kubeRequestFor, nonResourceRequestFor, resourceForKind, splitApiVersion } from '../policy/kinds.js';
import { loadPolicy } from '../policy/load.js';
import { defaultActions, principalKinds } from '../policy/model.js';
import type { CelCompiler, PolicyAction } from '../policy/model.js';
import { formatTestRun, runPolicyTests, testRunPassed } from '../policy/testing.js';
import { isRecord } from '../kube/object.js';
import type { KubeRequest } from '../classify/kube-request.js';
import { boundRoleVariable, describeRoleRef, roleRefOf, storedRole } from '../policy/bound-role.js';
import { requestFacts } from '../policy/engine.js';

interface ExplainFlags {
  policy: string[];
  builtinGuardrails?: boolean;
  defaultAction: PolicyAction;
  verb: string;
  filename?: string;
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  path?: string;
  namespace?: string;
  name?: string;
  user: string;
  group: string[];
  kind: Principal['kind'];
  namespaceLabels?: string;
  boundRole?: string;
  json?: boolean;
}

/** The CEL compiler the commands use; the policy modules take it injected. */
const compile: CelCompiler = (source) => compileCel(source);

/**
 * `gatehouse policy test <path>`, `explain …`, `backtest …` and `shadow-report …`.
 *
 * @example
 * registerPolicy(program); // in buildProgram()
 */
export function registerPolicy(program: Command): void {
  const policy = program
    .command('policy')
    .description('test policy against expected decisions, and explain the decision for one request')
    .addHelpText(
      'after',
      `
Examples:
  gatehouse policy test ./policies
  gatehouse policy explain --policy ./policies -f pod.yaml --verb create --user token:cursor --kind agent
  gatehouse policy backtest --policy ./proposed --builtin-guardrails --since 7d --max-changes 0
  gatehouse policy shadow-report --since 1d --cluster prod`,
    );

  policy
    .command('test')
    .description('run PolicyTest files (a file, or every YAML file under a directory) and print a pass/fail table; exits 1 on any failure')
    .argument('<path>', 'a PolicyTest file or a directory')
    .option('--json', 'print the results as JSON')
    .action((path: string, flags: { json?: boolean }) => {
      const run = runPolicyTests(path, compile);
      if (flags.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
      else process.stdout.write(formatTestRun(run));
      if (!testRunPassed(run)) process.exitCode = 1;
    });

  policy
    .command('explain')
    .description('show every rule (matched or not, and why not) and the final decision for one request')
    .requiredOption('--policy <path...>', 'policy files or directories')
    .option('--builtin-guardrails', 'also load the shipped guardrail pack, as the gateway does by default')
    .addOption(new Option('--default-action <action>', 'when no rule matches and no Policy document sets it').choices(defaultActions).default('deny'))
    .requiredOption('--verb <verb>', 'get, list, watch, create, update, patch, delete, deletecollection…')
    .option('-f, --filename <file>', 'the object (YAML or JSON); its apiVersion and kind give the resource')
    .option('--api-group <group>', 'API group ("" for core); default from the object')
    .option('--api-version <version>', 'API version; default from the object, else v1')
    .option('--resource <resource>', 'resource, or resource/subresource (e.g. pods/exec); default from the object kind')
    .option('--path <path>', 'a non-resource request path such as /version, instead of a resource')
    .option('--namespace <ns>', 'namespace; default from the object, else "default" for namespaced kinds')
    .option('--name <name>', 'object name; default from the object')
    .option('--user <subject>', 'who is asking', 'cli:explain')
    .option('--group <group...>', 'their groups', [])
    .addOption(new Option('--kind <kind>', 'what they are').choices(principalKinds).default('human'))
    .option('--namespace-labels <k=v,...>', 'labels of the target namespace, for namespaceSelector rules')
    .option('--bound-role <file>', 'for a RoleBinding or ClusterRoleBinding: the Role or ClusterRole its roleRef names (YAML or JSON), for rules that read boundRole')
    .option('--json', 'print the explanation as JSON')
    .action((flags: ExplainFlags) => {
      const paths = flags.builtinGuardrails ? [builtinGuardrailsDir(), ...flags.policy] : flags.policy;
      const compiled = loadPolicy(paths, { compile, defaultAction: flags.defaultAction });
      const object = flags.filename === undefined ? undefined : readObject(flags.filename);
      const principal: Principal = { subject: flags.user, groups: flags.group, kind: flags.kind, via: 'token', tokenId: undefined };
      const request = flags.path !== undefined ? nonResourceRequestFor(flags.verb, flags.path) : requestFromFlags(flags, object);
      const namespaceLabels = parseLabels(flags.namespaceLabels ?? '');
      const boundRole = flags.boundRole === undefined ? undefined : boundRoleFromFile(flags.boundRole, request, principal, object);
      const explanation = explainPolicy(compiled, { request, principal, object, namespaceLabels, boundRole });
      if (flags.json) {
        const rules = explanation.rules.map((e) => ({ rule: e.rule.name, policy: e.rule.policy, location: e.rule.location, action: e.rule.action, outcome: e.outcome, reason: e.reason }));
        const budgets = explanation.budgets?.map((b) => ({ budget: b.budget.name, policy: b.budget.policy, location: b.budget.location, limit: b.budget.summary, action: b.budget.action, applies: b.applies, reason: b.reason }));
        process.stdout.write(`${JSON.stringify({ decision: explanation.decision, rules, ...(budgets ? { budgets } : {}) }, null, 2)}\n`);
      } else {
        process.stdout.write(formatExplanation(explanation));
      }
    });

  reportOptions(policy.command('backtest'))
    .description('evaluate a proposed policy against the recorded requests and report which decisions would change')
    .requiredOption('--policy <path...>', 'the proposed policy: files or directories')
    .option('--builtin-guardrails', 'also load the shipped guardrail pack, as the gateway does by default')
    .addOption(new Option('--default-action <action>', 'when no rule matches and no Policy document sets it').choices(defaultActions).default('deny'))
    .addHelpText('after', REPORT_EXIT_CODES)
    .action((flags: BacktestFlags & { policy: string[]; builtinGuardrails?: boolean; defaultAction: PolicyAction }) => {
      const paths = flags.builtinGuardrails ? [builtinGuardrailsDir(), ...flags.policy] : flags.policy;
      const compiled = loadPolicy(paths, { compile, defaultAction: flags.defaultAction });
      return runReport(flags, 'backtest', (repo, options) => backtestPolicy(repo, compiled, options));
    });

  reportOptions(policy.command('shadow-report'))
    .description('compare the shadow policy\'s recorded decisions (policy.shadow) with the enforced ones')
    .addHelpText('after', REPORT_EXIT_CODES)
    .action((flags: BacktestFlags) => runReport(flags, 'shadow report', shadowReport));
}

interface BacktestFlags extends StoreFlags {
  since?: string;
  until?: string;
  principal?: string;
  cluster?: string;
  json?: boolean;
  maxChanges: number;
  examples: number;
}

/** Exit status of backtest and shadow-report when the changes exceed --max-changes (1 is any other failure). */
export const EXIT_TOO_MANY_CHANGES = 3;

function nonNegativeInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number, 0 or more');
  return n;
}

/** The options backtest and shadow-report share: store, window, threshold, output. */
function reportOptions(command: Command): Command {
  return storeOptions(command)
    .option('--since <time>', 'RFC 3339 time, or an age such as 2h, 7d (default: everything recorded)')
    .option('--until <time>', 'RFC 3339 time, or an age such as 1h')
    .option('--principal <subject>', 'only requests by this principal')
    .option('--cluster <name>', "only requests for this one of the gateway's clusters")
    .option('--max-changes <n>', `exit ${EXIT_TOO_MANY_CHANGES} when more requests than this change`, nonNegativeInt, 0)
    .option('--examples <n>', 'example requests per group', nonNegativeInt, 5)
    .option('--json', 'print the report as JSON');
}

/** Runs a report over the store, prints it, and sets the exit status for CI. */
async function runReport(flags: BacktestFlags, title: string, make: (repo: Store['audit'], options: BacktestOptions) => Promise<BacktestReport>): Promise<void> {
  const filter = {
    subject: flags.principal,
    sinceMs: flags.since === undefined ? undefined : parseTime(flags.since),
    untilMs: flags.until === undefined ? undefined : parseTime(flags.until),
  };
  await withStore(flags, async (store) => {
    const report = await make(store.audit, { filter, cluster: flags.cluster, examplesPerGroup: flags.examples });
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, title));
    if (report.changed > flags.maxChanges) {
      process.stderr.write(`gatehouse: ${report.changed} request(s) would change, more than --max-changes ${flags.maxChanges}\n`);
      process.exitCode = EXIT_TOO_MANY_CHANGES;
    }
  });
}

const REPORT_EXIT_CODES = `
Exit status: 0 when at most --max-changes requests change (undetermined ones do not count),
${EXIT_TOO_MANY_CHANGES} when more do, 1 on an error (the policy does not load, no store).`;

function requestFromFlags(flags: ExplainFlags, object: Record<string, unknown> | undefined) {
  const [group, version] = splitApiVersion(typeof object?.apiVersion === 'string' ? object.apiVersion : 'v1');
  const kind = typeof object?.kind === 'string' ? object.kind : '';
  const metadata = isRecord(object?.metadata) ? object.metadata : {};
  const resource = flags.resource ?? (kind === '' ? undefined : resourceForKind(kind));
  if (resource === undefined) throw new Error('give --resource, -f with an object that has a kind, or --path');
  const name = flags.name ?? (flags.verb === 'create' ? '' : typeof metadata.name === 'string' ? metadata.name : '');
  const namespace = flags.namespace ?? (isClusterScopedKind(kind) ? '' : typeof metadata.namespace === 'string' ? metadata.namespace : 'default');
  return kubeRequestFor({ verb: flags.verb, group: flags.apiGroup ?? group, version: flags.apiVersion ?? version, resource, namespace, name, object });
}

function readObject(file: string): Record<string, unknown> {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const first = Array.isArray(docs) ? docs[0] : undefined;
  if (first === undefined) throw new Error(`${file}: no document`);
  const err = first.errors[0];
  if (err) throw new Error(`${file}: invalid YAML: ${err.message}`);
  const value: unknown = first.toJS({ maxAliasCount: 100 });
  if (!isRecord(value)) throw new Error(`${file}: not an object`);
  return value;
}

/** The `boundRole` of the binding being explained, from the role's manifest. */
function boundRoleFromFile(file: string, request: KubeRequest, principal: Principal, object: unknown): Record<string, unknown> {
  const ref = roleRefOf(requestFacts(request, principal, object), object);
  if (ref === undefined) throw new Error('--bound-role: the request is not a create, update or patch of a RoleBinding or ClusterRoleBinding with a roleRef');
  const role = readObject(file);
  const metadata = isRecord(role.metadata) ? role.metadata : {};
  if (role.kind !== ref.kind || metadata.name !== ref.name) throw new Error(`--bound-role: ${file} is not ${describeRoleRef(ref)}, which the binding refers to`);
  return boundRoleVariable(ref, storedRole(role));
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').filter((p) => p.trim() !== '')) {
    const eq = pair.indexOf('=');
    if (eq < 0) throw new Error(`--namespace-labels: "${pair}" is not key=value`);
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return labels;
}
