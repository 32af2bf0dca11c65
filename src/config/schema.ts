import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { oidcIssuerSchema } from '../identity/oidc/config.js';
import { defaultPolicyConfig, policyConfigSchema } from '../policy/config.js';
import { auditConfigSchema, postgresStoreConfigSchema } from '../audit/config.js';
import { maskingConfigSchema } from '../masking/config.js';
import { approvalsConfigSchema } from '../approvals/config.js';
import { consoleConfigSection } from '../console/config.js';
import { metricsConfigSchema } from '../metrics/config.js';
import { tracingConfigSchema } from '../tracing/config.js';
import { clusterConfigSchema, clusterNameSchema, configuredClusters } from '../clusters/config.js';

export const configSchema = z
  .object({
    listen: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(6443),
        /** Offer HTTP/2 besides HTTP/1.1 (ALPN), as kube-apiserver does: client-go multiplexes its requests and watches. */
        http2: z.boolean().default(true),
        /**
         * A client connection carrying no request for this long is closed: an idle HTTP/1.1 keep-alive
         * connection, or an HTTP/2 connection with no stream open (a watch keeps its connection).
         */
        idleTimeoutSeconds: z.number().int().min(1).max(86_400).default(65),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 6443, http2: true, idleTimeoutSeconds: 65 }),
    tls: z
      .object({
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        /** Extra DNS names / IPs for the generated serving certificate. */
        extraSans: z.array(z.string()).default([]),
      })
      .strict()
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), 'tls.certFile and tls.keyFile go together')
      .default({ extraSans: [] }),
    dataDir: z.string().default(join(homedir(), '.gatehouse')),
    /** The single-cluster shorthand: one cluster reached directly (named `default` unless `name` says otherwise). */
    upstream: z
      .object({
        kubeconfig: z.string(),
        context: z.string().optional(),
        name: clusterNameSchema.default('default'),
      })
      .strict()
      .optional(),
    /** Further named clusters, direct or through cluster agents; clients pick one with `/clusters/<name>` (docs/clusters.md). */
    clusters: z.array(clusterConfigSchema).default([]),
    /** Where requests without a `/clusters/<name>` prefix go; default: `upstream`, else the first of `clusters`. */
    defaultCluster: clusterNameSchema.optional(),
    limits: z
      .object({
        /** Largest request body buffered for inspection (the API server's own default is 3 MiB). */
        maxBodyBytes: z.number().int().positive().default(3 * 1024 * 1024),
      })
      .strict()
      .default({ maxBodyBytes: 3 * 1024 * 1024 }),
    timeouts: z
      .object({
        connectMs: z.number().int().positive().default(10_000),
        responseHeadersMs: z.number().int().positive().default(120_000),
      })
      .strict()
      .default({ connectMs: 10_000, responseHeadersMs: 120_000 }),
    watches: z
      .object({
        /**
         * Serve identical watches (same collection, resourceVersion, selectors and content type) from one
         * watch to the API server (docs/operations.md, Watches).
         */
        share: z.boolean().default(true),
      })
      .strict()
      .default({ share: true }),
    identity: z
      .object({
        /** Trusted OpenID Connect issuers for people (and workload identities). */
        oidc: z.array(oidcIssuerSchema).default([]),
        /**
         * Forward the principal to the API server as Impersonate-User/Group
         * (plus Impersonate-Extra-* with the client address) so the cluster's
         * own RBAC and audit log apply too. The gateway credential then needs
         * the `impersonate` verb. Off by default.
         */
        impersonation: z
          .object({ enabled: z.boolean().default(false) })
          .strict()
          .default({ enabled: false }),
      })
      .strict()
      .default({ oidc: [], impersonation: { enabled: false } }),
    /** What is masked in responses that policy marks `mask` (docs/masking.md). */
    masking: maskingConfigSchema.default(() => maskingConfigSchema.parse({})),
    /** How `review` decisions are held for a person's approval (docs/approvals.md). */
    approvals: approvalsConfigSchema.default(() => approvalsConfigSchema.parse({})),
    /** The tamper-evident record: checkpoints, batching, body caps (docs/audit.md). */
    audit: auditConfigSchema,
    /** Policy files and directories (hot-reloaded), the default for unmatched requests, and the built-in guardrail pack. */
    policy: policyConfigSchema.default(defaultPolicyConfig),
    store: z
      .object({
        /** SQLite database (the embedded default); relative to dataDir. */
        sqlite: z.object({ path: z.string().default('gatehouse.db') }).strict().default({ path: 'gatehouse.db' }),
        /** PostgreSQL instead of SQLite, for several gateway replicas sharing one record. */
        postgres: postgresStoreConfigSchema.optional(),
      })
      .strict()
      .default({ sqlite: { path: 'gatehouse.db' } }),
    /** The web console and its JSON API (docs/console-api.md). */
    console: consoleConfigSection,
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** One info line per request with the decision and the request id (docs/operations.md). */
        access: z.boolean().default(true),
      })
      .strict()
      .default({ level: 'info', access: true }),
    /** Prometheus metrics: a separate listener and/or a token for /metrics on the main one (docs/operations.md). */
    metrics: metricsConfigSchema.default({}),
    /** OpenTelemetry traces over OTLP/HTTP, one per request with a span per stage; off by default (docs/operations.md). */
    tracing: tracingConfigSchema.default(() => tracingConfigSchema.parse({})),
    /** SIGTERM: readyz fails, then after `delaySeconds` no new connections; in-flight requests get `drainSeconds`. */
    shutdown: z
      .object({ delaySeconds: z.number().min(0).default(0), drainSeconds: z.number().min(0).default(20) })
      .strict()
      .default({ delaySeconds: 0, drainSeconds: 20 }),
  })
  .strict()
  .superRefine((c, ctx) => {
    try {
      configuredClusters(c);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message, path: ['clusters'] });
    }
  });

export type GatehouseConfig = z.infer<typeof configSchema>;
export type GatehouseConfigInput = z.input<typeof configSchema>;

/**
 * Validates a config object once; the result is what every factory receives.
 * Errors name the offending key.
 */
export function parseConfig(input: unknown, source = 'config'): GatehouseConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid ${source}:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Reads a gatehouse.yaml file; YAML errors carry the line and column. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  const doc = parseDocument(text);
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    throw new Error(`invalid YAML in ${path}${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${first.message}`);
  }
  return doc.toJS() ?? {};
}
