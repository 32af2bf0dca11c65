import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../../src/proxy/headers.js';

describe('upstreamRequestHeaders', () => {
  it('drops the client credential, impersonation, front-proxy and hop-by-hop headers', () => {
    const out = upstreamRequestHeaders(
      {
        authorization: 'Bearer client-token',
        'impersonate-user': 'root',
        'impersonate-group': 'system:masters',
        'impersonate-extra-scopes': 'x',
        'impersonate-uid': '1',
        'x-remote-user': 'root',
        'x-remote-group': 'system:masters',
        'proxy-authorization': 'Basic x',
        connection: 'keep-alive, x-secret-hop',
        'x-secret-hop': 'gone',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        host: 'gateway:6443',
        cookie: 'session=1',
        accept: 'application/json',
        'kubectl-command': 'kubectl get',
        'content-type': 'application/json',
      },
      false,
    );
    expect(out).toEqual({ accept: 'application/json', 'kubectl-command': 'kubectl get', 'content-type': 'application/json' });
  });

  it("drops an HTTP/2 request's pseudo-headers, which are no header names on HTTP/1.1", () => {
    const out = upstreamRequestHeaders(
      { ':method': 'GET', ':path': '/api/v1/pods', ':authority': 'gateway:6443', ':scheme': 'https', accept: 'application/json', 'user-agent': 'kubectl/v1.33' },
      false,
    );
    expect(out).toEqual({ accept: 'application/json', 'user-agent': 'kubectl/v1.33' });
  });

  it('keeps the upgrade handshake and removes the WebSocket bearer subprotocol', () => {
    const token = Buffer.from('secret').toString('base64url');
    const out = upstreamRequestHeaders(
      {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': 'abc',
        'sec-websocket-version': '13',
        'sec-websocket-protocol': `base64url.bearer.authorization.k8s.io.${token}, v5.channel.k8s.io, v4.channel.k8s.io`,
        authorization: 'Bearer t',
      },
      true,
    );
    expect(out).toEqual({
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'abc',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'v5.channel.k8s.io, v4.channel.k8s.io',
    });
  });

  it('keeps SPDY upgrade headers', () => {
    const out = upstreamRequestHeaders(
      { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': ['v4.channel.k8s.io', 'v3.channel.k8s.io'] },
      true,
    );
    expect(out).toEqual({ connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': ['v4.channel.k8s.io', 'v3.channel.k8s.io'] });
  });
});

describe('clientResponseHeaders', () => {
  it('drops hop-by-hop headers (which an HTTP/2 answer must not carry) and keeps the rest', () => {
    expect(
      clientResponseHeaders({
        connection: 'close',
        'transfer-encoding': 'chunked',
        'keep-alive': 'x',
        upgrade: 'h2c',
        'content-type': 'application/json',
        'audit-id': 'abc',
      }),
    ).toEqual({ 'content-type': 'application/json', 'audit-id': 'abc' });
  });
});
