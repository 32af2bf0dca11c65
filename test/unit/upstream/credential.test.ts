import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCredentialProvider } from '../../../src/upstream/credential.js';
import type { UpstreamTarget } from '../../../src/upstream/kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-cred-'));
const target = (over: Partial<UpstreamTarget>): UpstreamTarget => ({
  contextName: 'x',
  server: new URL('https://127.0.0.1:6443'),
  ca: undefined,
  insecureSkipTlsVerify: false,
  tlsServerName: undefined,
  clientCert: undefined,
  clientKey: undefined,
  token: undefined,
  tokenFile: undefined,
  basicAuth: undefined,
  exec: undefined,
  ...over,
});

/** A real exec plugin: counts its runs and prints an ExecCredential whose expiry comes from the environment. */
function plugin(): { command: string; runs: () => number } {
  const counter = join(dir, `runs-${Math.random()}`);
  writeFileSync(counter, '');
  const command = join(dir, `plugin-${Math.random()}.sh`);
  writeFileSync(
    command,
    `#!/bin/sh
echo run >> ${counter}
echo "$KUBERNETES_EXEC_INFO" > ${counter}.info
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-%s","expirationTimestamp":"%s"}}' "$(wc -l < ${counter} | tr -d ' ')" "$EXPIRY"
`,
  );
  chmodSync(command, 0o755);
  return { command, runs: () => readFileSync(counter, 'utf8').split('\n').filter(Boolean).length };
}

describe('credential providers', () => {
  it('uses a static token or basic auth', async () => {
    expect((await createCredentialProvider(target({ token: 't' })).get()).authorization).toBe('Bearer t');
    expect((await createCredentialProvider(target({ basicAuth: { username: 'a', password: 'b' } })).get()).authorization).toBe('Basic YTpi');
  });

  it('re-reads a token file after invalidation', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'one\n');
    const provider = createCredentialProvider(target({ tokenFile: file }));
    expect((await provider.get()).authorization).toBe('Bearer one');
    writeFileSync(file, 'two\n');
    expect((await provider.get()).authorization).toBe('Bearer one');
    provider.invalidate();
    expect((await provider.get()).authorization).toBe('Bearer two');
  });

  it('runs an exec plugin once for concurrent callers and caches until expiry', async () => {
    const p = plugin();
    const future = new Date(Date.now() + 3600_000).toISOString();
    const provider = createCredentialProvider(
      target({ exec: { command: p.command, apiVersion: 'client.authentication.k8s.io/v1', env: [{ name: 'EXPIRY', value: future }] } }),
    );
    const results = await Promise.all([provider.get(), provider.get(), provider.get()]);
    expect(results.map((r) => r.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1']);
    expect((await provider.get()).authorization).toBe('Bearer tok-1');
    expect(p.runs()).toBe(1);
    provider.invalidate();
    expect((await provider.get()).authorization).toBe('Bearer tok-2');
  });

  it('refreshes an exec credential that is about to expire', async () => {
    const p = plugin();
    const soon = new Date(Date.now() + 5_000).toISOString();
    const provider = createCredentialProvider(
      target({ exec: { command: p.command, apiVersion: 'client.authentication.k8s.io/v1', env: [{ name: 'EXPIRY', value: soon }] } }),
    );
    expect((await provider.get()).authorization).toBe('Bearer tok-1');
    expect((await provider.get()).authorization).toBe('Bearer tok-2');
  });

  it('reports a failing or lying plugin clearly', async () => {
    const failing = createCredentialProvider(target({ exec: { command: '/bin/false', apiVersion: 'client.authentication.k8s.io/v1' } }));
    await expect(failing.get()).rejects.toThrow('exec credential plugin /bin/false failed');
    const liar = join(dir, 'liar.sh');
    writeFileSync(liar, '#!/bin/sh\necho not-json\n');
    chmodSync(liar, 0o755);
    const lying = createCredentialProvider(target({ exec: { command: liar, apiVersion: 'client.authentication.k8s.io/v1' } }));
    await expect(lying.get()).rejects.toThrow('printed an invalid ExecCredential');
  });
});
