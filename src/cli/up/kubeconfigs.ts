/**
 * The kubeconfigs `gatehouse up` leaves in the data directory: the agent's
 * (`gatehouse-agent.kubeconfig`, a Gatehouse token of kind agent) and the
 * bootstrap admin's (`admin.kubeconfig`, written by the gateway's first run).
 * Tokens are stored only as hashes, so these files are the one copy of the
 * secrets: later runs keep them and only refresh the gateway address.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { writePrivate } from '../../config/data-dir.js';
import type { GatehouseConfig } from '../../config/schema.js';
import { createTokenService } from '../../identity/tokens.js';
import type { TokenService } from '../../identity/tokens.js';
import { clientKubeconfig } from '../../kube/client-kubeconfig.js';
import { configuredStoreLocation, openStore } from '../../store/open.js';

export const AGENT_KUBECONFIG = 'gatehouse-agent.kubeconfig';
export const ADMIN_KUBECONFIG = 'admin.kubeconfig';
/** The Gatehouse token `up` creates for an AI agent: its groups may neither approve nor administer. */
const AGENT = { name: 'agent', kind: 'agent', groups: ['ai-agents'], ttlSeconds: 30 * 86_400 } as const;

export interface GatewayAddress {
  /** https://host:port */
  server: string;
  caPem: string;
}

export interface AgentKubeconfig {
  path: string;
  /** Why a new token was made; undefined when the existing one was kept. */
  created: 'first run' | 'asked for' | 'the previous token is no longer active' | undefined;
}

/**
 * Keeps the agent's kubeconfig when its token is still active (pointing it at
 * `gateway`), else creates a new agent token — revoking the previous one —
 * and writes the kubeconfig for it.
 *
 * @example
 * const agent = await ensureAgentKubeconfig(config, { server: gateway.url, caPem }, { renew: false, namespace: 'demo' });
 */
export async function ensureAgentKubeconfig(
  config: GatehouseConfig,
  gateway: GatewayAddress,
  options: { renew: boolean; namespace: string | undefined },
): Promise<AgentKubeconfig> {
  const path = join(config.dataDir, AGENT_KUBECONFIG);
  const existing = tokenIn(path);
  const store = await openStore(configuredStoreLocation(config));
  try {
    const tokens = createTokenService(store);
    const active = existing !== undefined && (await tokens.authenticator(existing))?.subject === `token:${AGENT.name}`;
    await tokens.flush();
    let token = existing;
    let created: AgentKubeconfig['created'];
    if (options.renew || !active || token === undefined) {
      created = options.renew ? 'asked for' : existing === undefined ? 'first run' : 'the previous token is no longer active';
      token = await newAgentToken(tokens);
    }
    writePrivate(path, clientKubeconfig({ ...gateway, credential: { token }, name: 'gatehouse', namespace: options.namespace }));
    return { path, created };
  } finally {
    await store.close();
  }
}

/** Points an existing token kubeconfig (e.g. admin.kubeconfig) at the gateway's current address; false when there is none. */
export function refreshKubeconfig(path: string, gateway: GatewayAddress): boolean {
  const token = tokenIn(path);
  if (token === undefined) return false;
  const text = clientKubeconfig({ ...gateway, credential: { token }, name: 'gatehouse' });
  if (readFileSync(path, 'utf8') !== text) writePrivate(path, text);
  return true;
}

/** Revokes whatever active agent token there is (its secret is lost or unwanted) and creates a new one. */
async function newAgentToken(tokens: TokenService): Promise<string> {
  const current = (await tokens.list()).find((r) => r.name === AGENT.name && r.status === 'active');
  if (current) await tokens.revoke(current.id);
  const { token } = await tokens.create({
    ...AGENT,
    groups: [...AGENT.groups],
    sponsor: userInfo().username,
    description: 'AI agent kubeconfig written by gatehouse up',
  });
  return token;
}

/** The bearer token of a kubeconfig's first user, if the file exists and has one. */
function tokenIn(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const doc = parseYaml(readFileSync(path, 'utf8')) as { users?: { user?: { token?: unknown } }[] } | null;
  const token = doc?.users?.[0]?.user?.token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}
