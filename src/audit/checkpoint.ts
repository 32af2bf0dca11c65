/**
 * Signed checkpoints over the audit hash chain. A checkpoint says "event
 * `seq` had hash `hash` at `time`", signed with the gateway's Ed25519 key;
 * since every hash covers all earlier events, a valid checkpoint vouches
 * for the whole chain up to `seq`, and a checkpoint whose event is gone
 * shows the tail was cut.
 *
 * The signed bytes are the canonical JSON (canonical.ts) of
 * `{ type: "gatehouse-audit-checkpoint", v: 1, seq, hash, time, kind }`.
 *
 * @module
 */

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateOnce } from '../config/private-file.js';
import { canonicalJson } from './canonical.js';

/** The private key's file in the gateway data directory (PKCS#8 PEM, mode 0600). */
export const SIGNING_KEY_FILE = 'audit-signing-key.pem';

/**
 * `periodic`: written every N events or T seconds. `seal`: written before a
 * retention prune; the events up to its seq may be gone, and verify starts
 * the chain from it.
 */
export type CheckpointKind = 'periodic' | 'seal';

export interface Checkpoint {
  seq: number;
  hash: string;
  /** RFC 3339 with microseconds. */
  time: string;
  kind: CheckpointKind;
  /** Which key signed it: the first 16 hex digits of the SHA-256 of its SPKI DER. */
  keyId: string;
  /** Ed25519 signature, base64. */
  signature: string;
}

/** Signs checkpoints; built once from the key in the data directory. */
export interface AuditSigner {
  readonly keyId: string;
  readonly publicKeyPem: string;
  sign(checkpoint: Omit<Checkpoint, 'keyId' | 'signature'>): Checkpoint;
}

/**
 * The signer over the data directory's key, creating the key (0600, never
 * overwritten: two gateways starting at once end up with the same key) on
 * first use.
 *
 * @example
 * const signer = loadAuditSigner(config.dataDir);
 * console.log(signer.publicKeyPem);
 */
export function loadAuditSigner(dataDir: string): AuditSigner {
  const path = join(dataDir, SIGNING_KEY_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  createPrivateOnce(path, () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return createAuditSigner(createPrivateKey(readFileSync(path, 'utf8')));
}

/** The signer over a given Ed25519 private key. */
export function createAuditSigner(privateKey: KeyObject): AuditSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the audit signing key must be Ed25519, not ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  const keyId = publicKeyId(publicKey);
  return {
    keyId,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign(cp) {
      const signature = sign(null, signedBytes(cp), privateKey).toString('base64');
      return { seq: cp.seq, hash: cp.hash, time: cp.time, kind: cp.kind, keyId, signature };
    },
  };
}

/** The public keys a verifier trusts, by key id. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

/**
 * Reads trusted public keys from PEM text (one or more `PUBLIC KEY` blocks;
 * a private key PEM is accepted too and its public half used).
 */
export function trustedKeysFromPem(pem: string): TrustedKeys {
  const blocks = pem.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM key found');
  const keys = new Map<string, KeyObject>();
  for (const block of blocks) {
    const key = createPublicKey(block);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`audit checkpoint keys are Ed25519, not ${key.asymmetricKeyType}`);
    keys.set(publicKeyId(key), key);
  }
  return keys;
}

/** Why a checkpoint's signature does not hold, or undefined when it does. */
export function checkpointSignatureProblem(cp: Checkpoint, keys: TrustedKeys): string | undefined {
  const key = keys.get(cp.keyId);
  if (!key) return `it is signed by key ${cp.keyId}, which is not a trusted key (${[...keys.keys()].join(', ') || 'none'})`;
  let ok = false;
  try {
    ok = verify(null, signedBytes(cp), key, Buffer.from(cp.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? undefined : 'its signature does not match its seq, hash, time and kind';
}

function signedBytes(cp: Omit<Checkpoint, 'keyId' | 'signature'>): Buffer {
  return Buffer.from(canonicalJson({ type: 'gatehouse-audit-checkpoint', v: 1, seq: cp.seq, hash: cp.hash, time: cp.time, kind: cp.kind }));
}

function publicKeyId(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}
