import { isUtf8 } from 'node:buffer';
import { GatehouseError } from '../errors/codes.js';
import { SECRET_NAME_PATTERN, withKnownValues } from '../masking/index.js';
import type { Masker } from '../masking/index.js';
import { compilePattern } from '../masking/rule-path.js';
import type { Upstream } from '../upstream/client.js';
import { getObject, ObjectReadError } from '../upstream/fetch.js';

const TIMEOUT_MS = 5_000;
const credentialName = compilePattern(SECRET_NAME_PATTERN);

interface EnvVar {
  name?: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name?: string } };
}
interface Container {
  env?: EnvVar[];
  envFrom?: { secretRef?: { name?: string } }[];
}
interface PodSpec {
  volumes?: { secret?: { secretName?: string }; projected?: { sources?: { secret?: { name?: string } }[] } }[];
  containers?: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
}

/** The names of the Secrets `spec` reads (volumes, projected volumes, env, envFrom), and its literal env values named like credentials. */
export function podSecretRefs(spec: PodSpec): { secrets: Set<string>; literals: string[] } {
  const secrets = new Set<string>();
  const literals: string[] = [];
  const add = (name: string | undefined): void => {
    if (name) secrets.add(name);
  };
  for (const v of spec.volumes ?? []) {
    add(v.secret?.secretName);
    for (const s of v.projected?.sources ?? []) add(s.secret?.name);
  }
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])]) {
    for (const e of c.env ?? []) {
      add(e.valueFrom?.secretKeyRef?.name);
      if (typeof e.value === 'string' && e.name !== undefined && credentialName(e.name)) literals.push(e.value);
    }
    for (const f of c.envFrom ?? []) add(f.secretRef?.name);
  }
  return { secrets, literals };
}

/**
 * The values a pod could print that policy masks wherever they are read: the
 * decoded values of the Secrets it uses and its literal env values named
 * like credentials. Read with the gateway's own credential when an exec,
 * attach or log stream of the pod is masked. A pod or Secret that does not
 * exist gives nothing; one that cannot be read rejects with
 * GH_MASKING_FAILED (the stream is then refused: fail closed).
 *
 * @example
 * await podSecretValues(upstream, 'shop', 'web-0'); // → ['s3cr3t-db-pass', 'web', …]
 */
export async function podSecretValues(upstream: Upstream, namespace: string, pod: string): Promise<string[]> {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
  const object = await read<{ spec?: PodSpec }>(upstream, `${base}/pods/${encodeURIComponent(pod)}`, `pod ${namespace}/${pod}`);
  if (object?.spec === undefined) return [];
  const { secrets, literals } = podSecretRefs(object.spec);
  const values = [...literals];
  const read1 = (name: string) => read<{ data?: Record<string, string> }>(upstream, `${base}/secrets/${encodeURIComponent(name)}`, `Secret ${namespace}/${name}`);
  for (const secret of await Promise.all([...secrets].map(read1))) {
    for (const encoded of Object.values(secret?.data ?? {})) {
      const bytes = Buffer.from(encoded, 'base64');
      // Output is text: a binary value (a keystore) cannot be printed as one line to look for.
      if (isUtf8(bytes)) values.push(bytes.toString('utf8'));
    }
  }
  return values;
}

async function read<T>(upstream: Upstream, path: string, what: string): Promise<T | undefined> {
  try {
    return (await getObject(upstream, path, TIMEOUT_MS)) as T | undefined;
  } catch (err) {
    if (!(err instanceof ObjectReadError)) throw err;
    throw unreadable(what, err.message, err.cause);
  }
}

function unreadable(what: string, why: string, cause?: unknown): GatehouseError {
  return new GatehouseError('GH_MASKING_FAILED', `the gateway could not read ${what} to mask the values of its Secrets (${why}), so the stream was refused. Retry shortly.`, {
    cause,
    retryAfterSeconds: 2,
  });
}

/**
 * `masker`, also looking for the values of the Secrets `pod` uses (when
 * `pod-secret` is among its detectors): for a masked exec, attach or log
 * stream of that pod.
 *
 * @throws GatehouseError (GH_MASKING_FAILED) when the pod or a Secret cannot be read.
 */
export async function maskerForPod(masker: Masker, upstream: Upstream, namespace: string, pod: string): Promise<Masker> {
  if (!masker.detectors.names.includes('pod-secret')) return masker;
  let values;
  try {
    values = await podSecretValues(upstream, namespace, pod);
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw unreadable(`pod ${namespace}/${pod}`, (err as Error).message, err);
  }
  return withKnownValues(masker, values);
}
