import { writeFileSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer, Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { createCA, issueCert } from '../../../src/pki/index.js';
import { kubeconfigYaml } from '../../../src/harness/kubeconfig.js';

/**
 * What the proxy does with a new connection from the gateway:
 * - `pass`: relays bytes both ways to the real API server (TLS on both legs);
 * - `stall`: completes TLS, reads the request, never answers;
 * - `error500`: answers every request with an HTTP 500 and a non-Status body;
 * - `garbage`: answers with bytes that are not HTTP, then closes;
 * - `reset`: completes TLS and destroys the connection at once.
 * `stopped` (see {@link FaultProxy.stop}) closes the listener: connections are refused.
 */
export type FaultMode = 'pass' | 'stall' | 'error500' | 'garbage' | 'reset';

export interface FaultProxy {
  /** A kubeconfig pointing the gateway at the proxy (its own CA, the cluster's bearer token). */
  kubeconfig: string;
  port: number;
  mode: FaultMode;
  /** Connections accepted so far (each mode counts). */
  readonly accepted: number;
  /** Requests that reached the real API server through the proxy (`pass` only; counts connections). */
  readonly relayed: number;
  /** Stops listening (the port refuses connections) and ends open connections. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TLS-terminating TCP proxy between the gateway and the real API server,
 * driven by the test: it can relay, stall, answer 500s or garbage, or be
 * stopped and started again on the same port.
 */
export async function startFaultProxy(dir: string, upstream: { server: string; caPem: string; token: string }): Promise<FaultProxy> {
  const ca = await createCA('gatehouse-fault-proxy');
  const serving = await issueCert(ca, { commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
  const target = new URL(upstream.server);
  const sockets = new Set<Socket>();
  let accepted = 0;
  let relayed = 0;
  const state = { mode: 'pass' as FaultMode };

  const onConnection = (client: TLSSocket): void => {
    accepted++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const mode = state.mode;
    if (mode === 'reset') {
      client.destroy();
      return;
    }
    if (mode === 'stall') {
      client.resume();
      return;
    }
    if (mode === 'garbage') {
      client.once('data', () => client.end('\x00\x01garbage \xff not http\r\n\r\n'));
      return;
    }
    if (mode === 'error500') {
      client.once('data', () => {
        const body = 'upstream exploded <html>';
        client.end(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      });
      return;
    }
    relayed++;
    client.pause();
    const up = tlsConnect({ host: target.hostname, port: Number(target.port), ca: upstream.caPem, servername: target.hostname === '127.0.0.1' ? undefined : target.hostname });
    sockets.add(up);
    up.on('close', () => {
      sockets.delete(up);
      client.destroy();
    });
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    up.once('secureConnect', () => {
      client.pipe(up);
      up.pipe(client);
      client.resume();
    });
  };
  const tls = createTlsServer({ cert: serving.certPem, key: serving.keyPem }, onConnection);
  tls.on('tlsClientError', () => undefined);

  let tcp: TcpServer | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    // A plain TCP listener handing sockets to the TLS server, so `stop` can close the port for real.
    const server = createTcpServer((socket) => tls.emit('connection', socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    tcp = server;
  };
  await listen();
  const stop = async (): Promise<void> => {
    const server = tcp;
    tcp = undefined;
    for (const s of sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  const kubeconfig = join(dir, `fault-proxy-${port}.kubeconfig`);
  writeFileSync(kubeconfig, kubeconfigYaml('fault-proxy', `https://127.0.0.1:${port}`, ca.certPem, { token: upstream.token }));
  return {
    kubeconfig,
    port,
    get mode() {
      return state.mode;
    },
    set mode(m: FaultMode) {
      state.mode = m;
      // Connections kept alive from an earlier mode would keep its behaviour: end them.
      for (const s of sockets) s.destroy();
    },
    get accepted() {
      return accepted;
    },
    get relayed() {
      return relayed;
    },
    stop,
    start: listen,
    close: stop,
  };
}
