import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * Writes `down.kubeconfig` in `dir`, pointing at a loopback port that was free
 * a moment ago (nothing listens there), for a gateway whose upstream is down.
 * `caPem` is the real cluster's CA, so only the connection can fail.
 */
export async function deadUpstreamKubeconfig(dir: string, caPem: string): Promise<{ kubeconfig: string; port: number }> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const kubeconfig = join(dir, 'down.kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'down',
      clusters: [{ name: 'down', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: 'down', user: { token: 'whatever' } }],
      contexts: [{ name: 'down', context: { cluster: 'down', user: 'down' } }],
    }),
  );
  return { kubeconfig, port };
}
