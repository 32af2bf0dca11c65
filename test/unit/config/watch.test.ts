import { mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchConfigFile } from '../../../src/config/watch.js';
import type { ConfigFileWatch } from '../../../src/config/watch.js';

const log = { warn: () => undefined };
let watching: ConfigFileWatch | undefined;
afterEach(() => watching?.close());

/** Resolves on the next call of the returned callback. */
function nextCall(): { onChange: () => void; called: Promise<void> } {
  let onChange = (): void => undefined;
  const called = new Promise<void>((resolve) => (onChange = resolve));
  return { onChange: () => onChange(), called };
}

describe('watching the config file', () => {
  it('reports an edit, also one saved by rename as editors do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-watch-'));
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(file, 'log: { level: info }\n');
    let calls = 0;
    let call = nextCall();
    watching = watchConfigFile(file, () => (calls++, call.onChange()), log, 20);
    writeFileSync(file, 'log: { level: debug }\n');
    await call.called;
    call = nextCall();
    writeFileSync(join(dir, '.gatehouse.yaml.swp'), 'log: { level: warn }\n');
    renameSync(join(dir, '.gatehouse.yaml.swp'), file);
    await call.called;
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('reports a ConfigMap volume update, which swaps the ..data link', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-watch-'));
    writeFileSync(join(dir, 'v1'), '');
    symlinkSync('v1', join(dir, '..data'));
    symlinkSync('..data', join(dir, 'gatehouse.yaml'));
    const call = nextCall();
    watching = watchConfigFile(join(dir, 'gatehouse.yaml'), call.onChange, log, 20);
    symlinkSync('v1', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await call.called;
  });
});
