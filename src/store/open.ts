import { openPostgresStore } from './postgres.js';
import type { PostgresStoreOptions } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** Where the store is: an SQLite file (the embedded default) or a PostgreSQL database (several replicas). */
export type StoreLocation = { sqlite: string } | { postgres: string; options?: PostgresStoreOptions };

/**
 * Opens the store wherever the configuration puts it; either way the result
 * has the same repositories (tokens, audit).
 *
 * @example
 * const store = await openStore(config.store.postgres?.url ? { postgres: config.store.postgres.url } : { sqlite: join(config.dataDir, config.store.sqlite.path) });
 */
export async function openStore(location: StoreLocation): Promise<Store> {
  if ('postgres' in location) return openPostgresStore(location.postgres, location.options);
  return openSqliteStore(location.sqlite);
}
