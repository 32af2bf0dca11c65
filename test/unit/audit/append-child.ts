/**
 * Run in a child process by the kill -9 test: appends events from 32
 * concurrent loops and prints `seq id` for each append that resolved, until
 * it is killed.
 */
import { createPrivateKey } from 'node:crypto';
import { createAuditSigner } from '../../../src/audit/checkpoint.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import type { StoreLocation } from '../../../src/store/open.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { sampleEvent } from './stores.js';

export async function appendUntilKilled(location: StoreLocation, signingKeyPem: string): Promise<void> {
  // Not openStore: it imports the PostgreSQL store when asked, and vite's runnerImport, which loaded this file, is closed by then.
  const store = 'postgres' in location ? await openPostgresStore(location.postgres, location.options) : openSqliteStore(location.sqlite);
  const writer = createAuditWriter(store.audit, { signer: createAuditSigner(createPrivateKey(signingKeyPem)), checkpointEvery: 100 });
  let i = 0;
  process.stdout.write('ready\n');
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (;;) {
        const event = sampleEvent(i++);
        const { seq } = await writer.append(event);
        process.stdout.write(`${seq} ${event.id}\n`);
      }
    }),
  );
}
