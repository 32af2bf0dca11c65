/**
 * Run in a child process by the kill -9 test: appends events from 32
 * concurrent loops and prints `seq id` for each append that resolved, until
 * it is killed.
 */
import { createPrivateKey } from 'node:crypto';
import { createAuditSigner } from '../../../src/audit/checkpoint.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { openStore } from '../../../src/store/open.js';
import type { StoreLocation } from '../../../src/store/open.js';
import { sampleEvent } from './stores.js';

export async function appendUntilKilled(location: StoreLocation, signingKeyPem: string): Promise<void> {
  const store = await openStore(location);
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
