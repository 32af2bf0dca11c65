/**
 * The one place that loads `@peculiar/x509`.
 *
 * The library resolves its algorithm providers through `tsyringe`, which needs
 * a Reflect metadata polyfill loaded first; ES module evaluation order makes
 * this import run before the library's. Everything else in `src/pki` imports
 * the library from here, never directly.
 *
 * @internal
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';

export * as x509 from '@peculiar/x509';

/** Node's WebCrypto, the provider passed to every `@peculiar/x509` call. */
export const crypto: webcrypto.Crypto = webcrypto;
