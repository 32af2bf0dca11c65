import { describe, expect, it } from 'vitest';
import { createLineMasker, createMasker, createSessionOutputMasker, knownValuesOf, withKnownValues } from '../../../src/masking/index.js';
import { maskerForPod, podSecretRefs } from '../../../src/proxy/pod-secrets.js';
import type { Upstream } from '../../../src/upstream/client.js';
import { fake } from './fixtures.js';

const masker = createMasker();

/** Feeds `text` to a line masker of `m`; returns its output. */
function lines(m: ReturnType<typeof createMasker>, text: string): string {
  const l = createLineMasker(m);
  return Buffer.concat([l.write(Buffer.from(text)), l.end()]).toString();
}

describe('values known in advance (the Secrets a pod uses)', () => {
  it('looks for each value and each line of a multi-line one (output is masked line by line), long enough to mean something, longest first', () => {
    expect(knownValuesOf(['short', 'correct-horse-battery', 'line-one-of-it\nline-two-of-it\n', '12345678'])).toEqual([
      'correct-horse-battery',
      'line-one-of-it',
      'line-two-of-it',
      '12345678',
    ]);
  });

  it('masks a plain password the detectors cannot see, wherever it is printed, and reports pod-secret', () => {
    const known = withKnownValues(masker, ['correct-horse-battery', 'web']);
    const out = lines(known, 'connecting as web with correct-horse-battery\nretry: correct-horse-battery!\n');
    expect(out).toBe('connecting as web with <masked:pod-secret>\nretry: <masked:pod-secret>!\n');
    // Without the values, nothing there looks like a credential.
    expect(lines(masker, 'connecting as web with correct-horse-battery\n')).toBe('connecting as web with correct-horse-battery\n');
    // Detectors still run beside it.
    expect(lines(known, `token ${fake.githubClassic} and correct-horse-battery\n`)).toBe('token <masked:github-token> and <masked:pod-secret>\n');
  });

  it('keeps the output length in exec and attach output, and is off when pod-secret is not a configured detector', () => {
    const known = withKnownValues(masker, ['correct-horse-battery']);
    const session = createSessionOutputMasker(known);
    const frame = Buffer.from([0x82, 25, 1, ...Buffer.from('pw=correct-horse-battery')]);
    const out = Buffer.concat([session.write(frame), session.end()]);
    expect(out.subarray(3).toString()).toBe('pw=<masked:pod-secret>**');
    const without = createMasker({ detectors: ['jwt'] });
    expect(withKnownValues(without, ['correct-horse-battery'])).toBe(without);
  });

  it("finds the Secrets a pod spec reads (volumes, projected volumes, env, envFrom) and its literal credential env values", () => {
    const refs = podSecretRefs({
      volumes: [{ secret: { secretName: 'tls' } }, { projected: { sources: [{ secret: { name: 'bundle' } }, {}] } }, {}],
      containers: [
        {
          env: [
            { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db' } } },
            { name: 'API_TOKEN', value: 'literal-token-value' },
            { name: 'MODE', value: 'production-mode' },
          ],
          envFrom: [{ secretRef: { name: 'env-bag' } }],
        },
      ],
      initContainers: [{ env: [{ name: 'INIT', valueFrom: { secretKeyRef: { name: 'init' } } }] }],
    });
    expect([...refs.secrets].sort()).toEqual(['bundle', 'db', 'env-bag', 'init', 'tls']);
    expect(refs.literals).toEqual(['literal-token-value']);
  });

  it('refuses (fail closed) when the pod cannot be read, and reads nothing when pod-secret is off', async () => {
    let asked = 0;
    const down = {
      request: () => {
        asked++;
        return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6443'));
      },
      invalidateCredential: () => undefined,
    } as unknown as Upstream;
    await expect(maskerForPod(masker, down, 'shop', 'web-0')).rejects.toMatchObject({
      code: 'GH_MASKING_FAILED',
      message: 'the gateway could not read pod shop/web-0 to mask the values of its Secrets (connect ECONNREFUSED 127.0.0.1:6443), so the stream was refused. Retry shortly.',
    });
    expect(asked).toBe(1);
    const off = createMasker({ detectors: ['jwt'] });
    expect(await maskerForPod(off, down, 'shop', 'web-0')).toBe(off);
    expect(asked).toBe(1);
  });
});
