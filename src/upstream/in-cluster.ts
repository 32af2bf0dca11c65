import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UpstreamTarget } from './kubeconfig.js';

/** Where the kubelet mounts a pod's service-account credential. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** True when the process runs in a pod that can reach its cluster's API server (client-go's test). */
export function runningInCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

/**
 * The API server of the cluster this pod runs in, as an {@link UpstreamTarget}:
 * `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the cluster CA,
 * and the bound service-account token as a token file, which the credential
 * provider re-reads because the kubelet rotates it.
 *
 * @example
 * const upstream = createUpstream(inClusterTarget());
 */
export function inClusterTarget(env: NodeJS.ProcessEnv = process.env, dir: string = SERVICE_ACCOUNT_DIR): UpstreamTarget {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set');
  const tokenFile = join(dir, 'token');
  if (!existsSync(tokenFile)) throw new Error(`no service-account token at ${tokenFile}: does the pod mount its service account (automountServiceAccountToken)?`);
  const caFile = join(dir, 'ca.crt');
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (err) {
    throw new Error(`cannot read the cluster CA ${caFile}: ${(err as Error).message}`);
  }
  const namespaceFile = join(dir, 'namespace');
  return {
    contextName: 'in-cluster',
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    ca,
    insecureSkipTlsVerify: false,
    tlsServerName: undefined,
    clientCert: undefined,
    clientKey: undefined,
    token: undefined,
    tokenFile,
    basicAuth: undefined,
    exec: undefined,
    namespace: existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined,
  };
}
