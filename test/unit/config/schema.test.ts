import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, readConfigFile } from '../../../src/config/schema.js';

describe('config', () => {
  it('fills secure defaults', () => {
    const c = parseConfig({ upstream: { kubeconfig: '/k' } });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 6443, http2: true, idleTimeoutSeconds: 65 });
    expect(c.limits.maxBodyBytes).toBe(3 * 1024 * 1024);
    expect(c.timeouts).toEqual({ connectMs: 10_000, responseHeadersMs: 120_000 });
  });

  it('names the offending keys', () => {
    expect(() => parseConfig({ upstream: {}, listen: { port: 'x' } }, 'gatehouse.yaml')).toThrow(
      /invalid gatehouse\.yaml:\n.*listen\.port.*\n.*upstream\.kubeconfig/,
    );
    expect(() => parseConfig({ upstream: { kubeconfig: '/k' }, unknownKey: 1 })).toThrow(/unknownKey/);
    expect(() => parseConfig({ upstream: { kubeconfig: '/k' }, tls: { certFile: '/c' } })).toThrow(/certFile and tls.keyFile go together/);
  });

  it('reports YAML errors with line and column', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gh-config-')), 'gatehouse.yaml');
    writeFileSync(path, 'upstream:\n  kubeconfig: /k\n listen: [\n');
    expect(() => readConfigFile(path)).toThrow(/invalid YAML in .*gatehouse\.yaml at line \d+, column \d+/);
  });
});
