/**
 * Checks `gatehouse up` makes before anything slow starts, each failing
 * with one line that says what to do: a data directory it can write, a free
 * listen port, an upstream that answers.
 *
 * @module
 */
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FixableError } from './terminal.js';
import { probeUpstream } from './upstream-probe.js';
import type { UpstreamFacts } from './upstream-probe.js';

/** Creates the data directory (0700) if needed and proves it is writable. */
export function checkDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    const probe = join(dir, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    throw new FixableError(`cannot write the data directory ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'pass --data-dir <a directory you own>');
  }
}

/**
 * Binds host:port for a moment to prove it is free; port 0 gets a free port
 * from the system. Returns the port and the gateway URL it will have, so the
 * console's sign-in callback can name it before the gateway starts.
 */
export async function reservePort(listen: { host: string; port: number }): Promise<{ port: number; url: string }> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, resolve);
    });
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    // As the gateway names itself: a wildcard address is reached on loopback.
    return { port: address.port, url: `https://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new FixableError(`${listen.host}:${listen.port} is already in use (another gatehouse up?)`, `stop what listens there, or pass --listen ${listen.host}:<another port>`);
    throw new FixableError(`cannot listen on ${listen.host}:${listen.port} (${code ?? (err as Error).message})`, 'pass --listen 127.0.0.1:<port>');
  } finally {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The upstream context answers /version with its credential. */
export async function checkUpstream(kubeconfig: string, context: string | undefined): Promise<UpstreamFacts> {
  try {
    return await probeUpstream(kubeconfig, context);
  } catch (err) {
    const which = context ? `context "${context}" of ${kubeconfig}` : `the current context of ${kubeconfig}`;
    throw new FixableError(
      `cannot reach the cluster of ${which}: ${(err as Error).message.split('\n')[0]}`,
      'check `kubectl cluster-info` works for it, pick another with --context <name>, or try the local demo with --demo',
    );
  }
}
