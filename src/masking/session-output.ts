/**
 * Masking what an exec or attach session prints, on its way from the API
 * server to the client over WebSocket (`channel.k8s.io`, v1–v5).
 *
 * The API server's frames are read with the session recorder's reader
 * (src/record/websocket-frames.ts), so frames split across TCP chunks and
 * messages fragmented into many frames are followed the same way. Each
 * message's first byte names its channel: stdout (1) and stderr (2) each go
 * through a line masker (src/masking/line-stream.ts), which holds a line
 * until its newline — so a credential split across frames or chunks is seen
 * whole — and the masked bytes leave as fresh, unfragmented binary frames.
 * A finding is overwritten by a mask of its own length, so the output is as
 * long as the command's: `kubectl cp` reads a tar stream through exec, whose
 * headers give each file's size.
 * Other messages (the error channel's exit Status) are passed whole, after
 * the output held so far; control frames (ping, pong, close) pass as they
 * came, a close after the held output.
 *
 * Output is never held longer than needed: after each chunk the unfinished
 * line is released up to its last blank or punctuation byte (no token has
 * one; a `password=` before it stays as context), and the caller calls
 * {@link SessionOutputMasker.release} when the output went quiet for a
 * moment, so typed characters a terminal echoes are not held for ever.
 *
 * Anything that breaks the WebSocket framing stops the masker: nothing more
 * comes out of it (`failure` says why), never raw bytes.
 *
 * @module
 */
import { serverFrame, WebSocketFrameReader } from '../record/websocket-frames.js';
import { createLineMasker, type LineMasker, type LineMaskOptions } from './line-stream.js';
import type { Masker } from './masker.js';
import { ReportBuilder, type MaskReport } from './report.js';
import { DEFAULT_STREAM_REPORT_PATHS } from './json-frame.js';

/** The masked channels of `channel.k8s.io`, by their first byte. */
const MASKED_CHANNELS: ReadonlyMap<number, string> = new Map([
  [1, 'stdout'],
  [2, 'stderr'],
]);
const WS_BINARY = 0x2;
const WS_CLOSE = 0x8;
// Other messages are held whole to be re-framed; the error channel's Status is a few hundred bytes.
const MAX_OTHER_MESSAGE = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** Masks one session's server → client bytes. */
export interface SessionOutputMasker {
  /** A chunk from the API server; returns the frames to forward in its place (possibly none yet). */
  write(chunk: Buffer): Buffer;
  /** True while part of a line is held back. */
  readonly holding: boolean;
  /** The output went quiet: returns the held bytes, masked, as frames. */
  release(): Buffer;
  /** The API server closed the connection: returns the held bytes, masked, as frames. */
  end(): Buffer;
  /** Why the masker stopped, once it has (it then returns nothing more). */
  readonly failure: string | undefined;
  /** Everything masked so far (paths are `stdout line N`, `stderr line N`). */
  report(): MaskReport;
}

/**
 * @example
 * const output = createSessionOutputMasker(masker);
 * upSocket.on('data', (chunk) => clientSocket.write(output.write(chunk)));
 * // after a quiet moment: if (output.holding) clientSocket.write(output.release());
 */
export function createSessionOutputMasker(masker: Masker, options: LineMaskOptions = {}): SessionOutputMasker {
  const lines = new Map<number, LineMasker>([...MASKED_CHANNELS.keys()].map((channel) => [channel, createLineMasker(masker, { ...options, keepLength: true })]));
  let out: Buffer[] = [];
  let failure: string | undefined;
  // The current data message: its opcode, its masker once its first byte named a masked channel, else its bytes.
  let opcode = WS_BINARY;
  let started = false;
  let current: { channel: number; lines: LineMasker } | undefined;
  let other: Buffer[] = [];
  let otherBytes = 0;

  const emit = (channel: number, bytes: Buffer): void => {
    if (bytes.length > 0) out.push(serverFrame(WS_BINARY, Buffer.concat([Buffer.from([channel]), bytes])));
  };
  const each = (take: (l: LineMasker) => Buffer): void => {
    for (const [channel, l] of lines) emit(channel, take(l));
  };
  const reader = new WebSocketFrameReader({
    messageStart(op) {
      opcode = op;
      started = false;
      current = undefined;
    },
    payload(data) {
      let rest = data;
      if (!started) {
        started = true;
        const l = lines.get(data[0]!);
        if (l) {
          current = { channel: data[0]!, lines: l };
          rest = data.subarray(1);
        }
      }
      if (current) return emit(current.channel, current.lines.write(rest));
      otherBytes += data.length;
      if (otherBytes > MAX_OTHER_MESSAGE) failure = `a message on a channel other than stdout or stderr is longer than ${MAX_OTHER_MESSAGE} bytes`;
      else other.push(Buffer.from(data));
    },
    messageEnd() {
      if (current) return;
      // What was printed before the exit Status reaches the client before it.
      each((l) => l.end());
      out.push(serverFrame(opcode, Buffer.concat(other, otherBytes)));
      other = [];
      otherBytes = 0;
    },
    control(op, payload) {
      if (op === WS_CLOSE) each((l) => l.end());
      out.push(serverFrame(op, payload));
    },
  });
  const take = (): Buffer => {
    const result = failure !== undefined ? EMPTY : out.length === 1 ? out[0]! : Buffer.concat(out);
    out = [];
    return result;
  };

  return {
    write(chunk) {
      if (failure !== undefined) return EMPTY;
      reader.push(chunk);
      failure ??= reader.failure;
      // A prompt or a word in progress: what precedes its last blank can go now.
      each((l) => l.flush());
      return take();
    },
    get holding() {
      return [...lines.values()].some((l) => l.held > 0);
    },
    release() {
      each((l) => l.release());
      return take();
    },
    end() {
      each((l) => l.end());
      return take();
    },
    get failure() {
      return failure;
    },
    report() {
      const report = new ReportBuilder(options.maxReportPaths ?? DEFAULT_STREAM_REPORT_PATHS);
      for (const [channel, l] of lines) {
        const r = l.report();
        report.merge({ ...r, paths: r.paths.map((p) => `${MASKED_CHANNELS.get(channel)!} ${p}`) });
      }
      return report.build();
    },
  };
}
