/**
 * The security suite's summary: each test file appends its counts with
 * `recordTally` (test/security/helpers/tally.ts) to a file created here, and
 * the teardown prints the totals once every file has run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { Tally } from './helpers/tally.js';

declare module 'vitest' {
  export interface ProvidedContext {
    securityTallyFile: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-security-'));
  const file = join(dir, 'tally.jsonl');
  project.provide('securityTallyFile', file);
  return () => {
    let lines: (Tally & { file: string })[] = [];
    try {
      lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Tally & { file: string });
    } catch {
      // No file recorded anything.
    }
    rmSync(dir, { recursive: true, force: true });
    const sum = (k: keyof Tally): number => lines.reduce((n, l) => n + (l[k] ?? 0), 0);
    const files = [...new Set(lines.map((l) => l.file))];
    const lost = sum('eventsLost');
    process.stdout.write(
      `\n[security] summary (${files.length} files: ${files.join(', ')}):\n` +
        `  attempts made:   ${sum('attempts')}\n` +
        `  attempts blocked: ${sum('blocked')}\n` +
        `  faults survived: ${sum('faultsSurvived')}\n` +
        `  events lost:     ${lost}${lost === 0 ? '' : '  <-- must be 0'}\n`,
    );
  };
}
