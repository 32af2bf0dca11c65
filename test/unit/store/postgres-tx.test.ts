import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../../src/harness/postgres.js';
import type { PostgresServer } from '../../../src/harness/postgres.js';
import { inTransaction } from '../../../src/store/postgres-tx.js';

// pg-pool drops its own 'error' listener from a checked-out client: a server
// that goes away mid-transaction must reject the transaction, not emit an
// unhandled 'error' that ends the process (found by test/security/faults-audit-store.test.ts).
describe('inTransaction when the server goes away mid-transaction', () => {
  let server: PostgresServer;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres({ fsync: false });
    pool = new pg.Pool({ connectionString: server.url(), max: 2, connectionTimeoutMillis: 2000 });
    pool.on('error', () => undefined);
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
    await server?.destroy();
  });

  it('rejects, leaves no unhandled error, and works again once the server is back', async () => {
    // Settled into a value at once, so the rejection is handled while the server stops.
    const running = inTransaction(pool, (client) => client.query('SELECT pg_sleep(30)')).then(
      () => undefined,
      (err: unknown) => err,
    );
    await new Promise((r) => setTimeout(r, 300));
    await server.stop('immediate');
    expect(await running).toBeInstanceOf(Error);
    // A moment for any late 'error' event: vitest fails the run on an unhandled one.
    await new Promise((r) => setTimeout(r, 200));
    await server.start();
    const { rows } = await inTransaction(pool, (client) => client.query<{ one: number }>('SELECT 1 AS one'));
    expect(rows[0]?.one).toBe(1);
  }, 60_000);
});
