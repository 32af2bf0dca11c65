import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerToken } from '../../../src/identity/bearer.js';
import { createMcpHandler } from '../../../src/mcp/http.js';

// The /mcp handler's own rules (authentication, sessions bound to the
// credential that opened them); the tool calls themselves are covered end to
// end in test/e2e/mcp.test.ts. tools/list never reaches the gateway.
const TOKENS = new Set(['agent-token', 'other-token']);
const handler = createMcpHandler({
  gatewayUrl: 'https://127.0.0.1:1',
  caPem: '',
  authenticate: (req) => {
    const token = bearerToken(req.headers);
    return Promise.resolve(token !== undefined && TOKENS.has(token) ? { subject: `token:${token}`, groups: [], kind: 'agent', via: 'token', tokenId: undefined } : undefined);
  },
  log: pino({ level: 'silent' }),
  readOnly: true,
});
const server = createServer((req, res) => {
  if (!handler(req, res)) res.writeHead(418).end();
});
let url: URL;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const connect = async (token: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> => {
  const client = new Client({ name: 'unit', version: '1' });
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return { client, transport };
};

describe('createMcpHandler', () => {
  it('leaves other paths alone', async () => {
    expect((await fetch(new URL('/api/v1/pods', url))).status).toBe(418);
  });

  it('refuses a caller without an accepted bearer credential', async () => {
    const none = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"');
    expect(((await none.json()) as { jsonrpc: string }).jsonrpc).toBe('2.0');
    await expect(connect('forged')).rejects.toThrow(/a bearer credential the gateway accepts is required/);
  });

  it('serves a session to the credential that opened it, and to nobody else', async () => {
    const { client, transport } = await connect('agent-token');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('get_resource');
    expect(names).not.toContain('apply_manifest');

    const borrowed = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer other-token', 'mcp-session-id': transport.sessionId!, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(borrowed.status).toBe(404);
    await client.close();
  });

  it('asks for initialize before anything else', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer agent-token', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(400);
  });
});
