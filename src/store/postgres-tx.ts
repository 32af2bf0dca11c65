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
  // pg-pool removes its own 'error' listener from a checked-out client: without
  // this one, the server going away mid-transaction (a restart) emits an
  // unhandled 'error' and kills the process. The pending query rejects anyway.
  const onError = (): void => {
    failed = true;
  };
  client.on('error', onError);
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
    // A failed client is destroyed, but its socket can still report the end after this (a second 'error'):
    // it keeps the listener. A healthy one goes back to the pool, which listens on idle clients itself.
    if (!failed) client.off('error', onError);
    client.release(failed);
  }
}
