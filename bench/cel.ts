/**
 * CEL guardrail benchmark: warm µs per evaluation of five realistic
 * expressions, and the per-request total of a 30-rule policy (p50/p99),
 * including the one-off conversion of each request's objects.
 *
 * Run: npx tsc -p bench/tsconfig.json && node .cache/bench/bench/cel.js [--per-rule]
 */
import { celEnv } from '../src/policy/cel/env.js';
import { compileCel, lastEvaluationCost, prepareActivation, type CelActivation, type CelProgram } from '../src/policy/cel/index.js';
import { startMeter } from '../src/policy/cel/meter.js';
import { toCel, toPrincipal, toRequest } from '../src/policy/cel/values.js';
import { makePod } from './lib/pod.js';
import { percentile } from './lib/stats.js';

const containersOf = (pred: string): string =>
  ['object.spec.containers', 'object.spec.?initContainers.orValue([])', 'object.spec.?ephemeralContainers.orValue([])']
    .map((l) => `${l}.exists(c, ${pred})`)
    .join(' || ');

/** The five guardrails (each true = violation). */
const GUARDRAILS: [string, string][] = [
  ['privileged container', containersOf('c.?securityContext.?privileged.orValue(false)')],
  ['hostPath volume', 'object.spec.?volumes.orValue([]).exists(v, has(v.hostPath))'],
  ['image registry allow-list (RE2)', containersOf("!c.image.matches('^(registry\\\\.example\\\\.com|ghcr\\\\.io/acme)/')")],
  [
    'secret env refs',
    'object.spec.containers.exists(c, c.?env.orValue([]).exists(e, has(e.valueFrom) && has(e.valueFrom.secretKeyRef)) || c.?envFrom.orValue([]).exists(e, has(e.secretRef)))',
  ],
  ['capabilities add', containersOf("c.?securityContext.?capabilities.?add.orValue([]).exists(a, a in ['SYS_ADMIN', 'NET_ADMIN', 'NET_RAW', 'ALL'])")],
];

/** 25 more typical rules to make a 30-rule policy. */
const OTHERS: string[] = [
  "request.operation == 'DELETE' && request.namespace in ['kube-system', 'prod']",
  "principal.kind == 'agent' && request.operation in ['CREATE', 'UPDATE']",
  "request.resource.resource == 'secrets' && principal.kind != 'human'",
  "request.subResource == 'exec' && request.namespace.startsWith('prod')",
  "!has(object.metadata.labels) || !('team' in object.metadata.labels)",
  'object.spec.?hostNetwork.orValue(false) || object.spec.?hostPID.orValue(false) || object.spec.?hostIPC.orValue(false)',
  "object.spec.containers.exists(c, c.image.endsWith(':latest') || !c.image.contains(':'))",
  "object.spec.containers.exists(c, !has(c.resources) || !has(c.resources.limits) || !('memory' in c.resources.limits))",
  "object.spec.containers.exists(c, has(c.resources.limits.memory) && quantity(c.resources.limits.memory).isGreaterThan(quantity('8Gi')))",
  "object.spec.containers.exists(c, has(c.resources.limits.cpu) && quantity(c.resources.limits.cpu).compareTo(quantity('4')) > 0)",
  'object.spec.containers.exists(c, c.?securityContext.?allowPrivilegeEscalation.orValue(true))',
  'object.spec.containers.exists(c, !c.?securityContext.?runAsNonRoot.orValue(false))',
  "object.spec.?serviceAccountName.orValue('default') == 'default'",
  'object.spec.containers.exists(c, c.?ports.orValue([]).exists(p, has(p.hostPort) && p.hostPort > 0))',
  "object.spec.volumes.exists(v, has(v.secret) && v.secret.secretName.startsWith('admin-'))",
  "principal.groups.exists(g, g == 'breakglass') && request.operation == 'DELETE'",
  "object.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') == false",
  "size(object.spec.containers) > 10",
  "object.spec.containers.map(c, c.name).exists(n, n.startsWith('debug'))",
  "object.metadata.?annotations.orValue({}).exists(k, k.startsWith('gatehouse.dev/bypass'))",
  "request.userInfo.username.startsWith('system:serviceaccount:kube-system:')",
  "object.spec.?nodeName.orValue('') != ''",
  "object.spec.containers.exists(c, c.?volumeMounts.orValue([]).exists(m, m.mountPath.startsWith('/var/run/docker')))",
  "object.spec.?tolerations.orValue([]).exists(t, t.?key.orValue('') == 'node-role.kubernetes.io/control-plane')",
  "request.dryRun == false && principal.kind == 'ci' && request.namespace == 'prod'",
];

function compile(src: string): CelProgram {
  const r = compileCel(src);
  if (!r.ok) throw new Error(`${src}: ${r.error}`);
  return r.program;
}

