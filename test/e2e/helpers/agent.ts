import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../../src/harness/binaries.js';
import type { GatewayProcess } from './gateway.js';
import { rawRequest } from './https.js';

export interface AgentProcess {
  pid: number;
  stderr(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts the real `gatehouse agent` (the built CLI) for one cluster of a gateway. */
export async function startAgentProcess(options: { gateway: GatewayProcess; cluster: string; tokenFile: string; kubeconfig: string; healthListen?: string }): Promise<AgentProcess> {
  const root = await packageRoot();
  const args = [
    join(root, 'bin/gatehouse.js'),
    'agent',
    '--gateway',
    options.gateway.url,
    '--cluster',
    options.cluster,
    '--token-file',
    options.tokenFile,
    '--gateway-ca',
    join(options.gateway.dataDir, 'ca.crt'),
    '--kubeconfig',
    options.kubeconfig,
    ...(options.healthListen ? ['--health-listen', options.healthListen] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    stderr: () => stderr,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export interface ClusterListing {
  name: string;
  mode: string;
  agents: { agentId: string; version: string; kubernetesVersion?: string; openStreams: number }[];
}

/** The gateway's view of its clusters, as the admin sees it in the console API. */
export async function listClusters(gateway: GatewayProcess): Promise<ClusterListing[]> {
  const res = await rawRequest(gateway.url, {
    path: '/gatehouse/v1/clusters',
    headers: { authorization: `Bearer ${gateway.adminToken}` },
    caPem: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
  });
  if (res.status !== 200) throw new Error(`GET /gatehouse/v1/clusters answered ${res.status}: ${res.body.toString()}`);
  return (JSON.parse(res.body.toString()) as { items: ClusterListing[] }).items;
}

/** Waits until the gateway has exactly `count` agents for `cluster`. */
export async function waitForAgents(gateway: GatewayProcess, cluster: string, count: number, timeoutMs = 60_000): Promise<ClusterListing> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await listClusters(gateway)).find((c) => c.name === cluster);
    if (found && found.agents.length === count) return found;
    if (Date.now() > deadline) throw new Error(`cluster ${cluster} has ${found?.agents.length ?? 'no'} agents, not ${count}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
