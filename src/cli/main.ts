import { Command } from 'commander';
import { registerKubeconfig } from './kubeconfig.js';
import { registerAgent } from './agent.js';
import { registerClusters } from './clusters.js';
import { registerApprovals, registerReason } from './approvals.js';
import { registerAudit } from './audit.js';
import { registerDoctor } from './doctor.js';
import { registerLogin } from './login.js';
import { registerLogLevel } from './log-level.js';
import { registerMcp } from './mcp.js';
import { registerPolicy } from './policy.js';
import { registerProposals } from './proposals.js';
import { registerServe } from './serve.js';
import { registerTokens } from './tokens.js';
import { registerUp } from './up.js';

/** Builds the `gatehouse` command line. */
export function buildProgram(): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse: a guarded, recorded gateway between AI agents, people and CI and your Kubernetes API servers')
    .version('0.1.0')
    .showHelpAfterError();
  registerServe(program);
  registerKubeconfig(program);
  registerUp(program);
  registerDoctor(program);
  registerTokens(program);
  registerClusters(program);
  registerAgent(program);
  registerLogin(program);
  registerPolicy(program);
  registerAudit(program);
  registerApprovals(program);
  registerReason(program);
  registerProposals(program);
  registerMcp(program);
  registerLogLevel(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`gatehouse: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
