import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { runDoctor } from './doctor/checks.js';
import type { CheckResult } from './doctor/checks.js';
import { DEFAULT_DATA_DIR } from './up.js';
import { CONFIG_FILE } from './up/config-file.js';
import { createTerminal } from './up/terminal.js';
import type { Terminal } from './up/terminal.js';

interface DoctorFlags {
  dataDir: string;
  config?: string;
  json?: boolean;
}

const EXAMPLES = `
Checks: the config parses; the serving certificate is valid (expiry, names);
the upstream answers and its credential's permissions (SelfSubjectRulesReview);
every OIDC issuer's discovery; the audit store opens and is writable; its hash
chain and signed checkpoints verify.

Examples:
  $ gatehouse doctor
  $ gatehouse doctor --data-dir ~/.gatehouse-demo
  $ gatehouse doctor -c /etc/gatehouse/gatehouse.yaml --json

Exit codes: 0 every check is ok (warnings included), 1 a check failed.`;

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description("check a gateway's configuration, certificate, cluster credential, identity providers and audit record, with fixes")
    .option('--data-dir <dir>', 'data directory whose gatehouse.yaml is checked', DEFAULT_DATA_DIR)
    .option('-c, --config <file>', 'gatehouse.yaml to check (default <data-dir>/gatehouse.yaml)')
    .option('--json', 'print the results as JSON on stdout')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: DoctorFlags) => {
      const path = resolve(flags.config ?? join(flags.dataDir, CONFIG_FILE));
      const results = await runDoctor(path);
      const healthy = results.every((r) => r.status !== 'fail');
      if (flags.json) process.stdout.write(JSON.stringify({ ok: healthy, config: path, checks: results }, null, 2) + '\n');
      else printResults(createTerminal(process.stdout), results);
      if (!healthy) process.exitCode = 1;
    });
}

function printResults(term: Terminal, results: CheckResult[]): void {
  const mark = { ok: term.green('[ok]  '), warn: term.yellow('[warn]'), fail: term.red('[fail]') } as const;
  for (const r of results) {
    process.stdout.write(`${mark[r.status]} ${r.check.padEnd(12)} ${r.detail}\n`);
    if (r.fix) process.stdout.write(`       ${''.padEnd(12)} ${term.bold('fix:')} ${r.fix}\n`);
  }
}
