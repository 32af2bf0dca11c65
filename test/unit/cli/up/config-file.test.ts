import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureConfig, STARTER_POLICY, updateConfig } from '../../../../src/cli/up/config-file.js';
import { parseConfig } from '../../../../src/config/schema.js';
import { compileCel } from '../../../../src/policy/cel/index.js';
import { policyPaths } from '../../../../src/policy/config.js';
import { evaluatePolicy } from '../../../../src/policy/engine.js';
import { loadPolicy } from '../../../../src/policy/load.js';
import { kubeRequest, pod, principal } from '../../policy/helpers.js';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-up-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const seed = () => ({ dataDir, listen: { host: '127.0.0.1', port: 6443 }, upstream: { kubeconfig: '/home/me/.kube/config', context: 'kind-dev' } });

describe('gatehouse up: the first-run configuration', () => {
  it('writes secure defaults the gateway accepts', () => {
    const { created, raw, path } = ensureConfig(seed());
    expect(created).toBe(true);
    expect(readFileSync(path, 'utf8')).toMatch(/^# Gatehouse configuration, written by `gatehouse up`/);
    const config = parseConfig(raw, path);
    expect(config.policy).toMatchObject({ builtinGuardrails: true, defaultAction: 'deny', paths: [join(dataDir, 'policies')] });
    expect(config.masking).toMatchObject({ secrets: true, defaultRules: true });
    expect(config.store).toEqual({ sqlite: { path: 'gatehouse.db' } });
    expect(config.approvals).toMatchObject({ enabled: true, approverGroups: ['gatehouse:approvers', 'gatehouse:admins'] });
    expect(config.upstream).toEqual({ name: 'default', kubeconfig: '/home/me/.kube/config', context: 'kind-dev' });
    expect(config.dataDir).toBe(dataDir);
  });

  it('reuses an existing file as it is, edits included', () => {
    const { path } = ensureConfig(seed());
    writeFileSync(path, readFileSync(path, 'utf8').replace('holdSeconds: 60', 'holdSeconds: 5'));
    const again = ensureConfig({ ...seed(), upstream: { kubeconfig: '/elsewhere', context: 'other' } });
    expect(again.created).toBe(false);
    expect(parseConfig(again.raw).approvals.holdSeconds).toBe(5);
    expect(parseConfig(again.raw).upstream?.context).toBe('kind-dev');
  });

  it('lets the demo repoint keys while keeping comments and the rest', () => {
    const { path } = ensureConfig(seed());
    const raw = updateConfig(path, { upstream: { kubeconfig: '/tmp/demo/admin.kubeconfig' }, approvals: { approverGroups: ['approvers'] } });
    expect(parseConfig(raw).upstream).toEqual({ name: 'default', kubeconfig: '/tmp/demo/admin.kubeconfig' });
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('# Gatehouse configuration');
    expect(text).toContain('defaultAction: deny');
  });

  describe('the starter policy with the guardrails', () => {
    const decide = (method: string, url: string, who = principal({ subject: 'token:agent', kind: 'agent', groups: ['ai-agents'] }), object?: unknown) => {
      const policy = loadPolicy(policyPaths(parseConfig(ensureConfig(seed()).raw).policy), { compile: compileCel, defaultAction: 'deny' });
      // The gateway looks namespace labels up; this namespace has none.
      return evaluatePolicy(policy, { request: kubeRequest(method, url, object), principal: who, object, namespaceLabels: {} }).action;
    };

    it('is written beside the config', () => {
      ensureConfig(seed());
      expect(readFileSync(join(dataDir, STARTER_POLICY), 'utf8')).toContain('name: read-everything');
    });

    it.each([
      ["an agent's reads (masked)", 'GET', '/api/v1/namespaces/demo/pods', 'mask'],
      ['discovery', 'GET', '/apis', 'allow'],
      ['Secret reads (masked)', 'GET', '/api/v1/namespaces/demo/secrets/db', 'mask'],
      ['deletes in a namespace', 'DELETE', '/apis/apps/v1/namespaces/demo/deployments/web', 'allow'],
      ['cluster-scoped writes by an agent', 'POST', '/api/v1/namespaces', 'deny'],
    ])('%s → %s', (_name, method, url, action) => {
      expect(decide(method, url)).toBe(action);
    });

    it('holds a privileged pod for a person', () => {
      const tagged = (privileged: boolean) => ({ ...pod('x'), spec: { containers: [{ name: 'c', image: 'nginx:1.27', securityContext: { privileged } }] } });
      expect(decide('POST', '/api/v1/namespaces/demo/pods', undefined, tagged(true))).toBe('review');
      expect(decide('POST', '/api/v1/namespaces/demo/pods', undefined, tagged(false))).toBe('allow');
    });

    it("lets a person's reads through unmasked, Secrets aside", () => {
      const person = principal({ subject: 'oidc:bob@example.com', kind: 'human', groups: ['dev'] });
      expect(decide('GET', '/api/v1/namespaces/demo/pods', person)).toBe('allow');
      expect(decide('GET', '/api/v1/namespaces/demo/secrets/db', person)).toBe('mask');
    });

    it('lets the bootstrap admin make cluster-scoped changes', () => {
      const admin = principal({ subject: 'gatehouse-admin', kind: 'human', groups: ['gatehouse:admins'], via: 'bootstrap-token' });
      expect(decide('POST', '/api/v1/namespaces', admin, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } })).toBe('allow');
    });
  });
});
