import { describe, expect, it } from 'vitest';
import { createLineMasker, createLineMaskStream, createMasker, type LineMaskOptions, type MaskReport } from '../../../src/masking/index.js';
import { drain, fake, pem, sizedMask } from './fixtures.js';

const masker = createMasker();

/** Feeds `chunks` to a fresh line masker; returns everything it emitted and its report. */
function feed(chunks: (string | Buffer)[], options?: LineMaskOptions): { out: string; report: MaskReport } {
  const lines = createLineMasker(masker, options);
  const out = [...chunks.map((c) => lines.write(Buffer.from(c))), lines.end()];
  return { out: Buffer.concat(out).toString(), report: lines.report() };
}

/** True when any 8 consecutive characters of `secret` appear in `text`. */
function leaksPart(text: string, secret: string): boolean {
  for (let i = 0; i + 8 <= secret.length; i++) if (text.includes(secret.slice(i, i + 8))) return true;
  return false;
}

describe('log lines', () => {
  const log = [
    '2024-05-01T10:00:00Z starting',
    `2024-05-01T10:00:01Z cloning with ${fake.githubClassic}`,
    `2024-05-01T10:00:02Z auth header Authorization: Bearer ${fake.jwt}`,
    '2024-05-01T10:00:03Z connect postgres://app:hunter2@db:5432/shop',
    'done',
    '',
  ].join('\n');

  it('masks each line, keeps the others byte for byte, reports line numbers', () => {
    const { out, report } = feed([log]);
    expect(out).toBe(
      [
        '2024-05-01T10:00:00Z starting',
        '2024-05-01T10:00:01Z cloning with <masked:github-token>',
        '2024-05-01T10:00:02Z auth header Authorization: Bearer <masked:jwt>',
        '2024-05-01T10:00:03Z connect postgres://app:<masked:connection-string>@db:5432/shop',
        'done',
        '',
      ].join('\n'),
    );
    expect(report).toEqual({ masked: 3, paths: ['line 2', 'line 3', 'line 4'], detectors: ['github-token', 'jwt', 'connection-string'] });
  });

  it('a token split across two chunks at any byte is still masked (every boundary)', () => {
    const whole = feed([log]).out;
    const bytes = Buffer.from(log);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { out } = feed([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(out, `split at ${cut}`).toBe(whole);
    }
    expect(feed(Array.from(bytes, (b) => Buffer.from([b]))).out).toBe(whole);
  });

  it('keeps CRLF, invalid UTF-8 and a last line without newline', () => {
    const raw = Buffer.concat([Buffer.from('a\r\nbad \xff\xfe bytes\r\n', 'latin1'), Buffer.from(`tail token=${fake.gitlab}`)]);
    const lines = createLineMasker(masker);
    const out = Buffer.concat([lines.write(raw), lines.end()]);
    expect(out.subarray(0, 20).equals(raw.subarray(0, 20))).toBe(true);
    expect(out.toString().endsWith('tail token=<masked:gitlab-token>')).toBe(true);
  });

  it('a private key printed over several lines is masked line by line up to its END line', () => {
    const text = `before\nkey: ${pem()}\nafter ${fake.githubClassic}\n`;
    const { out, report } = feed([text]);
    const keyLines = pem().split('\n').length;
    expect(out).toBe(`before\nkey: <masked:private-key>\n${'<masked:private-key>\n'.repeat(keyLines - 1)}after <masked:github-token>\n`);
    expect(leaksPart(out, fake.pemBody.replaceAll('\n', ''))).toBe(false);
    expect(report.detectors).toEqual(['private-key', 'github-token']);
  });

  it('text after the END on the same line is still scanned; a lost END stops masking after 256 lines', () => {
    expect(feed([`-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- password=x1\n`]).out).toBe(
      '<masked:private-key>\n<masked:private-key>\n<masked:private-key> password=<masked:assignment>\n',
    );
    const lost = feed([`-----BEGIN PRIVATE KEY-----\n${'line\n'.repeat(300)}`]).out.split('\n');
    expect(lost.filter((l) => l === '<masked:private-key>')).toHaveLength(257);
    expect(lost.filter((l) => l === 'line')).toHaveLength(44);
  });
});

describe('long lines (bounded memory)', () => {
  const max = 4096;

  it('rejects a maxLineBytes below 4 KiB', () => {
    expect(() => createLineMasker(masker, { maxLineBytes: 100 })).toThrow(RangeError);
  });

  it('are masked in pieces cut at a safe byte; an assignment split at the cut still masks its value', () => {
    // The blank after `password:` is the last cut byte within the first 4096 bytes.
    const head = 'word '.repeat(1000);
    const filler = head.slice(0, max - 'password: '.length - 1) + 'x';
    const line = `${filler}password: hunter2secret and more\n`;
    expect(Buffer.byteLength(filler) + 'password: '.length).toBe(max);
    for (const chunks of [[line], [line.slice(0, 3000), line.slice(3000)], Array.from(line)]) {
      const { out, report } = feed(chunks, { maxLineBytes: max });
      expect(out).toBe(`${filler}password: <masked:assignment> and more\n`);
      expect(report.paths).toEqual(['line 1']);
    }
  });

  it('a run of maxLineBytes with no cut byte is never forwarded: <masked:long-run>, then the line goes on', () => {
    const run = 'A'.repeat(3 * max);
    const chunks = [`start ${run.slice(0, 5000)}`, run.slice(5000), ` end ${fake.githubClassic}\nnext\n`];
    const { out, report } = feed(chunks, { maxLineBytes: max });
    expect(out).toBe(`start <masked:long-run> end <masked:github-token>\nnext\n`);
    expect(report.detectors).toEqual(['long-run', 'github-token']);
  });

  it('holds at most about maxLineBytes of an unfinished line', () => {
    const lines = createLineMasker(masker, { maxLineBytes: max });
    let emitted = 0;
    for (let i = 0; i < 100; i++) emitted += lines.write(Buffer.from('abc def '.repeat(128))).length;
    expect(100 * 1024 - emitted).toBeLessThanOrEqual(max);
  });
});

describe('interactive output (exec/attach)', () => {
  it('flush() releases an unfinished line up to its last cut byte, never half a token', () => {
    const lines = createLineMasker(masker);
    expect(lines.write(Buffer.from(`$ echo ${fake.githubClassic.slice(0, 10)}`)).length).toBe(0);
    expect(lines.flush().toString()).toBe('$ echo ');
    expect(lines.flush().length).toBe(0);
    expect(lines.write(Buffer.from(`${fake.githubClassic.slice(10)}\n`)).toString()).toBe('<masked:github-token>\n');
  });

  it('release() lets go of everything held, keeping the line open as context', () => {
    const lines = createLineMasker(masker);
    lines.write(Buffer.from('name?'));
    expect(lines.held).toBe(5);
    expect(lines.release().toString()).toBe('name?');
    expect(lines.held).toBe(0);
    expect(lines.release().length).toBe(0);
    lines.write(Buffer.from(' token='));
    expect(lines.release().toString()).toBe(' token=');
    expect(lines.write(Buffer.from('s3cr3t-value\n')).toString()).toBe('<masked:assignment>\n');
    expect(lines.report()).toMatchObject({ masked: 1, paths: ['line 1'] });
  });
});

describe('keepLength (exec and attach output: a kubectl cp tar stream keeps its file sizes)', () => {
  // Text and findings in order; the findings' bytes are the only ones that change.
  const parts: (Buffer | { detector: string; finding: string })[] = [
    Buffer.from('héllo ✓ '),
    { detector: 'github-token', finding: fake.githubClassic },
    Buffer.from(' naïve\n'),
    Buffer.from([0xff, 0xfe, 0x00, 0x20, 0xc3]), // not UTF-8: a binary file's bytes
    { detector: 'jwt', finding: fake.jwt },
    Buffer.from(' \x80\npassword='),
    { detector: 'assignment', finding: fake.password },
    Buffer.from('\n'),
  ];
  const input = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p.finding))));
  const expected = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(sizedMask(p.detector, p.finding)))));

  it('overwrites each finding with a mask of its byte length and keeps every other byte, however the input is split', () => {
    for (let at = 0; at <= input.length; at++) {
      const lines = createLineMasker(masker, { keepLength: true });
      const out = Buffer.concat([lines.write(input.subarray(0, at)), lines.write(input.subarray(at)), lines.end()]);
      expect(out.equals(expected), `split at ${at}: ${out.toString('latin1')}`).toBe(true);
    }
    expect(feed([input], { keepLength: true }).report.detectors).toEqual(['github-token', 'jwt', 'assignment']);
  });

  it('keeps the length of a private key block, line by line, and of a run with no cut byte', () => {
    const key = pem();
    const { out } = feed([`key: ${key}\nafter\n`], { keepLength: true });
    const [begin, ...rest] = key.split('\n');
    expect(out).toBe(`key: ${[sizedMask('private-key', begin!), ...rest.map((l) => sizedMask('private-key', l))].join('\n')}\nafter\n`);

    const max = 4096;
    const run = 'A'.repeat(3 * max);
    const chunks = [`start ${run.slice(0, 5000)}`, run.slice(5000), ' end\n'];
    const long = feed(chunks, { keepLength: true, maxLineBytes: max });
    expect(long.out).toBe(`start ${sizedMask('long-run', run)} end\n`);
    expect(long.report.detectors).toEqual(['long-run']);
  });
});

describe('the Transform', () => {
  it('masks a piped log stream and emits its report at the end', async () => {
    const stream = createLineMaskStream(masker);
    let reported: MaskReport | undefined;
    stream.on('report', (r: MaskReport) => (reported = r));
    const text = `a ${fake.slack}\nb password=x\n`;
    const out = await drain([text.slice(0, 7), text.slice(7, 30), text.slice(30)].map((s) => Buffer.from(s)), stream);
    expect(out.toString()).toBe('a <masked:slack-token>\nb password=<masked:assignment>\n');
    expect(reported).toEqual(stream.report());
    expect(reported?.masked).toBe(2);
  });
});
