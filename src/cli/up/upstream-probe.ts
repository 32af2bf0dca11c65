/**
 * Questions `up` and `doctor` ask the upstream API server with the credential
 * the gateway will hold: is it there, and what may that credential do.
 *
 * @module
 */
import { createUpstream } from '../../upstream/client.js';
import type { Upstream } from '../../upstream/client.js';
import { upstreamFetch } from '../../upstream/fetch.js';
import { loadKubeconfig } from '../../upstream/kubeconfig.js';
import type { UpstreamTarget } from '../../upstream/kubeconfig.js';

export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
}

export interface UpstreamFacts {
  target: UpstreamTarget;
  /** `gitVersion` from /version. */
  version: string;
}

const TIMEOUT_MS = 5_000;

/**
 * Loads the kubeconfig context and asks the server for /version.
 * Rejects with a one-line reason (the kubeconfig's problem, a transport error or an HTTP status).
 *
 * @example
 * const { target, version } = await probeUpstream('~/.kube/config', 'kind-dev');
 */
export async function probeUpstream(kubeconfig: string, context: string | undefined): Promise<UpstreamFacts> {
  const target = loadKubeconfig(kubeconfig, context);
  const reply = await withUpstream(target, (upstream) => upstreamFetch(upstream, { method: 'GET', path: '/version', timeoutMs: TIMEOUT_MS }));
  if (reply.status !== 200) throw new Error(`${target.server.origin} answered /version with HTTP ${reply.status}`);
  const { gitVersion } = JSON.parse(reply.body.toString('utf8')) as { gitVersion?: string };
  return { target, version: gitVersion ?? 'unknown' };
}

/** The credential's rules in `namespace` (SelfSubjectRulesReview); rejects when the server refuses the review. */
export async function credentialRules(target: UpstreamTarget, namespace: string): Promise<{ rules: ResourceRule[]; incomplete: boolean }> {
  const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } };
  const reply = await withUpstream(target, (upstream) =>
    upstreamFetch(upstream, {
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(review)),
      timeoutMs: TIMEOUT_MS,
    }),
  );
  if (reply.status !== 201 && reply.status !== 200) throw new Error(`the SelfSubjectRulesReview was answered with HTTP ${reply.status}`);
  const { status } = JSON.parse(reply.body.toString('utf8')) as { status?: { resourceRules?: ResourceRule[]; incomplete?: boolean } };
  return { rules: status?.resourceRules ?? [], incomplete: status?.incomplete ?? false };
}

/** Whether `rules` grant `verb` on `resource` of `group` (RBAC's `*` wildcards included). */
export function allows(rules: readonly ResourceRule[], verb: string, group: string, resource: string): boolean {
  const has = (list: string[] | undefined, value: string): boolean => (list ?? []).some((v) => v === '*' || v === value);
  return rules.some((r) => has(r.verbs, verb) && has(r.apiGroups, group) && has(r.resources, resource));
}

async function withUpstream<T>(target: UpstreamTarget, use: (upstream: Upstream) => Promise<T>): Promise<T> {
  const upstream = createUpstream(target);
  try {
    return await use(upstream);
  } finally {
    upstream.close();
  }
}
