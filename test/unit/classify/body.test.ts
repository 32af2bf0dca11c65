import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { readBoundedBody } from '../../../src/classify/body.js';
import { GatehouseError } from '../../../src/errors/codes.js';

function message(chunks: Buffer[], headers: Record<string, string> = {}): IncomingMessage {
  return Object.assign(Readable.from(chunks), { headers }) as unknown as IncomingMessage;
}

describe('readBoundedBody', () => {
  it('returns the whole body within the limit', async () => {
    const body = await readBoundedBody(message([Buffer.from('ab'), Buffer.from('cd')]), 4);
    expect(body.toString()).toBe('abcd');
  });

  it('refuses a declared length over the limit without reading', async () => {
    await expect(readBoundedBody(message([], { 'content-length': '11' }), 10)).rejects.toMatchObject({ code: 'GH_BODY_TOO_LARGE' });
  });

  it('refuses a chunked body once it passes the limit', async () => {
    const err = await readBoundedBody(message([Buffer.alloc(6), Buffer.alloc(6)]), 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatehouseError);
    expect((err as GatehouseError).code).toBe('GH_BODY_TOO_LARGE');
    expect((err as GatehouseError).message).toContain('exceeds the gateway limit of 10 bytes');
  });
});
