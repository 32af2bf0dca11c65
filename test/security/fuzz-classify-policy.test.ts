import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubeRequest } from '../../src/classify/kube-request.js';
import type { Principal } from '../../src/identity/principal.js';
import { classifyRequest } from '../../src/kube/request-info.js';
import type { RequestInfo } from '../../src/kube/request-info.js';
import { evaluatePolicy } from '../../src/policy/engine.js';
import type { Decision } from '../../src/policy/engine.js';
import type { CompiledPolicy } from '../../src/policy/model.js';
import { policyOf, policyYaml } from '../unit/policy/helpers.js';
import { fuzzParams } from './helpers/fuzz.js';
import { recordTally } from './helpers/tally.js';

// Property tests for the request classifier (src/kube/request-info.ts) and
// the policy evaluator (src/policy/engine.ts).
//
// The canonicalisation oracle is the API server's own reading of a request
// target: Go's url.URL decodes the path (`req.URL.Path`) and the query keys
// and values (`url.ParseQuery`), and RequestInfo splits the decoded path on
// `/` after trimming slashes at both ends. So a target whose characters are
// percent-encoded at random (upper- or lower-case hex), or that ends in a
// slash (resource requests), must be classified and judged exactly as its
// plain spelling, or be refused (400) by the gateway. It may never be judged
// differently.
let attempts = 0;
let blocked = 0;
afterAll(() => recordTally('fuzz-classify-policy', { attempts, blocked }));

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** Characters a plain segment may hold that mean the same decoded or not (no `/`, `%`, `?`, `#`, space). */
const SEG_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-._~:@!$&\'()*+,;='.split('');
const plainSeg = fc.string({ unit: fc.constantFrom(...SEG_CHARS), minLength: 1, maxLength: 10 });
/** Segments the test policy names, so decisions vary. */
const knownSeg = fc.constantFrom('locked', 'open', 'kube-system', 'secrets', 'pods', 'configmaps', 'exec', 'log', 'proxy', 'status', 'scale', 'nodes', 'n1', 'keep-me', 'apps', 'v1', 'deployments', 'namespaces', 'watch', 'healthz', 'logs', 'debug', 'metrics', 'version');
const seg = fc.oneof({ weight: 3, arbitrary: knownSeg }, { weight: 2, arbitrary: plainSeg });

/** A plain request target: resource paths of both API prefixes, or a non-resource path. */
const plainPathArb = fc.oneof(
  fc.tuple(fc.option(seg, { nil: undefined }), seg, fc.option(seg, { nil: undefined }), fc.option(seg, { nil: undefined })).map(
    ([ns, resource, name, sub]) => `/api/v1${ns === undefined ? '' : `/namespaces/${ns}`}/${resource}${name === undefined ? '' : `/${name}`}${name !== undefined && sub !== undefined ? `/${sub}` : ''}`,
  ),
  fc.tuple(seg, fc.option(seg, { nil: undefined }), seg, fc.option(seg, { nil: undefined })).map(
    ([group, ns, resource, name]) => `/apis/${group}/v1${ns === undefined ? '' : `/namespaces/${ns}`}/${resource}${name === undefined ? '' : `/${name}`}`,
  ),
  fc.array(seg, { minLength: 1, maxLength: 4 }).map((segs) => `/${segs.join('/')}`),
);
const queryArb = fc.array(
  fc.tuple(fc.constantFrom('watch', 'fieldSelector', 'labelSelector', 'dryRun', 'limit', 'x'), fc.constantFrom('1', 'true', 'false', '0', 'All', 'metadata.name=keep-me', 'metadata.namespace=locked', 'a=b,c!=d', '')),
  { maxLength: 3 },
);
const canonicalArb = fc.record({ method: fc.constantFrom(...METHODS), path: plainPathArb, query: queryArb });
type Canonical = { method: string; path: string; query: [string, string][] };

