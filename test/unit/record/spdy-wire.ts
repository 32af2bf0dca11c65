// Hand-built SPDY/3.1 frames for the tests, as spdystream (kubectl, the API server) writes them.
import { constants, createDeflate } from 'node:zlib';
import { SPDY3_DICTIONARY } from '../../../src/record/spdy-frames.js';

export function controlFrame(type: number, flags: number, payload: Buffer, version = 3): Buffer {
  const frame = Buffer.alloc(8 + payload.length);
  frame.writeUInt16BE(0x8000 | version, 0);
  frame.writeUInt16BE(type, 2);
  frame[4] = flags;
  frame.writeUIntBE(payload.length, 5, 3);
  payload.copy(frame, 8);
  return frame;
}

export function nameValueBlock(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [u32(Object.keys(headers).length)];
  for (const [name, value] of Object.entries(headers)) parts.push(u32(name.length), Buffer.from(name), u32(value.length), Buffer.from(value));
  return Buffer.concat(parts);
}

/**
 * Compresses header blocks in order with one zlib context and the SPDY/3
 * dictionary, each ending in a sync flush — as one direction of a real
 * connection does, so later blocks refer back to earlier ones.
 */
export async function compressedBlocks(blocks: Record<string, string>[]): Promise<Buffer[]> {
  const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  const out: Buffer[] = [];
  let pending: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => pending.push(chunk));
  for (const headers of blocks) {
    deflate.write(nameValueBlock(headers));
    await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    out.push(Buffer.concat(pending));
    pending = [];
  }
  deflate.close();
  return out;
}

export function synStream(streamId: number, block: Buffer, flags = 0): Buffer {
  const head = Buffer.alloc(10);
  head.writeUInt32BE(streamId, 0);
  return controlFrame(1, flags, Buffer.concat([head, block]));
}

export function synReply(streamId: number, block: Buffer): Buffer {
  return controlFrame(2, 0, Buffer.concat([u32(streamId), block]));
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** The streams kubectl opens for `exec -i` with stderr (v4): error, stdin, stdout, stderr, resize. */
export const STREAMS = { error: 1, stdin: 3, stdout: 5, stderr: 7, resize: 9 } as const;

/** The client's SYN_STREAMs for {@link STREAMS}, and the server's SYN_REPLYs. */
export async function openingFrames(): Promise<{ client: Buffer; server: Buffer }> {
  const entries = Object.entries(STREAMS);
  const requests = await compressedBlocks(entries.map(([type]) => ({ streamtype: type, 'x-stream-protocol-version': 'v4.channel.k8s.io' })));
  const replies = await compressedBlocks(entries.map(() => ({})));
  return {
    client: Buffer.concat(entries.map(([, id], i) => synStream(id, requests[i]!))),
    server: Buffer.concat(entries.map(([, id], i) => synReply(id, replies[i]!))),
  };
}
