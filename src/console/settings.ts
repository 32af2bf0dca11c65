import type { GatehouseConfig } from '../config/schema.js';
import { oidcIssuerSchema } from '../identity/oidc/config.js';
import type { OidcIssuerConfig } from '../identity/oidc/config.js';
import type { LoginTarget } from '../login/oidc-client.js';
import { DEFAULT_CONSOLE_SCOPES } from './config.js';
import type { ConsoleConfig } from './config.js';

/** Browser sign-in: where to send people, and how the issuer's claims become a subject and groups. */
export interface ConsoleOidc {
  target: LoginTarget;
  scopes: string[];
  /** The claim mapping of the matching `identity.oidc` issuer, so a console session has the same subject as that person's kubectl. */
  claims: OidcIssuerConfig;
}

/** The console config with every default resolved against the rest of the gateway's config. */
export interface ConsoleSettings {
  /** Without a trailing slash. */
  publicUrl: string;
  oidc: ConsoleOidc | undefined;
  roles: ConsoleConfig['roles'];
  /** Groups that hold the approver role besides `roles.approvers`: those approvals name (config and rules), read per request since policy reloads. */
  approverGroups?: (() => readonly string[]) | undefined;
  sessionTtlMs: number;
  devLogin: boolean;
}

/**
 * Resolves the `console` section: the public URL defaults to the gateway's
 * URL, browser sign-in to the first `identity.oidc` issuer.
 *
 * @example
 * const settings = resolveConsoleSettings(config, gateway.url);
 */
export function resolveConsoleSettings(config: Pick<GatehouseConfig, 'console' | 'identity'>, gatewayUrl: string): ConsoleSettings {
  const section = config.console;
  const trusted = config.identity.oidc;
  let oidc: ConsoleOidc | undefined;
  if (section.oidc !== undefined) {
    const { issuer, clientId, clientSecret, caFile, scopes } = section.oidc;
    const claims = trusted.find((i) => i.issuer === issuer) ?? oidcIssuerSchema.parse({ issuer, audiences: [clientId], caFile });
    oidc = { target: { issuer, clientId, clientSecret, caFile: caFile ?? claims.caFile }, scopes, claims };
  } else if (trusted[0] !== undefined) {
    const first = trusted[0];
    const clientId = first.clientId ?? first.audiences[0]!;
    oidc = {
      target: { issuer: first.issuer, clientId, clientSecret: first.clientSecret, caFile: first.caFile },
      scopes: [...DEFAULT_CONSOLE_SCOPES],
      claims: first,
    };
  }
  return {
    publicUrl: (section.publicUrl ?? gatewayUrl).replace(/\/+$/, ''),
    oidc,
    roles: section.roles,
    sessionTtlMs: section.sessionTtl,
    devLogin: section.devLogin,
  };
}

