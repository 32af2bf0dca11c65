import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  cwd?: string;
  /** Kill the command after this long (a safety net, never an assertion). */
  timeoutMs?: number;
}

/** Runs a command to completion and captures its output. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input);
  });
}

/**
 * kubectl before 1.34 starts reading an exec's WebSocket before it has made
 * its streams, so output that comes back at once can be dropped by kubectl
 * itself ("Unknown stream id 1, discarding message"; client-go v0.34 waits):
 * kubectl's race, not the gateway's. It may exit 0 without the output.
 */
export function lostToKubectlRace(r: RunResult): boolean {
  return r.stderr.includes('Unknown stream id');
}

/** Runs an exec again (up to twice more) while its output was lost to kubectl's own race; a fault that repeats still fails. */
export async function retryingKubectlRace(attempt: () => Promise<RunResult>): Promise<RunResult> {
  let r = await attempt();
  for (let i = 0; i < 2 && lostToKubectlRace(r); i++) r = await attempt();
  return r;
}

/** A kubectl bound to one kubeconfig (and optionally another kubectl binary). */
export function kubectlFor(kubeconfig: string, binary = 'kubectl') {
  const kubectl = (args: string[], options: RunOptions = {}): Promise<RunResult> =>
    run(binary, args, { ...options, env: { KUBECONFIG: kubeconfig, ...options.env } });
  /** Like kubectl(), but throws with the output when the command fails. */
  const ok = async (args: string[], options: RunOptions = {}): Promise<string> => {
    const r = await kubectl(args, options);
    if (r.code !== 0) throw new Error(`${binary} ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  };
  return Object.assign(kubectl, { ok, kubeconfig, binary });
}

export type Kubectl = ReturnType<typeof kubectlFor>;

/**
 * Path of an older kubectl minor version. The machine's kubectl package ships
 * them (kubectl.1.27 … kubectl.1.33) beside its own kubectl binary, which is
 * not always on the PATH itself.
 */
export function kubectlMinorBinary(version: string): string {
  const name = `kubectl.${version}`;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    const main = join(dir, 'kubectl');
    if (existsSync(join(dir, name))) return join(dir, name);
    if (existsSync(main)) {
      const beside = join(dirname(realpathSync(main)), name);
      if (existsSync(beside)) return beside;
    }
  }
  throw new Error(`${name} was not found on the PATH nor beside the kubectl binary`);
}
