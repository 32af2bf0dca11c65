/**
 * Runs the real `kubectl` against a cluster, for tests and demos.
 */
import { spawn } from 'node:child_process';

/** The outcome of one kubectl run. */
export interface KubectlResult {
  /** Exit code (null if killed by a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link kubectl}. */
export interface KubectlOptions {
  /** Kubeconfig to use (`--kubeconfig`). */
  kubeconfig: string;
  /** Written to kubectl's stdin, which is then closed. Default: no stdin. */
  input?: string;
  /** Kill kubectl after this long. Default 60 s. */
  timeoutMs?: number;
  /** The kubectl binary. Default `$KUBECTL` or `kubectl` on the PATH. */
  binary?: string;
}

/**
 * Runs `kubectl --kubeconfig <kubeconfig> <args…>` and collects its output.
 * Never rejects because of the exit code: assertions decide what is an error.
 *
 * @example
 * ```ts
 * import { kubectl } from '../harness/index.js';
 *
 * const { code, stdout } = await kubectl(['get', 'nodes', '-o', 'name'], { kubeconfig: cluster.adminKubeconfig });
 * // code === 0, stdout === 'node/kwok-node-0\n'
 * ```
 */
export function kubectl(args: readonly string[], options: KubectlOptions): Promise<KubectlResult> {
  const binary = options.binary ?? process.env['KUBECTL'] ?? 'kubectl';
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--kubeconfig', options.kubeconfig, ...args], {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs ?? 60_000} ms]`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
