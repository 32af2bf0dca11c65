/**
 * How a person applies a proposal: the stored write is sent to the gateway's
 * own Kubernetes endpoint (as src/mcp does), so identity, policy, budgets,
 * approvals, impersonation and audit apply to it exactly as to kubectl. It
 * is authenticated with a one-time credential that stands for the applier
 * (minted by the console after it authenticated them); the proposal stage
 * recognises the principal that credential produced and lets that one write
 * through instead of proposing it again.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import type { Agent } from 'undici';
import type * as Undici from 'undici';
import { CLUSTER_PATH_PREFIX } from '../clusters/route.js';
import type { Principal } from '../identity/principal.js';
import type { Authenticator } from '../identity/stage.js';
import type { Proposal } from './types.js';

const PREFIX = 'ghapply_';
const TTL_MS = 60_000;
const MAX_ANSWER_BYTES = 1024 * 1024;

/** One-time credentials for applying proposals, in this process only. */
export interface Applications {
  /** A credential for one request as `principal`, applying `proposalId`; `revoke` forgets it if unused. */
  issue(principal: Principal, proposalId: string): { token: string; revoke: () => void };
  /** For the identity stage (first in its list): the applier for an issued credential, once. */
  authenticator: Authenticator;
  /** The proposal the request authenticated as `principal` applies, once; undefined for any other request. */
  claim(principal: Principal | undefined): string | undefined;
}

/**
 * @example
 * const applications = createApplications();
 * const identity = createIdentityStage([applications.authenticator, ...authenticators]);
 */
export function createApplications(now: () => number = Date.now): Applications {
  const issued = new Map<string, { principal: Principal; proposalId: string; expiresAt: number }>();
  // Keyed by the principal object the identity stage put in ctx.principal: nothing a client sends can name it.
  const applying = new WeakMap<Principal, string>();
  return {
    issue(principal, proposalId) {
      for (const [t, e] of issued) if (e.expiresAt <= now()) issued.delete(t);
      const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
      issued.set(token, { principal, proposalId, expiresAt: now() + TTL_MS });
      return { token, revoke: () => void issued.delete(token) };
    },
    authenticator(token) {
      if (!token.startsWith(PREFIX)) return undefined;
      const entry = issued.get(token);
      issued.delete(token);
      if (entry === undefined || entry.expiresAt <= now()) return undefined;
      const principal: Principal = { ...entry.principal, groups: [...entry.principal.groups] };
      applying.set(principal, entry.proposalId);
      return principal;
    },
    claim(principal) {
      if (principal === undefined) return undefined;
      const id = applying.get(principal);
      applying.delete(principal);
      return id;
    },
  };
}

/** What the gateway answered the applied write. */
export interface SentAnswer {
  status: number;
  body: string;
  /** The Audit-ID the gateway gave the request. */
  requestId: string | null;
}

export type ProposalSender = (proposal: Proposal, token: string) => Promise<SentAnswer>;

/**
 * Sends a proposal's stored write to the gateway itself, to the proposal's
 * cluster, with the one-time credential.
 *
 * @example
 * const send = createSelfSender(() => ({ server: gateway.url, ca: state.tls.caPem }));
 */
export function createSelfSender(target: () => { server: string; ca: string | Buffer }): ProposalSender {
  // undici is loaded with the first proposal applied, not by every gateway.
  let undici: Promise<typeof Undici> | undefined;
  let agent: Agent | undefined;
  return async (proposal, token) => {
    const { server, ca } = target();
    const { Agent, fetch } = await (undici ??= import('undici'));
    agent ??= new Agent({ connect: { ca } });
    const r = proposal.request;
    const res = await fetch(`${server}${CLUSTER_PATH_PREFIX}${encodeURIComponent(proposal.cluster)}${r.path}`, {
      method: r.method,
      dispatcher: agent,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        'user-agent': 'gatehouse-proposals',
        'kubectl-command': `gatehouse proposals apply ${proposal.id}`,
        ...(r.contentType !== null ? { 'content-type': r.contentType } : {}),
      },
      ...(r.body !== '' ? { body: Buffer.from(r.body, 'base64') } : {}),
    });
    const text = (await res.text()).slice(0, MAX_ANSWER_BYTES);
    return { status: res.status, body: text, requestId: res.headers.get('audit-id') };
  };
}
