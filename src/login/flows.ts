import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { discoverIssuer, tokensFrom } from './oidc-client.js';
import type { LoginTarget } from './oidc-client.js';
import type { CachedTokens } from './token-cache.js';

export interface InteractiveOptions {
  scope: string;
  /** Loopback port for the redirect (0 = any free port; the provider must allow loopback port flexibility). */
  port: number;
  /** Try to open the user's browser (xdg-open/open); the URL is printed either way. */
  openBrowser: boolean;
  /** Where instructions go (stderr: stdout may carry an ExecCredential). */
  say: (line: string) => void;
  /** Give up after this long without a completed sign-in. */
  timeoutMs: number;
}

/**
 * Authorization code flow with PKCE and a loopback redirect (RFC 8252): a
 * one-shot HTTP listener on 127.0.0.1 receives the code; the state and the
 * PKCE verifier bind it to this very login.
 */
export async function loginWithBrowser(target: LoginTarget, options: InteractiveOptions): Promise<CachedTokens> {
  const config = await discoverIssuer(target);
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  try {
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: options.scope,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      nonce,
      prompt: 'consent',
    });
    options.say(`Sign in at: ${authorizationUrl.href}`);
    if (options.openBrowser) openInBrowser(authorizationUrl.href);

    const callbackUrl = await new Promise<URL>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no sign-in completed within ${Math.round(options.timeoutMs / 1000)} s`)), options.timeoutMs);
      server.on('request', (req, res) => {
        const url = new URL(req.url ?? '/', redirectUri);
        if (url.pathname !== '/callback') {
          res.writeHead(404).end();
          return;
        }
        const failed = url.searchParams.get('error');
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end(failed ? `Sign-in failed: ${failed}. You can close this window.\n` : 'Signed in to Gatehouse. You can close this window.\n');
        clearTimeout(timer);
        if (failed) reject(new Error(`the identity provider refused the sign-in: ${failed} ${url.searchParams.get('error_description') ?? ''}`.trim()));
        else resolve(url);
      });
    });
    const response = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    return tokensFrom(target, response);
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

/** Device authorization grant (RFC 8628), for terminals without a browser. */
export async function loginWithDeviceCode(target: LoginTarget, options: Pick<InteractiveOptions, 'scope' | 'say'>): Promise<CachedTokens> {
  const config = await discoverIssuer(target);
  const device = await client.initiateDeviceAuthorization(config, { scope: options.scope });
  options.say(`To sign in, open ${device.verification_uri} and enter the code ${device.user_code}`);
  if (device.verification_uri_complete) options.say(`(or open ${device.verification_uri_complete})`);
  const response = await client.pollDeviceAuthorizationGrant(config, device);
  return tokensFrom(target, response);
}

/** Exchanges a refresh token for a fresh ID token. */
export async function refreshTokens(target: LoginTarget, refreshToken: string): Promise<CachedTokens> {
  const config = await discoverIssuer(target);
  const response = await client.refreshTokenGrant(config, refreshToken);
  return tokensFrom(target, response, refreshToken);
}

function openInBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No browser here: the printed URL is enough.
  }
}
