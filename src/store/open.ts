import { resolve } from 'node:path';
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
  // The pg driver is loaded only by gateways that use it.
  if ('postgres' in location) return (await import('./postgres.js')).openPostgresStore(location.postgres, location.options);
  return openSqliteStore(location.sqlite);
}

/**
 * The location gatehouse.yaml's `store` section names: PostgreSQL when set,
 * else the SQLite file (relative to `dataDir`).
 *
 * @example
 * const store = await openStore(configuredStoreLocation(config));
 */
export function configuredStoreLocation(config: {
  dataDir: string;
  store: { sqlite: { path: string }; postgres?: ({ url: string } & PostgresStoreOptions) | undefined };
}): StoreLocation {
  return config.store.postgres ? { postgres: config.store.postgres.url, options: config.store.postgres } : { sqlite: resolve(config.dataDir, config.store.sqlite.path) };
}
