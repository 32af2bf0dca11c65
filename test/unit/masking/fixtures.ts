/**
 * Fixtures captured from a real kube-apiserver (v1.33, the e2e harness):
 * `fixtures/*.json` are responses as kubectl's requests get them (compact
 * JSON), `*.jsonl` raw watch streams. Values that look like credentials are
 * stored as placeholders (`__GITHUB_TOKEN__`…) and filled in here at run
 * time, from fake tokens built by concatenation, so no token-shaped string
 * lives in the repository for secret scanners to trip on.
 */
import { readFileSync } from 'node:fs';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const b64url = (s: string): string => Buffer.from(s).toString('base64url');
const alnum = (n: number, seed = 7): string => {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < n; i++) out += chars[(i * 31 + seed * 17 + ((i * i) % 13)) % chars.length];
  return out;
};

/** Fake credentials of every shape the detectors know. */
export const fake = {
  jwt: [b64url('{"alg":"RS256","kid":"k1"}'), b64url('{"sub":"system:serviceaccount:shop:builder","iss":"https://kubernetes.default.svc"}'), b64url('not-a-real-signature-0123456789')].join('.'),
  githubClassic: ['gh', 'p_', alnum(36, 1)].join(''),
  githubOauth: ['gh', 'o_', alnum(36, 2)].join(''),
  githubServer: ['gh', 's_', alnum(36, 3)].join(''),
  githubUser: ['gh', 'u_', alnum(36, 4)].join(''),
  githubFineGrained: ['github', '_pat_', alnum(22, 5), '_', alnum(59, 6)].join(''),
  gitlab: ['gl', 'pat-', alnum(20, 8)].join(''),
  slack: ['xo', 'xb-', '1234567890-', '0987654321-', alnum(24, 9)].join(''),
  awsAccessKey: ['AK', 'IA', 'IOSFODNN7EXAMPLE'].join(''),
  awsTempKey: ['AS', 'IA', 'Y3FZ7EXAMPLE2KEY'].join(''),
  awsSecretKey: ['wJalrXUtnFEMI', '/K7MDENG/bPxRfiCY', 'EXAMPLEKEY'].join(''),
  gatehouseToken: ['gh', 't_', b64url('thirty-two random bytes, honest!')].join(''),
  gatehouseBootstrap: ['gh', 'b_', b64url('thirty-two other bytes, honestly')].join(''),
  pemBody: `MIIEowIBAAKCAQEA${alnum(48, 10)}\n${alnum(64, 11)}\n${alnum(40, 12)}==`,
  password: 'hunter2-db',
};

/**
 * How exec and attach output shows `finding` (session output keeps its length): the detector's mask padded with `*`
 * to the finding's byte length, or only `*` when it is shorter than the mask.
 */
export function sizedMask(detector: string, finding: string): string {
  const mask = `<masked:${detector}>`;
  const length = Buffer.byteLength(finding);
  return mask.length <= length ? mask.padEnd(length, '*') : '*'.repeat(length);
}

/** A PEM private key block (`label` e.g. `RSA PRIVATE KEY`). */
export function pem(label = 'RSA PRIVATE KEY', newline = '\n'): string {
  return [`-----BEGIN ${label}-----`, ...fake.pemBody.split('\n'), `-----END ${label}-----`].join(newline);
}

const PLACEHOLDERS: Record<string, string> = {
  __GITHUB_TOKEN__: fake.githubClassic,
  __DB_PASSWORD__: fake.password,
  __AWS_SECRET__: fake.awsSecretKey,
  __SA_TOKEN_B64__: Buffer.from(fake.jwt).toString('base64'),
};

/** A fixture file's text with the placeholders filled in. */
export function fixtureText(name: string): string {
  let text = readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  for (const [placeholder, value] of Object.entries(PLACEHOLDERS)) text = text.replaceAll(placeholder, value);
  return text;
}

/** A JSON fixture, parsed. */
export function fixture(name: string): unknown {
  return JSON.parse(fixtureText(name));
}

/** Secrets that appear in the fixtures and must never survive masking (also base64-encoded). */
export const FIXTURE_SECRETS = ['hunter2', 'aHVudGVyMg', 's3cr3t', 'sk_test_placeholder', fake.githubClassic, fake.password, fake.awsSecretKey, fake.jwt, PLACEHOLDERS.__SA_TOKEN_B64__!];

/** The secrets among `secrets` found anywhere in `value` (serialised, so also inside nested JSON strings). */
export function leaks(value: unknown, secrets: readonly string[] = FIXTURE_SECRETS): string[] {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return secrets.filter((s) => text.includes(s));
}

type Path = (string | number)[];

/** Reads decoded JSON in assertions without `any`: `at(v, 'items', 0, 'data', 'password')`; undefined where the path does not exist. */
export function at(value: unknown, ...path: Path): unknown {
  let v = value;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined;
  return v;
}

function typed<T>(what: string, test: (v: unknown) => boolean): (value: unknown, ...path: Path) => T {
  return (value, ...path) => {
    const v = at(value, ...path);
    if (!test(v)) throw new TypeError(`not ${what} at ${path.join('.') || 'the top'}`);
    return v as T;
  };
}

/** {@link at}, checked to be an object. */
export const obj = typed<Record<string, unknown>>('an object', (v) => v !== null && typeof v === 'object' && !Array.isArray(v));
/** {@link at}, checked to be an array. */
export const arr = typed<unknown[]>('an array', Array.isArray);
/** {@link at}, checked to be a string. */
export const str = typed<string>('a string', (v) => typeof v === 'string');

/** Pipes `chunks` through `transform`; resolves with everything it emitted (rejects with its error). */
export async function drain(chunks: readonly Buffer[], transform: Transform): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    transform,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

/** `buf` in pieces of `size` bytes. */
export function chunked(buf: Buffer, size: number): Buffer[] {
  return Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size));
}
