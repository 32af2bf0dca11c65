import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { GatewayProcess } from './gateway.js';

/** A recorded stream's chunks, read straight from the gateway's SQLite store (read-only), in order. */
export function recordedChunks(gateway: Pick<GatewayProcess, 'dataDir'>, sessionId: string): { channel: string; data: Buffer }[] {
  const db = new Database(join(gateway.dataDir, 'gatehouse.db'), { readonly: true });
  try {
    return db.prepare('SELECT channel, data FROM audit_stream_chunks WHERE session_id = ? ORDER BY seq').all(sessionId) as { channel: string; data: Buffer }[];
  } finally {
    db.close();
  }
}
