/**
 * Every detector is a hand scanner meant to be linear in its input. This runs
 * all of them on 1 MB inputs built to make a backtracking or naive rescanning
 * implementation quadratic (1 MB² ≈ 10¹² steps: hours). A linear scan takes
 * milliseconds; the generous timeout only catches a regression, the times
 * are printed, not asserted.
 */
import { describe, expect, it } from 'vitest';
import { createLineMasker, createMasker, maskText } from '../../../src/masking/index.js';

const MB = 1 << 20;
const fill = (unit: string): string => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);

const adversarial: [string, string][] = [
  ['one letter', fill('a')],
  ['JWT headers', fill('eyJ')],
  ['JWT header runs ending in a dot', fill(`eyJ${'a'.repeat(20)}.`)],
  ['JWT header.payload without signature', fill(`eyJ${'a'.repeat(12)}.eyJ${'b'.repeat(12)}`)],
  ['dots', fill('.')],
  ['PEM BEGIN with no label end', fill('-----BEGIN ')],
  ['PEM private key BEGIN with no END', fill('-----BEGIN PRIVATE KEY-----\n')],
  ['PEM END lines', fill('-----END ')],
  ['dashes', fill('-')],
  ['AWS prefixes', fill('AKIA')],
  ['AWS prefixes and upper case', fill(`AKIA${'A'.repeat(17)}`)],
  ['GitHub prefixes', fill('ghp_')],
  ['GitHub prefix runs', fill(`ghp_${'a'.repeat(29)}_`)],
  ['fine-grained prefixes', fill('github_pat_')],
  ['GitLab prefixes (body includes the prefix characters)', fill('glpat-')],
  ['Slack prefixes', fill('xoxb-')],
  ['Gatehouse prefixes', fill('ght_')],
  ['URL schemes', fill('a://')],
  ['URL userinfo', fill('a://b:c@')],
  ['URL with no authority end', `x://${fill('b:c@')}`],
  ['at signs', fill('@')],
  ['colons', fill(':')],
  ['equals', fill('=')],
  ['assignments', fill('password=')],
  ['assignments with blanks', fill('password:        ')],
  ['assignments of references (rejected values)', fill('password=$')],
  ['assignments of masks', fill('password=<masked')],
  ['quoted assignments never closed', fill('token="')],
  ['long keys', fill(`${'k'.repeat(200)}=`)],
  ['GCP key with no closing quote', fill('"private_key":"')],
  ['backslashes', fill('\\')],
  ['bearer', fill('Bearer ')],
  ['basic with base64', fill('Basic QUJD')],
  ['mixed', fill(`eyJ-----BEGIN ghp_AKIA://:@=password:"private_key" Bearer xoxb-glpat-`)],
];

describe('detectors stay linear on 1 MB adversarial inputs', () => {
  const masker = createMasker();

  it.each(adversarial)('%s', (name, input) => {
    const started = performance.now();
    const { text } = maskText(masker, input);
    const ms = performance.now() - started;
    expect(typeof text).toBe('string');
    console.log(`[adversarial] ${name}: ${ms.toFixed(1)} ms`);
  }, 60_000);

  it('the line masker too (one 1 MB line, and 1 MB of short lines)', () => {
    for (const input of [fill('password=ghp_'), fill('token: eyJ\n')]) {
      const lines = createLineMasker(masker);
      const out = Buffer.concat([lines.write(Buffer.from(input)), lines.end()]);
      expect(out.length).toBeGreaterThan(0);
    }
  }, 60_000);
});
