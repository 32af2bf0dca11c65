/**
 * The exec tool: one non-interactive command in a container over the
 * Kubernetes WebSocket exec protocol (v5.channel.k8s.io) through the
 * gateway, so the session is authorized, masked and recorded like
 * `kubectl exec`. Output is bounded; the command is stopped after a timeout.
 *
 * @module
 */

import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { errorFromStatus } from '../gateway-client.js';
import { truncate } from '../result.js';
import { containerField, namespaceField, podField, reasonField } from './fields.js';
import { defineTool } from './tool.js';
import type { ToolContext } from './tool.js';

const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;

export interface ExecOutcome {
  stdout: string;
  stderr: string;
  /** The exit code; undefined when the command was stopped or the status did not say. */
  exitCode: number | undefined;
  /** Set when the API server or the command runner reported a failure other than a non-zero exit. */
  failure: string | undefined;
  timedOut: boolean;
}

interface ExecStatus {
  status?: string;
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/**
 * Reads the status frame (channel 3): success, a non-zero exit code, or another failure.
 *
 * @example
 * exitOf('{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"2"}]}}'); // { exitCode: 2, failure: undefined }
 */
export function exitOf(text: string): Pick<ExecOutcome, 'exitCode' | 'failure'> {
  let status: ExecStatus;
  try {
    status = JSON.parse(text) as ExecStatus;
  } catch {
    return { exitCode: undefined, failure: text };
  }
  if (status.status === 'Success') return { exitCode: 0, failure: undefined };
  const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  if (status.reason === 'NonZeroExitCode' && code !== undefined) return { exitCode: Number(code), failure: undefined };
  return { exitCode: undefined, failure: status.message ?? text };
}

export function execQuery(command: readonly string[], container: string | undefined): string {
  const params = new URLSearchParams();
  for (const arg of command) params.append('command', arg);
  if (container) params.set('container', container);
  params.set('stdout', 'true');
  params.set('stderr', 'true');
  return params.toString();
}

function runExec(ctx: ToolContext, path: string, timeoutMs: number): Promise<ExecOutcome> {
  return new Promise((resolve, reject) => {
    const ws = ctx.kube.websocket(path, ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    const out = { stdout: '', stderr: '' };
    let status: Pick<ExecOutcome, 'exitCode' | 'failure'> = { exitCode: undefined, failure: undefined };
    let timedOut = false;
    const cap = ctx.maxOutput + 1;
    const timer = setTimeout(() => {
      timedOut = true;
      ws.terminate();
    }, timeoutMs);
    const onAbort = (): void => ws.terminate();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const finish = (): void => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
    };
    ws.on('message', (data: Buffer) => {
      const channel = data[0];
      const text = data.subarray(1).toString('utf8');
      // Keep one character past the bound so truncate() knows to add its marker; drop the rest.
      if (channel === STDOUT && out.stdout.length < cap) out.stdout = (out.stdout + text).slice(0, cap);
      else if (channel === STDERR && out.stderr.length < cap) out.stderr = (out.stderr + text).slice(0, cap);
      else if (channel === STATUS) status = exitOf(text);
    });
    // The gateway refused the upgrade: its Status says why (policy, approval, not found).
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        finish();
        reject(errorFromStatus(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
      });
    });
    ws.on('error', (err) => {
      finish();
      reject(new Error(`exec failed: ${err.message}`));
    });
    ws.on('close', () => {
      finish();
      resolve({ ...out, ...status, timedOut });
    });
  });
}

/**
 * The result text: exit code, then stdout and stderr, each cut to the bound.
 *
 * @example
 * formatExec({ stdout: 'hi\n', stderr: '', exitCode: 0, failure: undefined, timedOut: false }, 1000); // 'exit code 0\n--- stdout\nhi\n'
 */
export function formatExec(o: ExecOutcome, max: number): string {
  const head = o.timedOut ? 'stopped: the command did not finish in time' : o.failure !== undefined ? `failed: ${o.failure}` : `exit code ${o.exitCode ?? 'unknown'}`;
  const parts = [head];
  if (o.stdout !== '') parts.push(`--- stdout\n${truncate(o.stdout, max)}`);
  if (o.stderr !== '') parts.push(`--- stderr\n${truncate(o.stderr, max)}`);
  return `${parts.join('\n')}${parts.length > 1 && !parts.at(-1)!.endsWith('\n') ? '\n' : ''}`;
}

export const execCommand = defineTool({
  name: 'exec',
  title: 'Run a command in a container',
  description:
    'Run one non-interactive command in a running container (like `kubectl exec <pod> -- <command…>`) and return its exit code, stdout and stderr. No shell is involved unless you call one, e.g. ["sh", "-c", "ls /tmp | wc -l"]. No stdin, no TTY; output is cut at a bound and the command is stopped after timeoutSeconds.',
  input: z
    .object({
      pod: podField,
      namespace: namespaceField,
      container: containerField,
      command: z.array(z.string()).min(1).max(100).describe('The program and its arguments, e.g. ["cat", "/etc/os-release"].'),
      timeoutSeconds: z.number().int().min(1).max(300).default(30).describe('Stop the command after this many seconds.'),
      reason: reasonField,
    })
    .strict(),
  write: true,
  annotations: { destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(args, ctx) {
    const path = `/api/v1/namespaces/${encodeURIComponent(ctx.namespace(args.namespace))}/pods/${encodeURIComponent(args.pod)}/exec?${execQuery(args.command, args.container)}`;
    const outcome = await runExec(ctx, path, args.timeoutSeconds * 1000);
    const text = formatExec(outcome, ctx.maxOutput);
    return outcome.exitCode === 0 ? text : { content: [{ type: 'text', text }], isError: true };
  },
});
