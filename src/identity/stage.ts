import { GatehouseError } from '../errors/codes.js';
import { CONTINUE, stop } from '../pipeline/context.js';
import type { RequestContext, Stage, StageOutcome } from '../pipeline/context.js';
import { bearerToken } from './bearer.js';
import type { Principal } from './principal.js';

/**
 * Maps a presented bearer token to a principal, or undefined when it does not
 * recognise it. It throws a GatehouseError (e.g. GH_IDENTITY_UNAVAILABLE)
 * when it cannot decide; the request then stops with that error.
 */
export type Authenticator = (token: string) => Principal | undefined | Promise<Principal | undefined>;

const NO_TOKEN = new GatehouseError(
  'GH_UNAUTHENTICATED',
  'the gateway needs a bearer token (a Gatehouse token or an OIDC id_token); none was presented. Use a kubeconfig from `gatehouse kubeconfig`',
);
const BAD_TOKEN = new GatehouseError(
  'GH_UNAUTHENTICATED',
  'the bearer token was not accepted by the gateway (unknown, revoked or expired); ask for a new one or sign in again',
);

/**
 * The principal the first authenticator to recognise `token` maps it to,
 * trying them in order; undefined when none does. Throws what an
 * authenticator throws (a GatehouseError when it cannot decide).
 */
export async function authenticateToken(authenticators: readonly Authenticator[], token: string): Promise<Principal | undefined> {
  for (const authenticate of authenticators) {
    const principal = await authenticate(token);
    if (principal) return principal;
  }
  return undefined;
}

/**
 * The identity stage: every request must carry a credential one of the
 * authenticators accepts; otherwise it stops here with a 401 Status and never
 * reaches the upstream.
 *
 * @example
 * const identity = createIdentityStage([bootstrapTokenAuthenticator(records)]);
 */
export function createIdentityStage(authenticators: Authenticator[]): Stage {
  return {
    name: 'identity',
    async run(ctx: RequestContext): Promise<StageOutcome> {
      const token = bearerToken(ctx.req.headers);
      if (token === undefined) return stop(NO_TOKEN);
      let principal: Principal | undefined;
      try {
        principal = await authenticateToken(authenticators, token);
      } catch (err) {
        if (err instanceof GatehouseError) return stop(err);
        throw err;
      }
      if (principal === undefined) return stop(BAD_TOKEN);
      ctx.principal = principal;
      return CONTINUE;
    },
  };
}
