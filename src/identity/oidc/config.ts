import { z } from 'zod';
import { issuerUrlProblem } from './issuer-url.js';

/** JWS algorithms a trusted issuer may sign with: asymmetric only, never `none` or HS*. */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** One trusted OpenID Connect issuer in gatehouse.yaml (`identity.oidc[]`). */
export const oidcIssuerSchema = z
  .object({
    /** Exactly the `iss` of its tokens; https, or http on a loopback address only. */
    issuer: z
      .string()
      .url()
      .superRefine((issuer, ctx) => {
        const problem = issuerUrlProblem(issuer);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `OIDC issuer ${issuer} ${problem}` });
      }),
    /** Accepted `aud` values; a token must name at least one. When it names several, `azp` must be one of these. */
    audiences: z.array(z.string().min(1)).min(1),
    /** OAuth client id `gatehouse login` uses (defaults to the first audience). */
    clientId: z.string().optional(),
    /** Public client secret for providers that require one for the code flow (not for verification). */
    clientSecret: z.string().optional(),
    usernameClaim: z.string().min(1).default('sub'),
    /** Prepended to the username, so `alice` from this issuer cannot pose as a Gatehouse token's subject. */
    usernamePrefix: z.string().default('oidc:'),
    groupsClaim: z.string().min(1).default('groups'),
    groupsPrefix: z.string().default(''),
    /** Claims that must be present with exactly these values (e.g. `hd: example.com`). */
    requiredClaims: z.record(z.string(), z.string()).default({}),
    algorithms: z.array(z.enum(OIDC_ALGORITHMS)).min(1).default(['RS256', 'ES256']),
    clockSkewSeconds: z.number().int().min(0).max(300).default(30),
    /** PEM CA bundle for the issuer's TLS (private IdPs); default: the system roots. */
    caFile: z.string().min(1).optional(),
    /** What kind of principal this issuer's users are. */
    principalKind: z.enum(['human', 'agent', 'ci']).default('human'),
  })
  .strict();

export type OidcIssuerConfig = z.infer<typeof oidcIssuerSchema>;
