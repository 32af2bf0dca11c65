/**
 * kwok, the fake kubelet: its configuration, the Node it manages, and the
 * CRI log format it serves `kubectl logs` from.
 *
 * @internal
 */
import { stringify } from 'yaml';

/** Annotation that marks the nodes this harness's kwok manages (and no others). */
export const KWOK_NODE_ANNOTATION = 'gatehouse.dev/kwok-managed';

/** Pod IPs handed out by kwok. Never dialled: pods exist only as API objects. */
export const POD_CIDR = '10.244.0.1/24';

export interface KwokConfigOptions {
  /** Working directory of every command run through `kubectl exec`. */
  readonly execDir: string;
  /** CRI-format log file served for every container. */
  readonly podLogFile: string;
  /** Local TCP port that every `kubectl port-forward` target port is connected to. */
  readonly portForwardTarget: number;
}

/**
 * The kwok `-c` configuration: cluster-wide (no selector) rules that run exec
 * commands locally in `execDir`, serve logs from `podLogFile` (follow
 * supported), and connect every forwarded port to `127.0.0.1:portForwardTarget`.
 */
export function kwokConfigYaml(options: KwokConfigOptions): string {
  const docs = [
    {
      apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
      kind: 'KwokConfiguration',
      options: { enableCRDs: [] },
    },
    {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterExec',
      metadata: { name: 'gatehouse-exec' },
      spec: { execs: [{ local: { workDir: options.execDir, envs: [{ name: 'GATEHOUSE_KWOK_EXEC', value: '1' }] } }] },
    },
    {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterLogs',
      metadata: { name: 'gatehouse-logs' },
      spec: { logs: [{ logsFile: options.podLogFile, follow: true }] },
    },
    {
      // kwok attaches to a container by following a log file: `kubectl attach` prints what is appended to it.
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterAttach',
      metadata: { name: 'gatehouse-attach' },
      spec: { attaches: [{ logsFile: options.podLogFile }] },
    },
    {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterPortForward',
      metadata: { name: 'gatehouse-port-forward' },
      spec: { forwards: [{ target: { address: '127.0.0.1', port: options.portForwardTarget } }] },
    },
  ];
  return docs.map((doc) => stringify(doc)).join('---\n');
}

/** The Node object kwok takes over: schedulable, untainted, annotated for our kwok only. */
export function kwokNode(name: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'true', 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    spec: {},
  };
}

/**
 * One line of a container log in the CRI format that kwok (like the kubelet)
 * parses: `<RFC 3339 nano time> <stream> F <text>\n`.
 *
 * @example
 * ```ts
 * await appendFile(cluster.podLogFile, criLogLine('request served'));
 * // `kubectl logs -f <pod>` prints "request served"
 * ```
 */
export function criLogLine(text: string, stream: 'stdout' | 'stderr' = 'stdout', time: Date = new Date()): string {
  if (/[\r\n]/.test(text)) throw new TypeError('criLogLine: one line at a time (no newlines)');
  // RFC 3339 with nanoseconds, as the kubelet writes it.
  const stamp = time.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
  return `${stamp} ${stream} F ${text}\n`;
}
