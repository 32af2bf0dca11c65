import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors/codes.js';

/**
 * Reads a request body into memory, refusing more than `limit` bytes. Used
 * only when a later stage must see the body; everything else streams.
 */
export function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(Number(declared), limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop reading but keep the socket so the 413 can still be written.
        req.pause();
        reject(tooLarge(size, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new GatehouseError('GH_BAD_REQUEST_BODY', `the request body could not be read: ${err.message}`, { cause: err }));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(size: number, limit: number): GatehouseError {
  return new GatehouseError(
    'GH_BODY_TOO_LARGE',
    `the request body (${size > limit && size !== Infinity ? `at least ${size}` : 'unknown'} bytes) exceeds the gateway limit of ${limit} bytes (server.maxBodyBytes)`,
  );
}
