/**
 * Command lines of the control-plane processes, with the reason for each
 * flag that is not a plain address or file.
 *
 * @internal
 */
import { join } from 'node:path';
import { SERVICE_CLUSTER_IP_RANGE, type Credentials } from './credentials.js';
import { KWOK_NODE_ANNOTATION, POD_CIDR } from './kwok.js';

export function etcdArgs(controlDir: string, port: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=harness',
    `--data-dir=${join(controlDir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=harness=${peer}`,
    // A throw-away test store: durability buys nothing, fsync costs seconds on slow disks.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

export function apiserverArgs(c: Credentials, at: { apiPort: number; etcdPort: number; controlDir: string }): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${at.etcdPort}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${at.apiPort}`,
    // No default route on test machines: without this the server refuses to start.
    '--advertise-address=127.0.0.1',
    // A loopback advertise address makes the `kubernetes` Endpoints invalid; don't reconcile them.
    '--endpoint-reconciler-type=none',
    `--cert-dir=${join(at.controlDir, 'apiserver-certs')}`,
    `--tls-cert-file=${c.apiserverServing.cert}`,
    `--tls-private-key-file=${c.apiserverServing.key}`,
    `--client-ca-file=${c.clientCAFiles.cert}`,
    `--token-auth-file=${c.tokenAuthFile}`,
    '--authorization-mode=Node,RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${c.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${c.serviceAccountKeyFile}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
    // The "kubelet" is kwok on 127.0.0.1; verify its serving certificate.
    '--kubelet-preferred-address-types=InternalIP',
    `--kubelet-certificate-authority=${c.clusterCAFile}`,
    `--kubelet-client-certificate=${c.apiserverKubeletClient.cert}`,
    `--kubelet-client-key=${c.apiserverKubeletClient.key}`,
    // Aggregation layer / front-proxy authentication.
    `--requestheader-client-ca-file=${c.frontProxyCAFile}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${c.frontProxyClientFiles.cert}`,
    `--proxy-client-key-file=${c.frontProxyClientFiles.key}`,
    '--profiling=false',
  ];
}

export function controllerManagerArgs(c: Credentials, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    // No HTTPS endpoint needed (and none to collide on).
    '--secure-port=0',
    // Each controller gets its own ServiceAccount and RBAC role, as in a real cluster.
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${c.serviceAccountKeyFile}`,
    `--root-ca-file=${c.clusterCAFile}`,
    // CSRs for kubernetes.io/kube-apiserver-client are signed by the CA the API server trusts.
    `--cluster-signing-cert-file=${c.clientCAFiles.cert}`,
    `--cluster-signing-key-file=${c.clientCAFiles.key}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    // kwok renews the node's lease from a busy test machine: a late renewal must not mark the node (and its pods) unready.
    '--node-monitor-grace-period=2m',
    '--profiling=false',
  ];
}

export function schedulerArgs(kubeconfig: string): string[] {
  return [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--secure-port=0', '--profiling=false'];
}

export function kwokArgs(c: Credentials, kubeconfig: string, config: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${config}`,
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=true`,
    // The node's InternalIP and kubelet port: where the API server sends logs/exec/port-forward.
    '--node-ip=127.0.0.1',
    `--node-port=${port}`,
    `--server-address=127.0.0.1:${port}`,
    `--tls-cert-file=${c.kwokServing.cert}`,
    `--tls-private-key-file=${c.kwokServing.key}`,
    `--cidr=${POD_CIDR}`,
  ];
}
