import type pg from 'pg';

/**
 * Runs `fn` in a transaction on one pooled connection: COMMIT when it
 * resolves, ROLLBACK when it throws. A connection that failed is destroyed
 * rather than returned to the pool, so an outage leaves no broken client behind.
 *
 * @internal
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    failed = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(failed);
  }
}
