/**
 * Proposals (propose-only mode, docs/proposals.md): list, read, apply,
 * reject, through the injected {@link Proposals} service. Apply sends the
 * stored write through the gateway as the caller, so it needs the caller as
 * a full principal: a bearer caller is authenticated again for it (its
 * token id and sponsor), a browser session stands for a person.
 *
 * @module
 */

import { z } from 'zod';
import type { Principal } from '../identity/principal.js';
import type { ProposalRefusal } from '../proposals/decide.js';
import type { Proposals } from '../proposals/service.js';
import type { Proposal, ProposalView } from '../proposals/types.js';
import type { RequestAuthenticator } from './auth.js';
import { ConsoleError } from './errors.js';
import type { ConsoleErrorCode } from './errors.js';
import { parseQuery, readJson } from './http.js';
import type { Caller } from './roles.js';
import { reply, route } from './router.js';
import type { CallerContext, Route } from './router.js';

const REFUSAL_CODES: Readonly<Record<ProposalRefusal['code'], ConsoleErrorCode>> = {
  'not-found': 'not-found',
  forbidden: 'forbidden',
  conflict: 'conflict',
  invalid: 'bad-request',
  unavailable: 'unavailable',
};

const listQuery = z
  .object({
    state: z.enum(['pending', 'applied', 'rejected']).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

const applyBody = z.object({}).strict();
const rejectBody = z.object({ comment: z.string().trim().min(1, 'a rejection needs a comment saying why').max(2000) }).strict();

/** Who may see proposals, and who may decide them (the service then applies the proposal's approver groups and the sponsor rule). */
const READERS = ['approver', 'auditor', 'admin'] as const;
const DECIDERS = ['approver', 'admin'] as const;

/** A proposal as one caller sees it: without the stored body (it may hold Secret values the object shows masked). */
export function proposalView(service: Proposals, p: Proposal, caller: Caller): ProposalView {
  const refusal = caller.roles.has('approver') ? service.canDecide(p, { subject: caller.subject, groups: caller.groups }) : { code: 'forbidden', message: 'you are not an approver' };
  const request: Partial<Proposal['request']> = { ...p.request };
  delete request.body;
  return { ...p, request: request as ProposalView['request'], canDecide: refusal === undefined, cannotDecideReason: refusal?.message ?? null };
}

/**
 * @example
 * const routes = proposalRoutes(proposals, bearerAuthenticator(authenticators));
 */
export function proposalRoutes(service: Proposals, authenticate: RequestAuthenticator): Route[] {
  const principalOf = async (ctx: CallerContext): Promise<Principal> => {
    const { caller } = ctx;
    if (!caller.cookie) {
      const principal = await authenticate(ctx.req);
      if (principal === undefined) throw new ConsoleError('unauthenticated', 'the credential was not accepted');
      return principal;
    }
    return { subject: caller.subject, groups: [...caller.groups], kind: 'human', via: caller.via === 'dev-login' ? 'bootstrap-token' : 'oidc', tokenId: undefined };
  };
  const answer = (result: Proposal | (ProposalRefusal & { proposal?: Proposal }), caller: Caller) => {
    if ('code' in result) {
      throw new ConsoleError(REFUSAL_CODES[result.code], result.message, result.proposal ? { detail: { proposal: proposalView(service, result.proposal, caller) } } : {});
    }
    return reply(200, proposalView(service, result, caller));
  };
  return [
    route('GET', '/gatehouse/v1/proposals', READERS, async (ctx) => {
      const filter = parseQuery(listQuery, ctx.url.searchParams);
      return reply(200, { items: (await service.list(filter)).map((p) => proposalView(service, p, ctx.caller)) });
    }),
    route('GET', '/gatehouse/v1/proposals/:id', READERS, async (ctx) => {
      const p = await service.get(ctx.params['id']!);
      if (p === undefined) throw new ConsoleError('not-found', `no proposal has the id ${JSON.stringify(ctx.params['id'])}`);
      return reply(200, proposalView(service, p, ctx.caller));
    }),
    route('POST', '/gatehouse/v1/proposals/:id/apply', DECIDERS, async (ctx) => {
      await readJson(ctx.req, applyBody);
      const who = { subject: ctx.caller.subject, groups: ctx.caller.groups };
      return answer(await service.apply(ctx.params['id']!, who, await principalOf(ctx)), ctx.caller);
    }),
    route('POST', '/gatehouse/v1/proposals/:id/reject', DECIDERS, async (ctx) => {
      const { comment } = await readJson(ctx.req, rejectBody);
      return answer(await service.reject(ctx.params['id']!, { subject: ctx.caller.subject, groups: ctx.caller.groups }, comment), ctx.caller);
    }),
  ];
}
