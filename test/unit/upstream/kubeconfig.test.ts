import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeconfig } from '../../../src/upstream/kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-kubeconfig-'));
function write(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

const base = {
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'a',
  clusters: [
    { name: 'c1', cluster: { server: 'https://10.0.0.1:6443/prefix', 'certificate-authority-data': Buffer.from('CA-PEM').toString('base64') } },
    { name: 'c2', cluster: { server: 'https://example.test', 'certificate-authority': 'ca.pem', 'tls-server-name': 'api.internal' } },
  ],
  users: [
    { name: 'u1', user: { token: 'static' } },
    { name: 'u2', user: { 'client-certificate': 'client.crt', 'client-key-data': Buffer.from('KEY').toString('base64') } },
    { name: 'u3', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'get-token', args: ['--x'] } } },
  ],
  contexts: [
    { name: 'a', context: { cluster: 'c1', user: 'u1' } },
    { name: 'b', context: { cluster: 'c2', user: 'u2' } },
    { name: 'c', context: { cluster: 'c1', user: 'u3' } },
    { name: 'broken', context: { cluster: 'nope', user: 'u1' } },
  ],
};
writeFileSync(join(dir, 'ca.pem'), 'CA-FILE');
writeFileSync(join(dir, 'client.crt'), 'CERT-FILE');
const path = write('config', base);

describe('loadKubeconfig', () => {
  it('resolves the current context with inline data', () => {
    const t = loadKubeconfig(path);
    expect(t.contextName).toBe('a');
    expect(t.server.href).toBe('https://10.0.0.1:6443/prefix');
    expect(t.ca?.toString()).toBe('CA-PEM');
    expect(t.token).toBe('static');
    expect(t.exec).toBeUndefined();
  });

  it('resolves files relative to the kubeconfig and keeps tls-server-name', () => {
    const t = loadKubeconfig(path, 'b');
    expect(t.ca?.toString()).toBe('CA-FILE');
    expect(t.clientCert?.toString()).toBe('CERT-FILE');
    expect(t.clientKey?.toString()).toBe('KEY');
    expect(t.tlsServerName).toBe('api.internal');
  });

  it('keeps exec plugin settings', () => {
    expect(loadKubeconfig(path, 'c').exec).toMatchObject({ command: 'get-token', args: ['--x'] });
  });

  it('explains what is wrong', () => {
    expect(() => loadKubeconfig(path, 'missing')).toThrow('context "missing" not found');
    expect(() => loadKubeconfig(path, 'broken')).toThrow('cluster "nope" of context "broken" not found');
    expect(() => loadKubeconfig(join(dir, 'absent'))).toThrow(/cannot read kubeconfig .*absent/);
    expect(() => loadKubeconfig(write('bad', { clusters: [{ name: 'x', cluster: { server: 'not a url' } }] }))).toThrow(/invalid kubeconfig .*clusters\.0\.cluster\.server/);
    expect(() => loadKubeconfig(write('noctx', { ...base, 'current-context': undefined }))).toThrow('has no current-context');
  });
});
