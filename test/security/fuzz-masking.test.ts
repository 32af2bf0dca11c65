import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createBodyMaskStream, createMasker, createWatchMaskStream, LAST_APPLIED_ANNOTATION } from '../../src/masking/index.js';
import { fuzzParams } from './helpers/fuzz.js';
import { recordTally } from './helpers/tally.js';

// Property tests for the maskers: random JSON with a random secret planted
// where masking is promised (Secret data and stringData, the last-applied
// annotation, ConfigMap keys and env values named like credentials, and
// credentials the detectors know inside any string), wrapped as an object, a
// List, a Table with objects, or a watch event, with random noise around it.
// The output must never contain the planted value (raw or base64) and must
// keep the input's shape. Streams are fed in random chunks.
const masker = createMasker();
let attempts = 0;
let blocked = 0;
afterAll(() => recordTally('fuzz-masking', { attempts, blocked }));

const b64 = (s: string): string => Buffer.from(s).toString('base64');
/** A value long and odd enough not to occur by chance in the noise (and ≥ 20 chars: the bearer detector wants 16, docs/masking.md). */
const secretArb = fc.string({ unit: fc.constantFrom(...'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'.split('')), minLength: 17, maxLength: 40 }).map((s) => `Zq9${s}`);
const keyArb = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_-.0123456789'.split('')), minLength: 1, maxLength: 12 });
const credentialKeyArb = fc.tuple(keyArb, fc.constantFrom('password', 'token', 'SECRET', 'apiKey', 'credential', 'Password'), keyArb).map(([a, k, b]) => `${a}${k}${b}`);
/** Noise: any JSON object; merged next to the planted fields, never over them. */
const noiseArb = fc.dictionary(fc.constantFrom('x', 'extra', 'annotations', 'status', 'spec2', 'z'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 });

type Planted = { value: unknown; secret: string };

/** Where a secret may sit, each as a function of the secret. */
const objectArb: fc.Arbitrary<(s: string) => Record<string, unknown>> = fc.oneof(
  fc.tuple(keyArb, noiseArb, fc.boolean()).map(([k, noise, asStringData]) => (s: string) => ({
    ...noise,
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'n', annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify({ kind: 'Secret', data: { [k]: b64(s) } }) } },
    ...(asStringData ? { stringData: { [k]: s } } : { data: { [k]: b64(s), other: b64('x') } }),
  })),
  fc.tuple(credentialKeyArb, noiseArb).map(([k, noise]) => (s: string) => ({ ...noise, apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { [k]: s, plain: 'visible' } })),
  fc.tuple(credentialKeyArb, fc.constantFrom('spec', 'spec.template.spec', 'spec.jobTemplate.spec.template.spec'), fc.constantFrom('Pod', 'Deployment', 'CronJob', 'Job'), fc.constantFrom('containers', 'initContainers')).map(
    ([name, at, kind, list]) =>
      (s: string) => {
        const podSpec = { [list]: [{ name: 'c', image: 'i', env: [{ name: 'HOME', value: '/root' }, { name: name.toUpperCase(), value: s }] }] };
        let spec: Record<string, unknown> = podSpec;
        for (const step of at.split('.').slice(1).reverse()) spec = { [step]: spec };
        return { apiVersion: 'v1', kind, metadata: { name: 'p' }, spec };
      },
  ),
  // Credentials in any string: the detectors.
  fc.tuple(fc.constantFrom('x', 'description', 'note'), fc.constantFrom('postgres://app:%s@db:5432/shop', 'Authorization: Bearer %s', 'password=%s', 'export API_TOKEN=%s'), noiseArb).map(
    ([field, template, noise]) => (s: string) => ({ ...noise, apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', annotations: { [field]: template.replace('%s', s) } } }),
  ),
);

/** The object alone, in a List / typed list, in a Table with objects, or as a watch event. */
const wrappedArb: fc.Arbitrary<(s: string) => unknown> = fc.tuple(objectArb, fc.constantFrom('object', 'List', 'typedList', 'Table', 'watch'), fc.nat(3)).map(([make, wrap, position]) => (s: string) => {
  const o = make(s);
  const others = Array.from({ length: position }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `o${i}` }, data: { a: 'b' } }));
  switch (wrap) {
    case 'List':
      return { apiVersion: 'v1', kind: 'List', metadata: {}, items: [...others, o] };
    case 'typedList': {
      // The API server sends a typed list's items without kind and apiVersion; the masker reads those from their text.
      const bare: Record<string, unknown> = { ...o };
      delete bare['kind'];
      delete bare['apiVersion'];
      return { apiVersion: 'v1', kind: `${String(o['kind'])}List`, metadata: { resourceVersion: '1' }, items: [bare, { ...o, metadata: { name: 'second' } }] };
    }
    case 'Table':
      return {
        apiVersion: 'meta.k8s.io/v1',
        kind: 'Table',
        columnDefinitions: [{ name: 'Name', type: 'string' }],
        rows: [{ cells: ['n'], object: o }, ...others.map((x) => ({ cells: ['o'], object: x }))],
      };
    case 'watch':
      return { type: 'MODIFIED', object: o };
    default:
      return o;
  }
});

