import type { Command } from 'commander';
import { Option } from 'commander';
import type { Approval } from '../approvals/types.js';
import { consoleClient, withConsoleClientOptions } from './console-client.js';
import type { ConsoleClientFlags } from './console-client.js';

interface ListFlags extends ConsoleClientFlags {
  state: string;
  json?: boolean;
}

interface DecideFlags extends ConsoleClientFlags {
  message?: string;
  json?: boolean;
}

export function registerApprovals(program: Command): void {
  const approvals = program
    .command('approvals')
    .description("list and decide requests held for a person's approval (through the gateway's console API)")
    .addHelpText(
      'after',
      `
Examples:
  gatehouse approvals list
  gatehouse approvals show apr_01J9…
  gatehouse approvals approve apr_01J9… -m "ok for the incident"
  gatehouse approvals deny apr_01J9… -m "use the staging cluster"`,
    );

  withConsoleClientOptions(approvals.command('list'))
    .description('approvals, newest first (pending by default)')
    .addOption(new Option('--state <state>', 'which ones').choices(['pending', 'approved', 'denied', 'expired', 'all']).default('pending'))
    .option('--json', 'print JSON')
    .action(async (flags: ListFlags) => {
      const query = flags.state === 'all' ? '' : `?state=${flags.state}`;
      const { items } = await consoleClient(flags).call<{ items: Approval[] }>('GET', `/gatehouse/v1/approvals${query}`);
      if (flags.json) return void process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      process.stdout.write(table(items));
    });

  withConsoleClientOptions(approvals.command('show'))
    .description('one approval: the request, why it is held, the object or diff, the decisions')
    .argument('<id>', 'approval id (apr_…)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: DecideFlags) => {
      const a = await consoleClient(flags).call<Approval>('GET', `/gatehouse/v1/approvals/${encodeURIComponent(id)}`);
      process.stdout.write(flags.json ? `${JSON.stringify(a, null, 2)}\n` : describe(a));
    });

  for (const decision of ['approve', 'deny'] as const) {
    withConsoleClientOptions(approvals.command(decision))
      .description(decision === 'approve' ? 'approve a held request (the requester may then retry it)' : 'deny a held request; the requester sees your comment')
      .argument('<id>', 'approval id (apr_…)')
      .option('-m, --message <comment>', decision === 'approve' ? 'a comment kept with the decision' : 'why (required): the requester is told')
      .option('--json', 'print the approval as JSON')
      .action(async (id: string, flags: DecideFlags) => {
        if (decision === 'deny' && !flags.message?.trim()) throw new Error('deny needs --message: the requester is told why');
        const a = await consoleClient(flags).call<Approval>('POST', `/gatehouse/v1/approvals/${encodeURIComponent(id)}/${decision}`, flags.message ? { comment: flags.message } : {});
        if (flags.json) return void process.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
        const votes = a.decisions.filter((d) => d.decision === 'approve').length;
        process.stdout.write(
          a.state === 'pending' ? `${a.id}: recorded; ${votes} of ${a.requirements.quorum} approvals, still pending\n` : `${a.id}: ${a.state}\n`,
        );
      });
  }
}

interface ReasonFlags extends ConsoleClientFlags {
  for: string;
  clear?: boolean;
}

/** `gatehouse reason "…"`: what approvers of your held requests are told you are doing (kubectl cannot send the Gatehouse-Reason header). */
export function registerReason(program: Command): void {
  withConsoleClientOptions(program.command('reason'))
    .description("declare why you (or your agent) are making the next requests; approvers see it on any request held for approval meanwhile")
    .argument('[text]', 'one line, e.g. "rolling back the 14:02 deploy (INC-2231)"')
    .option('--for <duration>', 'how long it holds (at most 24h)', '1h')
    .option('--clear', 'forget the declared reason')
    .addHelpText('after', '\nExample:\n  gatehouse reason "debugging the failing payments pod" --for 30m\n  kubectl debug -it payments-7d9 --image=busybox:1.36 --profile=sysadmin')
    .action(async (text: string | undefined, flags: ReasonFlags) => {
      if (!flags.clear && !text?.trim()) throw new Error('give the reason as an argument, or --clear');
      const body = { reason: flags.clear ? null : text!, ttl: flags.for };
      const out = await consoleClient(flags).call<{ subject: string; reason: string | null; expiresAt: string | null }>('POST', '/gatehouse/v1/reason', body);
      process.stdout.write(out.reason === null ? `${out.subject}: no declared reason\n` : `${out.subject}: "${out.reason}" until ${out.expiresAt}\n`);
    });
}

function table(items: Approval[]): string {
  if (items.length === 0) return 'No approvals.\n';
  const rows = [
    ['ID', 'AGE', 'STATE', 'REQUESTER', 'REQUEST', 'RULE', 'VOTES'],
    ...items.map((a) => [
      a.id,
      age(a.createdAt),
      a.state,
      `${a.requester.subject} (${a.requester.kind})`,
      a.summary,
      a.rule,
      `${a.decisions.filter((d) => d.decision === 'approve').length}/${a.requirements.quorum}`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function describe(a: Approval): string {
  const lines = [
    `Approval:   ${a.id} (${a.state})`,
    `Requester:  ${a.requester.subject} (${a.requester.kind}${a.requester.sponsor ? `, sponsored by ${a.requester.sponsor}` : ''})`,
    `Request:    ${a.summary}`,
    `Path:       ${a.request.path}`,
    `Rule:       ${a.rule}: ${a.message}`,
    ...a.reasons.filter((r) => r.rule !== a.rule).map((r) => `Also:       ${r.rule} (${r.action}): ${r.message}`),
    `Reason:     ${a.reason ?? '(none given)'}`,
    `Approvers:  ${a.requirements.approverGroups.join(', ')}; ${a.requirements.quorum} needed`,
    `Created:    ${a.createdAt}; expires ${a.expiresAt}`,
    ...a.decisions.map((d) => `Decision:   ${d.decision} by ${d.by} at ${d.at}${d.comment ? `: ${d.comment}` : ''}`),
    ...(a.grant ? [`Grant:      ${a.grant.usesLeft} use(s) left until ${a.grant.expiresAt}`] : []),
  ];
  if (a.diff) lines.push('', a.diff.trimEnd());
  else if (a.object !== null) lines.push('', JSON.stringify(a.object, null, 2));
  return `${lines.join('\n')}\n`;
}

function age(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
}
