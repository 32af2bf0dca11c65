import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface LongRunning {
  child: ChildProcess;
  /** Resolves with the first output line (stdout or stderr) matching, failing after a generous safety timeout. */
  nextLine(match: RegExp, timeoutMs?: number): Promise<string>;
  lines(): string[];
  stop(): void;
}

/** Starts a command that keeps running (logs -f, get -w, port-forward) and follows its output line by line. */
export function startLongRunning(command: string, args: string[], env: NodeJS.ProcessEnv = {}): LongRunning {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let exited: string | undefined;
  child.once('close', (code, signal) => {
    exited = `exited (${code ?? signal})`;
    for (const wake of waiters) wake();
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const wake of waiters) wake();
    });
  }
  const nextLine = (match: RegExp, timeoutMs = 30_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find((line) => match.test(line));
        if (found !== undefined || exited !== undefined) {
          waiters.delete(check);
          clearTimeout(timer);
          if (found !== undefined) resolve(found);
          else reject(new Error(`${command} ${args.join(' ')} ${exited} before printing a line matching ${String(match)}; got:\n${lines.join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${command} ${args.join(' ')}: no line matching ${String(match)} within ${timeoutMs} ms; got:\n${lines.join('\n')}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { child, nextLine, lines: () => lines, stop: () => child.kill() };
}
