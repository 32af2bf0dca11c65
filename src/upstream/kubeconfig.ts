import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const execConfigSchema = z.object({
  command: z.string().min(1),
  args: z.array(z.string()).nullish(),
  env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
  apiVersion: z.string().min(1),
  interactiveMode: z.string().nullish(),
  provideClusterInfo: z.boolean().nullish(),
});

const kubeconfigSchema = z.object({
  'current-context': z.string().nullish(),
  clusters: z
    .array(
      z.object({
        name: z.string(),
        cluster: z.object({
          server: z.string().url(),
          'certificate-authority': z.string().nullish(),
          'certificate-authority-data': z.string().nullish(),
          'insecure-skip-tls-verify': z.boolean().nullish(),
          'tls-server-name': z.string().nullish(),
          'proxy-url': z.string().nullish(),
        }),
      }),
    )
    .nullish(),
  users: z
    .array(
      z.object({
        name: z.string(),
        user: z
          .object({
            'client-certificate': z.string().nullish(),
            'client-certificate-data': z.string().nullish(),
            'client-key': z.string().nullish(),
            'client-key-data': z.string().nullish(),
            token: z.string().nullish(),
            tokenFile: z.string().nullish(),
            username: z.string().nullish(),
            password: z.string().nullish(),
            exec: execConfigSchema.nullish(),
            'auth-provider': z.unknown().nullish(),
          })
          .nullish(),
      }),
    )
    .nullish(),
  contexts: z
    .array(
      z.object({
        name: z.string(),
        context: z.object({ cluster: z.string(), user: z.string().nullish(), namespace: z.string().nullish() }),
      }),
    )
    .nullish(),
});

export type ExecConfig = z.infer<typeof execConfigSchema>;

/** Everything the gateway needs to reach one upstream API server, resolved from a kubeconfig. */
export interface UpstreamTarget {
  contextName: string;
  server: URL;
  /** PEM CA bundle; undefined means the system roots. */
  ca: Buffer | undefined;
  insecureSkipTlsVerify: boolean;
  tlsServerName: string | undefined;
  clientCert: Buffer | undefined;
  clientKey: Buffer | undefined;
  token: string | undefined;
  /** Re-read on use: projected service-account tokens rotate on disk. */
  tokenFile: string | undefined;
  basicAuth: { username: string; password: string } | undefined;
  exec: ExecConfig | undefined;
  /** The context's default namespace, for clients of the gateway (the upstream proxy ignores it). */
  namespace?: string | undefined;
}

/**
 * Reads a kubeconfig file and resolves one context into an {@link UpstreamTarget}.
 * Relative file references resolve against the kubeconfig's directory, as kubectl does.
 *
 * @example
 * const target = loadKubeconfig('/etc/gatehouse/upstream.kubeconfig', 'prod');
 */
export function loadKubeconfig(path: string, contextName?: string): UpstreamTarget {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
  }
  const parsed = kubeconfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid kubeconfig ${path}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'unknown error'}`);
  }
  const config = parsed.data;
  const name = contextName ?? config['current-context'] ?? undefined;
  if (!name) throw new Error(`kubeconfig ${path} has no current-context; pass --context`);
  const context = config.contexts?.find((c) => c.name === name);
  if (!context) throw new Error(`context "${name}" not found in kubeconfig ${path}`);
  const cluster = config.clusters?.find((c) => c.name === context.context.cluster)?.cluster;
  if (!cluster) throw new Error(`cluster "${context.context.cluster}" of context "${name}" not found in ${path}`);
  const userName = context.context.user;
  const user = userName ? (config.users?.find((u) => u.name === userName)?.user ?? undefined) : undefined;
  if (userName && !user) throw new Error(`user "${userName}" of context "${name}" not found in ${path}`);
  if (user?.['auth-provider']) {
    throw new Error(`user "${userName}" uses a legacy auth-provider, which Gatehouse does not support; use an exec plugin`);
  }
  if (cluster['proxy-url']) throw new Error(`cluster "${context.context.cluster}" sets proxy-url, which Gatehouse does not support yet`);

  const base = dirname(resolve(path));
  const file = (p: string | null | undefined): Buffer | undefined =>
    p ? readFileSync(isAbsolute(p) ? p : resolve(base, p)) : undefined;
  const data = (d: string | null | undefined): Buffer | undefined => (d ? Buffer.from(d, 'base64') : undefined);

  return {
    contextName: name,
    server: new URL(cluster.server),
    ca: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] ?? false,
    tlsServerName: cluster['tls-server-name'] ?? undefined,
    clientCert: data(user?.['client-certificate-data']) ?? file(user?.['client-certificate']),
    clientKey: data(user?.['client-key-data']) ?? file(user?.['client-key']),
    token: user?.token ?? undefined,
    tokenFile: user?.tokenFile ? (isAbsolute(user.tokenFile) ? user.tokenFile : resolve(base, user.tokenFile)) : undefined,
    basicAuth: user?.username && user.password ? { username: user.username, password: user.password } : undefined,
    exec: user?.exec ?? undefined,
    namespace: context.context.namespace ?? undefined,
  };
}
