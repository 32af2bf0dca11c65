import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCredentialProvider } from '../../../src/upstream/credential.js';
import { inClusterTarget, runningInCluster } from '../../../src/upstream/in-cluster.js';

function serviceAccountDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-sa-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

describe('inClusterTarget', () => {
  it("is the pod's API server, CA, namespace and rotating service-account token", async () => {
    const dir = serviceAccountDir({ token: 'first-token\n', 'ca.crt': 'CA-PEM', namespace: 'gatehouse-system\n' });
    const target = inClusterTarget(env, dir);
    expect(target).toMatchObject({ contextName: 'in-cluster', insecureSkipTlsVerify: false, tokenFile: join(dir, 'token'), token: undefined, namespace: 'gatehouse-system' });
    expect(target.server.href).toBe('https://10.96.0.1/');
    expect(target.ca?.toString()).toBe('CA-PEM');
    // The existing token-file provider reads it; after a 401 it re-reads the rotated token.
    const credentials = createCredentialProvider(target);
    expect((await credentials.get()).authorization).toBe('Bearer first-token');
    writeFileSync(join(dir, 'token'), 'rotated-token');
    credentials.invalidate();
    expect((await credentials.get()).authorization).toBe('Bearer rotated-token');
  });

  it('brackets an IPv6 service host', () => {
    const dir = serviceAccountDir({ token: 't', 'ca.crt': 'CA' });
    expect(inClusterTarget({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, dir).server.href).toBe('https://[fd00::1]:6443/');
  });

  it('explains what is missing', () => {
    expect(() => inClusterTarget({}, serviceAccountDir({}))).toThrow(/not running in a cluster: KUBERNETES_SERVICE_HOST/);
    expect(() => inClusterTarget(env, serviceAccountDir({ 'ca.crt': 'CA' }))).toThrow(/no service-account token at .*automountServiceAccountToken/);
    expect(() => inClusterTarget(env, serviceAccountDir({ token: 't' }))).toThrow(/cannot read the cluster CA .*ca\.crt/);
    expect(runningInCluster(env)).toBe(true);
    expect(runningInCluster({ KUBERNETES_SERVICE_HOST: '10.96.0.1' })).toBe(false);
  });
});
