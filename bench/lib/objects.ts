/**
 * Objects the benchmarks read: created straight on the API server with the
 * admin credential, in namespaces of their own that are deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from './targets.js';

/** Creates a fresh namespace; resolves to its name. */
export async function createNamespace(admin: Client, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await expectCreated(admin, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

export async function deleteNamespace(admin: Client, name: string): Promise<void> {
  await admin.request(`/api/v1/namespaces/${name}`, { method: 'DELETE' });
}

/** POSTs `count` objects made by `make(i)` to `collection`, `parallel` at a time. */
export async function createMany(admin: Client, collection: string, count: number, make: (i: number) => object, parallel = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await expectCreated(admin, collection, make(next++));
    }),
  );
}

export async function expectCreated(admin: Client, collection: string, object: object): Promise<void> {
  const res = await admin.request(collection, { method: 'POST', body: JSON.stringify(object) });
  if (res.status !== 201) throw new Error(`POST ${collection}: HTTP ${res.status} ${res.body.toString().slice(0, 300)}`);
}

/** A ConfigMap of about 1 KiB, like a small application setting. */
export function configMap(name: string, labels: Record<string, string> = {}): object {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data: { 'app.properties': `name=${name}\n${'x'.repeat(1000)}` } };
}

/** An Opaque Secret with three keys, as an application's credentials look. */
export function secret(name: string): object {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, labels: { app: 'bench' } },
    type: 'Opaque',
    data: { username: b64('service-user'), password: b64(randomBytes(18).toString('hex')), url: b64(`postgres://db.internal:5432/${name}`) },
  };
}

/** Polls until `check` holds (every 200 ms, up to `timeoutMs`). */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
