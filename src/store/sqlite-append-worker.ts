import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type * as WorkerThreads from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { DbHeadRow } from './audit-rows.js';
import { APPEND_CONNECTION_PRAGMAS, applyPragmas } from './sqlite-pragmas.js';
import type { ConnectionPragma } from './sqlite-pragmas.js';

/** The rows of one planned append, and the head they were planned on. */
export interface AppendRows {
  /** The head row's values (seq, hash, checkpoint_seq, checkpoint_time_ms) the plan was linked after. */
  expect: readonly [number, string, number, number];
  eventRows: readonly unknown[][];
  /** Bytes shared by chunks of the batch, each once (the chunk rows refer to them). */
  chunkDataRows: readonly unknown[][];
  chunkRows: readonly unknown[][];
  checkpointRow: readonly unknown[] | undefined;
  headRow: readonly unknown[];
}

/** Committed, or not written because the head moved (another connection appended); then the head found. */
export type AppendReply = { committed: true } | { committed: false; head: DbHeadRow | undefined };

/** The SQL the worker prepares; the repository owns it (audit-rows.ts), the worker only runs it. */
export interface AppendStatements {
  head: string;
  insertEvent: string;
  insertChunk: string;
  insertChunkData: string;
  insertCheckpoint: string;
  updateHead: string;
}

export interface AppendWorker {
  /** Writes the rows in one `BEGIN IMMEDIATE` transaction if the head is still `rows.expect`. */
  write(rows: AppendRows): Promise<AppendReply>;
  /** Ends the thread once the writes in flight are answered. */
  close(): Promise<void>;
}

interface Pending {
  resolve(reply: AppendReply): void;
  reject(err: Error): void;
}

type WorkerMessage = { id: number; reply: AppendReply } | { id: number; error: string };

/**
 * Audit appends commit on their own thread: under `synchronous=FULL` every
 * commit waits for an fsync (0.5–2 ms here), and on the main thread that wait
 * stalls every request in flight. The worker has its own connection to the
 * same file; it checks the head inside the transaction, so a plan made on a
 * stale head is refused rather than forking the chain. The thread starts on
 * the first write and is started again after it fails.
 *
 * @example
 * const worker = startAppendWorker('/var/lib/gatehouse/gatehouse.db', 5000, statements);
 * const reply = await worker.write(rows); // { committed: true } or the head that moved
 */
export function startAppendWorker(
  path: string,
  busyTimeoutMs: number,
  statements: AppendStatements,
  pragmas: readonly ConnectionPragma[] = APPEND_CONNECTION_PRAGMAS,
): AppendWorker {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, Pending>();
  // The thread answers in the order it was asked, so the last write settles after every earlier one.
  let last: Promise<unknown> = Promise.resolve();

  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const spawn = (): Worker => {
    // Evaluated source rather than a file: the same code runs from dist/ and from the TypeScript sources under test.
    // Whether that source runs as CommonJS or as a module depends on the main program, so it gets its own require.
    const source = `const __name = (f) => f;\n(${appendWorkerMain.toString()})(process.getBuiltinModule('node:module').createRequire(${JSON.stringify(driver)}), ${applyPragmas.toString()});`;
    const w = new Worker(source, {
      eval: true,
      workerData: { driver, path, busyTimeoutMs, statements, pragmas },
    });
    w.on('message', (msg: WorkerMessage) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if ('error' in msg) p.reject(new Error(msg.error));
      else p.resolve(msg.reply);
      if (pending.size === 0) w.unref();
    });
    w.on('error', (err) => {
      if (worker === w) worker = undefined;
      failAll(err);
    });
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      failAll(new Error(`the audit append thread stopped (exit code ${code})`));
    });
    return w;
  };

  return {
    write(rows) {
      worker ??= spawn();
      const w = worker;
      const id = ++nextId;
      const reply = new Promise<AppendReply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        // Idle, the thread must not keep a CLI process alive; busy, it must.
        w.ref();
        w.postMessage({ id, rows });
      });
      last = reply.catch(() => undefined);
      return reply;
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (!w) return;
      await last;
      await w.terminate();
    },
  };
}

/**
 * The worker's whole program, run from its source text: it may use only what
 * it requires itself, nothing from this module's scope.
 */
function appendWorkerMain(load: NodeJS.Require, setPragmas: typeof applyPragmas): void {
  const threads = load('node:worker_threads') as typeof WorkerThreads;
  const parentPort = threads.parentPort;
  const data = threads.workerData as { driver: string; path: string; busyTimeoutMs: number; statements: AppendStatements; pragmas: ConnectionPragma[] };
  const Database = load(data.driver) as typeof BetterSqlite3;
  const db = new Database(data.path, { timeout: data.busyTimeoutMs });
  setPragmas(db, data.pragmas);
  const head = db.prepare<[], DbHeadRow>(data.statements.head);
  const insertEvent = db.prepare(data.statements.insertEvent);
  const insertChunk = db.prepare(data.statements.insertChunk);
  const insertChunkData = db.prepare(data.statements.insertChunkData);
  const insertCheckpoint = db.prepare(data.statements.insertCheckpoint);
  const updateHead = db.prepare(data.statements.updateHead);
  // Structured cloning turns Buffers into plain Uint8Arrays, which the driver does not bind.
  const bindable = (row: readonly unknown[]): unknown[] => row.map((v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v));
  const write = db.transaction((rows: AppendRows): AppendReply => {
    const found = head.get();
    const [seq, hash, checkpointSeq, checkpointTimeMs] = rows.expect;
    if (!found || Number(found.seq) !== seq || found.hash !== hash || Number(found.checkpoint_seq) !== checkpointSeq || Number(found.checkpoint_time_ms) !== checkpointTimeMs) {
      return { committed: false, head: found };
    }
    for (const row of rows.eventRows) insertEvent.run(row);
    for (const row of rows.chunkDataRows) insertChunkData.run(bindable(row));
    for (const row of rows.chunkRows) insertChunk.run(bindable(row));
    if (rows.checkpointRow) insertCheckpoint.run(rows.checkpointRow);
    updateHead.run(rows.headRow);
    return { committed: true };
  });
  parentPort!.on('message', (msg: { id: number; rows: AppendRows }) => {
    try {
      parentPort!.postMessage({ id: msg.id, reply: write.immediate(msg.rows) });
    } catch (err) {
      parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
    }
  });
}
