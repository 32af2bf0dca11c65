/**
 * The active policy, read-only: its rules, and explain for one request (a
 * method and a path as kubectl would send them, optionally a body and who
 * asks), the same evaluation the policy stage runs, with every rule's verdict.
 *
 * @module
 */

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { KubeRequest } from '../classify/kube-request.js';
import type { Principal } from '../identity/principal.js';
import { classifyRequest } from '../kube/request-info.js';
import { explainPolicy, withBoundRole } from '../policy/explain.js';
import type { RoleLookup } from '../policy/explain.js';
import { formatLocation, principalKinds } from '../policy/model.js';
import type { PolicyHandle } from '../policy/model.js';
import { ConsoleError } from './errors.js';
import { readJson } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

const explainBody = z
  .object({
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
    /** With its query string, e.g. `/api/v1/namespaces/default/pods?watch=true`. */
    path: z.string().startsWith('/', 'must start with /'),
    /** The object a create or update would send, as YAML or JSON text. */
    body: z.string().optional(),
    /** Who asks; default the caller. */
    subject: z.string().min(1).optional(),
    groups: z.array(z.string()).optional(),
    kind: z.enum(principalKinds).default('human'),
    /** Labels of the target namespace, for namespaceSelector rules (not looked up). */
    namespaceLabels: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** What explain looks up in the cluster, as the policy stage does for a live request. */
export interface PolicyLookups {
  /** The role a binding write refers to (`boundRole`), from the default cluster; without it, rules reading `boundRole` fail closed. */
  boundRole?: RoleLookup | undefined;
}

/**
 * @example
 * const routes = policyRoutes(policy, { boundRole: (ref) => clusters.defaultCluster.boundRole(ref) });
 */
export function policyRoutes(policy: PolicyHandle, lookups: PolicyLookups = {}): Route[] {
  return [
    route('GET', '/gatehouse/v1/policy', 'signed-in', () => {
      const current = policy.current();
      return reply(200, {
        defaultAction: current.defaultAction,
        defaultActionFrom: current.defaultActionFrom === 'config' ? 'config' : formatLocation(current.defaultActionFrom),
        files: current.files,
        rules: current.rules.map((r) => ({
          name: r.name,
          policy: r.policy,
          action: r.action,
          description: r.description ?? null,
          message: r.message ?? null,
          hint: r.hint ?? null,
          location: formatLocation(r.location),
        })),
      });
    }),
    route('POST', '/gatehouse/v1/policy/explain', 'signed-in', async ({ req, caller }) => {
      const input = await readJson(req, explainBody);
      const classified = classifyRequest(input.method, input.path);
      if (!classified.ok) throw new ConsoleError('bad-request', `the gateway would refuse this path: ${classified.reason}`);
      const object = input.body === undefined ? undefined : parseObject(input.body);
      const q = input.path.indexOf('?');
      const request: KubeRequest = {
        ...classified.info,
        query: q === -1 ? '' : input.path.slice(q + 1),
        contentType: object === undefined ? undefined : 'application/json',
        object,
      };
      const principal: Principal = {
        subject: input.subject ?? caller.subject,
        groups: input.groups ?? (input.subject === undefined ? caller.groups : []),
        kind: input.kind,
        via: 'token',
        tokenId: undefined,
      };
      const current = policy.current();
      const given = { request, principal, object, namespaceLabels: input.namespaceLabels };
      const { decision, rules } = explainPolicy(current, lookups.boundRole === undefined ? given : await withBoundRole(current, given, lookups.boundRole));
      return reply(200, {
        decision: { ...decision, rule: decision.rule ?? null, hint: decision.hint ?? null },
        rules: rules.map((e) => ({ name: e.rule.name, policy: e.rule.policy, action: e.rule.action, outcome: e.outcome, reason: e.reason, location: formatLocation(e.rule.location) })),
      });
    }),
  ];
}

/** The body text as the classify stage would decode it (YAML is a superset of JSON). */
function parseObject(text: string): unknown {
  try {
    return parseYaml(text, { maxAliasCount: 100 }) as unknown;
  } catch (err) {
    throw new ConsoleError('bad-request', `invalid body: body: not valid YAML or JSON: ${(err as Error).message}`);
  }
}
