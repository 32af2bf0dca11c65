import type { Command } from 'commander';
import { vi } from 'vitest';

export interface CliRun {
  stdout: string;
  stderr: string;
  error: Error | undefined;
  exitCode: number | string | undefined;
}

/** Runs a commander program in this process, as main() would, capturing what it writes and its exit code. */
export async function runCli(program: Command, args: string[]): Promise<CliRun> {
  const run: CliRun = { stdout: '', stderr: '', error: undefined, exitCode: undefined };
  const quiet = (command: Command): void => {
    command.exitOverride().configureOutput({ writeOut: (s) => void (run.stdout += s), writeErr: (s) => void (run.stderr += s) });
    command.commands.forEach(quiet);
  };
  quiet(program);
  const capture = (stream: NodeJS.WriteStream, key: 'stdout' | 'stderr') =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      run[key] += String(chunk);
      return true;
    });
  const out = capture(process.stdout, 'stdout');
  const err = capture(process.stderr, 'stderr');
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    run.error = e as Error;
  } finally {
    out.mockRestore();
    err.mockRestore();
    run.exitCode = process.exitCode;
    process.exitCode = undefined;
  }
  return run;
}