const pct = (c: string, upper: boolean): string =>
  [...Buffer.from(c, 'utf8')].map((b) => `%${upper ? b.toString(16).toUpperCase().padStart(2, '0') : b.toString(16).padStart(2, '0')}`).join('');
/** Percent-encodes the characters of `s` whose flag is set (flags cycle). */
function encodeSome(s: string, flags: boolean[], upper: boolean): string {
  if (flags.length === 0) return s;
  return [...s].map((c, i) => (flags[i % flags.length] ? pct(c, upper) : c)).join('');
}
const target = (path: string, query: [string, string][]): string => (query.length === 0 ? path : `${path}?${query.map(([k, v]) => `${k}=${v}`).join('&')}`);

/** The fields the API server authorizes and Gatehouse judges on. */
function judged(i: RequestInfo) {
  return {
    isResourceRequest: i.isResourceRequest,
    verb: i.verb,
    apiPrefix: i.apiPrefix,
    apiGroup: i.apiGroup,
    apiVersion: i.apiVersion,
    namespace: i.namespace,
    resource: i.resource,
    subresource: i.subresource,
    name: i.name,
    fieldSelector: i.fieldSelector,
    labelSelector: i.labelSelector,
  };
}

const policy: CompiledPolicy = policyOf(
  policyYaml(`    - { name: locked-secrets, match: { verbs: [get, list, watch], resources: [{ group: "", resource: secrets }], namespaces: [locked, ""] }, action: deny }
    - { name: keep, match: { verbs: [delete, deletecollection, update, patch], names: [keep-me] }, action: deny }
    - { name: streams, match: { resources: [{ group: "", resource: pods/exec }, { group: "", resource: pods/proxy }, { group: "", resource: nodes/proxy }] }, action: review }
    - { name: system, match: { namespaces: [kube-system] }, action: deny }
    - { name: debug-urls, match: { nonResourceURLs: ["/debug/*", "/logs*", /metrics] }, action: deny }
    - { name: apps-writes, match: { verbs: [create, update, patch], resources: [{ group: apps, resource: "*" }] }, action: review }
    - { name: watch-configmaps, match: { verbs: [watch], resources: [{ group: "", resource: configmaps }] }, action: deny }
    - { name: masked-secrets, match: { resources: [{ group: "", resource: secrets }] }, action: mask }
`),
  'allow',
);
const alice: Principal = { subject: 'oidc:alice', groups: ['dev'], kind: 'agent', via: 'oidc', tokenId: undefined };

function kubeRequest(info: RequestInfo, rawTarget: string): KubeRequest {
  const q = rawTarget.indexOf('?');
  return { ...info, query: q < 0 ? '' : rawTarget.slice(q + 1), contentType: undefined, object: undefined };
}
const decisionOf = (d: Decision) => ({ action: d.action, rule: d.rule });

