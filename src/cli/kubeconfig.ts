import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { writePrivate } from '../config/data-dir.js';
import { gatewayKubeconfig, withGatewayKubeconfigOptions } from './gateway-kubeconfig-options.js';
import type { GatewayKubeconfigFlags } from './gateway-kubeconfig-options.js';

interface KubeconfigFlags extends GatewayKubeconfigFlags {
  token?: string;
  tokenEnv?: string;
  tokenFile?: string;
  output?: string;
}

export function registerKubeconfig(program: Command): void {
  withGatewayKubeconfigOptions(program.command('kubeconfig'))
    .description('write a kubeconfig that points kubectl (or an AI agent) at the gateway with a given credential')
    .addHelpText(
      'after',
      `
Examples:
  gatehouse kubeconfig --token-file cursor.token --server https://gatehouse.example:6443 --namespace dev -o agent.kubeconfig
  gatehouse kubeconfig --token-env GATEHOUSE_TOKEN --cluster prod -o prod.kubeconfig`,
    )
    .option('--token <token>', 'bearer token to use (a Gatehouse token or an OIDC id_token)')
    .option('--token-env <var>', 'read the token from this environment variable instead (keeps it out of shell history)')
    .option('--token-file <file>', 'read the token from this file (e.g. one `gatehouse tokens create -o` wrote)')
    .option('-o, --output <file>', 'write to this file (mode 0600) instead of stdout')
    .action((flags: KubeconfigFlags) => {
      const token = credential(flags);
      const text = gatewayKubeconfig(flags, { token });
      if (flags.output) {
        writePrivate(flags.output, text);
        process.stderr.write(`wrote ${flags.output}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}

/** The token from exactly one of --token, --token-env and --token-file. */
function credential(flags: KubeconfigFlags): string {
  const given = [flags.token !== undefined && '--token', flags.tokenEnv !== undefined && '--token-env', flags.tokenFile !== undefined && '--token-file'].filter(
    (f) => f !== false,
  );
  if (given.length === 0) throw new Error('a credential is required: pass --token, --token-env or --token-file');
  if (given.length > 1) throw new Error(`pass only one of ${given.join(', ')}`);
  if (flags.tokenEnv !== undefined) {
    const value = process.env[flags.tokenEnv]?.trim();
    if (!value) throw new Error(`the environment variable ${flags.tokenEnv} (--token-env) is unset or empty`);
    return value;
  }
  if (flags.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.tokenFile, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the token file ${flags.tokenFile}: ${(err as Error).message}`);
    }
    const value = text.trim();
    if (!value) throw new Error(`the token file ${flags.tokenFile} is empty`);
    return value;
  }
  if (!flags.token?.trim()) throw new Error('--token is empty');
  return flags.token.trim();
}
