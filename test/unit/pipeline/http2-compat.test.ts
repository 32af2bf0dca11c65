import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as http2 from 'node:http2';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { bodyless } from '../../../src/pipeline/http2-compat.js';

// Each server answers with what bodyless() said in the request handler (where Node has not yet marked even a request
// without a body complete) and a while later (stages may take that long: by then an HTTP/1.1 body has arrived whole,
// unread).
const handler = (req: IncomingMessage, res: ServerResponse): void => {
  const atOnce = bodyless(req);
  setTimeout(() => {
    const later = bodyless(req);
    req.resume();
    req.on('end', () => res.end(`${atOnce} ${later}`));
  }, 20);
};
const h1 = createServer(handler);
const h2 = http2.createServer(handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
const portOf = async (server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};
const h1Port = await portOf(h1);
const h2Port = await portOf(h2);
const session = http2.connect(`http://127.0.0.1:${h2Port}`);
afterAll(() => {
  session.close();
  h1.close();
  h2.close();
});

// The whole request in one write, so a body arrives with its headers: complete, but not read.
async function overHttp1(method: string, body?: string, chunked = false): Promise<string> {
  const socket = connect(h1Port, '127.0.0.1');
  const framing = body === undefined ? '' : chunked ? 'transfer-encoding: chunked\r\n' : `content-length: ${Buffer.byteLength(body)}\r\n`;
  const payload = body === undefined ? '' : chunked ? `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n` : body;
  socket.write(`${method} / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${framing}\r\n${payload}`);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  await new Promise((resolve) => socket.once('close', resolve));
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

async function overHttp2(method: string, body?: string): Promise<string> {
  const stream = session.request({ ':method': method, ':path': '/' }, { endStream: body === undefined });
  if (body !== undefined) stream.end(body);
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (text += chunk));
  await new Promise((resolve) => stream.once('end', resolve));
  return text;
}

describe('bodyless', () => {
  it.each([
    ['HTTP/1.1', overHttp1],
    ['HTTP/2', overHttp2],
  ])('tells a request without a body from one with a body on %s, from the headers on', async (_protocol, send) => {
    expect(await send('GET')).toBe('true true');
    expect(await send('DELETE')).toBe('true true');
    expect(await send('POST', '{"kind":"ConfigMap"}')).toBe('false false');
    expect(await send('POST', '')).toBe(send === overHttp1 ? 'true true' : 'false false');
  });

  it('takes a chunked HTTP/1.1 body for a body, whatever its method', async () => {
    expect(await overHttp1('DELETE', '{"kind":"DeleteOptions"}', true)).toBe('false false');
    expect(await overHttp1('GET', 'x', true)).toBe('false false');
  });
});
