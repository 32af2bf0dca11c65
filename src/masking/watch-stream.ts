/**
 * Masking a JSON watch stream event by event.
 *
 * Framing, as the API server sends it (checked against kube-apiserver
 * v1.33 with and without `pretty=true`, curl's user agent, and as=Table):
 * each event is one compact JSON object `{"type":…,"object":…}` followed by
 * `\n`. The splitter here does not rely on the newline: it tracks JSON
 * nesting and strings byte by byte, so any whitespace between events (or
 * none) and any chunking works. Each masked event is written back as compact
 * JSON and `\n`; an event with nothing to mask is written back byte for byte.
 *
 * @module
 */
import { Transform, type TransformCallback } from 'node:stream';
import { ChunkOutput } from './chunk-output.js';
import { DEFAULT_MAX_HELD_BYTES, DEFAULT_STREAM_REPORT_PATHS, JsonValueFramer, isJsonSpace, maskStreamError, parseFramed } from './json-frame.js';
import type { Masker } from './masker.js';
import { ReportBuilder, type MaskReport } from './report.js';

/** Default largest event accepted (bytes). */
export const DEFAULT_MAX_EVENT_BYTES = DEFAULT_MAX_HELD_BYTES;

export interface WatchMaskOptions {
  /** Largest event (bytes) held to be masked; a larger one fails the stream (default 16 MiB). */
  maxEventBytes?: number;
  /** Paths kept in the cumulative report (default 64). */
  maxReportPaths?: number;
}

const NEWLINE = Buffer.from('\n');
const WHAT = 'watch stream';

/** Splits a byte stream of concatenated JSON objects (whitespace between them allowed) into one buffer per object. */
export class JsonObjectSplitter {
  private readonly framer: JsonValueFramer;

  constructor(maxBytes: number) {
    this.framer = new JsonValueFramer(maxBytes, WHAT);
  }

  /**
   * Feeds a chunk; calls `onObject` for each object it completes.
   *
   * @throws GatehouseError (GH_MASKING_FAILED) on bytes outside an object or an object over the limit.
   */
  push(chunk: Buffer, onObject: (bytes: Buffer) => void): void {
    let i = 0;
    while (i < chunk.length) {
      if (!this.framer.active) {
        const c = chunk[i]!;
        if (isJsonSpace(c)) {
          i++;
          continue;
        }
        if (c !== 0x7b) throw maskStreamError(WHAT, `byte 0x${c.toString(16).padStart(2, '0')} between watch events: not a JSON watch stream`);
      }
      const end = this.framer.feed(chunk, i);
      if (end < 0) return;
      onObject(this.framer.take());
      i = end;
    }
  }
}

/**
 * A Transform masking a JSON watch stream (bytes in, bytes out). It emits
 * `'report'` with each event's report when that event had something masked;
 * {@link WatchMaskStream.report} sums them. A partial event at the end of the
 * input (the upstream cut off) is dropped, never forwarded unmasked.
 */
export class WatchMaskStream extends Transform {
  private readonly splitter: JsonObjectSplitter;
  private readonly total: ReportBuilder;
  private readonly out = new ChunkOutput(0); // events go out as they come: sized to each
  private events = 0;

  constructor(
    private readonly masker: Masker,
    options: WatchMaskOptions = {},
  ) {
    super();
    this.splitter = new JsonObjectSplitter(options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES);
    this.total = new ReportBuilder(options.maxReportPaths ?? DEFAULT_STREAM_REPORT_PATHS);
  }

  /** Everything masked so far: the count over all events; paths and detectors deduplicated and capped. */
  report(): MaskReport {
    return this.total.build();
  }

  /** Events masked and forwarded so far. */
  get eventCount(): number {
    return this.events;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    // One push per input chunk, however many events it completes.
    try {
      this.splitter.push(chunk, (bytes) => this.maskEvent(bytes));
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback(null, this.out.take());
  }

  /** Writes the event as it goes to the client: the original bytes when nothing was masked, else compact JSON; both end in `\n`. */
  private maskEvent(bytes: Buffer): void {
    const event = parseFramed(bytes, WHAT);
    const { value, report } = this.masker.maskValue(event);
    this.events++;
    if (value === event) {
      this.out.bytes(bytes);
      this.out.bytes(NEWLINE);
      return;
    }
    this.total.merge(report);
    this.emit('report', report);
    this.out.string(`${JSON.stringify(value)}\n`);
  }
}

/**
 * Masks a JSON watch stream: pipe the upstream body through it.
 *
 * @example
 * const masking = createWatchMaskStream(masker, { maxEventBytes: 8 << 20 });
 * masking.on('report', (r) => audit.note(r));
 * await pipeline(upstreamBody, masking, clientResponse);
 * masking.report(); // → { masked: 12, paths: ['object.data.password', …], detectors: ['secret-data'] }
 */
export function createWatchMaskStream(masker: Masker, options?: WatchMaskOptions): WatchMaskStream {
  return new WatchMaskStream(masker, options);
}
