import { stringify } from 'yaml';

export interface ClientKubeconfigOptions {
  /** Gateway URL, e.g. https://127.0.0.1:6443 */
  server: string;
  /** PEM of the CA that signed the gateway's serving certificate. */
  caPem: string;
  token: string;
  /** Name of the cluster, user and context entries. */
  name: string;
  namespace?: string | undefined;
}

/**
 * Renders a kubeconfig that points a client at the gateway with the given
 * bearer token and the gateway's CA inlined, so it works from any directory.
 *
 * @example
 * writeFileSync('agent.kubeconfig', clientKubeconfig({ server, caPem, token, name: 'gatehouse' }), { mode: 0o600 });
 */
export function clientKubeconfig(options: ClientKubeconfigOptions): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': options.name,
    clusters: [
      {
        name: options.name,
        cluster: { server: options.server, 'certificate-authority-data': Buffer.from(options.caPem).toString('base64') },
      },
    ],
    users: [{ name: options.name, user: { token: options.token } }],
    contexts: [
      {
        name: options.name,
        context: { cluster: options.name, user: options.name, ...(options.namespace ? { namespace: options.namespace } : {}) },
      },
    ],
  });
}
