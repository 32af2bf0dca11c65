import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { builtinGuardrailsDir, defaultPolicyConfig, openPolicy, policyConfigSchema, policyPaths } from '../../../src/policy/config.js';
import { PolicyLoadError } from '../../../src/policy/load.js';
import type { CompiledPolicy, PolicyHandle } from '../../../src/policy/model.js';
import { watchPolicy } from '../../../src/policy/watch.js';
import { compile, policyYaml } from './helpers.js';

const rule = (name: string): string => policyYaml(`    - name: ${name}\n      action: allow\n`);
const broken = policyYaml(`    - name: oops\n      action: permit\n`);

let dir: string;
let handle: PolicyHandle | undefined;
afterEach(() => {
  handle?.close();
  handle = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function setup(paths: (d: string) => string[]) {
  dir = mkdtempSync(join(tmpdir(), 'gh-watch-'));
  writeFileSync(join(dir, 'a.yaml'), rule('first'));
  const log = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const changes: CompiledPolicy[] = [];
  handle = watchPolicy(paths(dir), compile, (p) => changes.push(p), log, { defaultAction: 'deny', debounceMs: 20 });
  return { log, changes, handle };
}

const names = (h: PolicyHandle): string[] => h.current().rules.map((r) => r.name);

describe('policy hot reload', () => {
  it('keeps the last good policy on a bad edit and takes the next good one', async () => {
    const { log, changes, handle } = setup((d) => [d]);
    expect(names(handle)).toEqual(['first']);

    writeFileSync(join(dir, 'a.yaml'), broken);
    await vi.waitFor(() => expect(log.error).toHaveBeenCalled(), { timeout: 3000 });
    expect(names(handle)).toEqual(['first']);
    expect(changes).toHaveLength(0);
    const [fields, message] = log.error.mock.calls[0] as [{ problems: string[] }, string];
    expect(fields.problems).toEqual([`${join(dir, 'a.yaml')}:7:15: spec.rules[0].action: Invalid option: expected one of "deny"|"review"|"propose"|"mask"|"allow"`]);
    expect(message).toContain('the last good policy stays in force');

    writeFileSync(join(dir, 'a.yaml'), rule('second'));
    await vi.waitFor(() => expect(names(handle)).toEqual(['second']), { timeout: 3000 });
    expect(changes.map((p) => p.rules[0]!.name)).toEqual(['second']);

    writeFileSync(join(dir, 'b.yaml'), rule('third'));
    await vi.waitFor(() => expect(names(handle)).toEqual(['second', 'third']), { timeout: 3000 });
  });

  it('sees a watched file replaced by rename, as editors save', async () => {
    const { handle } = setup((d) => [join(d, 'a.yaml')]);
    writeFileSync(join(dir, 'a.yaml.tmp'), rule('renamed'));
    renameSync(join(dir, 'a.yaml.tmp'), join(dir, 'a.yaml'));
    await vi.waitFor(() => expect(names(handle)).toEqual(['renamed']), { timeout: 3000 });
  });

  it('ignores other files beside a watched file', async () => {
    const { changes } = setup((d) => [join(d, 'a.yaml')]);
    writeFileSync(join(dir, 'other.yaml'), broken);
    await new Promise((r) => setTimeout(r, 150));
    expect(changes).toHaveLength(0);
  });

  it('refuses to start on a broken policy', () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-watch-'));
    writeFileSync(join(dir, 'a.yaml'), broken);
    const log = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    expect(() => watchPolicy([dir], compile, () => undefined, log, { defaultAction: 'deny' })).toThrow(PolicyLoadError);
  });

  it('stops reloading once closed', async () => {
    const { changes, handle } = setup((d) => [d]);
    handle.close();
    writeFileSync(join(dir, 'a.yaml'), rule('after-close'));
    await new Promise((r) => setTimeout(r, 150));
    expect(changes).toHaveLength(0);
    expect(names(handle)).toEqual(['first']);
  });
});

describe('policy config', () => {
  it('defaults to deny with the guardrails, and opens the configured paths', () => {
    expect(policyConfigSchema.parse({})).toEqual(defaultPolicyConfig);
    expect(policyConfigSchema.parse({})).toEqual({ paths: [], defaultAction: 'deny', builtinGuardrails: true, disabledRules: [] });
    expect(() => policyConfigSchema.parse({ defaultAction: 'permit' })).toThrow();
    expect(() => policyConfigSchema.parse({ path: ['x'] })).toThrow();
    dir = mkdtempSync(join(tmpdir(), 'gh-config-'));
    writeFileSync(join(dir, 'mine.yaml'), rule('mine'));
    const config = policyConfigSchema.parse({ paths: [dir], defaultAction: 'allow' });
    expect(policyPaths(config)).toEqual([builtinGuardrailsDir(), dir]);
    expect(policyPaths({ ...config, builtinGuardrails: false })).toEqual([dir]);
    handle = openPolicy(config, { log: { info: vi.fn(), warn: vi.fn(), error: vi.fn() } });
    expect(handle.current().rules.map((r) => r.name)).toContain('privileged-containers');
    expect(handle.current().rules.at(-1)?.name).toBe('mine');
    expect(handle.current().defaultAction).toBe('allow');
  });
});
