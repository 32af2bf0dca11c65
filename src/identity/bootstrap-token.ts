import { hash, randomBytes } from 'node:crypto';
import type { Principal } from './principal.js';
import type { Authenticator } from './stage.js';

/** A bootstrap credential as stored: only the SHA-256 of the token, never the token. */
export interface BootstrapTokenRecord {
  name: string;
  sha256: string;
  groups: string[];
}

const TOKEN_PREFIX = 'ghb_';

/** Makes a new random bootstrap token and the record to store for it. */
export function newBootstrapToken(name: string, groups: string[]): { token: string; record: BootstrapTokenRecord } {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, record: { name, sha256: hashToken(token), groups } };
}

export function hashToken(token: string): string {
  // One call, no Hash object: this runs for every request (~0.3 µs instead of ~1.3).
  return hash('sha256', token, 'hex');
}

/**
 * Authenticates the gateway's bootstrap (first admin) tokens. Lookups go by
 * the token's hash, so the stored value is useless to someone who reads it.
 *
 * @example
 * const auth = bootstrapTokenAuthenticator([record]);
 * auth('ghb_…'); // → Principal for record.name, or undefined
 */
export function bootstrapTokenAuthenticator(records: BootstrapTokenRecord[]): Authenticator {
  const byHash = new Map<string, Principal>();
  for (const r of records) {
    byHash.set(r.sha256, { subject: r.name, groups: [...r.groups], kind: 'human', via: 'bootstrap-token', tokenId: undefined });
  }
  return (token) => (token.startsWith(TOKEN_PREFIX) ? byHash.get(hashToken(token)) : undefined);
}
