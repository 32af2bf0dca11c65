import { describe, expect, it } from 'vitest';
import { createMasker, detectorNames, maskText, type DetectorName } from '../../../src/masking/index.js';
import { fake, pem } from './fixtures.js';

const masker = createMasker();
const mask = (text: string): string => maskText(masker, text).text;
const m = (name: DetectorName): string => `<masked:${name}>`;

/** [detector, input, expected output] */
const positives: [DetectorName, string, string][] = [
  ['jwt', `curl -H "X-Token: ${fake.jwt}" https://api`, `curl -H "X-Token: ${m('jwt')}" https://api`],
  ['jwt', `${fake.jwt}.${'eyJlbmMiOiJBMjU2R0NNIn0'}.tail`, m('jwt')],
  ['jwt', `alg none: ${fake.jwt.split('.').slice(0, 2).join('.')}. end`, `alg none: ${m('jwt')} end`],
  ['private-key', `key:\n${pem()}\nafter`, `key:\n${m('private-key')}\nafter`],
  ['private-key', `"${pem('PRIVATE KEY', '\\n')}"`, `"${m('private-key')}"`],
  ['private-key', `${pem('EC PRIVATE KEY')} ${pem('OPENSSH PRIVATE KEY')}`, `${m('private-key')} ${m('private-key')}`],
  ['private-key', `${pem('ENCRYPTED PRIVATE KEY')}`, m('private-key')],
  ['private-key', `cut: -----BEGIN RSA PRIVATE KEY-----\nMIIEow`, `cut: ${m('private-key')}`],
  ['gcp-private-key', `{"type":"service_account","private_key_id":"0123abcd","private_key": "${pem('PRIVATE KEY', '\\n')}\\n","client_email":"a@b.iam.gserviceaccount.com"}`,
    `{"type":"service_account","private_key_id":"0123abcd","private_key": "${m('gcp-private-key')}","client_email":"a@b.iam.gserviceaccount.com"}`],
  ['gcp-private-key', '{"private_key":"opaque\\"quoted\\" value"}', `{"private_key":"${m('gcp-private-key')}"}`],
  ['aws-access-key', `id=${fake.awsAccessKey},`, `id=${m('aws-access-key')},`],
  ['aws-access-key', `export AWS_ACCESS_KEY_ID=${fake.awsTempKey}`, `export AWS_ACCESS_KEY_ID=${m('aws-access-key')}`],
  ['aws-secret-key', `aws_secret_access_key = ${fake.awsSecretKey}`, `aws_secret_access_key = ${m('aws-secret-key')}`],
  ['aws-secret-key', `AWS_SECRET_ACCESS_KEY: "${fake.awsSecretKey}"`, `AWS_SECRET_ACCESS_KEY: "${m('aws-secret-key')}"`],
  ['aws-secret-key', `{"SecretAccessKey":"${fake.awsSecretKey}"}`, `{"SecretAccessKey":"${m('aws-secret-key')}"}`],
  ['github-token', `git clone https://x:${fake.githubClassic}@github.com/o/r`, `git clone https://x:${m('github-token')}@github.com/o/r`],
  ['github-token', `${fake.githubOauth} ${fake.githubServer} ${fake.githubUser}`, `${m('github-token')} ${m('github-token')} ${m('github-token')}`],
  ['github-token', `GH=${fake.githubFineGrained};`, `GH=${m('github-token')};`],
  ['gitlab-token', `PRIVATE-TOKEN: ${fake.gitlab}`, `PRIVATE-TOKEN: ${m('gitlab-token')}`],
  ['slack-token', `slack(${fake.slack})`, `slack(${m('slack-token')})`],
  ['gatehouse-token', `agent uses ${fake.gatehouseToken}`, `agent uses ${m('gatehouse-token')}`],
  ['gatehouse-token', `bootstrap ${fake.gatehouseBootstrap}.`, `bootstrap ${m('gatehouse-token')}.`],
  ['connection-string', 'DATABASE_URL=postgres://app:hunter2@db:5432/shop', `DATABASE_URL=postgres://app:${m('connection-string')}@db:5432/shop`],
  ['connection-string', 'mongodb+srv://u:p%40ss@cluster0.abcde.mongodb.net/db?retryWrites=true', `mongodb+srv://u:${m('connection-string')}@cluster0.abcde.mongodb.net/db?retryWrites=true`],
  ['connection-string', 'redis://:s3cret@redis:6379/0', `redis://:${m('connection-string')}@redis:6379/0`],
  ['connection-string', 'mysql://root:p@ss:word@mysql/db', `mysql://root:${m('connection-string')}@mysql/db`],
  ['connection-string', 'jdbc:postgresql://u:pw@h/db', `jdbc:postgresql://u:${m('connection-string')}@h/db`],
  ['url-credentials', 'GET https://admin:opensesame@internal.example.com/x', `GET https://admin:${m('url-credentials')}@internal.example.com/x`],
  ['authorization-header', 'Authorization: Bearer abcdEFGH1234ijklMNOP', `Authorization: Bearer ${m('authorization-header')}`],
  ['authorization-header', 'authorization: basic dXNlcjpwYXNzd29yZA==', `authorization: basic ${m('authorization-header')}`],
  ['assignment', 'password=hunter2 next', `password=${m('assignment')} next`],
  ['assignment', 'token: abc123', `token: ${m('assignment')}`],
  ['assignment', '{"client_secret":"xyz","id":1}', `{"client_secret":"${m('assignment')}","id":1}`],
  ['assignment', "DB_PASSWORD='two words'", `DB_PASSWORD='${m('assignment')}'`],
  ['assignment', 'run --password=hunter2 --v', `run --password=${m('assignment')} --v`],
  ['assignment', 'GET /cb?access_token=abc123&state=x', `GET /cb?access_token=${m('assignment')}&state=x`],
  ['assignment', 'spring.datasource.password=s3cr3t', `spring.datasource.password=${m('assignment')}`],
  ['assignment', 'password := "hunter2"', `password := "${m('assignment')}"`],
  ['assignment', 'Server=db;User Id=sa;Password=Pa55;', `Server=db;User Id=sa;Password=${m('assignment')};`],
  ['assignment', 'apiKey: 12345678', `apiKey: ${m('assignment')}`],
];

