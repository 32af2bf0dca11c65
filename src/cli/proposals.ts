import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { manifestOf, manifestPath, manifestYaml } from '../proposals/export.js';
import type { ProposalView } from '../proposals/types.js';
import { consoleClient, withConsoleClientOptions } from './console-client.js';
import type { ConsoleClientFlags } from './console-client.js';

interface ListFlags extends ConsoleClientFlags {
  state: string;
  json?: boolean;
}

interface OneFlags extends ConsoleClientFlags {
  message?: string;
  json?: boolean;
}

interface ExportFlags extends ConsoleClientFlags {
  dir: string;
  state: string;
}

const STATES = ['pending', 'applied', 'rejected', 'all'];

/** `gatehouse proposals …`: writes held in propose-only mode, through the gateway's console API. */
export function registerProposals(program: Command): void {
  const proposals = program
    .command('proposals')
    .description('list, apply, reject and export writes held in propose-only mode (through the console API)')
    .addHelpText(
      'after',
      `
Examples:
  gatehouse proposals list --state pending
  gatehouse proposals show <id>
  gatehouse proposals apply <id>
  gatehouse proposals reject <id> -m "scale with the HPA instead"
  gatehouse proposals export --dir ./proposed --state pending`,
    );
  const path = (id: string, action = ''): string => `/gatehouse/v1/proposals/${encodeURIComponent(id)}${action}`;
  const query = (state: string): string => (state === 'all' ? '' : `?state=${state}`);

  withConsoleClientOptions(proposals.command('list'))
    .description('proposals, newest first (pending by default)')
    .addOption(new Option('--state <state>', 'which ones').choices(STATES).default('pending'))
    .option('--json', 'print JSON')
    .action(async (flags: ListFlags) => {
      const { items } = await consoleClient(flags).call<{ items: ProposalView[] }>('GET', `/gatehouse/v1/proposals${query(flags.state)}`);
      process.stdout.write(flags.json ? `${JSON.stringify(items, null, 2)}\n` : table(items));
    });

  withConsoleClientOptions(proposals.command('show'))
    .description('one proposal: who proposed what, and the diff')
    .argument('<id>', 'proposal id (prp_…)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: OneFlags) => {
      const p = await consoleClient(flags).call<ProposalView>('GET', path(id));
      process.stdout.write(flags.json ? `${JSON.stringify(p, null, 2)}\n` : describe(p));
    });

  withConsoleClientOptions(proposals.command('apply'))
    .description('apply a proposal as it was reviewed: the gateway sends the stored write as you (policy and audit apply)')
    .argument('<id>', 'proposal id (prp_…)')
    .option('--json', 'print the proposal as JSON')
    .action(async (id: string, flags: OneFlags) => {
      const p = await consoleClient(flags).call<ProposalView>('POST', path(id, '/apply'), {});
      process.stdout.write(flags.json ? `${JSON.stringify(p, null, 2)}\n` : `${p.id}: applied (${p.summary}; request ${p.result?.requestId ?? '?'})\n`);
    });

  withConsoleClientOptions(proposals.command('reject'))
    .description('reject a proposal; the comment is kept with it')
    .argument('<id>', 'proposal id (prp_…)')
    .option('-m, --message <comment>', 'why (required)')
    .option('--json', 'print the proposal as JSON')
    .action(async (id: string, flags: OneFlags) => {
      if (!flags.message?.trim()) throw new Error('reject needs --message: say why');
      const p = await consoleClient(flags).call<ProposalView>('POST', path(id, '/reject'), { comment: flags.message });
      process.stdout.write(flags.json ? `${JSON.stringify(p, null, 2)}\n` : `${p.id}: rejected\n`);
    });

  withConsoleClientOptions(proposals.command('export'))
    .description('write each proposed manifest as <dir>/<cluster>/<namespace>/<kind>-<name>.yaml, for a GitOps pull request')
    .requiredOption('--dir <dir>', 'directory to write into (created if missing)')
    .addOption(new Option('--state <state>', 'which proposals').choices(STATES).default('pending'))
    .action(async (flags: ExportFlags) => {
      const { items } = await consoleClient(flags).call<{ items: ProposalView[] }>('GET', `/gatehouse/v1/proposals?limit=1000${flags.state === 'all' ? '' : `&state=${flags.state}`}`);
      // Newest first from the API: write oldest first, so the newest proposal for a file wins.
      const written = new Map<string, string>();
      for (const p of [...items].reverse()) {
        const manifest = p.request.verb === 'delete' || p.request.verb === 'deletecollection' ? undefined : manifestOf(p.object);
        const file = manifest && manifestPath(p.cluster, manifest);
        if (manifest === undefined || file === undefined) {
          process.stderr.write(`${p.id}: skipped (${p.summary}: no manifest to write)\n`);
          continue;
        }
        const target = join(flags.dir, file);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, manifestYaml(manifest));
        written.set(file, p.id);
      }
      for (const [file, id] of written) process.stdout.write(`${join(flags.dir, file)} (${id})\n`);
      if (written.size === 0) process.stdout.write('No manifests to export.\n');
    });
}

function table(items: ProposalView[]): string {
  if (items.length === 0) return 'No proposals.\n';
  const rows = [['ID', 'STATE', 'CLUSTER', 'REQUESTER', 'CHANGE'], ...items.map((p) => [p.id, p.state, p.cluster, `${p.requester.subject} (${p.requester.kind})`, p.change])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function describe(p: ProposalView): string {
  const lines = [
    `Proposal:   ${p.id} (${p.state})`,
    `Cluster:    ${p.cluster}`,
    `Requester:  ${p.requester.subject} (${p.requester.kind}${p.requester.sponsor ? `, sponsored by ${p.requester.sponsor}` : ''})`,
    `Request:    ${p.summary}`,
    `Path:       ${p.request.method} ${p.request.path}`,
    `Change:     ${p.change}`,
    `Rule:       ${p.rule}: ${p.message}`,
    `Created:    ${p.createdAt}`,
    ...(p.decidedBy ? [`Decided:    ${p.state} by ${p.decidedBy} at ${p.decidedAt}${p.comment ? `: ${p.comment}` : ''}`] : []),
    ...(p.result ? [`Last apply: ${p.result.status} by ${p.result.by} at ${p.result.at}: ${p.result.message}`] : []),
  ];
  if (p.diff) lines.push('', p.diff.trimEnd());
  return `${lines.join('\n')}\n`;
}
