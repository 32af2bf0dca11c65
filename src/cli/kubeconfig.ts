import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writePrivate } from '../config/data-dir.js';
import { clientKubeconfig } from '../kube/client-kubeconfig.js';

interface KubeconfigFlags {
  token?: string;
  tokenEnv?: string;
  server: string;
  caFile?: string;
  dataDir: string;
  name: string;
  namespace?: string;
  output?: string;
}

export function registerKubeconfig(program: Command): void {
  program
    .command('kubeconfig')
    .description('write a kubeconfig that points kubectl (or an AI agent) at the gateway with a given credential')
    .option('--token <token>', 'bearer token to use (a Gatehouse token or an OIDC id_token)')
    .option('--token-env <var>', 'read the token from this environment variable instead (keeps it out of shell history)')
    .option('--server <url>', 'gateway URL', 'https://127.0.0.1:6443')
    .option('--ca-file <file>', "CA that signed the gateway's certificate (default: <data-dir>/ca.crt)")
    .option('--data-dir <dir>', 'gateway data directory', join(homedir(), '.gatehouse'))
    .option('--name <name>', 'name of the cluster/user/context entries', 'gatehouse')
    .option('--namespace <ns>', 'default namespace of the context')
    .option('-o, --output <file>', 'write to this file (mode 0600) instead of stdout')
    .action((flags: KubeconfigFlags) => {
      const token = flags.token ?? (flags.tokenEnv ? process.env[flags.tokenEnv] : undefined);
      if (!token) throw new Error('a credential is required: pass --token or --token-env');
      const caPath = flags.caFile ?? join(flags.dataDir, 'ca.crt');
      let caPem: string;
      try {
        caPem = readFileSync(caPath, 'utf8');
      } catch (err) {
        throw new Error(`cannot read the gateway CA ${caPath}: ${(err as Error).message} (pass --ca-file or --data-dir)`);
      }
      const text = clientKubeconfig({ server: flags.server, caPem, token, name: flags.name, namespace: flags.namespace });
      if (flags.output) {
        writePrivate(flags.output, text);
        process.stderr.write(`wrote ${flags.output}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}
