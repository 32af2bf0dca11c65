/**
 * The "what now" `gatehouse up` prints once the gateway listens: the agent's
 * kubeconfig, how a held request is approved, the console, the record.
 *
 * @module
 */
import { join } from 'node:path';
import type { DemoUser } from '../../harness/oidc-provider.js';
import { ADMIN_KUBECONFIG } from './kubeconfigs.js';
import type { AgentKubeconfig } from './kubeconfigs.js';
import type { Terminal } from './terminal.js';

export interface NextSteps {
  gatewayUrl: string;
  /** What is guarded, e.g. `context "kind-dev" (https://…)`. */
  guarding: string;
  dataDir: string;
  /** ` --data-dir <dir>` (with its leading space) for commands, or '' for the default directory. */
  dataDirFlag: string;
  configPath: string;
  agent: AgentKubeconfig;
  /** The demo's people, when the demo identity provider runs. */
  demoUsers: readonly DemoUser[] | undefined;
}

const ROLE: Record<string, string> = { alice: 'approver', bob: 'developer', auditor: 'auditor (read-only console)' };

/** Prints the next steps; commands are indented so they can be copied as they are. */
export function printNextSteps(term: Terminal, s: NextSteps): void {
  const admin = join(s.dataDir, ADMIN_KUBECONFIG);
  const line = (text = ''): void => void process.stderr.write(`${text}\n`);
  const agentNote =
    s.agent.created === undefined ? 'kept from an earlier run (--new-agent-token replaces it)' : `new token: ${s.agent.created}; it is not shown anywhere else`;
  line();
  term.say(term.bold(term.green(`Gatehouse is guarding ${s.guarding} at ${s.gatewayUrl}`)));
  line();
  line(term.bold('  Your AI agent (Cursor, Claude Code, any kubectl) — ') + term.dim(agentNote));
  line(`    export KUBECONFIG=${s.agent.path}`);
  line(`    kubectl get pods                                         ${term.dim('# allowed, recorded')}`);
  line(`    kubectl run x --image=nginx:1.27.3 --privileged          ${term.dim('# held for a person to approve')}`);
  line();
  line(term.bold('  Approve or deny held requests'));
  if (s.demoUsers) line(`    in the console as alice, or:`);
  line(`    gatehouse approvals list --kubeconfig ${admin}`);
  line(`    gatehouse approvals approve <id> --kubeconfig ${admin}     ${term.dim('# then the agent retries the same command')}`);
  line();
  line(`${term.bold('  Console')}  ${s.gatewayUrl}/ui   ${term.dim(`(trust ${join(s.dataDir, 'ca.crt')} or accept the certificate warning)`)}`);
  if (s.demoUsers) {
    for (const u of s.demoUsers) line(`    ${u.username.padEnd(8)} password ${u.password.padEnd(17)} ${term.dim(ROLE[u.username] ?? u.groups.join(', '))}`);
  } else {
    line(term.dim('    browser sign-in needs an OpenID provider (identity.oidc in gatehouse.yaml); until then use the commands above'));
  }
  line();
  line(`${term.bold('  Record')}   gatehouse audit search${s.dataDirFlag}  ·  gatehouse audit verify${s.dataDirFlag}`);
  line(`${term.bold('  Check')}    gatehouse doctor${s.dataDirFlag}`);
  line(`${term.bold('  Config')}   ${s.configPath} ${term.dim('(policy: policies/starter.yaml beside it, hot-reloaded)')}`);
  line();
  line(term.dim('  Ctrl-C stops the gateway; `gatehouse up` again restarts it with the same tokens, record and config.'));
}
