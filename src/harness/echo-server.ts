/**
 * The TCP echo server that `kubectl port-forward` reaches through kwok.
 *
 * @internal
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface EchoServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a loopback server that writes back every byte it receives. */
export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
