/**
 * Keeps the listener's serving certificate current without a restart. Every
 * interval, and when asked (a SIGHUP, a config reload), it loads the
 * certificate again: the configured files, which cert-manager or an
 * operator may have replaced, or the generated one, issued again when it
 * nears its end (src/config/data-dir.ts). When it changed, and the key
 * matches it, the listener gets it: new connections are served with it,
 * open ones keep the one they were made with. Anything wrong (a file half
 * replaced, a key that is not the certificate's) keeps the current one and
 * is logged, and the next check tries again.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { ServingTls } from '../config/data-dir.js';

export interface ServingTlsOptions {
  /** Loads the certificate as a start would. */
  readonly load: () => Promise<ServingTls>;
  /** What the listener serves now. */
  readonly current: ServingTls;
  /** Gives the listener a new certificate and key. */
  readonly apply: (tls: ServingTls) => void;
  /** Between checks (default one minute). */
  readonly intervalMs?: number;
  readonly log: Logger;
}

export interface ServingTlsRefresher {
  /** Loads the certificate now; true when the listener got a new one. One check at a time: a second call joins the running one. */
  check(): Promise<boolean>;
  /** What the listener serves now. */
  current(): ServingTls;
  /** Stops the checks. */
  close(): void;
}

/**
 * Starts the checks (see module doc).
 *
 * @example
 * const refresher = refreshServingTls({ load: () => loadServingTls(where), current: state.tls, apply: (t) => server.setSecureContext(t), log });
 * process.on('SIGHUP', () => void refresher.check());
 */
export function refreshServingTls(options: ServingTlsOptions): ServingTlsRefresher {
  let current = options.current;
  let running: Promise<boolean> | undefined;

  const replace = async (): Promise<boolean> => {
    let next: ServingTls;
    try {
      next = await options.load();
      if (next.cert.equals(current.cert) && next.key.equals(current.key)) return false;
      // Refused here, not at the next handshake: a key that is not the certificate's, or a file that is no certificate.
      createSecureContext({ cert: next.cert, key: next.key });
      options.apply(next);
    } catch (err) {
      options.log.warn({ err }, 'the serving certificate could not be loaded again; the current one stays in use');
      return false;
    }
    current = next;
    const leaf = new X509Certificate(next.cert);
    options.log.info({ serialNumber: leaf.serialNumber, validTo: leaf.validTo, subjectAltName: leaf.subjectAltName }, 'serving certificate replaced');
    return true;
  };

  const check = (): Promise<boolean> => {
    running ??= replace().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => void check(), options.intervalMs ?? 60_000);
  timer.unref();
  return { check, current: () => current, close: () => clearInterval(timer) };
}

/** When a certificate (the first of a PEM chain) ends, epoch ms; undefined when it does not parse. */
export function notAfter(cert: Buffer): number | undefined {
  try {
    return Date.parse(new X509Certificate(cert).validTo);
  } catch {
    return undefined;
  }
}
