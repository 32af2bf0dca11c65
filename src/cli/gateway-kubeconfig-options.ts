import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { clientKubeconfig } from '../kube/client-kubeconfig.js';
import type { ClientKubeconfigOptions } from '../kube/client-kubeconfig.js';
import { clusterNameSchema } from '../clusters/config.js';
import { CLUSTER_PATH_PREFIX } from '../clusters/route.js';

/** The options every command that writes a kubeconfig for the gateway shares. */
export interface GatewayKubeconfigFlags {
  server: string;
  gatewayCa?: string;
  dataDir: string;
  name: string;
  namespace?: string;
  cluster?: string;
}

/** Adds --server, --gateway-ca, --data-dir, --name, --namespace and --cluster to a command. */
export function withGatewayKubeconfigOptions(command: Command): Command {
  return command
    .option('--server <url>', 'gateway URL', 'https://127.0.0.1:6443')
    .option('--gateway-ca <file>', "CA that signed the gateway's certificate (default: <data-dir>/ca.crt)")
    .option('--data-dir <dir>', 'gateway data directory', join(homedir(), '.gatehouse'))
    .option('--name <name>', 'name of the kubeconfig cluster/user/context entries', 'gatehouse')
    .option('--namespace <ns>', 'default namespace of the context')
    .option('--cluster <name>', "which of the gateway's clusters kubectl talks to (its server URL gets /clusters/<name>); default: the gateway's default cluster");
}

/** Renders the kubeconfig for those options and a credential, with the gateway CA read from disk. */
export function gatewayKubeconfig(flags: GatewayKubeconfigFlags, credential: ClientKubeconfigOptions['credential']): string {
  const caPath = flags.gatewayCa ?? join(flags.dataDir, 'ca.crt');
  let caPem: string;
  try {
    caPem = readFileSync(caPath, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the gateway CA ${caPath}: ${(err as Error).message} (pass --gateway-ca or --data-dir)`);
  }
  const server = flags.cluster === undefined ? flags.server : `${flags.server.replace(/\/+$/, '')}${CLUSTER_PATH_PREFIX}${clusterNameSchema.parse(flags.cluster)}`;
  return clientKubeconfig({ server, caPem, credential, name: flags.name, namespace: flags.namespace });
}
