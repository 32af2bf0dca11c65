import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import { createMasker, LAST_APPLIED_ANNOTATION, MASK_BASE64, MASK_TEXT, MAX_DEPTH } from '../../../src/masking/index.js';
import { arr, at, fake, fixture, leaks, obj, str } from './fixtures.js';

const masker = createMasker();
const maskObj = (value: unknown) => masker.maskValue(value);
const lastApplied = (value: unknown): unknown => JSON.parse(str(value, 'metadata', 'annotations', LAST_APPLIED_ANNOTATION));

describe('Secret objects (by kind, whatever the URL)', () => {
  it('a Secret as GET returns it: data masked to valid base64, last-applied masked, the rest untouched', () => {
    const input = obj(fixture('secret.json'));
    const before = structuredClone(input);
    const { value, report } = maskObj(input);

    expect(input).toEqual(before); // never modified in place
    expect(Object.keys(obj(value, 'data'))).toEqual(['password', 'url', 'username']);
    for (const v of Object.values(obj(value, 'data'))) {
      expect(v).toBe(MASK_BASE64);
      expect(Buffer.from(v as string, 'base64').toString()).toBe(MASK_TEXT);
    }
    // kubectl wrote the annotation as compact JSON and a newline: still so, with data and stringData masked.
    const annotation = str(value, 'metadata', 'annotations', LAST_APPLIED_ANNOTATION);
    expect(annotation.endsWith('}\n')).toBe(true);
    expect(lastApplied(value)).toEqual({
      ...obj(lastApplied(input)),
      data: { password: MASK_BASE64 },
      stringData: { url: MASK_TEXT, username: MASK_TEXT },
    });
    // managedFields only list field names (f:data: {f:password: {}}): kept as they are.
    expect(at(value, 'metadata', 'managedFields')).toBe(at(input, 'metadata', 'managedFields'));
    expect({ ...obj(value), data: input.data, metadata: { ...obj(value, 'metadata'), annotations: at(input, 'metadata', 'annotations') } }).toEqual(input);

    expect(leaks(value)).toEqual([]);
    expect(report).toEqual({
      masked: 6,
      paths: [
        `metadata.annotations["${LAST_APPLIED_ANNOTATION}"].data.password`,
        `metadata.annotations["${LAST_APPLIED_ANNOTATION}"].stringData.url`,
        `metadata.annotations["${LAST_APPLIED_ANNOTATION}"].stringData.username`,
        'data.password',
        'data.url',
        'data.username',
      ],
      detectors: ['secret-data', 'secret-string-data'],
    });
  });

  it('a SecretList (items carry no kind: the list kind decides), service-account token included', () => {
    const input = fixture('secret-list.json');
    expect(at(input, 'items', 0, 'kind')).toBeUndefined();
    const { value, report } = maskObj(input);
    const index = arr(value, 'items').findIndex((s) => at(s, 'type') === 'kubernetes.io/service-account-token');
    expect(at(value, 'items', index, 'data')).toEqual({ 'ca.crt': MASK_BASE64, namespace: MASK_BASE64, token: MASK_BASE64 });
    expect(leaks(value)).toEqual([]);
    expect(report.masked).toBe(9);
    expect(report.paths).toContain(`items[${index}].data.token`);
    expect(at(value, 'metadata')).toBe(at(input, 'metadata'));
  });

  it('a Table of Secrets (kubectl get): cells hold name, type, count and age only; the row metadata leaks last-applied', () => {
    const input = fixture('secret-table.json');
    const { value, report } = maskObj(input);
    expect(arr(input, 'columnDefinitions').map((c) => at(c, 'name'))).toEqual(['Name', 'Type', 'Data', 'Age']);
    for (const [i, row] of arr(value, 'rows').entries()) {
      expect(at(row, 'cells')).toBe(at(input, 'rows', i, 'cells'));
      expect(at(row, 'object', 'kind')).toBe('PartialObjectMetadata');
    }
    // The PartialObjectMetadata says nothing of Secret, but the annotation does: masked as the Secret it records.
    expect(leaks(value)).toEqual([]);
    expect(leaks(input)).not.toEqual([]);
    expect(report.detectors).toEqual(['secret-data', 'secret-string-data']);
    const index = arr(input, 'rows').findIndex((r) => at(r, 'cells', 0) === 'db-creds');
    expect(report.paths[0]).toBe(`rows[${index}].object.metadata.annotations["${LAST_APPLIED_ANNOTATION}"].data.password`);
    expect(at(value, 'columnDefinitions')).toBe(at(input, 'columnDefinitions'));
  });

  it('a Table with includeObject=Object: the embedded Secrets are masked', () => {
    const { value } = maskObj(fixture('secret-table-object.json'));
    expect(at(value, 'rows', 0, 'object', 'kind')).toBe('Secret');
    for (const row of arr(value, 'rows')) for (const v of Object.values(obj(row, 'object', 'data'))) expect(v).toBe(MASK_BASE64);
    expect(leaks(value)).toEqual([]);
  });

  it('a generic List holding Secrets and other kinds', () => {
    const secret = obj(fixture('secret.json'));
    const list = { kind: 'List', apiVersion: 'v1', metadata: {}, items: [secret, fixture('status-notfound.json'), { ...secret, kind: 'ConfigMap' }] };
    const { value } = maskObj(list);
    expect(at(value, 'items', 0, 'data', 'password')).toBe(MASK_BASE64);
    expect(at(value, 'items', 1)).toBe(list.items[1]);
    // Not a Secret: its `data` is a ConfigMap's (default rules only mask secret-looking keys: password).
    expect(at(value, 'items', 2, 'data', 'url')).toBe(at(secret, 'data', 'url'));
  });

  it('a Secret being created (stringData) and a Secret echoed from a write', () => {
    const { value } = maskObj({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, stringData: { token: 'plain', empty: '' }, data: { k: '' } });
    expect(at(value, 'stringData')).toEqual({ token: MASK_TEXT, empty: MASK_TEXT });
    expect(at(value, 'data')).toEqual({ k: MASK_BASE64 });
  });

  it('a Secret whose last-applied annotation is not JSON has it replaced whole', () => {
    const { value, report } = maskObj({ kind: 'Secret', apiVersion: 'v1', metadata: { annotations: { [LAST_APPLIED_ANNOTATION]: 'data: {password: aHVudGVyMg==}' } } });
    expect(at(value, 'metadata', 'annotations', LAST_APPLIED_ANNOTATION)).toBe(MASK_TEXT);
    expect(report.detectors).toEqual(['last-applied-configuration']);
  });

  it('a data key named __proto__ is masked and stays an own key', () => {
    const input: unknown = JSON.parse('{"kind":"Secret","apiVersion":"v1","data":{"__proto__":"aHVudGVyMg=="}}');
    const { value } = maskObj(input);
    expect(JSON.stringify(value)).toBe(`{"kind":"Secret","apiVersion":"v1","data":{"__proto__":"${MASK_BASE64}"}}`);
    expect(Object.getPrototypeOf(obj(value, 'data'))).toBe(Object.prototype);
  });
});

