import { createServer } from 'node:https';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createPki } from './pki.js';
import type { UpstreamTarget } from '../../../src/upstream/kubeconfig.js';

/** A local HTTPS server standing in for the API server behind the agent. */
export interface FakeApiServer {
  target: UpstreamTarget;
  caPem: string;
  /** Request headers as the API server saw them, by path. */
  seen: Map<string, IncomingHttpHeaders>;
  /** Writes one chunk to the open /watch response, or ends it with null. */
  watch(chunk: string | null): void;
  /** Resolves when the /watch request is closed from the client side. */
  watchClosed: Promise<void>;
  close(): Promise<void>;
}

export const SERVICE_ACCOUNT_TOKEN = 'agent-service-account-token';

export async function startFakeApiServer(): Promise<FakeApiServer> {
  const { caPem, cert } = await createPki('kube-apiserver');
  const seen = new Map<string, IncomingHttpHeaders>();
  const sockets = new Set<Socket>();
  let watchResponse: ServerResponse | undefined;
  let watchClosed!: () => void;
  const watchClosedPromise = new Promise<void>((resolve) => (watchClosed = resolve));

  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const path = req.url ?? '/';
    seen.set(path.split('?')[0]!, req.headers);
    if (path === '/version') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ major: '1', minor: '31', gitVersion: 'v1.31.0-fake' }));
    } else if (path === '/echo') {
      // Chunked unless the request said how long it is: the framing the gateway chose must survive the trip.
      const length = req.headers['content-length'];
      res.writeHead(200, length === undefined ? {} : { 'content-length': length });
      req.pipe(res);
    } else if (path === '/headers') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
    } else if (path.startsWith('/watch')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watchResponse = res;
      res.once('close', () => watchClosed());
    } else if (path === '/unauthorized') {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
    } else {
      res.writeHead(404).end();
    }
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    seen.set(req.url ?? '/', req.headers);
    if (req.url === '/exec') {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    } else {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, message: 'exec is forbidden' });
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    target: {
      contextName: 'fake',
      server: new URL(`https://127.0.0.1:${port}`),
      ca: Buffer.from(caPem),
      insecureSkipTlsVerify: false,
      tlsServerName: undefined,
      clientCert: undefined,
      clientKey: undefined,
      token: SERVICE_ACCOUNT_TOKEN,
      tokenFile: undefined,
      basicAuth: undefined,
      exec: undefined,
    },
    caPem,
    seen,
    watch(chunk) {
      if (chunk === null) watchResponse?.end();
      else watchResponse?.write(chunk);
    },
    watchClosed: watchClosedPromise,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
