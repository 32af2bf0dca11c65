import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { writePrivate } from '../config/data-dir.js';
import { configSchema } from '../config/schema.js';
import { createTokenService } from '../identity/tokens.js';
import type { TokenRecord, TokenService } from '../identity/tokens.js';
import { parseTtl } from '../identity/tokens-ttl.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { TokenKind } from '../store/types.js';
import { alignColumns } from './table.js';

interface StoreFlags {
  dataDir: string;
  db?: string;
  json?: boolean;
}

interface CreateFlags extends StoreFlags {
  name: string;
  kind: TokenKind;
  groups: string;
  ttl: string;
  sponsor?: string;
  description?: string;
  output?: string;
}

const DEFAULT_DATA_DIR = join(homedir(), '.gatehouse');

export function registerTokens(program: Command): void {
  const tokens = program
    .command('tokens')
    .description('create, list and revoke Gatehouse tokens for agents, CI and people without OIDC (kept in the gateway store)')
    .addHelpText(
      'after',
      `
Examples:
  gatehouse tokens create --name cursor-alice --kind agent --groups dev,ai-agents --ttl 30d --sponsor alice -o cursor.token
  gatehouse kubeconfig --token-file cursor.token -o ~/.kube/gatehouse-agent.kubeconfig
  gatehouse tokens list --all
  gatehouse tokens revoke cursor-alice`,
    );

  storeOptions(tokens.command('create'))
    .description('create a token; it is printed once (stdout), only its hash is stored')
    .requiredOption('--name <name>', 'name of the identity (the principal is token:<name>), unique among active tokens')
    .addOption(new Option('--kind <kind>', 'what uses it').choices(['agent', 'ci', 'human']).makeOptionMandatory())
    .option('--groups <list>', 'comma-separated groups the principal belongs to', '')
    .requiredOption('--ttl <duration>', 'lifetime: e.g. 30d, 12h, 90m, 3600s; "never" for a token that does not expire')
    .option('--sponsor <person>', 'the person accountable for this identity')
    .option('--description <text>', 'what the token is for')
    .option('-o, --output <file>', 'write the token to this file (mode 0600) instead of stdout')
    .action((flags: CreateFlags) =>
      withService(flags, true, async (service) => {
        const ttlSeconds = flags.ttl.trim() === 'never' ? undefined : parseTtl(flags.ttl);
        const groups = flags.groups.split(',').filter((g) => g.trim() !== '');
        const { token, record } = await service.create({ ...flags, groups, ttlSeconds });
        if (flags.output) writePrivate(flags.output, `${token}\n`);
        if (flags.json) process.stdout.write(JSON.stringify(flags.output ? { record } : { token, record }, null, 2) + '\n');
        else if (!flags.output) process.stdout.write(`${token}\n`);
        announceCreated(record, flags);
      }),
    );

  storeOptions(tokens.command('list'))
    .description('list tokens (never their secrets): name, kind, groups, created, expires, last used, status')
    .option('--all', 'include revoked tokens')
    .action((flags: StoreFlags & { all?: boolean }) =>
      withService(flags, false, async (service) => {
        const records = await service.list({ includeRevoked: flags.all ?? false });
        if (flags.json) process.stdout.write(JSON.stringify(records, null, 2) + '\n');
        else if (records.length === 0) process.stderr.write(`gatehouse: no tokens${flags.all ? '' : ' (--all includes revoked ones)'}\n`);
        else process.stdout.write(formatTable(records, Date.now()));
      }),
    );

  storeOptions(tokens.command('revoke'))
    .description('revoke a token by id or by the name of an active token; the next request with it is refused')
    .argument('<name-or-id>', 'token id, or name of an active token')
    .action((idOrName: string, flags: StoreFlags) =>
      withService(flags, false, async (service) => {
        const { record, alreadyRevoked } = await service.revoke(idOrName);
        if (flags.json) process.stdout.write(JSON.stringify(record, null, 2) + '\n');
        const when = record.revokedAt?.toISOString() ?? '';
        process.stderr.write(`gatehouse: token "${record.name}" (id ${record.id}) ${alreadyRevoked ? 'was already revoked at' : 'revoked at'} ${when}\n`);
      }),
    );
}

function storeOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'gateway data directory', DEFAULT_DATA_DIR)
    .option('--db <file>', `the store's SQLite file (default: <data-dir>/${defaultDbFile()})`)
    .option('--json', 'print JSON instead of text');
}

/** The store file's default name, as gatehouse.yaml's `store.sqlite.path` defaults it. */
function defaultDbFile(): string {
  return configSchema.shape.store.parse(undefined).sqlite.path;
}

async function withService(flags: StoreFlags, create: boolean, use: (service: TokenService) => Promise<void>): Promise<void> {
  const path = flags.db ?? join(flags.dataDir, defaultDbFile());
  if (!create && !existsSync(path)) {
    throw new Error(`no token store at ${path}: no token was created with this --data-dir or --db yet`);
  }
  const store = openSqliteStore(path);
  try {
    await use(createTokenService(store));
  } finally {
    await store.close();
  }
}

function announceCreated(record: TokenRecord, flags: CreateFlags): void {
  const groups = record.groups.length > 0 ? record.groups.join(', ') : 'none';
  const expires = record.expiresAt ? `expires ${record.expiresAt.toISOString()}` : 'never expires (prefer a --ttl)';
  const dataDir = flags.dataDir === DEFAULT_DATA_DIR ? '' : ` --data-dir ${flags.dataDir}`;
  const where = flags.output
    ? `  Written to ${flags.output} (mode 0600); it is not shown again.\n`
    : `  Store it now, it is not shown again.\n`;
  process.stderr.write(
    `gatehouse: created token "${record.name}" (id ${record.id}, ${record.kind}, groups ${groups}, ${expires})\n` +
      where +
      `  A kubeconfig for it: gatehouse kubeconfig --token-file ${flags.output ?? '<file with the token>'}${dataDir} -o ${record.name}.kubeconfig\n`,
  );
}

function formatTable(records: TokenRecord[], now: number): string {
  const rows = [
    ['ID', 'NAME', 'KIND', 'GROUPS', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS'],
    ...records.map((r) => [
      r.id,
      r.name,
      r.kind,
      r.groups.join(',') || '-',
      relative(r.createdAt, now),
      r.expiresAt ? relative(r.expiresAt, now) : 'never',
      r.lastUsedAt ? relative(r.lastUsedAt, now) : 'never',
      r.status,
    ]),
  ];
  return alignColumns(rows);
}

/** `3d ago`, `in 29d`: the largest whole unit, as kubectl shows ages. */
function relative(date: Date, now: number): string {
  const ms = date.getTime() - now;
  const s = Math.floor(Math.abs(ms) / 1000);
  const amount = s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : s < 172_800 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86_400)}d`;
  return ms > 0 ? `in ${amount}` : `${amount} ago`;
}
