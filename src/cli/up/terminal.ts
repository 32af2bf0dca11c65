/**
 * What `gatehouse up` and `gatehouse doctor` write for a person: progress
 * lines, [ok]/[fail] marks and a yes/no question, in colour only when the
 * stream is a terminal (and NO_COLOR is unset), so logs and pipes stay plain.
 *
 * @module
 */
import { createInterface } from 'node:readline/promises';

type Paint = (text: string) => string;

export interface Terminal {
  readonly tty: boolean;
  bold: Paint;
  green: Paint;
  yellow: Paint;
  red: Paint;
  dim: Paint;
  /** `gatehouse: <text>`, for steps and facts. */
  say(text: string): void;
  /** An indented line under the previous one. */
  detail(text: string): void;
  /** A slow step starting: `gatehouse: <text>…`; the returned function reports how long it took. */
  progress(text: string): (outcome?: string) => void;
  /** Asks a yes/no question on the terminal; anything but y/yes is no. */
  confirm(question: string): Promise<boolean>;
}

/**
 * A terminal over a writable stream (stderr by default: stdout stays for data, e.g. `doctor --json`).
 *
 * @example
 * const term = createTerminal();
 * const done = term.progress('starting the gateway');
 * done(); // "gatehouse: starting the gateway… done (1.2 s)"
 */
export function createTerminal(stream: NodeJS.WriteStream = process.stderr): Terminal {
  const tty = stream.isTTY === true && process.env.NO_COLOR === undefined;
  const sgr =
    (open: number, close: number): Paint =>
    (text) =>
      tty ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  const write = (line: string): void => void stream.write(`${line}\n`);
  return {
    tty,
    bold: sgr(1, 22),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    red: sgr(31, 39),
    dim: sgr(2, 22),
    say: (text) => write(`gatehouse: ${text}`),
    detail: (text) => write(`  ${text}`),
    progress(text) {
      const started = performance.now();
      write(`gatehouse: ${text}…`);
      return (outcome = 'done') => write(`  ${outcome} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    },
    async confirm(question) {
      const rl = createInterface({ input: process.stdin, output: stream });
      try {
        return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
  };
}

/** An error whose message is one line: what went wrong, then how to fix it. main() prints it and exits 1. */
export class FixableError extends Error {
  constructor(problem: string, fix: string) {
    super(`${problem} — fix: ${fix}`);
    this.name = 'FixableError';
  }
}
