import { stringify } from 'yaml';

export interface ClientKubeconfigOptions {
  /** Gateway URL, e.g. https://127.0.0.1:6443 */
  server: string;
  /** PEM of the CA that signed the gateway's serving certificate. */
  caPem: string;
  /** A bearer token, or an exec credential plugin (client.authentication.k8s.io/v1) that prints one. */
  credential: { token: string } | { exec: { command: string; args: string[]; env?: { name: string; value: string }[] } };
  /** Name of the cluster, user and context entries. */
  name: string;
  namespace?: string | undefined;
}

/**
 * Renders a kubeconfig that points a client at the gateway with the given
 * credential and the gateway's CA inlined, so it works from any directory.
 *
 * @example
 * writeFileSync('agent.kubeconfig', clientKubeconfig({ server, caPem, credential: { token }, name: 'gatehouse' }), { mode: 0o600 });
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
    users: [{ name: options.name, user: userEntry(options.credential) }],
    contexts: [
      {
        name: options.name,
        context: { cluster: options.name, user: options.name, ...(options.namespace ? { namespace: options.namespace } : {}) },
      },
    ],
  });
}

function userEntry(credential: ClientKubeconfigOptions['credential']): Record<string, unknown> {
  if ('token' in credential) return { token: credential.token };
  return {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: credential.exec.command,
      args: credential.exec.args,
      env: credential.exec.env ?? null,
      // kubectl passes the terminal through when there is one, so a first sign-in can print its URL.
      interactiveMode: 'IfAvailable',
      provideClusterInfo: false,
    },
  };
}
