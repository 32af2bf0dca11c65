/**
 * The certificates a gateway makes for itself at start (its CA on the first
 * start, its serving certificate when the names it must cover change), made
 * by a short-lived child process. A process keeps the X.509 library, and
 * what loading and using it left in its heap, for its whole life: ~7 MB of a
 * gateway's resident memory (idle, 112 MB on a first start against 105 MB
 * on later ones) for work done once. A worker thread gave back about half of
 * it (107–110 MB); a process of its own gives back all of it (105–107).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IssueCertOptions } from './issue.js';
import type { CertAndKey, CertificateAuthority } from './types.js';

export interface ServingPkiRequest {
  /** The CA to issue with; undefined: make one named `caName`. */
  ca: CertificateAuthority | undefined;
  caName: string;
  /** The serving certificate to issue, if one is needed. */
  serving: IssueCertOptions | undefined;
}

export interface ServingPki {
  ca: CertificateAuthority;
  serving: CertAndKey | undefined;
}

/**
 * Makes what `request` asks for in a child process (`child.js`; the request
 * and the answer, keys included, go through its stdin and stdout).
 *
 * @example
 * const { ca, serving } = await makeServingPki({ ca: undefined, caName: 'Gatehouse CA', serving: { commonName: 'gatehouse', dnsNames: ['localhost'], usage: 'server', validityDays: 365 } });
 */
export async function makeServingPki(request: ServingPkiRequest): Promise<ServingPki> {
  const entry = fileURLToPath(new URL('./child.js', import.meta.url));
  // Run from the TypeScript sources (the unit tests) there is no compiled child module: the work is done here.
  if (!existsSync(entry)) return makeHere(request);
  return new Promise<ServingPki>((resolve, reject) => {
    const child = execFile(process.execPath, [entry], { maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`making the gateway's certificates failed: ${stderr.trim() || err.message}`));
      else resolve(JSON.parse(stdout) as ServingPki);
    });
    child.stdin!.end(JSON.stringify(request));
  });
}

/** The same work in the calling process (the child runs this). */
export async function makeHere(request: ServingPkiRequest): Promise<ServingPki> {
  const pki = await import('./index.js');
  const ca = request.ca ?? (await pki.createCA(request.caName));
  const serving = request.serving === undefined ? undefined : await pki.issueCert(ca, request.serving);
  return { ca, serving };
}
