/**
 * The scanner skips a detector on a text that lacks one of its `needs`
 * characters: that is only sound if no finding is possible without them.
 * Each detector is run directly (no gate) on texts built from credential
 * fragments, and every text it finds something in must have its needs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignment } from '../../../src/masking/detectors/assignment.js';
import { authorizationHeader } from '../../../src/masking/detectors/authorization.js';
import { gcpPrivateKey } from '../../../src/masking/detectors/gcp.js';
import { jwt } from '../../../src/masking/detectors/jwt.js';
import { privateKey } from '../../../src/masking/detectors/pem.js';
import { awsAccessKey, gatehouseToken, githubToken, gitlabToken, slackToken } from '../../../src/masking/detectors/tokens.js';
import type { Detector } from '../../../src/masking/detectors/types.js';
import { urlCredentials } from '../../../src/masking/detectors/url.js';
import { createMasker, maskText } from '../../../src/masking/index.js';
import { fake, pem } from './fixtures.js';

const detectors: Detector[] = [privateKey, gcpPrivateKey, jwt, awsAccessKey, githubToken, gitlabToken, slackToken, gatehouseToken, urlCredentials, authorizationHeader, assignment];

const fragments = [
  ...Object.values(fake),
  pem(),
  pem('EC PRIVATE KEY', '\\n'),
  '"private_key": "',
  '"private_key":"x"',
  'password=',
  'DB_PASSWORD: ',
  'apiKey := ',
  'Bearer ',
  'basic ',
  'Basic dXNlcjpwYXNzd29yZA==',
  'postgres://',
  'https://u:',
  '@host/db',
  '://',
  '@',
  ':',
  '=',
  ' ',
  '\t',
  '"',
  'eyJ',
  'ey',
  '.',
  '-----BEGIN ',
  'xoxb-',
  'AKIA',
  'ASIA',
  'ghp_',
  'ght_',
  'glpat-',
  'github_pat_',
  'abcdEFGH1234ijklMNOP',
];
/** Token-shaped runs with random bodies, so no character is present by the luck of a fixed fake. */
const run = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'.split('')), minLength: min, maxLength: max });
const tokenArb = fc.oneof(
  fc.tuple(fc.constantFrom('ghp_', 'gho_', 'github_pat_', 'glpat-', 'xoxb-', 'AKIA', 'ASIA', 'ght_', 'ghb_'), run(16, 45)).map(([prefix, body]) => prefix + body),
  fc.tuple(run(8, 20), run(8, 20), run(0, 20)).map(([header, payload, signature]) => `eyJ${header}.ey${payload}.${signature}`),
  fc.tuple(fc.constantFrom('password', 'Token', 'api_key', 'SECRET'), fc.constantFrom('=', ': ', ':=', '="'), run(1, 20)).map((parts) => parts.join('')),
  fc.tuple(fc.constantFrom('Bearer ', 'basic '), run(16, 30)).map((parts) => parts.join('')),
  fc.tuple(fc.constantFrom('postgres', 'https', 'redis'), run(0, 8), run(1, 12), run(1, 12)).map(([scheme, user, password, host]) => `${scheme}://${user}:${password}@${host}`),
);
const textArb = fc.array(fc.oneof(fc.constantFrom(...fragments), tokenArb, fc.string({ maxLength: 8 })), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(''));

function hasNeeds(d: Detector, text: string): boolean {
  return d.needs.every((alternatives) => [...alternatives].some((ch) => text.includes(ch)));
}

describe('detector needs', () => {
  it('every finding of every detector is in a text that has its needs', () => {
    const found = new Map<Detector, number>();
    fc.assert(
      fc.property(textArb, (text) => {
        for (const d of detectors) {
          let findings = 0;
          d.scan(text, () => findings++);
          if (findings === 0) continue;
          found.set(d, (found.get(d) ?? 0) + 1);
          expect(hasNeeds(d, text), `${d.names[0]} on ${JSON.stringify(text)}`).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
    // Not vacuous: each detector found something.
    for (const d of detectors) expect(found.get(d) ?? 0, d.names[0]).toBeGreaterThan(0);
  });

  it('the gated scanner finds what the detectors find', () => {
    const masker = createMasker();
    fc.assert(
      fc.property(textArb, (text) => {
        const any = detectors.some((d) => {
          let findings = 0;
          d.scan(text, () => findings++);
          return findings > 0;
        });
        expect(maskText(masker, text).report.masked > 0).toBe(any);
      }),
      { numRuns: 3000 },
    );
  });
});
