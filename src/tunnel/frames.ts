/**
 * The tunnel's wire format: one frame per WebSocket binary message,
 * `[type u8][streamId u32 BE][payload]`. Decoding validates everything the
 * session relies on, so the session only ever sees well-formed frames.
 */

export const FRAME_HEADER_BYTES = 5;

const TYPE_CODES = { open: 1, data: 2, end: 3, reset: 4, credit: 5, control: 6 } as const;
const TYPE_NAMES = new Map(Object.entries(TYPE_CODES).map(([name, code]) => [code as number, name as FrameType]));
const MAX_STREAM_ID = 0xffff_ffff;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export type FrameType = keyof typeof TYPE_CODES;

/** One decoded frame. END half-closes the sender's write side; CREDIT returns bytes the receiver consumed. */
export type Frame =
  | { type: 'open'; streamId: number }
  | { type: 'data'; streamId: number; data: Buffer }
  | { type: 'end'; streamId: number }
  | { type: 'reset'; streamId: number; reason: string }
  | { type: 'credit'; streamId: number; bytes: number }
  | { type: 'control'; message: Record<string, unknown> };

/** A message that is not a valid tunnel frame; the session closes on it. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/**
 * Encodes one frame for `ws.send`.
 *
 * @example
 * ws.send(encodeFrame({ type: 'credit', streamId: 1, bytes: 65536 }));
 */
export function encodeFrame(frame: Frame): Buffer {
  const streamId = frame.type === 'control' ? 0 : frame.streamId;
  if (frame.type !== 'control' && (!Number.isInteger(streamId) || streamId < 1 || streamId > MAX_STREAM_ID)) {
    throw new RangeError(`stream id ${streamId} is out of range`);
  }
  let payload: Buffer | undefined;
  if (frame.type === 'data') payload = frame.data;
  else if (frame.type === 'reset') payload = Buffer.from(frame.reason, 'utf8');
  else if (frame.type === 'control') payload = Buffer.from(JSON.stringify(frame.message), 'utf8');
  else if (frame.type === 'credit') {
    payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(frame.bytes);
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + (payload?.length ?? 0));
  out.writeUInt8(TYPE_CODES[frame.type], 0);
  out.writeUInt32BE(streamId, 1);
  payload?.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Decodes one WebSocket binary message, throwing {@link FrameError} for
 * anything malformed: short messages, unknown types, stream id 0 on a stream
 * frame (or non-zero on CONTROL), payloads on OPEN/END, a CREDIT that is not
 * one positive u32, invalid UTF-8, CONTROL that is not a JSON object.
 * DATA shares the message's memory rather than copying it.
 *
 * @example
 * const frame = decodeFrame(message);
 * if (frame.type === 'data') stream.push(frame.data);
 */
export function decodeFrame(message: Buffer): Frame {
  if (message.length < FRAME_HEADER_BYTES) throw new FrameError(`a frame of ${message.length} bytes is shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  const code = message.readUInt8(0);
  const type = TYPE_NAMES.get(code);
  if (!type) throw new FrameError(`unknown frame type ${code}`);
  const streamId = message.readUInt32BE(1);
  const payload = message.subarray(FRAME_HEADER_BYTES);
  if (type === 'control') {
    if (streamId !== 0) throw new FrameError(`a CONTROL frame must have stream id 0, got ${streamId}`);
    return { type, message: controlMessage(payload) };
  }
  if (streamId === 0) throw new FrameError(`a ${type.toUpperCase()} frame must not have stream id 0`);
  switch (type) {
    case 'open':
    case 'end':
      if (payload.length > 0) throw new FrameError(`a ${type.toUpperCase()} frame carries no payload, got ${payload.length} bytes`);
      return { type, streamId };
    case 'data':
      if (payload.length === 0) throw new FrameError('a DATA frame must carry at least one byte');
      return { type, streamId, data: payload };
    case 'reset':
      return { type, streamId, reason: text(payload, 'RESET reason') };
    case 'credit': {
      if (payload.length !== 4) throw new FrameError(`a CREDIT frame carries 4 bytes, got ${payload.length}`);
      const bytes = payload.readUInt32BE(0);
      if (bytes === 0) throw new FrameError('a CREDIT frame must grant at least one byte');
      return { type, streamId, bytes };
    }
  }
}

function text(payload: Buffer, what: string): string {
  try {
    return utf8.decode(payload);
  } catch {
    throw new FrameError(`the ${what} is not valid UTF-8`);
  }
}

function controlMessage(payload: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text(payload, 'CONTROL payload'));
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError(`the CONTROL payload is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FrameError('the CONTROL payload is not a JSON object');
  return value as Record<string, unknown>;
}
