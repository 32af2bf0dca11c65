import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CHUNK_SELECT } from '../../../src/store/audit-rows.js';
import type { DbChunkRow } from '../../../src/store/audit-rows.js';
import type { GatewayProcess } from './gateway.js';

/** `read` on the gateway's SQLite store, opened read-only for it and closed after. */
function readStore<T>(gateway: Pick<GatewayProcess, 'dataDir'>, read: (db: Database.Database) => T): T {
  const db = new Database(join(gateway.dataDir, 'gatehouse.db'), { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** A recorded stream's chunks, read straight from the gateway's SQLite store, in order, shared bytes joined in. */
export function recordedChunks(gateway: Pick<GatewayProcess, 'dataDir'>, sessionId: string): { channel: string; data: Buffer }[] {
  return readStore(gateway, (db) =>
    db
      .prepare<[string], DbChunkRow>(CHUNK_SELECT)
      .all(sessionId)
      .map((row) => ({ channel: row.channel, data: Buffer.from(row.data) })),
  );
}

/** How a gateway's SQLite store holds stream bytes: in the chunks' own rows, and as copies chunks share (with how many refer to them). */
export function storedStreamBytes(gateway: Pick<GatewayProcess, 'dataDir'>): { own: number; shared: number; references: number } {
  return readStore(gateway, (db) => {
    const chunks = db.prepare('SELECT COALESCE(SUM(LENGTH(data)), 0) AS own, COUNT(data_sha256) AS refs FROM audit_stream_chunks').get() as { own: number; refs: number };
    const copies = db.prepare('SELECT COALESCE(SUM(LENGTH(data)), 0) AS shared FROM audit_chunk_data').get() as { shared: number };
    return { own: chunks.own, shared: copies.shared, references: chunks.refs };
  });
}
