import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { decodeJwt } from 'jose';
import { writePrivate } from '../config/data-dir.js';
import { gatewayKubeconfig, withGatewayKubeconfigOptions } from './gateway-kubeconfig-options.js';
import type { GatewayKubeconfigFlags } from './gateway-kubeconfig-options.js';
import type { LoginTarget } from '../login/oidc-client.js';
import { openTokenCache } from '../login/token-cache.js';
import type { CachedTokens } from '../login/token-cache.js';

interface LoginFlags extends GatewayKubeconfigFlags {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  caFile?: string;
  scope: string;
  device?: boolean;
  browser: boolean;
  port: string;
  timeout: string;
  cacheDir: string;
  exec?: boolean;
  writeKubeconfig?: string;
}

// An ID token this close to expiry is refreshed first, so kubectl never sends one that dies in flight.
const EXPIRY_MARGIN_S = 60;

export function registerLogin(program: Command): void {
  withGatewayKubeconfigOptions(program.command('login'))
    .description('sign in with your OpenID Connect provider (browser with PKCE, or device code) and use the ID token with kubectl')
    .addHelpText(
      'after',
      `
Examples:
  gatehouse login --issuer https://id.example.com --client-id gatehouse --write-kubeconfig ~/.kube/gatehouse --server https://gatehouse.example:6443
  gatehouse login --issuer https://id.example.com --client-id gatehouse --device`,
    )
    .requiredOption('--issuer <url>', 'OIDC issuer URL (as configured on the gateway)')
    .requiredOption('--client-id <id>', 'OAuth client id registered for Gatehouse')
    .option('--client-secret <secret>', 'client secret, for providers that require one for native apps')
    .option('--ca-file <file>', "CA bundle for the identity provider's TLS")
    .option('--scope <scopes>', 'scopes to request', 'openid profile email groups offline_access')
    .option('--device', 'use the device authorization flow (no local browser needed)')
    .option('--no-browser', 'do not try to open a browser; just print the sign-in URL')
    .option('--port <n>', 'loopback port for the browser redirect (0 = any free port)', '0')
    .option('--timeout <seconds>', 'give up when sign-in does not complete in time', '300')
    .option('--cache-dir <dir>', 'where tokens are cached between kubectl runs', join(homedir(), '.gatehouse', 'cache', 'oidc'))
    .option('--exec', 'act as a kubectl exec credential plugin: print an ExecCredential on stdout')
    .option('--write-kubeconfig <file>', 'write a kubeconfig for the gateway that runs this login as its credential plugin')
    .action(async (flags: LoginFlags) => {
      const target: LoginTarget = { issuer: flags.issuer, clientId: flags.clientId, clientSecret: flags.clientSecret, caFile: flags.caFile };
      const tokens = await currentTokens(target, flags);
      if (flags.exec) {
        process.stdout.write(JSON.stringify(execCredential(tokens)) + '\n');
        return;
      }
      const claims = decodeJwt(tokens.idToken);
      process.stderr.write(`Signed in to ${flags.issuer} as ${String(claims.sub)} until ${new Date(tokens.expiresAt * 1000).toISOString()}\n`);
      if (flags.writeKubeconfig) {
        writePrivate(flags.writeKubeconfig, kubeconfigFor(flags));
        process.stderr.write(`Wrote ${flags.writeKubeconfig}: kubectl signs in through this command when needed.\n`);
      }
    });
}

/** A cached, still-valid ID token; else a refreshed one; else a fresh interactive sign-in. */
async function currentTokens(target: LoginTarget, flags: LoginFlags): Promise<CachedTokens> {
  const cache = openTokenCache(flags.cacheDir, target.issuer, target.clientId);
  const cached = cache.read();
  const now = Date.now() / 1000;
  if (cached && cached.expiresAt - EXPIRY_MARGIN_S > now) return cached;
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  // The OpenID client is loaded by the sign-in itself, not with every command of the command line.
  const { loginWithBrowser, loginWithDeviceCode, refreshTokens } = await import('../login/flows.js');
  let fresh: CachedTokens | undefined;
  if (cached?.refreshToken) {
    try {
      fresh = await refreshTokens(target, cached.refreshToken);
    } catch (err) {
      say(`Refreshing the session failed (${(err as Error).message}); signing in again.`);
    }
  }
  fresh ??= flags.device
    ? await loginWithDeviceCode(target, { scope: flags.scope, say })
    : await loginWithBrowser(target, {
        scope: flags.scope,
        port: Number(flags.port),
        openBrowser: flags.browser,
        say,
        timeoutMs: Number(flags.timeout) * 1000,
      });
  cache.write(fresh);
  return fresh;
}

function execCredential(tokens: CachedTokens): object {
  // Answer in the API version kubectl asked for (v1 or v1beta1).
  let apiVersion = 'client.authentication.k8s.io/v1';
  const info = process.env.KUBERNETES_EXEC_INFO;
  if (info) {
    try {
      apiVersion = (JSON.parse(info) as { apiVersion?: string }).apiVersion ?? apiVersion;
    } catch {
      // Keep v1.
    }
  }
  return { apiVersion, kind: 'ExecCredential', status: { token: tokens.idToken, expirationTimestamp: new Date(tokens.expiresAt * 1000).toISOString() } };
}

function kubeconfigFor(flags: LoginFlags): string {
  const args = [realpathSync(process.argv[1] ?? 'gatehouse'), 'login', '--exec', '--issuer', flags.issuer, '--client-id', flags.clientId];
  if (flags.clientSecret) args.push('--client-secret', flags.clientSecret);
  if (flags.caFile) args.push('--ca-file', realpathSync(flags.caFile));
  if (flags.device) args.push('--device');
  if (!flags.browser) args.push('--no-browser');
  args.push('--scope', flags.scope, '--cache-dir', flags.cacheDir);
  return gatewayKubeconfig(flags, { exec: { command: process.execPath, args } });
}
