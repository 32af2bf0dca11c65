import type Database from 'better-sqlite3';

/** A per-connection setting and the value SQLite reports once it took. */
export interface ConnectionPragma {
  name: string;
  value: string;
  reads: number;
}

/**
 * What every connection to the store file sets. Both are per connection.
 * `synchronous` must be said: better-sqlite3 is built with
 * SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so a connection opening a file already
 * in WAL mode (the append thread's always, the main one's after a restart)
 * would commit without an fsync, and a power cut could lose events whose
 * append had resolved.
 */
export const CONNECTION_PRAGMAS: readonly ConnectionPragma[] = [
  { name: 'foreign_keys', value: 'ON', reads: 1 },
  { name: 'synchronous', value: 'FULL', reads: 2 },
];

/**
 * The audit append thread's connection: the above, and a page cache of
 * 4 MiB. better-sqlite3 builds SQLite with a 16 MB default cache, which an
 * appending connection fills with pages it never reads again (a burst of
 * 20 000 watch events grew the thread's memory by ~16 MB that stayed). What
 * it reuses is the right edge of each B-tree and, per stream being recorded,
 * a leaf of the chunks' key index: ~4 MB for 1 000 watches. With 2 MiB their
 * chunks took ~10 % more of the thread's CPU; with 4 MiB as much as with 16.
 */
export const APPEND_CONNECTION_PRAGMAS: readonly ConnectionPragma[] = [...CONNECTION_PRAGMAS, { name: 'cache_size', value: '-4096', reads: -4096 }];

/**
 * Sets each pragma and reads it back: SQLite ignores a value it does not
 * take without an error, and a store that is less durable than it says must
 * not open. Self-contained: the append thread runs it from its source text.
 */
export function applyPragmas(db: Database.Database, pragmas: readonly ConnectionPragma[]): void {
  for (const p of pragmas) {
    db.pragma(`${p.name} = ${p.value}`);
    const now: unknown = db.pragma(p.name, { simple: true });
    if (now !== p.reads) throw new Error(`SQLite did not take "PRAGMA ${p.name} = ${p.value}" (it reports ${String(now)})`);
  }
}
