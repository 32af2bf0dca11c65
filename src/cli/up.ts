import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseConfig } from '../config/schema.js';
import { baselineAllowFile } from '../policy/config.js';
import { startGateway } from '../gateway.js';
import { startCluster } from '../harness/cluster.js';
import { createLogger } from '../log/logger.js';
import { announceGateway, closeOnSignal } from './announce.js';
import { defaultKubeconfig, parseListen } from './serve.js';

interface UpFlags {
  demo?: boolean;
  kubeconfig?: string;
  context?: string;
  listen: string;
  dataDir: string;
  logLevel: string;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start the gateway in front of your current cluster, or in front of a local demo control plane (--demo, or when there is no kubeconfig)')
    .option('--demo', 'start a real local control plane (kube-apiserver, etcd, a kwok node) on loopback and guard it')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster to guard (default $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'context of that kubeconfig (default: its current-context)')
    .option('--listen <host:port>', 'address the gateway listens on', '127.0.0.1:6443')
    .option('--data-dir <dir>', 'gateway data directory', join(homedir(), '.gatehouse'))
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'info')
    .action(async (flags: UpFlags) => {
      const log = createLogger(flags.logLevel);
      const kubeconfig = flags.kubeconfig ?? defaultKubeconfig();
      const demo = flags.demo === true || (!flags.kubeconfig && !flags.context && !existsSync(kubeconfig));
      let upstream = { kubeconfig, context: flags.context };
      let stopCluster = (): Promise<void> => Promise.resolve();
      if (demo) {
        process.stderr.write('gatehouse: starting the local demo control plane (the first run builds it from Go modules: several minutes)…\n');
        const workDir = join(flags.dataDir, 'demo-cluster');
        mkdirSync(workDir, { recursive: true, mode: 0o700 });
        const cluster = await startCluster({ workDir, log: (line) => process.stderr.write(`  ${line}\n`) });
        process.stderr.write(`gatehouse: demo control plane ready at ${cluster.server} (direct admin kubeconfig: ${cluster.adminKubeconfig})\n`);
        upstream = { kubeconfig: cluster.adminKubeconfig, context: undefined };
        stopCluster = () => cluster.stop();
      } else {
        process.stderr.write(`gatehouse: guarding ${flags.context ? `context "${flags.context}" of ` : 'the current context of '}${kubeconfig}\n`);
      }
      // A usable start: the guardrails judge risky requests, everything else is allowed (edit or drop baseline-allow to tighten).
      const config = parseConfig(
        { listen: parseListen(flags.listen), dataDir: flags.dataDir, upstream, log: { level: flags.logLevel }, policy: { paths: [baselineAllowFile()] } },
        'gatehouse up options',
      );
      let gateway;
      try {
        gateway = await startGateway(config, log);
      } catch (err) {
        await stopCluster();
        throw err;
      }
      announceGateway(gateway);
      const running = gateway;
      closeOnSignal(log, async () => {
        await running.close();
        await stopCluster();
      });
    });
}
