import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Agent } from 'undici';
import { loadKubeconfig } from '../upstream/kubeconfig.js';
import { CLUSTER_PATH_PREFIX } from '../clusters/route.js';
import { defaultKubeconfig } from './serve.js';

export interface ConsoleClientFlags {
  kubeconfig?: string;
  context?: string;
  server?: string;
  token?: string;
  tokenEnv?: string;
  caFile?: string;
}

/** A caller of the gateway's console API (docs/console-api.md) with the CLI user's credential. */
export interface ConsoleClient {
  readonly server: string;
  call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

/** Adds the options that say which gateway to call and as whom; by default the current kubeconfig context, which points at the gateway. */
export function withConsoleClientOptions(command: Command): Command {
  return command
    .option('--kubeconfig <file>', 'kubeconfig whose context points at the gateway (default $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'context of that kubeconfig (default: its current-context)')
    .option('--server <url>', 'the gateway URL, instead of the kubeconfig')
    .option('--token <token>', 'credential to call the gateway with, instead of the kubeconfig user')
    .option('--token-env <name>', 'read the credential from this environment variable')
    .option('--ca-file <file>', "PEM file of the CA that signed the gateway's certificate");
}

/** Where the gateway is and the credential to call it with, resolved from the flags or the kubeconfig. */
export interface GatewayEndpoint {
  /** Origin, without a trailing slash. */
  server: string;
  token: string;
  /** PEM CA bundle; undefined means the system roots. */
  ca: Buffer | undefined;
  rejectUnauthorized: boolean;
  /** The kubeconfig context's namespace, if it names one. */
  namespace: string | undefined;
  /** The gateway cluster the kubeconfig's server URL names (`…/clusters/<name>`), if any. */
  cluster: string | undefined;
}

export function resolveGatewayEndpoint(flags: ConsoleClientFlags): GatewayEndpoint {
  const fromKubeconfig = flags.server === undefined || (flags.token === undefined && flags.tokenEnv === undefined);
  const target = fromKubeconfig ? loadKubeconfig(flags.kubeconfig ?? defaultKubeconfig(), flags.context) : undefined;
  const server = (flags.server ?? target!.server.origin).replace(/\/$/, '');
  const token =
    flags.token ??
    (flags.tokenEnv !== undefined ? process.env[flags.tokenEnv] : undefined) ??
    target?.token ??
    (target?.tokenFile !== undefined ? readFileSync(target.tokenFile, 'utf8').trim() : undefined);
  if (!token) {
    throw new Error(
      flags.tokenEnv !== undefined
        ? `the environment variable ${flags.tokenEnv} is empty`
        : 'no credential: the kubeconfig user has no static token (exec plugins are not run here); pass --token or --token-env',
    );
  }
  const ca = flags.caFile !== undefined ? readFileSync(flags.caFile) : target?.ca;
  const cluster = target === undefined ? undefined : new RegExp(`^${CLUSTER_PATH_PREFIX}([a-z0-9-]+)/?$`).exec(target.server.pathname)?.[1];
  return { server, token, ca, rejectUnauthorized: !(target?.insecureSkipTlsVerify ?? false), namespace: target?.namespace, cluster };
}

export function consoleClient(flags: ConsoleClientFlags): ConsoleClient {
  const { server, token, ca, rejectUnauthorized } = resolveGatewayEndpoint(flags);
  // undici is loaded with the first call, not with the command line (`serve` never calls).
  let dispatcher: Agent | undefined;
  return {
    server,
    async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
      const { Agent, fetch } = await import('undici');
      dispatcher ??= new Agent({ connect: { ...(ca ? { ca } : {}), rejectUnauthorized } });
      let res;
      try {
        res = await fetch(`${server}${path}`, {
          method,
          dispatcher,
          headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      } catch (err) {
        throw new Error(`cannot reach the gateway at ${server}: ${(err as Error).message}`, { cause: err });
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        throw new Error(`the gateway answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
      }
      if (!res.ok) {
        const message = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? text.slice(0, 200);
        throw new Error(`${res.status}: ${message}`);
      }
      return parsed as T;
    },
  };
}
