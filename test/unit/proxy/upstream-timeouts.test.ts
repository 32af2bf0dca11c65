import { createServer, request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armUpstreamTimeouts } from '../../../src/proxy/upstream-errors.js';
import type { Upstream } from '../../../src/upstream/client.js';

// /slow never answers; anything else answers at once.
const held: ServerResponse[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  if (req.url === '/slow') held.push(res);
  else res.end('ok');
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const res of held) res.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const upstream = { where: 'https://api.test' } as Upstream;
const timeouts = { connectMs: 1_000, responseHeadersMs: 100 };

describe('armUpstreamTimeouts', () => {
  it('fails a request whose answer does not begin within responseHeadersMs', async () => {
    const req = request({ host: '127.0.0.1', port, path: '/slow', agent: false });
    armUpstreamTimeouts(req, timeouts, upstream);
    req.end();
    const err = await new Promise<Error & { code?: string }>((resolve) => req.once('error', resolve));
    expect(err.code).toBe('GH_UPSTREAM_TIMEOUT');
    expect(err.message).toBe('the Kubernetes API server at https://api.test did not answer within 100 ms');
  });

  it('stops watching once the answer began, and leaves no listener behind', async () => {
    const req = request({ host: '127.0.0.1', port, path: '/fast', agent: false });
    armUpstreamTimeouts(req, timeouts, upstream);
    const errors: Error[] = [];
    req.on('error', (err) => errors.push(err));
    req.end();
    const res = await new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
    res.resume();
    for (const event of ['response', 'upgrade', 'close', 'socket']) expect(req.listenerCount(event), event).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2 * timeouts.responseHeadersMs));
    expect(errors).toEqual([]);
  });
});
