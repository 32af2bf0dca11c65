/**
 * The real stack the console's browser tests drive: the test OpenID Provider,
 * `gatehouse serve` processes configured to trust it for kubectl and for
 * console sign-in, Gatehouse tokens for agents, and a browser sign-in that
 * fills in the provider's own login form.
 */

import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { consoleClient, gatehouseClient, startOidcProvider } from '../../../src/harness/oidc-provider.js';
import type { OidcProviderHandle } from '../../../src/harness/oidc-provider.js';
import { startGatewayProcess } from '../../e2e/helpers/gateway.js';
import type { GatewayProcess } from '../../e2e/helpers/gateway.js';
import { gatehouse, identity, writeKubeconfig } from '../../e2e/helpers/identities.js';
import { kubectlFor } from '../../e2e/helpers/run.js';
import type { Kubectl } from '../../e2e/helpers/run.js';
import { screenshot } from './browser.js';

const WEB_INDEX = resolve(import.meta.dirname, '../../../dist/web/index.html');
const CALLBACK_PATH = '/gatehouse/v1/auth/callback';

/** The gateway serves the console from dist/web; without a build every page would be a 404. */
export function requireWebBuild(): void {
  if (!existsSync(WEB_INDEX)) {
    throw new Error(`the web console is not built (${WEB_INDEX} is missing): run \`npm run build:web\` (scripts/setup.sh does it when web/ changed)`);
  }
}

/** A loopback port nobody listens on right now, for a server whose URL must be known before it starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface Stack {
  idp: OidcProviderHandle;
  gateways: GatewayProcess[];
  stop(): Promise<void>;
}

/**
 * Starts one gateway per entry of `gatewayArgs` (extra `gatehouse serve`
 * flags) and the OIDC provider they trust. Each gateway's console URL (and so
 * its callback) is only known once it listens, and the provider must know
 * every callback when it starts, so the provider's port is reserved first,
 * the gateways are configured with that issuer (they discover it lazily),
 * and the provider starts last.
 */
export async function startStack(upstreamKubeconfig: string, workDir: string, gatewayArgs: string[][]): Promise<Stack> {
  const issuer = `http://127.0.0.1:${await freePort()}`;
  const configFile = join(workDir, 'gatehouse.json');
  const config = {
    identity: { oidc: [{ issuer, audiences: ['gatehouse'], usernameClaim: 'email', groupsClaim: 'groups' }] },
    console: { oidc: { issuer, clientId: 'gatehouse-console' }, roles: { auditors: ['auditors'] } },
    approvals: { approverGroups: ['approvers'] },
  };
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const gateways: GatewayProcess[] = [];
  try {
    for (const args of gatewayArgs) gateways.push(await startGatewayProcess(upstreamKubeconfig, ['-c', configFile, ...args]));
    const callbacks = gateways.map((g) => g.url + CALLBACK_PATH);
    const idp = await startOidcProvider({
      port: Number(new URL(issuer).port),
      // `gatehouse` for ID tokens a person's kubectl sends; the console with every gateway's callback.
      clients: [gatehouseClient(), { ...consoleClient(callbacks[0]!), redirect_uris: callbacks }],
    });
    return {
      idp,
      gateways,
      stop: async () => {
        await Promise.all(gateways.map((g) => g.stop()));
        await idp.stop();
      },
    };
  } catch (err) {
    await Promise.all(gateways.map((g) => g.stop()));
    throw err;
  }
}

export { gatehouse };

/** A kubectl for a bearer token through `gateway`, in namespace `ns`. */
export async function kubectlWithToken(gateway: GatewayProcess, name: string, token: string, ns: string): Promise<Kubectl> {
  const tokenFile = join(gateway.dataDir, `${name}.token`);
  writeFileSync(tokenFile, token, { mode: 0o600 });
  return kubectlFor(await writeKubeconfig(gateway, name, tokenFile, ns));
}

/** A Gatehouse token (`gatehouse tokens create`, as an admin would) and its kubectl through `gateway`. */
export async function tokenKubectl(gateway: GatewayProcess, name: string, ns: string, who: { kind: 'agent' | 'human'; groups: string }): Promise<Kubectl> {
  return (await identity(gateway, name, ns, who)).kubectl;
}

/**
 * Signs `username` in from the console's sign-in page: the console's button,
 * then the provider's own login form (filled in as a person would), then back
 * to the console page that was asked for. Saves a screenshot of the provider's form.
 */
export async function signInThroughProvider(page: Page, idp: OidcProviderHandle, username: string): Promise<void> {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.origin === idp.issuer && u.pathname.startsWith('/interaction/'));
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(`${username}-password`);
  await screenshot(page, `signin-provider-${username}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.origin !== idp.issuer && u.pathname.startsWith('/ui'));
  // The header names whoever the console now sees.
  await page.locator('header .me').getByText(`oidc:${username}@example.com`).waitFor();
}