const plantedArb: fc.Arbitrary<Planted> = fc.tuple(wrappedArb, secretArb).map(([make, secret]) => ({ value: make(secret), secret }));

/** Type and structure without string contents: what masking may not change. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return typeof v;
}

function expectNoLeak(text: string, secret: string): void {
  attempts++;
  expect(text).not.toContain(secret);
  expect(text).not.toContain(b64(secret));
  blocked++;
}

async function drain(stream: NodeJS.ReadWriteStream, input: Buffer, cuts: number[]): Promise<string> {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, input.length]) {
    if (p > from) chunks.push(input.subarray(from, p));
    from = Math.max(from, p);
  }
  const out: Buffer[] = [];
  stream.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  Readable.from(chunks).pipe(stream);
  await done;
  return Buffer.concat(out).toString('utf8');
}

describe('maskers, property-based', () => {
  it('maskValue: never emits a planted value, keeps the shape', () => {
    fc.assert(
      fc.property(plantedArb, ({ value, secret }) => {
        const input = JSON.parse(JSON.stringify(value)) as unknown;
        const { value: out } = masker.maskValue(input);
        const text = JSON.stringify(out);
        expectNoLeak(text, secret);
        expect(shape(JSON.parse(text))).toEqual(shape(value));
        // The input is never modified.
        expect(input).toEqual(value);
      }),
      fuzzParams('maskValue', 400),
    );
  });

  it('the body stream, fed in random chunks: same guarantees as maskValue', async () => {
    await fc.assert(
      fc.asyncProperty(plantedArb, fc.array(fc.nat(), { maxLength: 8 }), async ({ value, secret }, cuts) => {
        const text = await drain(createBodyMaskStream(masker), Buffer.from(JSON.stringify(value)), cuts);
        expectNoLeak(text, secret);
        expect(shape(JSON.parse(text))).toEqual(shape(value));
      }),
      fuzzParams('body stream', 150),
    );
  });

  it('the watch stream, several events in random chunks: every event masked, one JSON document per line', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(plantedArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 8 }), async (events, cuts) => {
        const lines = events.map(({ value }) => JSON.stringify(value && typeof value === 'object' && 'type' in value ? value : { type: 'ADDED', object: value }));
        const text = await drain(createWatchMaskStream(masker), Buffer.from(lines.map((l) => `${l}\n`).join('')), cuts);
        for (const { secret } of events) expectNoLeak(text, secret);
        const out = text.split('\n').filter((l) => l !== '');
        expect(out.length).toBe(lines.length);
        out.forEach((l, i) => expect(shape(JSON.parse(l))).toEqual(shape(JSON.parse(lines[i]!))));
      }),
      fuzzParams('watch stream', 150),
    );
  });
});