describe('request classifier, property-based', () => {
  it('never throws, whatever the method and target', () => {
    const anyTarget = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 80 }).map((s) => `/${s}`),
      fc.array(fc.oneof(seg, fc.constantFrom('..', '.', '', '%2e%2E', '%2F', '%', '%zz', '%c0%ae', '%00', '\\', '?', '#', '%3F', '\u00e9', '\uD800')), { maxLength: 8 }).map((s) => `/${s.join('/')}`),
      fc.tuple(plainPathArb, fc.string({ unit: 'binary', maxLength: 40 })).map(([p, q]) => `${p}?${q}`),
    );
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...METHODS), fc.string({ maxLength: 8 })), anyTarget, (method, rawTarget) => {
        attempts++;
        const r = classifyRequest(method, rawTarget);
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) {
          blocked++;
          expect(r.reason.length).toBeGreaterThan(0);
          return;
        }
        // Whatever is classified can be judged.
        expect(() => evaluatePolicy(policy, { request: kubeRequest(r.info, rawTarget), principal: alice, namespaceLabels: {} })).not.toThrow();
      }),
      fuzzParams('classify never throws', 3000),
    );
  });

  it('a percent-encoded or slash-terminated spelling is judged as the plain one, or refused', () => {
    fc.assert(
      fc.property(
        canonicalArb,
        fc.array(fc.boolean(), { maxLength: 7 }),
        fc.array(fc.boolean(), { maxLength: 7 }),
        fc.boolean(),
        fc.boolean(),
        (canonical: Canonical, pathFlags, queryFlags, upper, trailingSlash) => {
          const plainTarget = target(canonical.path, canonical.query);
          const plain = classifyRequest(canonical.method, plainTarget);
          fc.pre(plain.ok); // a plain spelling the gateway refuses (dot segments…) has no judgment to compare with
          if (!plain.ok) return;
          // The trailing slash is trimmed for resource requests only: a non-resource path is authorized as written,
          // as RBAC's nonResourceURLs are (`/metrics/` is not `/metrics`; a rule covers both with `/metrics*`).
          const slash = trailingSlash && plain.info.isResourceRequest ? '/' : '';
          const path = canonical.path.split('/').map((s) => encodeSome(s, pathFlags, upper)).join('/') + slash;
          const query = canonical.query.map(([k, v]): [string, string] => [encodeSome(k, queryFlags, upper), encodeSome(v, [...queryFlags].reverse(), !upper)]);
          const variantTarget = target(path, query);
          attempts++;
          const variant = classifyRequest(canonical.method, variantTarget);
          if (!variant.ok) {
            blocked++;
            return;
          }
          expect(judged(variant.info), `${variantTarget} vs ${plainTarget}`).toEqual(judged(plain.info));
          const want = decisionOf(evaluatePolicy(policy, { request: kubeRequest(plain.info, plainTarget), principal: alice, namespaceLabels: {} }));
          const got = decisionOf(evaluatePolicy(policy, { request: kubeRequest(variant.info, variantTarget), principal: alice, namespaceLabels: {} }));
          expect(got, `${canonical.method} ${variantTarget} vs ${plainTarget}`).toEqual(want);
          if (got.action !== 'allow') blocked++;
        },
      ),
      fuzzParams('canonical form', 3000),
    );
  });
});

// ---- The policy evaluator. ----

const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
const NAMESPACES = ['a', 'b', 'kube-system', ''];
const RESOURCES = ['pods', 'secrets', 'configmaps', 'pods/exec', 'deployments'];
const ACTIONS = ['allow', 'mask', 'review', 'deny'] as const;
const ruleArb = fc.record({
  action: fc.constantFrom(...ACTIONS),
  verbs: fc.option(fc.subarray(VERBS, { minLength: 1 }), { nil: undefined }),
  namespaces: fc.option(fc.subarray(NAMESPACES, { minLength: 1 }), { nil: undefined }),
  resources: fc.option(fc.subarray(RESOURCES, { minLength: 1 }), { nil: undefined }),
  users: fc.option(fc.subarray(['oidc:alice', 'oidc:bob', 'token:*'], { minLength: 1 }), { nil: undefined }),
  groups: fc.option(fc.subarray(['dev', 'ops'], { minLength: 1 }), { nil: undefined }),
  kinds: fc.option(fc.subarray(['human', 'agent', 'ci'] as const, { minLength: 1 }), { nil: undefined }),
});
type RuleGen = typeof ruleArb extends fc.Arbitrary<infer T> ? T : never;
const requestArb = fc.record({
  method: fc.constantFrom(...METHODS),
  ns: fc.constantFrom(...NAMESPACES, 'c'),
  resource: fc.constantFrom('pods', 'secrets', 'configmaps', 'services'),
  name: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
  sub: fc.option(fc.constantFrom('exec', 'log', 'status'), { nil: undefined }),
  watch: fc.boolean(),
});
const principalArb = fc.record({
  subject: fc.constantFrom('oidc:alice', 'oidc:bob', 'token:ci-1', ''),
  groups: fc.subarray(['dev', 'ops', 'system:masters']),
  kind: fc.constantFrom<Principal['kind']>('human', 'agent', 'ci'),
  via: fc.constant<Principal['via']>('oidc'),
  tokenId: fc.constant(undefined),
});