describe('other shapes', () => {
  it('a Status passes through as the same reference', () => {
    const status = fixture('status-notfound.json');
    const { value, report } = masker.maskValue(status);
    expect(value).toBe(status);
    expect(report).toEqual({ masked: 0, paths: [], detectors: [] });
  });

  it('a Status whose message carries a credential has it masked', () => {
    const { value } = maskObj({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `webhook https://hook:opensesame@x.example failed`, code: 500 });
    expect(at(value, 'message')).toBe('webhook https://hook:<masked:url-credentials>@x.example failed');
  });

  it('a watch event object is masked by its own kind', () => {
    const event = { type: 'ADDED', object: fixture('secret.json') };
    const { value } = maskObj(event);
    expect(at(value, 'type')).toBe('ADDED');
    expect(at(value, 'object', 'data', 'password')).toBe(MASK_BASE64);
  });

  it('scalars and arrays at the top level', () => {
    expect(masker.maskValue(42).value).toBe(42);
    expect(masker.maskValue(null).value).toBe(null);
    expect(masker.maskValue(`Bearer ${fake.jwt}`).value).toBe('Bearer <masked:jwt>');
    expect(masker.maskValue(['ok', `k=${fake.githubClassic}`]).value).toEqual(['ok', 'k=<masked:github-token>']);
  });

  it('an object with nothing to mask comes back as the same reference (forward the original bytes)', () => {
    const pod = fixture('pod-list.json');
    const configMap = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x' }, data: { LOG_LEVEL: 'info' } };
    expect(masker.maskValue(configMap).value).toBe(configMap);
    expect(masker.maskValue(pod).value).not.toBe(pod);
  });
});

describe('managedFields', () => {
  it('keys that carry values (set members v:…, list-map keys k:{…}) are scanned; the report never names the key', () => {
    const token = fake.githubClassic;
    const input = {
      kind: 'Widget',
      apiVersion: 'example.com/v1',
      metadata: {
        name: 'w',
        managedFields: [
          {
            manager: 'kubectl',
            operation: 'Apply',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:spec': { 'f:tokens': { [`v:"${token}"`]: {}, 'v:"plain"': {} }, 'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:value': {} } } } },
          },
        ],
      },
      spec: { tokens: [token, 'plain'] },
    };
    const { value, report } = maskObj(input);
    const fields = ['metadata', 'managedFields', 0, 'fieldsV1', 'f:spec'];
    expect(Object.keys(obj(value, ...fields, 'f:tokens'))).toEqual(['v:"<masked:github-token>"', 'v:"plain"']);
    expect(at(value, ...fields, 'f:env')).toBe(at(input, ...fields, 'f:env'));
    expect(leaks(value, [token])).toEqual([]);
    expect(leaks(report, [token])).toEqual([]);
    expect(report.paths).toContain('metadata.managedFields[0].fieldsV1["f:spec"]["f:tokens"]');
  });
});

describe('pathological input', () => {
  it(`fails closed (GH_MASKING_FAILED) on nesting deeper than ${MAX_DEPTH} levels, instead of exhausting the stack`, () => {
    const nested = (depth: number): unknown => JSON.parse(`${'{"a":'.repeat(depth)}"password=x"${'}'.repeat(depth)}`);
    expect(masker.maskValue(nested(MAX_DEPTH)).report.masked).toBe(1);
    expect(() => masker.maskValue(nested(MAX_DEPTH + 1))).toThrow(expect.objectContaining({ code: 'GH_MASKING_FAILED' }));
    expect(() => masker.maskValue(nested(100_000))).toThrow(GatehouseError);
  });
});

describe('reports are capped', () => {
  it('paths stop at maxReportPaths; the count stays exact', () => {
    const small = createMasker({ maxReportPaths: 2 });
    const data = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'eA==']));
    const { report } = small.maskValue({ kind: 'Secret', apiVersion: 'v1', data });
    expect(report).toEqual({ masked: 10, paths: ['data.k0', 'data.k1'], detectors: ['secret-data'] });
  });
});
