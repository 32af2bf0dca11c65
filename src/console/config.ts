/**
 * The `console` section of gatehouse.yaml: who signs in to the web console
 * and how, and which groups hold which console role. See docs/console-api.md.
 *
 * @module
 */

import { z } from 'zod';
import { durationMs } from '../config/duration.js';

/** What the console asks the identity provider for: the ID token must carry the groups claim. */
export const DEFAULT_CONSOLE_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'groups'];

export const consoleConfigSchema = z
  .object({
    /** The URL people open (behind a load balancer, its address); default the gateway's own URL. */
    publicUrl: z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional(),
    /** Browser sign-in (authorization code + PKCE); default the first `identity.oidc` issuer and its client id. */
    oidc: z
      .object({
        issuer: z.url(),
        clientId: z.string().min(1),
        /** For providers that treat the console as a confidential client. */
        clientSecret: z.string().min(1).optional(),
        scopes: z.array(z.string().min(1)).min(1).default(() => [...DEFAULT_CONSOLE_SCOPES]),
        /** PEM CA bundle for a private identity provider. */
        caFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Groups (as the identity stage maps them) that hold each role; admins hold every role. */
    roles: z
      .object({
        admins: z.array(z.string().min(1)).default(['gatehouse:admins']),
        auditors: z.array(z.string().min(1)).default(['gatehouse:auditors']),
        approvers: z.array(z.string().min(1)).default(['gatehouse:approvers']),
      })
      .strict()
      .default({ admins: ['gatehouse:admins'], auditors: ['gatehouse:auditors'], approvers: ['gatehouse:approvers'] }),
    /** How long a browser session lasts: e.g. 8h, 30m. */
    sessionTtl: z.string().default('8h').pipe(durationMs()),
    /** Development only: POST /gatehouse/v1/auth/dev-login signs anyone in as a local admin. */
    devLogin: z.boolean().default(false),
  })
  .strict();

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;

/** The section as the gateway schema holds it: optional, defaults filled in. */
export const consoleConfigSection = consoleConfigSchema.default(() => consoleConfigSchema.parse({}));