/** One request's variables, prepared as the engine prepares them (converted once for every rule). */
function activation(pod: Record<string, unknown>): CelActivation {
  return prepareActivation({
    object: pod,
    oldObject: null,
    namespaceObject: { metadata: { name: 'payments', labels: { env: 'production' } } },
    request: {
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: '',
      name: 'web-7d9f8c6b5-x2kqz',
      namespace: 'payments',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:payments:deployer', groups: ['system:serviceaccounts'] },
      dryRun: false,
    },
    principal: { subject: 'agent:claude', groups: ['ai-agents'], kind: 'agent', via: 'token', tokenId: 't1' },
  });
}

/** Time of each rule of the 30-rule policy, slowest first. */
function perRule(): void {
  const act = activation(makePod());
  const rows = [...GUARDRAILS.map(([, s]) => s), ...OTHERS].map((src) => {
    const p = compile(src);
    for (let i = 0; i < 20_000; i++) p.evaluate(act);
    const t = process.hrtime.bigint();
    for (let i = 0; i < 50_000; i++) p.evaluate(act);
    return { us: Number(process.hrtime.bigint() - t) / 50_000 / 1000, src };
  });
  rows.sort((a, b) => b.us - a.us);
  for (const r of rows) console.log(`${r.us.toFixed(2).padStart(6)} µs  ${r.src.slice(0, 110)}`);
  console.log(`total ${rows.reduce((a, r) => a + r.us, 0).toFixed(1)} µs`);
}

function main(): void {
  const act = activation(makePod());
  console.log('Single expressions (warm, conversion and shared subexpressions kept; µs per evaluation, median of 21 batches of 20 000):');
  for (const [name, src] of GUARDRAILS) {
    const p = compile(src);
    const first = p.evaluate(act);
    if (!first.ok || first.value !== false) throw new Error(`${name}: unexpected ${JSON.stringify(first)}`);
    const cost = lastEvaluationCost();
    for (let i = 0; i < 20_000; i++) p.evaluate(act);
    const batches: number[] = [];
    for (let b = 0; b < 21; b++) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) p.evaluate(act);
      batches.push(Number(process.hrtime.bigint() - t) / 20_000 / 1000);
    }
    batches.sort((a, b) => a - b);
    console.log(`  ${name.padEnd(34)} ${percentile(batches, 50).toFixed(2).padStart(6)} µs  (cost ${cost} units)`);
  }

  const policy = [...GUARDRAILS.map(([, s]) => s), ...OTHERS].map(compile);
  console.log(`\n${policy.length}-rule policy, one fresh pod object per request (includes converting it once):`);
  const N = 20_000;
  const pods = Array.from({ length: 1000 }, () => makePod());
  const samples: number[] = [];
  for (let i = 0; i < N + 2000; i++) {
    // A new object each request (so no conversion cache hit), made outside the timed part.
    const a = activation(i % 1000 === 0 ? makePod() : (pods[i % 1000] = JSON.parse(JSON.stringify(pods[i % 1000] ?? makePod())) as Record<string, unknown>));
    const t = process.hrtime.bigint();
    for (const p of policy) {
      const r = p.evaluate(a);
      if (!r.ok) throw new Error(r.error);
    }
    const us = Number(process.hrtime.bigint() - t) / 1000;
    if (i >= 2000) samples.push(us);
  }
  samples.sort((a, b) => a - b);
  console.log(`  p50 ${percentile(samples, 50).toFixed(1)} µs   p90 ${percentile(samples, 90).toFixed(1)} µs   p99 ${percentile(samples, 99).toFixed(1)} µs   max ${percentile(samples, 100).toFixed(1)} µs`);

  const warm = activation(makePod());
  const warmSamples: number[] = [];
  for (let i = 0; i < N + 2000; i++) {
    const t = process.hrtime.bigint();
    for (const p of policy) p.evaluate(warm);
    if (i >= 2000) warmSamples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  warmSamples.sort((a, b) => a - b);
  console.log(`  same request re-evaluated (conversion and shared subexpressions kept): p50 ${percentile(warmSamples, 50).toFixed(1)} µs   p99 ${percentile(warmSamples, 99).toFixed(1)} µs`);

  // Baseline: the CEL library alone on pre-converted values (no metering, no result conversion).
  const raw = [...GUARDRAILS.map(([, s]) => s), ...OTHERS].map((s) => {
    const f = celEnv.parse(s);
    f.check();
    return f;
  });
  const vars = { object: toCel(warm.object), oldObject: null, namespaceObject: toCel(warm.namespaceObject), request: toRequest(warm.request), principal: toPrincipal(warm.principal) };
  startMeter(Number.MAX_SAFE_INTEGER);
  const rawSamples: number[] = [];
  for (let i = 0; i < N + 2000; i++) {
    const t = process.hrtime.bigint();
    for (const f of raw) f(vars);
    if (i >= 2000) rawSamples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  rawSamples.sort((a, b) => a - b);
  console.log(`  library alone, same expressions: p50 ${percentile(rawSamples, 50).toFixed(1)} µs   p99 ${percentile(rawSamples, 99).toFixed(1)} µs`);
}

if (process.argv.includes('--per-rule')) perRule(); else main();
