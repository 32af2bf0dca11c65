import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivate } from '../config/data-dir.js';
import type { ReloadResult } from '../config/reload.js';
import type { Gateway } from '../gateway.js';
import { clientKubeconfig } from '../kube/client-kubeconfig.js';

/**
 * Tells the person at the terminal where the gateway is and how to use it.
 * On the first run the bootstrap admin token is shown once and written into
 * `<data-dir>/admin.kubeconfig`; later runs point at that file.
 */
export function announceGateway(gateway: Gateway): void {
  const path = join(gateway.state.dir, 'admin.kubeconfig');
  process.stderr.write(`gatehouse: listening on ${gateway.url}\n`);
  if (gateway.metricsUrl) process.stderr.write(`gatehouse: metrics at ${gateway.metricsUrl}/metrics\n`);
  if (gateway.state.newAdminToken) {
    writePrivate(path, clientKubeconfig({ server: gateway.url, caPem: gateway.state.tls.caPem, credential: { token: gateway.state.newAdminToken }, name: 'gatehouse' }));
    process.stderr.write(
      `gatehouse: first run — created the bootstrap admin credential.\n` +
        `  Its token is shown once: ${gateway.state.newAdminToken}\n` +
        `  A kubeconfig using it: ${path}\n`,
    );
  }
  if (existsSync(path)) process.stderr.write(`  Try: KUBECONFIG=${path} kubectl get namespaces\n`);
}

/**
 * Closes the gateway (and whatever else) on Ctrl-C or SIGTERM. The handlers
 * are one-shot, so a second signal ends the process at once.
 */
export function closeOnSignal(log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void }, close: () => Promise<void>): void {
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

/**
 * Reloads the configuration and the policy on SIGHUP (the files are also
 * watched; this forces it, e.g. after a config-management run). The reload
 * logs its own outcome.
 */
export function reloadOnSignal(log: { info(obj: object, msg: string): void }, reload: () => ReloadResult): void {
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading config and policy');
    reload();
  });
}
