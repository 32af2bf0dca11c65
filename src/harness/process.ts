/**
 * Supervised child processes for the control plane.
 *
 * Every binary runs under a tiny bash watchdog, in its own session and
 * process group, with a "lifeline": an extra pipe (fd 3) whose other end only
 * this Node process holds. When that end closes, because {@link Supervised.stop}
 * closed it or because this process died (even by SIGKILL: the kernel closes
 * its descriptors), the watchdog sends SIGTERM to the whole group (the binary
 * and anything it started, such as commands run by `kubectl exec` through
 * kwok), waits briefly, then sends SIGKILL. So a crashed test run leaves no
 * control plane behind holding ports.
 *
 * @internal
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';

/** How long the watchdog waits after SIGTERM before it SIGKILLs the group. */
const GRACE_SECONDS = 5;

// $1: grace period in seconds; $2…: the command. fd 3: the lifeline.
const WATCHDOG = `
grace=$1; shift
"$@" 3<&- &
child=$!
(
  trap '' TERM
  # Returns at EOF: the parent closed its end of the lifeline, or died.
  while read -r -u 3 _; do :; done
  kill -TERM 0 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$child" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL 0 2>/dev/null
) &
reader=$!
exec 3<&-
# Outlive the binary so that our exit means its exit; the reader ends the group.
trap '' TERM
wait "$child"
status=$?
kill -KILL "$reader" 2>/dev/null
exit "$status"
`;

/** How a supervised process ended. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running control-plane process. */
export interface Supervised {
  readonly name: string;
  /** Pid of the watchdog, which is also the process group id. */
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process (its watchdog) has exited. */
  readonly exited: Promise<ExitInfo>;
  /** The exit, once it happened. */
  exitInfo(): ExitInfo | undefined;
  /** Terminates the process group (SIGTERM, then SIGKILL) and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `command args…` under the watchdog, appending its stdout and stderr to `logFile`. */
export function startSupervised(
  name: string,
  command: string,
  args: readonly string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Supervised {
  const logFd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('bash', ['-c', WATCHDOG, `watchdog:${name}`, String(GRACE_SECONDS), command, ...args], {
      detached: true,
      stdio: ['ignore', logFd, logFd, 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    closeSync(logFd);
  }
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = child.pid;
  const lifeline = child.stdio[3] as Socket;
  lifeline.on('error', () => undefined);

  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { code, signal };
      lifeline.destroy();
      resolve(info);
    });
    child.once('error', () => {
      info = { code: null, signal: null };
      lifeline.destroy();
      resolve(info);
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (info) return;
      lifeline.destroy();
      const deadline = new Promise<'timeout'>((resolve) => {
        setTimeout(() => resolve('timeout'), (GRACE_SECONDS + 3) * 1000).unref();
      });
      if ((await Promise.race([exited, deadline])) === 'timeout') {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
        await exited;
      }
    })();
    return stopping;
  };

  return { name, pid, logFile: options.logFile, exited, exitInfo: () => info, stop };
}

/** The last `lines` lines of a log file, for error messages. */
export async function tailFile(path: string, lines = 30): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '(no log)';
  } finally {
    await handle?.close();
  }
}
