/**
 * The configuration `gatehouse up` writes on its first run and reads on
 * every later one: `<data-dir>/gatehouse.yaml` (the same file `gatehouse
 * serve -c` takes) and an editable starter policy beside it. Secure
 * defaults: the guardrail pack on, requests no rule matches refused,
 * Secrets masked, the audit record in SQLite, approvals held for people.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { writePrivate } from '../../config/data-dir.js';
import { readConfigFile } from '../../config/schema.js';

export const CONFIG_FILE = 'gatehouse.yaml';
export const STARTER_POLICY = join('policies', 'starter.yaml');

export interface ConfigSeed {
  dataDir: string;
  listen: { host: string; port: number };
  upstream: { kubeconfig: string; context?: string | undefined };
}

export interface UpConfig {
  path: string;
  /** True on the run that wrote it. */
  created: boolean;
  /** The file's content (plain data), before any command-line override. */
  raw: Record<string, unknown>;
}

/**
 * Reads `<dataDir>/gatehouse.yaml`, writing it (and the starter policy) from
 * `seed` first when it does not exist. An existing file is never rewritten.
 *
 * @example
 * const { path, created, raw } = ensureConfig({ dataDir, listen: { host: '127.0.0.1', port: 6443 }, upstream: { kubeconfig } });
 */
export function ensureConfig(seed: ConfigSeed): UpConfig {
  const path = join(seed.dataDir, CONFIG_FILE);
  const created = !existsSync(path);
  if (created) {
    mkdirSync(join(seed.dataDir, 'policies'), { recursive: true, mode: 0o700 });
    const policy = join(seed.dataDir, STARTER_POLICY);
    if (!existsSync(policy)) writePrivate(policy, STARTER_POLICY_YAML);
    writePrivate(path, configYaml(seed));
  }
  return { path, created, raw: readConfigFile(path) as Record<string, unknown> };
}

/**
 * Sets top-level keys of the config file, keeping everything else (comments
 * included): `up --demo` points it at each run's new control plane and
 * identity provider.
 */
export function updateConfig(path: string, values: Record<string, unknown>): Record<string, unknown> {
  const doc = parseDocument(readFileSync(path, 'utf8'));
  if (!isMap(doc.contents)) throw new Error(`${path} does not hold a YAML mapping; move it away and run gatehouse up again`);
  for (const [key, value] of Object.entries(values)) doc.set(key, doc.createNode(value, { flow: true }));
  writePrivate(path, doc.toString());
  return doc.toJS() as Record<string, unknown>;
}

/** The first-run gatehouse.yaml; strings go through JSON, which YAML reads verbatim. */
function configYaml(seed: ConfigSeed): string {
  const q = (value: string): string => JSON.stringify(value);
  const context = seed.upstream.context === undefined ? '' : `\n  context: ${q(seed.upstream.context)}`;
  return `# Gatehouse configuration, written by \`gatehouse up\` on ${new Date().toISOString().slice(0, 10)}.
# Edit freely: \`gatehouse up\` and \`gatehouse serve -c <this file>\` read it, and
# \`gatehouse doctor\` checks it. Every key is described in README.md.
dataDir: ${q(seed.dataDir)}
listen: { host: ${q(seed.listen.host)}, port: ${seed.listen.port} }
# The cluster credential the gateway holds; clients never see it.
upstream:
  kubeconfig: ${q(seed.upstream.kubeconfig)}${context}
policy:
  builtinGuardrails: true   # privileged pods, host access, Secret mounts, RBAC escalation… are held for a person
  defaultAction: deny       # a request no rule allows is refused
  paths: [${q(join(seed.dataDir, 'policies'))}]   # starter.yaml: what is allowed; hot-reloaded
masking:
  secrets: true             # Secret values never leave the gateway in clear text
  defaultRules: true        # nor ConfigMap keys and env values named like password/token/secret/key
store:
  sqlite: { path: gatehouse.db }   # tokens, approvals and the hash-chained audit record
approvals:
  enabled: true
  holdSeconds: 60           # a held kubectl waits this long for a decision, then is told to retry
  # The bootstrap admin (admin.kubeconfig) may approve; agent tokens never can.
  approverGroups: ["gatehouse:approvers", "gatehouse:admins"]
`;
}

/**
 * The starter policy: with \`defaultAction: deny\`, only what these rules allow
 * gets through, and the guardrails' review, deny and mask still win over them.
 */
const STARTER_POLICY_YAML = `# What Gatehouse allows, written by \`gatehouse up\`. Edit it: the gateway
# reloads it on save (an invalid edit keeps the last good policy).
# Anything no rule allows is refused (policy.defaultAction: deny), and the
# built-in guardrails still hold risky requests for a person's approval,
# refuse some outright, mask Secrets and mask credentials in what agents
# read, whatever these rules allow.
apiVersion: gatehouse.dev/v1alpha1
kind: Policy
metadata:
  name: starter
spec:
  rules:
    - name: read-everything
      description: Reads of every kind, including discovery; Secret values are masked by the guardrails.
      match:
        verbs: [get, list, watch]
      action: allow
    - name: work-in-namespaces
      description: Changes inside namespaces (deployments, pods, services, exec, logs…); cluster-wide changes are not included.
      match:
        verbs: [create, update, patch, delete, deletecollection]
        namespaces: ["*"]
      action: allow
    - name: access-reviews
      description: kubectl auth can-i and whoami.
      match:
        verbs: [create]
        resources:
          - { group: authorization.k8s.io, resource: selfsubjectaccessreviews }
          - { group: authorization.k8s.io, resource: selfsubjectrulesreviews }
          - { group: authentication.k8s.io, resource: selfsubjectreviews }
      action: allow
    - name: admins-cluster-wide
      description: The bootstrap admin may also change cluster-scoped objects (namespaces, CRDs, cluster RBAC).
      match:
        groups: ["gatehouse:admins"]
      action: allow
`;
