/**
 * OpenID Connect ID tokens as Gatehouse credentials: the config of a trusted
 * issuer and the authenticator the identity stage runs.
 *
 * @example
 * ```ts
 * import { createOidcAuthenticator, oidcIssuerSchema } from './identity/oidc/index.js';
 *
 * const issuer = oidcIssuerSchema.parse({ issuer: 'https://accounts.example.com', audiences: ['gatehouse'] });
 * const authenticate = createOidcAuthenticator([issuer], { log });
 * await authenticate(idToken); // → Principal { subject: 'oidc:…', via: 'oidc', … } or undefined
 * ```
 */
export { createOidcAuthenticator, type OidcAuthenticatorOptions } from './authenticator.js';
export { OIDC_ALGORITHMS, oidcIssuerSchema, type OidcIssuerConfig } from './config.js';
export { isLoopbackHostname, issuerUrlProblem } from './issuer-url.js';
