import type { Command } from 'commander';
import type { ClusterView } from '../console/clusters.js';
import type { ClusterAgentTokenRow } from '../store/cluster-agent-tokens.js';
import { writePrivate } from '../config/data-dir.js';
import { consoleClient, withConsoleClientOptions } from './console-client.js';
import type { ConsoleClientFlags } from './console-client.js';
import { alignColumns } from './table.js';

interface ListFlags extends ConsoleClientFlags {
  json?: boolean;
}

interface AddFlags extends ListFlags {
  description?: string;
  output?: string;
}

export function registerClusters(program: Command): void {
  const clusters = program
    .command('clusters')
    .description("the clusters a running gateway serves, their connected agents, and join tokens for new agents (asks the gateway's console API as you)")
    .addHelpText(
      'after',
      `
Examples:
  gatehouse clusters                          # every cluster, how it is reached, its agents
  gatehouse clusters add prod -o prod.token   # a join token for a cluster agent of "prod"
  gatehouse agent --gateway https://gatehouse.example:6443 --cluster prod --token-file prod.token
  gatehouse clusters tokens prod
  gatehouse clusters revoke prod <token-id>`,
    );

  withConsoleClientOptions(clusters.command('list', { isDefault: true }))
    .description('list clusters: name, mode (direct or agent), default, API server, connected agents')
    .option('--json', 'print JSON')
    .action(async (flags: ListFlags) => {
      const { items } = await consoleClient(flags).call<{ items: ClusterView[] }>('GET', '/gatehouse/v1/clusters');
      if (flags.json) return void process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      process.stdout.write(formatClusters(items, Date.now()));
    });

  withConsoleClientOptions(clusters.command('add'))
    .description('make a join token for a cluster agent of <cluster> (a cluster with `agent: {}` in the gateway config); printed once')
    .argument('<cluster>', 'cluster name')
    .option('--description <text>', 'what the token is for, e.g. where the agent runs')
    .option('-o, --output <file>', 'write the token to this file (mode 0600) instead of stdout')
    .option('--json', 'print JSON')
    .action(async (cluster: string, flags: AddFlags) => {
      const client = consoleClient(flags);
      const created = await client.call<{ joinToken: ClusterAgentTokenRow; secret: string }>(
        'POST',
        `/gatehouse/v1/clusters/${encodeURIComponent(cluster)}/join-tokens`,
        flags.description === undefined ? {} : { description: flags.description },
      );
      if (flags.output) writePrivate(flags.output, `${created.secret}\n`);
      if (flags.json) process.stdout.write(`${JSON.stringify(flags.output ? { joinToken: created.joinToken } : created, null, 2)}\n`);
      else if (!flags.output) process.stdout.write(`${created.secret}\n`);
      process.stderr.write(
        `gatehouse: created join token ${created.joinToken.id} for cluster "${cluster}"; it is not shown again.\n` +
          `  On the cluster's network run:\n` +
          `  gatehouse agent --gateway ${client.server} --cluster ${cluster} --token-file ${flags.output ?? '<file with the token>'} --gateway-ca <gateway ca.crt>\n`,
      );
    });

  withConsoleClientOptions(clusters.command('tokens'))
    .description("list a cluster's join tokens (never their secrets)")
    .argument('<cluster>', 'cluster name')
    .option('--json', 'print JSON')
    .action(async (cluster: string, flags: ListFlags) => {
      const { items } = await consoleClient(flags).call<{ items: ClusterAgentTokenRow[] }>('GET', `/gatehouse/v1/clusters/${encodeURIComponent(cluster)}/join-tokens`);
      if (flags.json) return void process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      if (items.length === 0) return void process.stderr.write(`gatehouse: cluster "${cluster}" has no join tokens (gatehouse clusters add ${cluster})\n`);
      const time = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString());
      process.stdout.write(
        alignColumns([
          ['ID', 'CREATED', 'BY', 'LAST USED', 'REVOKED', 'DESCRIPTION'],
          ...items.map((t) => [t.id, time(t.createdAt), t.createdBy ?? '-', time(t.lastUsedAt), time(t.revokedAt), t.description ?? '']),
        ]),
      );
    });

  withConsoleClientOptions(clusters.command('revoke'))
    .description('revoke a join token: agents using it are disconnected within 30 s and cannot reconnect')
    .argument('<cluster>', 'cluster name')
    .argument('<token-id>', 'join token id (gatehouse clusters tokens <cluster>)')
    .action(async (cluster: string, id: string, flags: ConsoleClientFlags) => {
      const { alreadyRevoked } = await consoleClient(flags).call<{ alreadyRevoked: boolean }>(
        'DELETE',
        `/gatehouse/v1/clusters/${encodeURIComponent(cluster)}/join-tokens/${encodeURIComponent(id)}`,
      );
      process.stderr.write(`gatehouse: join token ${id} of cluster "${cluster}" ${alreadyRevoked ? 'was already revoked' : 'revoked'}\n`);
    });
}

/** One row per cluster, then one indented row per connected agent. */
export function formatClusters(items: readonly ClusterView[], now: number): string {
  const rows = [['NAME', 'MODE', 'DEFAULT', 'API SERVER', 'AGENTS', 'STATUS']];
  for (const c of items) {
    const status = c.mode === 'direct' ? '-' : c.agents.length > 0 ? 'connected' : 'no agent connected';
    rows.push([c.name, c.mode, c.default ? 'yes' : '', c.mode === 'direct' ? c.where : (c.agents[0]?.apiServer ?? '-'), c.mode === 'agent' ? String(c.agents.length) : '-', status]);
    for (const a of c.agents) {
      const up = Math.max(0, Math.round((now - Date.parse(a.connectedAt)) / 1000));
      rows.push([`  └ ${a.agentId}`, `v${a.version}`, '', `from ${a.address}, Kubernetes ${a.kubernetesVersion ?? '?'}`, `${a.openStreams} streams`, `up ${up}s`]);
    }
  }
  return alignColumns(rows);
}
