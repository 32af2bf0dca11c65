import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBodyMaskStream, createMasker, LAST_APPLIED_ANNOTATION, MASK_BASE64, MASK_TEXT, type Masker, type MaskingConfigInput } from '../../../src/masking/index.js';
import { JsonValueFramer, type Replacement } from '../../../src/masking/json-frame.js';
import { responsePartMasker } from '../../../src/masking/masker.js';
import { ReportBuilder } from '../../../src/masking/report.js';
import { drain, fake } from './fixtures.js';

/** Masks one list item through `PartMasker.listItem`, as the body stream frames it. */
function listItem(masker: Masker, listKind: string, item: string): { replacements: Replacement[] | undefined; report: ReturnType<ReportBuilder['build']> } {
  const framer = new JsonValueFramer(1 << 20, 'test');
  expect(framer.feed(Buffer.from(item), 0)).toBe(Buffer.byteLength(item));
  framer.take();
  const report = new ReportBuilder(64);
  const replacements = responsePartMasker(masker, report).listItem(listKind, 'items', 0, item, framer, 'response body');
  return { replacements, report: report.build() };
}

const masker = createMasker();
const secretItem = (metadata: object, data: object = { password: 'aHVudGVyMg==' }): string => JSON.stringify({ metadata, data, type: 'Opaque' });
const managed = { manager: 'kubectl', operation: 'Update', apiVersion: 'v1', time: '2026-11-26T13:26:06Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { '.': {}, 'f:password': {} } } };

describe('masking a list item from its text', () => {
  it('parses only the members a rule reaches when the rest holds nothing to mask', () => {
    const item = secretItem({ name: 's-1', namespace: 'shop', uid: '8355d09a-434c-44b8-b2cd-b38b98ac1733', labels: { app: 'web' }, managedFields: [managed] });
    const { replacements, report } = listItem(masker, 'SecretList', item);
    expect(replacements).toEqual([{ from: item.indexOf('"data"'), to: item.indexOf(',"type"'), text: `"data":{"password":"${MASK_BASE64}"}` }]);
    expect(report).toEqual({ masked: 1, paths: ['items[0].data.password'], detectors: ['secret-data'] });
    // Nothing to mask at all: no replacement.
    expect(listItem(masker, 'ConfigMapList', JSON.stringify({ metadata: { name: 'a' }, data: { LOG: 'x' } })).replacements).toEqual([]);
  });

  it('parses and masks a member holding a finding, a nested resource or the last-applied annotation', () => {
    const cases: [object, string][] = [
      [{ name: 's', labels: { a: fake.githubClassic } }, '<masked:github-token>'],
      [{ name: 's', managedFields: [{ ...managed, fieldsV1: { 'f:spec': { [`v:${fake.jwt}`]: {} } } }] }, '<masked:jwt>'],
      [{ name: 's', annotations: { [LAST_APPLIED_ANNOTATION]: 'not JSON' } }, MASK_TEXT],
      [{ name: 's', ownerReferences: [{ apiVersion: 'v1', kind: 'Secret', name: 'x', data: { a: 'eA==' } }] }, MASK_BASE64],
    ];
    for (const [metadata, mask] of cases) {
      const item = secretItem(metadata);
      const { replacements } = listItem(masker, 'SecretList', item);
      expect(replacements?.map((r) => item.slice(r.from, r.to).split('":')[0])).toEqual(['"metadata', '"data']);
      expect(replacements?.[0]?.text).toContain(mask);
    }
  });

  it('writes a member of strings each replaced whole from its keys, and walks any other shape of it', () => {
    const data = (json: string): string => {
      const item = `{"metadata":{"name":"s"},"data":${json}}`;
      const { replacements } = listItem(masker, 'SecretList', item);
      expect(replacements).toHaveLength(1);
      return replacements![0]!.text;
    };
    expect(data('{"username":"c2E=","password":"aHVudGVyMg==","url":"eA=="}')).toBe(`"data":{"username":"${MASK_BASE64}","password":"${MASK_BASE64}","url":"${MASK_BASE64}"}`);
    expect(listItem(masker, 'SecretList', '{"metadata":{},"data":{"a":"eA==","b":"eQ=="}}').report).toEqual({ masked: 2, paths: ['items[0].data.a', 'items[0].data.b'], detectors: ['secret-data'] });
    // As JSON.parse reads them: a key given twice is one member; a value that is not a string is no Secret value.
    expect(data('{"password":"eA==","password":"eQ=="}')).toBe(`"data":{"password":"${MASK_BASE64}"}`);
    expect(data('{"a":1,"b":"eA=="}')).toBe(`"data":{"a":1,"b":"${MASK_BASE64}"}`);
  });

  it('leaves to the whole-item walk what it does not read', () => {
    const whole = (listKind: string, item: string, m = masker): void => expect(listItem(m, listKind, item).replacements, `${listKind} ${item}`).toBeUndefined();
    whole('SecretList', secretItem({ name: 'with "quotes"' }));
    whole('SecretList', secretItem({ name: 'a\nb' }));
    whole('SecretList', secretItem({ name: 's' }).replace('{"metadata"', '{"kind":"ConfigMap","metadata"'));
    whole('SecretList', secretItem({ name: 's' }).replace('"type":"Opaque"', '"data":{"a":"eA=="}'));
    whole('SecretList', secretItem({ name: 's' }).replace('"type"', '"0"'));
    whole('SecretList', '{}');
    whole('List', JSON.stringify({ metadata: { name: 's' }, data: { a: 'eA==' } }));
    whole('SecretListList', JSON.stringify({ metadata: {}, items: [] }));
    // Rules of the list's own kind reach into its items.
    const listRule = createMasker({ rules: [{ kinds: ['SecretList'], paths: ['items[*].metadata.name'] }] });
    whole('SecretList', secretItem({ name: 's' }), listRule);
    // Nothing was reported for an item left to the walk.
    expect(listItem(masker, 'SecretList', secretItem({ name: 'with "quotes"' })).report.masked).toBe(0);
  });

  it('fails on a member it parses that is not JSON, naming no part of it', () => {
    const item = '{"metadata":{"name":"s"},"data":{"password":aHVudGVyMg}}';
    expect(() => listItem(masker, 'SecretList', item)).toThrow(/^masking the response body failed: not valid JSON$/);
    // A member no rule reaches that is not JSON is parsed too, and fails the same way.
    expect(() => listItem(masker, 'SecretList', '{"metadata":{"name":"s",},"data":{}}')).toThrow(/not valid JSON$/);
  });
});

/** Strings of every kind the masker treats apart: credentials, escapes, non-ASCII, masks. */
const text = fc.oneof(
  { weight: 30, arbitrary: fc.stringMatching(/^[a-z0-9:./ =-]{0,16}$/) },
  fc.constantFrom(fake.jwt, fake.githubClassic, fake.slack, fake.awsAccessKey, 'password=hunter2', 'postgres://app:hunter2@db/shop', `Bearer ${fake.gitlab}`, MASK_TEXT, 'a "quoted" word', 'back\\slash', 'line\nbreak', 'café', 'token'),
);
const dict = fc.dictionary(fc.oneof({ weight: 5, arbitrary: text }, fc.constantFrom('password', 'token', 'v:x', `v:${fake.jwt}`, 'k:{"name":"a"}')), text, { maxKeys: 3 });
const nestedResource = fc.record({ apiVersion: fc.constant('v1'), kind: fc.constantFrom('Secret', 'ConfigMap', 'Pod'), name: text, data: dict });
const lastApplied = fc.oneof(
  text,
  fc.record({ kind: fc.constantFrom('Secret', 'ConfigMap'), apiVersion: fc.constant('v1'), data: dict }).map((o) => `${JSON.stringify(o)}\n`),
);
const metadata = fc.record(
  {
    name: text,
    labels: dict,
    annotations: fc.oneof(dict, lastApplied.map((v) => ({ [LAST_APPLIED_ANNOTATION]: v }))),
    ownerReferences: fc.array(nestedResource, { maxLength: 1 }),
    managedFields: fc.array(fc.record({ manager: text, fieldsV1: fc.record({ 'f:data': dict, 'f:spec': dict }) }), { maxLength: 1 }),
  },
  { requiredKeys: ['name'] },
);
const container = fc.record({ name: text, env: fc.array(fc.record({ name: fc.oneof(text, fc.constantFrom('DB_PASSWORD', 'API_TOKEN')), value: text }), { maxLength: 2 }) });
const item = fc.record(
  {
    metadata,
    data: dict,
    stringData: dict,
    binaryData: dict,
    spec: fc.record({ containers: fc.array(container, { maxLength: 2 }), template: nestedResource }, { requiredKeys: [] }),
    status: fc.oneof(text, fc.integer(), fc.constant(null), fc.array(fc.boolean(), { maxLength: 2 })),
  },
  { requiredKeys: ['metadata'] },
);
/** Now and then an item with a `kind` of its own, or an integer-like key. */
const listItemValue = fc.tuple(item, fc.nat(9), text).map(([i, n, t]) => (n === 0 ? { ...i, kind: 'ConfigMap' } : n === 1 ? { '7': t, ...i } : i));

const configs: MaskingConfigInput[] = [
  {},
  { detectors: [] },
  { defaultRules: false, rules: [{ kinds: ['Secret'], paths: ['metadata.annotations.*'], keyPattern: '(?i)note' }, { paths: ['spec.*'] }] },
  { rules: [{ kinds: ['SecretList'], paths: ['items[*].metadata.name'] }, { kinds: ['ConfigMap'], paths: ['metadata.labels.*'] }, { paths: ['status'] }] },
];

describe('masking list items as they stream', () => {
  it('gives the same result and report as maskValue on the whole body, whichever way each item goes', async () => {
    const maskers = configs.map((config) => createMasker(config));
    let read = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('SecretList', 'ConfigMapList', 'PodList', 'List'), fc.array(listItemValue, { maxLength: 4 }), fc.nat({ max: maskers.length - 1 }), async (kind, items, which) => {
        const m = maskers[which]!;
        const body = JSON.stringify({ kind, apiVersion: 'v1', metadata: { resourceVersion: '5' }, items });
        const stream = createBodyMaskStream(m);
        const out = await drain([Buffer.from(body)], stream);
        const whole = m.maskValue(JSON.parse(body));
        expect(JSON.parse(out.toString())).toEqual(whole.value);
        expect(stream.report()).toEqual(whole.report);
        if (whole.report.masked === 0) expect(out.toString()).toBe(body);
        for (const i of items) if (kind !== 'List' && listItem(m, kind, JSON.stringify(i)).replacements !== undefined) read++;
      }),
      { numRuns: 1500 },
    );
    // Most items are read from their text (the others have an escape, a `kind` or an integer-like key).
    expect(read).toBeGreaterThan(500);
  });
});
