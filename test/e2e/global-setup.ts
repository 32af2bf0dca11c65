/**
 * Starts ONE real control plane (etcd, kube-apiserver, controller manager,
 * scheduler, kwok) shared by every e2e file, and stops it after the run.
 * Nothing is skipped: if the cluster cannot start, the run fails here.
 *
 * Tests read it with `inject('cluster')`. The same facts are also in
 * `process.env.GATEHOUSE_TEST_*` for code that runs outside vitest's context
 * (for example a child process started by a test).
 */
import type { TestProject } from 'vitest/node';
import { startCluster } from '../../src/harness/index.js';
import type { Cluster } from '../../src/harness/index.js';

/** The serialisable part of a started cluster: its plain fields and its files, derived from `Cluster` so the two cannot drift. */
export type ProvidedCluster = Pick<
  Cluster,
  'server' | 'caPem' | 'adminKubeconfig' | 'adminToken' | 'workDir' | 'nodeName' | 'echoPort' | 'podLogFile' | 'logDir' | 'binDir' | 'pids'
> &
  Cluster['files'];

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ProvidedCluster;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const cluster = await startCluster({ log: (line) => process.stderr.write(`[e2e cluster] ${line}\n`) });
  process.stderr.write(`[e2e cluster] up in ${((performance.now() - started) / 1000).toFixed(1)}s: ${cluster.server}\n`);

  const provided: ProvidedCluster = {
    server: cluster.server,
    caPem: cluster.caPem,
    adminKubeconfig: cluster.adminKubeconfig,
    adminToken: cluster.adminToken,
    workDir: cluster.workDir,
    nodeName: cluster.nodeName,
    echoPort: cluster.echoPort,
    podLogFile: cluster.podLogFile,
    logDir: cluster.logDir,
    binDir: cluster.binDir,
    pids: cluster.pids,
    ...cluster.files,
  };
  project.provide('cluster', provided);

  process.env['GATEHOUSE_TEST_SERVER'] = cluster.server;
  process.env['GATEHOUSE_TEST_KUBECONFIG'] = cluster.adminKubeconfig;
  process.env['GATEHOUSE_TEST_TOKEN'] = cluster.adminToken;
  process.env['GATEHOUSE_TEST_WORKDIR'] = cluster.workDir;
  process.env['GATEHOUSE_TEST_NODE'] = cluster.nodeName;
  process.env['GATEHOUSE_HARNESS_BIN'] ??= cluster.binDir;

  return () => cluster.stop();
}
