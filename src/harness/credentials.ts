/**
 * Every key, certificate and token the control plane needs, generated fresh
 * per cluster with `src/pki` and written to the cluster's `pki/` directory.
 *
 * @internal
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCA, issueCert, type CertAndKey } from '../pki/index.js';

/** The in-cluster address of the `kubernetes` Service: first IP of the service range. */
export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const KUBERNETES_SERVICE_IP = '10.96.0.1';

/** Validity of everything issued for a test cluster. */
const DAYS = 30;

/** A certificate and key as written to disk. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface Credentials {
  /** Signs serving certificates: the API server's and kwok's ("kubelet"). */
  readonly clusterCA: CertAndKey;
  readonly clusterCAFile: string;
  /** Signs client certificates accepted by the API server (`--client-ca-file`). */
  readonly clientCA: CertAndKey;
  readonly clientCAFiles: CertFiles;
  /** Signs the API server's proxy client certificate for aggregated APIs / front-proxy auth. */
  readonly frontProxyCAFile: string;
  readonly frontProxyClient: CertAndKey;
  readonly frontProxyClientFiles: CertFiles;
  readonly apiserverServing: CertFiles;
  readonly apiserverKubeletClient: CertFiles;
  readonly kwokServing: CertFiles;
  /** Client certificates for the kubeconfigs. */
  readonly admin: CertAndKey;
  readonly controllerManager: CertAndKey;
  readonly scheduler: CertAndKey;
  readonly kwok: CertAndKey;
  /** Service-account token signing key (RSA, PKCS#8) and its public half. */
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  /** Bearer token in `system:masters`, listed in the token auth file. */
  readonly adminToken: string;
  readonly tokenAuthFile: string;
}

/** User name of the admin identities (client certificate and token). */
export const ADMIN_USER = 'gatehouse-harness-admin';

/** Generates the cluster's credentials and writes them under `pkiDir`. */
export async function generateCredentials(pkiDir: string): Promise<Credentials> {
  const [clusterCA, clientCA, frontProxyCA] = await Promise.all([
    createCA('gatehouse-harness-cluster-ca', { validityDays: DAYS }),
    createCA('gatehouse-harness-client-ca', { validityDays: DAYS }),
    createCA('gatehouse-harness-front-proxy-ca', { validityDays: DAYS }),
  ]);

  const [apiserverServing, kwokServing, apiserverKubeletClient, frontProxyClient, admin, controllerManager, scheduler, kwok] =
    await Promise.all([
      issueCert(clusterCA, {
        commonName: 'kube-apiserver',
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
        ipAddresses: ['127.0.0.1', KUBERNETES_SERVICE_IP],
        usage: 'server',
        validityDays: DAYS,
      }),
      // kwok serves the kubelet API on the node's InternalIP (127.0.0.1); the API
      // server verifies it against the cluster CA (--kubelet-certificate-authority).
      issueCert(clusterCA, { commonName: 'kwok-kubelet', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: DAYS }),
      issueCert(clientCA, { commonName: 'kube-apiserver-kubelet-client', usage: 'client', validityDays: DAYS }),
      issueCert(frontProxyCA, { commonName: 'front-proxy-client', usage: 'client', validityDays: DAYS }),
      issueCert(clientCA, { commonName: ADMIN_USER, organizations: ['system:masters'], usage: 'client', validityDays: DAYS }),
      issueCert(clientCA, { commonName: 'system:kube-controller-manager', usage: 'client', validityDays: DAYS }),
      issueCert(clientCA, { commonName: 'system:kube-scheduler', usage: 'client', validityDays: DAYS }),
      // kwok drives node and pod status for every pod on its node; it runs as a cluster admin.
      issueCert(clientCA, { commonName: 'system:kwok-controller', organizations: ['system:masters'], usage: 'client', validityDays: DAYS }),
    ]);

  const serviceAccount = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const adminToken = randomBytes(32).toString('base64url');

  const files = new Map<string, string>();
  const put = (name: string, content: string): string => {
    const path = join(pkiDir, name);
    files.set(path, content);
    return path;
  };
  const putPair = (name: string, pair: CertAndKey): CertFiles => ({ cert: put(`${name}.crt`, pair.certPem), key: put(`${name}.key`, pair.keyPem) });

  const credentials: Credentials = {
    clusterCA,
    clusterCAFile: putPair('cluster-ca', clusterCA).cert,
    clientCA,
    clientCAFiles: putPair('client-ca', clientCA),
    frontProxyCAFile: put('front-proxy-ca.crt', frontProxyCA.certPem),
    frontProxyClient,
    frontProxyClientFiles: putPair('front-proxy-client', frontProxyClient),
    apiserverServing: putPair('apiserver', apiserverServing),
    apiserverKubeletClient: putPair('apiserver-kubelet-client', apiserverKubeletClient),
    kwokServing: putPair('kwok-serving', kwokServing),
    admin,
    controllerManager,
    scheduler,
    kwok,
    serviceAccountKeyFile: put('sa.key', serviceAccount.privateKey),
    serviceAccountPublicKeyFile: put('sa.pub', serviceAccount.publicKey),
    adminToken,
    // token,user,uid,"group1,group2"
    tokenAuthFile: put('tokens.csv', `${adminToken},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`),
  };
  await Promise.all([...files].map(([path, content]) => writeFile(path, content, { mode: 0o600 })));
  return credentials;
}
