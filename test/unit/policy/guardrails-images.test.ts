import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCel } from '../../../src/policy/cel/index.js';
import { baselineAllowFile, builtinGuardrailsDir } from '../../../src/policy/config.js';
import { evaluatePolicy } from '../../../src/policy/engine.js';
import { kubeRequestFor } from '../../../src/policy/kinds.js';
import { loadPolicy } from '../../../src/policy/load.js';
import type { CompiledPolicy } from '../../../src/policy/model.js';
import { principal } from './helpers.js';

// The image-registries guardrail ships with an empty list (off). These tests
// fill in the list the way docs/policy.md tells users to, in a copy of
// images.yaml, and judge images against it.
const shipped = readFileSync(join(builtinGuardrailsDir(), 'images.yaml'), 'utf8');
const LIST_LINE = '            // "ghcr.io/acme", "registry.example.com", "docker.io",\n';
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-registries-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withAllowList(entries: string[]): CompiledPolicy {
  expect(shipped).toContain(LIST_LINE);
  const file = join(dir, `images-${entries.length}.yaml`);
  writeFileSync(file, shipped.replace(LIST_LINE, `            ${entries.map((e) => JSON.stringify(e)).join(', ')},\n`));
  return loadPolicy([file, baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' });
}

function judge(policy: CompiledPolicy, ...images: string[]) {
  const object = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'dev' },
    spec: { template: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } } },
  };
  const request = kubeRequestFor({ verb: 'create', group: 'apps', version: 'v1', resource: 'deployments', namespace: 'dev', name: '', object });
  const decision = evaluatePolicy(policy, { request, principal: principal({ kind: 'agent' }), object });
  expect(decision.errors).toEqual([]);
  return decision.rule === 'image-registries' ? 'review' : decision.action;
}

describe('image-registries guardrail', () => {
  it('is off as shipped', () => {
    const policy = loadPolicy([join(builtinGuardrailsDir(), 'images.yaml'), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' });
    expect(judge(policy, 'quay.io/anyone/anything:1', 'nginx:1.27')).toBe('allow');
  });

  it('allows registry hosts and path prefixes on the list, and holds everything else', () => {
    const policy = withAllowList(['ghcr.io/acme', 'registry.example.com', 'localhost:5000']);
    expect(judge(policy, 'ghcr.io/acme/web:1.2')).toBe('allow');
    expect(judge(policy, 'ghcr.io/acme/team/web@sha256:0000000000000000000000000000000000000000000000000000000000000000')).toBe('allow');
    expect(judge(policy, 'registry.example.com/any/path/app:3')).toBe('allow');
    expect(judge(policy, 'localhost:5000/app:1')).toBe('allow');
    // A prefix ends at a path separator: ghcr.io/acme does not allow ghcr.io/acmecorp.
    expect(judge(policy, 'ghcr.io/acmecorp/web:1')).toBe('review');
    expect(judge(policy, 'ghcr.io/other/web:1')).toBe('review');
    expect(judge(policy, 'registry.example.com.evil.io/app:1')).toBe('review');
    expect(judge(policy, 'localhost:5001/app:1')).toBe('review');
    // Every container counts.
    expect(judge(policy, 'ghcr.io/acme/web:1.2', 'quay.io/tools/curl:8')).toBe('review');
  });

  it('treats images without a registry host as Docker Hub images', () => {
    const hubOnly = withAllowList(['docker.io']);
    expect(judge(hubOnly, 'nginx:1.27')).toBe('allow');
    expect(judge(hubOnly, 'bitnami/redis:7.2')).toBe('allow');
    expect(judge(hubOnly, 'docker.io/library/nginx:1.27')).toBe('allow');
    expect(judge(hubOnly, 'ghcr.io/acme/web:1')).toBe('review');
    const library = withAllowList(['docker.io/library', 'ghcr.io']);
    expect(judge(library, 'nginx:1.27')).toBe('allow');
    expect(judge(library, 'bitnami/redis:7.2')).toBe('review');
    expect(judge(library, 'ghcr.io/anyone/web:1')).toBe('allow');
  });
});
