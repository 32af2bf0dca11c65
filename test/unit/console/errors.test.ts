import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consoleErrorCodes } from '../../../src/console/errors.js';

describe('console error codes', () => {
  const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/console-api.md'), 'utf8');

  it.each(Object.entries(consoleErrorCodes))('documents %s with its status', (code, status) => {
    expect(doc).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
  });
});
