import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayProcess } from './gateway.js';
import { kubectlFor, run } from './run.js';
import type { Kubectl, RunResult } from './run.js';

/** The built `gatehouse` CLI, as a user would run it. */
export const gatehouse = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> => run(process.execPath, ['bin/gatehouse.js', ...args], { env });

/** Throws with the CLI's stderr when it failed (usable outside a test body, e.g. in a stack helper). */
function ensure(what: string, r: RunResult): void {
  if (r.code !== 0) throw new Error(`gatehouse ${what} exited ${r.code}: ${r.stderr}`);
}

/** Writes `<name>.kubeconfig` in the gateway's data dir for the bearer token in `tokenFile`. */
export async function writeKubeconfig(gateway: GatewayProcess, name: string, tokenFile: string, ns: string): Promise<string> {
  const kubeconfig = join(gateway.dataDir, `${name}.kubeconfig`);
  ensure('kubeconfig', await gatehouse(['kubeconfig', '--token-file', tokenFile, '--server', gateway.url, '--data-dir', gateway.dataDir, '--namespace', ns, '-o', kubeconfig]));
  return kubeconfig;
}

export interface Identity {
  token: string;
  kubeconfig: string;
  kubectl: Kubectl;
  /** `gatehouse approvals …` as this identity against the gateway. */
  approvals(args: string[]): Promise<RunResult>;
  /** Any `gatehouse` command that talks to the gateway, as this identity. */
  cli(args: string[]): Promise<RunResult>;
}

/**
 * A Gatehouse token (`gatehouse tokens create`, as an admin would) for `name`
 * and a kubeconfig through `gateway` in namespace `ns`, with kubectl and CLI
 * helpers bound to it.
 */
export async function identity(gateway: GatewayProcess, name: string, ns: string, who: { kind: string; groups: string }): Promise<Identity> {
  const tokenFile = join(gateway.dataDir, `${name}.token`);
  ensure('tokens create', await gatehouse(['tokens', 'create', '--data-dir', gateway.dataDir, '--name', name, '--kind', who.kind, '--groups', who.groups, '--ttl', '1d', '-o', tokenFile]));
  const kubeconfig = await writeKubeconfig(gateway, name, tokenFile, ns);
  return {
    token: readFileSync(tokenFile, 'utf8').trim(),
    kubeconfig,
    kubectl: kubectlFor(kubeconfig),
    approvals: (args) => gatehouse(['approvals', ...args, '--kubeconfig', kubeconfig]),
    cli: (args) => gatehouse([...args, '--kubeconfig', kubeconfig]),
  };
}