const yamlList = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
function ruleYaml(r: RuleGen, i: number): string {
  const m: string[] = [];
  if (r.verbs) m.push(`verbs: ${yamlList(r.verbs)}`);
  if (r.namespaces) m.push(`namespaces: ${yamlList(r.namespaces)}`);
  if (r.resources) m.push(`resources: [${r.resources.map((x) => `{ group: "", resource: ${JSON.stringify(x)} }`).join(', ')}]`);
  if (r.users) m.push(`users: ${yamlList(r.users)}`);
  if (r.groups) m.push(`groups: ${yamlList(r.groups)}`);
  if (r.kinds) m.push(`principalKinds: ${yamlList(r.kinds)}`);
  return `    - { name: r${i}-${r.action}, match: { ${m.join(', ')} }, action: ${r.action} }\n`;
}

/** An independent reading of the plain match fields (no globs are generated except `token:*`). */
function oracleMatches(r: RuleGen, req: KubeRequest, p: Principal): boolean {
  const resource = req.subresource === '' ? req.resource : `${req.resource}/${req.subresource}`;
  if (!req.isResourceRequest) return false;
  if (r.verbs && !r.verbs.includes(req.verb)) return false;
  if (r.namespaces && !r.namespaces.includes(req.namespace)) return false;
  if (r.resources && !(req.apiGroup === '' && r.resources.includes(resource))) return false;
  if (r.users && !r.users.some((u) => (u.endsWith('*') ? p.subject.startsWith(u.slice(0, -1)) : u === p.subject))) return false;
  if (r.groups && !r.groups.some((g) => p.groups.includes(g))) return false;
  if (r.kinds && !r.kinds.includes(p.kind)) return false;
  return true;
}

describe('policy evaluator, property-based', () => {
  it('never crashes on random policies, requests and principals, and a matching deny always wins', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 6 }), requestArb, principalArb, fc.constantFrom<'allow' | 'deny'>('allow', 'deny'), (rules, r, p, defaultAction) => {
        const compiled = policyOf(policyYaml(rules.map(ruleYaml).join('')), defaultAction);
        const path = `/api/v1/namespaces/${r.ns === '' ? 'c' : r.ns}/${r.resource}${r.name ? `/${r.name}` : ''}${r.name && r.sub ? `/${r.sub}` : ''}${r.watch ? '?watch=1' : ''}`;
        const cluster = r.ns === '' ? path.replace('/namespaces/c', '') : path;
        const info = classifyRequest(r.method, cluster);
        fc.pre(info.ok);
        if (!info.ok) return;
        const req = kubeRequest(info.info, cluster);
        attempts++;
        const d = evaluatePolicy(compiled, { request: req, principal: p, namespaceLabels: {} });
        const denyMatches = rules.some((rule) => rule.action === 'deny' && oracleMatches(rule, req, p));
        const anyMatches = rules.some((rule) => oracleMatches(rule, req, p));
        // A deny that matches wins over any allow, mask or review, in any order.
        if (denyMatches) expect(d.action, `${r.method} ${cluster}`).toBe('deny');
        // The matched list agrees with the oracle, and the winner is the strictest match.
        expect(d.matched.map((m) => m.rule).sort()).toEqual(rules.flatMap((rule, i) => (oracleMatches(rule, req, p) ? [`r${i}-${rule.action}`] : [])).sort());
        if (!anyMatches) expect(d.action).toBe(defaultAction);
        if (d.action === 'deny' || d.action === 'review') blocked++;
      }),
      fuzzParams('policy evaluator', 1500),
    );
  });
});
