/**
 * A real local Kubernetes control plane for tests and demos: etcd,
 * kube-apiserver, kube-controller-manager and kube-scheduler built from the
 * Kubernetes sources (`harness/build.sh`), plus kwok as the kubelet of one
 * simulated node, so pods run, and `kubectl logs`, `exec`, `cp` and
 * `port-forward` work against them.
 *
 * @example
 * ```ts
 * import { startCluster } from './harness/index.js';
 *
 * const cluster = await startCluster();
 * console.log(`export KUBECONFIG=${cluster.adminKubeconfig}`);
 * process.once('SIGINT', () => void cluster.stop());
 * ```
 */
export { appendPodLog, startCluster, type Cluster, type ClusterOptions, type ComponentName } from './cluster.js';
export { criLogLine } from './kwok.js';
export { DEMO_USERS, signWithForeignKey, startOidcProvider, type OidcProviderHandle } from './oidc-provider.js';
