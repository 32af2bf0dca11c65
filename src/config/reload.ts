/**
 * What a config reload may change while the gateway runs. The request path
 * (identity, limits, policy, masking, clusters, timeouts, watches, logging) is rebuilt
 * from the new config and swapped in whole; the settings below belong to
 * state that lives as long as the process, so a change to them is reported
 * and waits for a restart while the rest applies.
 *
 * @module
 */

import { isDeepStrictEqual } from 'node:util';
import { configuredClusters } from '../clusters/config.js';
import type { GatehouseConfig } from './schema.js';

/** A setting that changed in the file but keeps its old value until the gateway restarts. */
export interface RestartNeeded {
  /** Dotted config path, e.g. `listen` or `approvals.notify`. */
  readonly setting: string;
  /** Why it cannot change live. */
  readonly why: string;
}

/** What a new config changes compared with the one in force. */
export interface ReloadPlan {
  /** Top-level sections whose new values take effect now. */
  readonly changed: readonly string[];
  readonly restartNeeded: readonly RestartNeeded[];
}

/** What started a reload: the config file changed, or someone asked (SIGHUP). */
export type ConfigReloadTrigger = 'file' | 'signal';

/** The outcome of one reload, as `gateway.reload()` returns it and the log reports it. */
export type ReloadResult =
  | { readonly ok: true; readonly trigger: ConfigReloadTrigger; readonly changed: readonly string[]; readonly restartNeeded: readonly RestartNeeded[] }
  | { readonly ok: false; readonly trigger: ConfigReloadTrigger; readonly reason: string };

/** Sections held whole by state that lives as long as the process. */
const RESTART_ONLY_SECTIONS = {
  listen: 'the listening socket is bound once at start',
  tls: 'the serving certificate is loaded into the listener at start',
  dataDir: 'the CA, bootstrap credential and audit signing key are read from it at start',
  store: 'one database connection serves the record, tokens, approvals and proposals',
  audit: 'the audit writer (batching, checkpoints, body caps) runs for the life of the process and holds queued records',
  metrics: 'the metrics listener and registry are created at start',
  tracing: 'the OpenTelemetry SDK and its exporter are set up once per process',
  console: 'console sign-in settings and sessions live in the running console',
} as const satisfies Partial<Record<keyof GatehouseConfig, string>>;
type RestartOnlySection = keyof typeof RESTART_ONLY_SECTIONS;

/** Approvals settings the request path reads (the approval stage); the rest belongs to the long-lived approvals service. */
const LIVE_APPROVALS = ['enabled', 'holdSeconds'] as const;

/** Parts of otherwise live sections that must stay equal. */
const RESTART_ONLY_PARTS: readonly { setting: string; pick: (c: GatehouseConfig) => unknown; why: string }[] = [
  {
    setting: 'approvals',
    pick: (c) => omit(c.approvals, LIVE_APPROVALS),
    why: 'approval defaults, expiry and notifications belong to the approvals service, which keeps pending approvals (enabled and holdSeconds apply live)',
  },
  {
    setting: 'clusters (agent-mode names)',
    pick: (c) => agentClusterNames(c),
    why: 'cluster agents are accepted for the agent-mode clusters named at start (direct clusters apply live)',
  },
];

const sections = Object.keys(RESTART_ONLY_SECTIONS) as RestartOnlySection[];

/**
 * Compares the config in force with a new, already validated one.
 *
 * @example
 * const plan = planReload(current, parseConfig(readConfigFile(path), path));
 * for (const r of plan.restartNeeded) log.warn(r, `${r.setting} changed; takes effect after a restart`);
 */
export function planReload(current: GatehouseConfig, next: GatehouseConfig): ReloadPlan {
  const restartNeeded = [
    ...sections.filter((s) => !isDeepStrictEqual(current[s], next[s])).map((s) => ({ setting: s, why: RESTART_ONLY_SECTIONS[s] })),
    ...RESTART_ONLY_PARTS.filter((r) => !isDeepStrictEqual(r.pick(current), r.pick(next))).map(({ setting, why }) => ({ setting, why })),
  ];
  const changed = (Object.keys(next) as (keyof GatehouseConfig)[]).filter((key) => {
    if (key in RESTART_ONLY_SECTIONS) return false;
    if (key === 'approvals') return LIVE_APPROVALS.some((k) => current.approvals[k] !== next.approvals[k]);
    return !isDeepStrictEqual(current[key], next[key]);
  });
  return { changed, restartNeeded };
}

/**
 * The config the request path is built from: the new one, except that
 * restart-only settings keep the values in force, so what runs always
 * matches one consistent config and the next reload compares against it.
 * (Agent-mode cluster names are taken as new: routing follows the file,
 * agents for a new name are accepted after the restart.)
 */
export function liveConfig(current: GatehouseConfig, next: GatehouseConfig): GatehouseConfig {
  const kept = Object.fromEntries(sections.map((s) => [s, current[s]]));
  const approvals = { ...current.approvals, ...Object.fromEntries(LIVE_APPROVALS.map((k) => [k, next.approvals[k]])) };
  return { ...next, ...kept, approvals };
}

function agentClusterNames(c: GatehouseConfig): string[] {
  return configuredClusters(c)
    .clusters.filter((x) => x.agent !== undefined)
    .map((x) => x.name)
    .sort();
}

function omit<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Omit<T, K> {
  const copy = { ...value };
  for (const k of keys) delete copy[k];
  return copy;
}
