import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReferenceMarkdown } from '../../../src/config/reference.js';

describe('the configuration reference', () => {
  const generated = configReferenceMarkdown();

  it('lists nested keys, list items, defaults and allowed values from the schema', () => {
    expect(generated).toContain('| `listen.port` | integer | `6443` | ≥ 0; ≤ 65535 |');
    expect(generated).toContain('| `clusters[].name` (required) | string |  | matches `^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$` |');
    expect(generated).toContain('| `clusters[].agent.waitSeconds` | number | `10` | ≥ 0; ≤ 300 |');
    expect(generated).toContain('| `audit.whenStoreDown.reads` | string | `"refuse"` | `refuse`, `allow-unrecorded` |');
    // The generating machine's home directory never lands in the file.
    expect(generated).toContain('| `dataDir` | string | `"~/.gatehouse"` |  |');
  });

  it('is what docs/config.md holds (regenerate with `npm run docs:config`)', () => {
    const committed = readFileSync(resolve(import.meta.dirname, '../../../docs/config.md'), 'utf8');
    expect(committed).toBe(generated);
  });
});
