import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { ExecConfig, UpstreamTarget } from './kubeconfig.js';

/** What the gateway presents to the upstream on one request. */
export interface UpstreamCredential {
  /** Value of the Authorization header, if the credential is a bearer token or basic auth. */
  authorization: string | undefined;
  clientCert: Buffer | undefined;
  clientKey: Buffer | undefined;
}

export interface CredentialProvider {
  /** The credential to use now; cached, refreshed before it expires. */
  get(): Promise<UpstreamCredential>;
  /** Drop any cached credential (after the upstream answered 401). */
  invalidate(): void;
}

const execCredentialSchema = z.object({
  kind: z.literal('ExecCredential'),
  status: z.object({
    token: z.string().nullish(),
    clientCertificateData: z.string().nullish(),
    clientKeyData: z.string().nullish(),
    expirationTimestamp: z.string().nullish(),
  }),
});

// Refresh exec credentials a little before they expire so in-flight requests
// never carry a token that dies on the way.
const EXPIRY_MARGIN_MS = 30_000;
const EXEC_TIMEOUT_MS = 60_000;

/**
 * Creates the provider of the gateway-held credential for one upstream: a
 * static token, client certificate or basic auth from the kubeconfig, a token
 * file re-read when it changes, or an exec plugin (client.authentication.k8s.io).
 *
 * @example
 * const creds = createCredentialProvider(loadKubeconfig(path));
 * const { authorization } = await creds.get();
 */
export function createCredentialProvider(target: UpstreamTarget): CredentialProvider {
  if (target.exec) return execProvider(target.exec, target);
  if (target.tokenFile) return tokenFileProvider(target.tokenFile, target);
  let authorization: string | undefined;
  if (target.token) authorization = `Bearer ${target.token}`;
  else if (target.basicAuth) {
    authorization = `Basic ${Buffer.from(`${target.basicAuth.username}:${target.basicAuth.password}`).toString('base64')}`;
  }
  const fixed = Promise.resolve({ authorization, clientCert: target.clientCert, clientKey: target.clientKey });
  return { get: () => fixed, invalidate: () => undefined };
}

function tokenFileProvider(path: string, target: UpstreamTarget): CredentialProvider {
  let cached: { value: UpstreamCredential; readAt: number } | undefined;
  return {
    async get() {
      // Kubelet rotates projected tokens well before expiry; re-reading once a minute is what client-go does.
      if (cached && Date.now() - cached.readAt < 60_000) return cached.value;
      const token = (await readFile(path, 'utf8')).trim();
      if (!token) throw new Error(`token file ${path} is empty`);
      cached = {
        value: { authorization: `Bearer ${token}`, clientCert: target.clientCert, clientKey: target.clientKey },
        readAt: Date.now(),
      };
      return cached.value;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

function execProvider(exec: ExecConfig, target: UpstreamTarget): CredentialProvider {
  let current: { value: UpstreamCredential; expiresAt: number } | undefined;
  let pending: Promise<UpstreamCredential> | undefined;

  const run = async (): Promise<UpstreamCredential> => {
    const execInfo = {
      apiVersion: exec.apiVersion,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        ...(exec.provideClusterInfo
          ? {
              cluster: {
                server: target.server.toString(),
                'certificate-authority-data': target.ca?.toString('base64'),
                'insecure-skip-tls-verify': target.insecureSkipTlsVerify,
                'tls-server-name': target.tlsServerName,
              },
            }
          : {}),
      },
    };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(execInfo) };
    for (const e of exec.env ?? []) env[e.name] = e.value;
    const stdout = await new Promise<string>((resolvePromise, reject) => {
      execFile(exec.command, exec.args ?? [], { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (err, out, errOut) => {
        if (err) reject(new Error(`exec credential plugin ${exec.command} failed: ${err.message}${errOut ? `: ${errOut.trim()}` : ''}`));
        else resolvePromise(out);
      });
    });
    let parsed;
    try {
      parsed = execCredentialSchema.parse(JSON.parse(stdout));
    } catch (err) {
      throw new Error(`exec credential plugin ${exec.command} printed an invalid ExecCredential: ${(err as Error).message}`);
    }
    const { status } = parsed;
    const value: UpstreamCredential = {
      authorization: status.token ? `Bearer ${status.token}` : undefined,
      clientCert: status.clientCertificateData ? Buffer.from(status.clientCertificateData) : target.clientCert,
      clientKey: status.clientKeyData ? Buffer.from(status.clientKeyData) : target.clientKey,
    };
    if (!value.authorization && !value.clientCert) {
      throw new Error(`exec credential plugin ${exec.command} returned neither a token nor a client certificate`);
    }
    const expiresAt = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Number.POSITIVE_INFINITY;
    current = { value, expiresAt: Number.isNaN(expiresAt) ? 0 : expiresAt };
    return value;
  };

  return {
    get() {
      if (current && current.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return Promise.resolve(current.value);
      // Concurrent requests share one plugin run.
      pending ??= run().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate() {
      current = undefined;
    },
  };
}
