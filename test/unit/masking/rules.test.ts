import { describe, expect, it } from 'vitest';
import { createMasker, LAST_APPLIED_ANNOTATION, MASK_BASE64, MASK_TEXT, maskingConfigSchema } from '../../../src/masking/index.js';
import { parseRulePath, RulePathError } from '../../../src/masking/rule-path.js';
import { arr, at, fake, fixture, leaks, str } from './fixtures.js';

const masker = createMasker();
const maskObj = (value: unknown) => masker.maskValue(value);
/** A container's env as name → value (or valueFrom). */
const env = (container: unknown): Record<string, unknown> =>
  Object.fromEntries(arr(container, 'env').map((e): [string, unknown] => [str(e, 'name'), at(e, 'value') ?? at(e, 'valueFrom')]));

describe('rule paths', () => {
  it.each([
    ['data.*', ['key:data', 'anyKey']],
    ['data["tls.key"]', ['key:data', 'key:tls.key']],
    ['["a.b"].c', ['key:a.b', 'key:c']],
    ['spec.containers[*].env[?name=~(?i)pass|tok].value', ['key:spec', 'key:containers', 'each', 'key:env', 'filter:name', 'key:value']],
    ['spec.rules[?name=~^[a-z]+$].value', ['key:spec', 'key:rules', 'filter:name', 'key:value']],
    ['items[?type=basic].password', ['key:items', 'filter:type', 'key:password']],
  ])('%s', (path, steps) => {
    const parsed = parseRulePath(path).map((s) => (s.type === 'key' ? `key:${s.name}` : s.type === 'filter' ? `filter:${s.field}` : s.type));
    expect(parsed).toEqual(steps);
  });

  it('filters test RE2 patterns anywhere in the value, and literals exactly', () => {
    const steps = parseRulePath('a[?name=~(?i)token].v');
    const filter = steps[1]!;
    expect(filter.type === 'filter' && filter.test('GITHUB_TOKEN')).toBe(true);
    const literal = parseRulePath('a[?type=basic].v')[1]!;
    expect(literal.type === 'filter' && [literal.test('basic'), literal.test('basic2')]).toEqual([true, false]);
  });

  it.each(['', '.data', 'data.', 'data..x', 'data[*]', 'data[?name=~x]', 'data[x]', 'data[?=x].v', 'data[?name~x].v', 'data[?name=~(].v', 'da*ta', 'data[*]x', 'data]', 'data["x].v'])(
    'rejects %j',
    (path) => {
      expect(() => parseRulePath(path)).toThrow(RulePathError);
    },
  );
});

