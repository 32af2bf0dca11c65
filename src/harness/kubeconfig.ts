/**
 * Self-contained kubeconfig files (certificates inlined as base64 data).
 *
 * @internal
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Credentials } from './credentials.js';

export type KubeconfigUser = { readonly certPem: string; readonly keyPem: string } | { readonly token: string };

/** A kubeconfig with one cluster, one user and one current context, all named `name`. */
export function kubeconfigYaml(name: string, server: string, caPem: string, user: KubeconfigUser): string {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  const userEntry =
    'token' in user
      ? { token: user.token }
      : { 'client-certificate-data': b64(user.certPem), 'client-key-data': b64(user.keyPem) };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name, user: userEntry }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
    preferences: {},
  });
}

export interface KubeconfigPaths {
  admin: string;
  adminToken: string;
  controllerManager: string;
  scheduler: string;
  kwok: string;
}

/** Writes the admin kubeconfigs into `workDir` and the components' into `controlDir`. */
export async function writeKubeconfigs(workDir: string, controlDir: string, server: string, c: Credentials): Promise<KubeconfigPaths> {
  const ca = c.clusterCA.certPem;
  const paths: KubeconfigPaths = {
    admin: join(workDir, 'admin.kubeconfig'),
    adminToken: join(workDir, 'admin-token.kubeconfig'),
    controllerManager: join(controlDir, 'controller-manager.kubeconfig'),
    scheduler: join(controlDir, 'scheduler.kubeconfig'),
    kwok: join(controlDir, 'kwok.kubeconfig'),
  };
  await Promise.all([
    writeFile(paths.admin, kubeconfigYaml('gatehouse-harness', server, ca, c.admin), { mode: 0o600 }),
    writeFile(paths.adminToken, kubeconfigYaml('gatehouse-harness', server, ca, { token: c.adminToken }), { mode: 0o600 }),
    writeFile(paths.controllerManager, kubeconfigYaml('gatehouse-harness', server, ca, c.controllerManager), { mode: 0o600 }),
    writeFile(paths.scheduler, kubeconfigYaml('gatehouse-harness', server, ca, c.scheduler), { mode: 0o600 }),
    writeFile(paths.kwok, kubeconfigYaml('gatehouse-harness', server, ca, c.kwok), { mode: 0o600 }),
  ]);
  return paths;
}
