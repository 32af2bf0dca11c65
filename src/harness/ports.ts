/**
 * Free loopback ports for the control plane.
 *
 * @internal
 */
import { createServer, type AddressInfo } from 'node:net';

/**
 * Returns `count` distinct TCP ports that were free on 127.0.0.1 a moment ago
 * (the kernel picks them; they are released before this resolves, so a
 * process started right after can bind them).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
