/**
 * Key generation, import and export for `src/pki`, over Node's WebCrypto.
 *
 * @internal
 */
import { createPrivateKey, randomBytes, type webcrypto } from 'node:crypto';
import { crypto, x509 } from './x509.js';
import type { KeyAlgorithm } from './types.js';

/** WebCrypto parameters for one key type: how to generate/import it and how it signs. */
interface AlgorithmParams {
  readonly key: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;
  readonly import: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  readonly sign: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams;
}

const RSA: AlgorithmParams = {
  key: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
};

const EC_P256: AlgorithmParams = {
  key: { name: 'ECDSA', namedCurve: 'P-256' },
  import: { name: 'ECDSA', namedCurve: 'P-256' },
  sign: { name: 'ECDSA', hash: 'SHA-256' },
};

const EC_P384: AlgorithmParams = {
  key: { name: 'ECDSA', namedCurve: 'P-384' },
  import: { name: 'ECDSA', namedCurve: 'P-384' },
  sign: { name: 'ECDSA', hash: 'SHA-384' },
};

const BY_NAME: Record<KeyAlgorithm, AlgorithmParams> = { 'ecdsa-p256': EC_P256, 'rsa-2048': RSA };

/** A freshly generated key pair together with the algorithm it signs with. */
export interface GeneratedKey {
  readonly keys: webcrypto.CryptoKeyPair;
  readonly signingAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams;
  readonly isRsa: boolean;
}

/** Generates an extractable key pair of the given type. */
export async function generateKey(algorithm: KeyAlgorithm): Promise<GeneratedKey> {
  const params = BY_NAME[algorithm];
  const keys = await crypto.subtle.generateKey(params.key, true, ['sign', 'verify']);
  return { keys, signingAlgorithm: params.sign, isRsa: params === RSA };
}

/** A private key loaded from PEM, ready to sign certificates. */
export interface SigningKey {
  readonly privateKey: webcrypto.CryptoKey;
  readonly signingAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams;
}

/**
 * Loads a PKCS#8 (or PKCS#1 / SEC1) PEM private key for signing. The key type
 * is read from the key itself: RSA, or ECDSA on P-256 / P-384.
 */
export async function importSigningKey(keyPem: string): Promise<SigningKey> {
  const key = createPrivateKey(keyPem);
  let params: AlgorithmParams;
  if (key.asymmetricKeyType === 'rsa') {
    params = RSA;
  } else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    params = EC_P256;
  } else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') {
    params = EC_P384;
  } else {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new Error(`unsupported CA key type ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` (${curve})` : ''}`);
  }
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const privateKey = await crypto.subtle.importKey('pkcs8', der, params.import, false, ['sign']);
  return { privateKey, signingAlgorithm: params.sign };
}

/** Exports a private key as PEM PKCS#8. */
export async function exportPkcs8Pem(privateKey: webcrypto.CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', privateKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/**
 * A random 128-bit serial number as hex, always positive and without a
 * leading zero octet (RFC 5280 §4.1.2.2; Go ≥ 1.23 rejects negative serials).
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

/** Validity window starting slightly in the past, to tolerate clock skew. */
export function validityWindow(validityDays: number, notAfterCap?: Date): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new RangeError(`validityDays must be a positive number, got ${validityDays}`);
  }
  const now = Date.now();
  const notBefore = new Date(now - 5 * 60_000);
  let notAfter = new Date(now + validityDays * 86_400_000);
  if (notAfterCap && notAfter > notAfterCap) notAfter = notAfterCap;
  return { notBefore, notAfter };
}