describe('config', () => {
  it('defaults are the secure ones', () => {
    expect(maskingConfigSchema.parse({})).toEqual({
      secrets: true,
      defaultRules: true,
      rules: [],
      detectors: expect.arrayContaining(['jwt', 'private-key', 'assignment']) as unknown,
      maxReportPaths: 64,
      // Sessions policy marks `mask` (the guardrails mark an agent's) are masked; off, they would be refused.
      sessions: { enabled: true, holdMs: 50 },
    });
  });

  it('rejects bad rules and unknown settings with a pointed message', () => {
    const bad = (config: unknown): string => {
      const r = maskingConfigSchema.safeParse(config);
      return r.success ? 'accepted' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    expect(bad({ rules: [{ paths: ['data['] }] })).toMatch(/^rules\.0\.paths\.0: rule path "data\["/);
    expect(bad({ rules: [{ paths: ['data.*'], keyPattern: '(' }] })).toMatch(/^rules\.0\.keyPattern: invalid pattern/);
    expect(bad({ rules: [{ paths: [] }] })).toMatch(/^rules\.0\.paths/);
    expect(bad({ rules: [{ paths: ['a'], extra: 1 }] })).toMatch(/extra/);
    expect(bad({ detectors: ['nope'] })).toMatch(/^detectors\.0/);
    expect(bad({ mask: true })).toMatch(/mask/);
    expect(() => createMasker({ rules: [{ paths: ['x[?a=~(]'] }] })).toThrow();
  });
});

describe('default rules on real objects', () => {
  it('ConfigMap: secret-looking keys masked (binaryData stays base64), other values scanned by the detectors', () => {
    const { value, report } = maskObj(fixture('configmap.json'));
    expect(at(value, 'data')).toEqual({
      DB_PASSWORD: MASK_TEXT,
      LOG_LEVEL: 'info',
      'api-key': MASK_TEXT,
      'app.properties': 'spring.datasource.url=jdbc:postgresql://db:5432/shop\nspring.datasource.password=<masked:assignment>\nfeature.flags=a,b\n',
    });
    expect(at(value, 'binaryData')).toEqual({ 'tls.key': MASK_BASE64 });
    expect(leaks(value)).toEqual([]);
    expect(report.detectors).toEqual(expect.arrayContaining(['configmap-keys', 'configmap-binary-keys', 'assignment']));
  });

  it('Deployment: env values named like secrets masked in the template, valueFrom kept, args and URLs scanned; last-applied too', () => {
    const { value } = maskObj(fixture('deployment.json'));
    const spec = at(value, 'spec', 'template', 'spec');
    expect(env(at(spec, 'containers', 0))).toEqual({
      DB_PASSWORD: MASK_TEXT,
      LOG_LEVEL: 'info',
      STRIPE_API_KEY: MASK_TEXT,
      FROM_SECRET: { secretKeyRef: { name: 'db-creds', key: 'password' } },
    });
    expect(at(spec, 'containers', 0, 'args')).toEqual(['--token=<masked:github-token>', '--verbose']);
    expect(env(at(spec, 'initContainers', 0))).toEqual({ DATABASE_URL: 'postgres://app:<masked:connection-string>@db:5432/shop' });
    const applied: unknown = JSON.parse(str(value, 'metadata', 'annotations', LAST_APPLIED_ANNOTATION));
    expect(env(at(applied, 'spec', 'template', 'spec', 'containers', 0)).DB_PASSWORD).toBe(MASK_TEXT);
    expect(leaks(value)).toEqual([]);
  });

  it('CronJob: the job template pod spec too', () => {
    const { value } = maskObj(fixture('cronjob.json'));
    expect(env(at(value, 'spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers', 0))).toEqual({ AWS_SECRET_ACCESS_KEY: MASK_TEXT, BUCKET: 'backups' });
    expect(leaks(value)).toEqual([]);
  });

  it('PodList: pods (items without kind) have their env masked', () => {
    const { value, report } = maskObj(fixture('pod-list.json'));
    expect(env(at(value, 'items', 0, 'spec', 'containers', 0)).DB_PASSWORD).toBe(MASK_TEXT);
    expect(leaks(value)).toEqual([]);
    expect(report.paths).toContain('items[0].spec.containers[0].env[0].value');
  });
});

describe('configured rules', () => {
  const widget = {
    kind: 'Widget',
    apiVersion: 'example.com/v1',
    metadata: { name: 'w' },
    spec: { auth: [{ type: 'basic', password: 'p1' }, { type: 'none', password: 'p2' }], webhook: { secret: 's', url: 'u' } },
  };

  it('apply to their kinds only, selecting with filters and quoted keys', () => {
    const custom = createMasker({ rules: [{ name: 'widget', kinds: ['Widget'], paths: ['spec.auth[?type=basic].password', 'spec["webhook"].secret'] }] });
    const { value, report } = custom.maskValue(widget);
    expect(at(value, 'spec')).toEqual({ auth: [{ type: 'basic', password: MASK_TEXT }, { type: 'none', password: 'p2' }], webhook: { secret: MASK_TEXT, url: 'u' } });
    expect(report).toMatchObject({ paths: ['spec.auth[0].password', 'spec.webhook.secret'], detectors: ['widget'] });
    expect(custom.maskValue({ ...widget, kind: 'Gadget' }).value).toEqual({ ...widget, kind: 'Gadget' });
  });

  it('a rule without kinds applies to every object; keyPattern filters the last key', () => {
    const custom = createMasker({ defaultRules: false, rules: [{ paths: ['spec.webhook.*'], keyPattern: '^sec' }] });
    expect(at(custom.maskValue(widget).value, 'spec', 'webhook')).toEqual({ secret: MASK_TEXT, url: 'u' });
  });

  it('secrets: false and defaultRules: false turn the built-in rules off', () => {
    const off = createMasker({ secrets: false, defaultRules: false, detectors: [] });
    for (const name of ['secret.json', 'configmap.json', 'deployment.json']) {
      const input = fixture(name);
      expect(off.maskValue(input).value).toBe(input);
    }
  });

  it('only string values are replaced', () => {
    const custom = createMasker({ rules: [{ paths: ['spec.*'] }] });
    const input = { kind: 'X', apiVersion: 'v1', spec: { n: 1, b: true, z: null, o: { a: 'x' }, s: 'y' } };
    expect(at(custom.maskValue(input).value, 'spec')).toEqual({ n: 1, b: true, z: null, o: { a: 'x' }, s: MASK_TEXT });
  });

  it('masks of a rule are never rescanned by the detectors (no double masking)', () => {
    const { value } = maskObj({ kind: 'ConfigMap', apiVersion: 'v1', data: { token: `password=${fake.password}` } });
    expect(at(value, 'data', 'token')).toBe(MASK_TEXT);
  });
});
