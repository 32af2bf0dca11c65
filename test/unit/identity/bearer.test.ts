import { describe, expect, it } from 'vitest';
import { bearerToken } from '../../../src/identity/bearer.js';
import { bootstrapTokenAuthenticator, newBootstrapToken } from '../../../src/identity/bootstrap-token.js';

describe('bearerToken', () => {
  it.each([
    [{ authorization: 'Bearer abc' }, 'abc'],
    [{ authorization: 'bearer   abc  ' }, 'abc'],
    [{ authorization: 'Basic YTpi' }, undefined],
    [{ authorization: 'Bearer' }, undefined],
    [{ authorization: 'Bearer a b' }, undefined],
    [{ 'sec-websocket-protocol': `v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.${Buffer.from('tok').toString('base64url')}` }, 'tok'],
    [{ 'sec-websocket-protocol': 'base64url.bearer.authorization.k8s.io.' }, undefined],
    [{}, undefined],
  ])('%j → %s', (headers, expected) => {
    expect(bearerToken(headers)).toBe(expected);
  });
});

describe('bootstrap tokens', () => {
  it('accepts the token it issued and nothing else, storing only a hash', async () => {
    const { token, record } = newBootstrapToken('admin', ['gatehouse:admins']);
    expect(JSON.stringify(record)).not.toContain(token);
    const authenticate = bootstrapTokenAuthenticator([record]);
    expect(await authenticate(token)).toEqual({ subject: 'admin', groups: ['gatehouse:admins'], kind: 'human', via: 'bootstrap-token', tokenId: undefined });
    expect(await authenticate(token + 'x')).toBeUndefined();
    expect(await authenticate(record.sha256)).toBeUndefined();
  });
});