/** Text that looks close to a credential but is not one: left exactly as it is. */
const negatives: [string, string][] = [
  ['jwt', 'eyJhbGciOiJIUzI1NiJ9 without dots'],
  ['jwt', 'eyJhbGci.eyJzdWIi.short segments'],
  ['jwt', `base64 run ZZZ${fake.jwt.slice(0, 30)} no dots after`],
  ['private-key', '-----BEGIN CERTIFICATE-----\nMIIBkTCCATegAwIBAgIQ\n-----END CERTIFICATE-----'],
  ['private-key', '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n-----END PUBLIC KEY-----'],
  ['gcp-private-key', '{"private_key_id":"0123abcd"}'],
  ['aws-access-key', `AKIA${'A'.repeat(15)} is one short`],
  ['aws-access-key', `AKIA${'A'.repeat(17)} is one long`],
  ['aws-access-key', `XAKIA${'A'.repeat(16)} has a prefix`],
  ['aws-access-key', `AKIA${'a'.repeat(16)} is lower-case`],
  ['aws-secret-key', `aws_secret_access_key_file = /etc/aws/secret`],
  ['github-token', 'ghp_tooShort123'],
  ['github-token', `x${fake.githubClassic} is inside a word`],
  ['github-token', `ghx_${'a'.repeat(36)} unknown prefix`],
  ['gitlab-token', 'glpat-short'],
  ['slack-token', 'xoxz-1234567890-abcdef unknown type'],
  ['slack-token', 'xoxb-123'],
  ['gatehouse-token', 'ght_short and ghb_also-short'],
  ['connection-string', 'postgres://db:5432/shop'],
  ['connection-string', 'postgres://app@db:5432/shop'],
  ['connection-string', 'postgres://app:@db/shop'],
  ['url-credentials', 'https://example.com:8443/a:b@c'],
  ['url-credentials', 'mailto:someone@example.com'],
  ['authorization-header', 'we use bearer authentication here'],
  ['authorization-header', 'a basic setup, Basic aGVsbG8gd29ybGQ='],
  ['assignment', 'secretName: db-creds'],
  ['assignment', 'password: '],
  ['assignment', 'password=$DB_PASSWORD'],
  ['assignment', 'token: null, secret: false'],
  ['assignment', 'if password == other'],
  ['assignment', 'tokenTTL=3600 passwordFile=/etc/pw'],
  ['assignment', 'key: app, operator: In'],
  ['assignment', 'secret: |'],
  ['assignment', 'token: {"a":1}'],
  ['assignment', 'https://example.com/path'],
  ['short', 'pw=x'],
];

describe('detectors: true positives', () => {
  it.each(positives)('%s: %j', (detector, input, expected) => {
    const { text, report } = maskText(masker, input);
    expect(text).toBe(expected);
    expect(report.detectors).toContain(detector);
    expect(report.masked).toBeGreaterThan(0);
    expect(report.paths).toEqual([]);
  });

  it.each(positives)('%s: masking again changes nothing: %j', (_detector, input) => {
    const once = mask(input);
    expect(mask(once)).toBe(once);
  });

  it('every detector has a true positive above (pod-secret, values known in advance, in known-values.test.ts)', () => {
    expect(new Set(positives.map(([d]) => d))).toEqual(new Set(detectorNames.filter((d) => d !== 'pod-secret')));
  });
});

describe('detectors: near misses are left alone', () => {
  it.each(negatives)('%s: %j', (_detector, input) => {
    expect(maskText(masker, input)).toEqual({ text: input, report: { masked: 0, paths: [], detectors: [] } });
  });
});

describe('choosing detectors', () => {
  it('runs only the configured detectors', () => {
    const onlyJwt = createMasker({ detectors: ['jwt'] });
    expect(maskText(onlyJwt, `password=hunter2 ${fake.jwt}`).text).toBe(`password=hunter2 ${m('jwt')}`);
  });

  it('with no detectors, text is never changed', () => {
    const none = createMasker({ detectors: [] });
    expect(maskText(none, `password=hunter2 ${fake.jwt}`).text).toBe(`password=hunter2 ${fake.jwt}`);
  });

  it('overlapping findings become one mask named by the earliest, longest, most specific', () => {
    // `token: <jwt>` is both an assignment and a JWT.
    expect(mask(`token: ${fake.jwt}`)).toBe(`token: ${m('jwt')}`);
    // A PEM block inside a service-account key's private_key.
    expect(mask(`"private_key":"${pem('PRIVATE KEY', '\\n')}"`)).toBe(`"private_key":"${m('gcp-private-key')}"`);
  });
});
