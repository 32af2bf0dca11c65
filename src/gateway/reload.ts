import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { liveConfig, planReload } from '../config/reload.js';
import type { ConfigReloadTrigger, ReloadResult, RestartNeeded } from '../config/reload.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { Handling, PolicyParts } from './handling.js';
import type { Slot } from './slot.js';

export interface ReloaderDeps {
  readonly slot: Slot<Handling>;
  /** Reads and validates the config again (the file with the command-line flags over it); throws with file, path and reason. */
  readonly load: () => GatehouseConfig;
  /** Loads the policy (and shadow policy) a config names; throws when it is invalid. */
  readonly openPolicy: (config: GatehouseConfig) => PolicyParts;
  readonly build: (config: GatehouseConfig, loaded: PolicyParts) => Handling;
  readonly log: Logger;
  readonly metrics: GatewayMetrics | undefined;
}

/** The last reload and what still waits for a restart, for the console's gateway page. */
export interface ReloadStatus {
  /** The most recent reload (applied or rejected) and when; undefined until the first one. */
  readonly last: (ReloadResult & { readonly at: string }) | undefined;
  /** Restart-only settings whose value in the file differs from the running one (as of the last applied reload). */
  readonly restartPending: readonly RestartNeeded[];
}

/** Reloads when called; `status()` tells how the last reload went. */
export interface Reloader {
  (trigger: ConfigReloadTrigger): ReloadResult;
  status(): ReloadStatus;
}

/**
 * Reloads the configuration: reads and validates it, builds the new request
 * path completely, and only then swaps it in. Anything invalid (YAML, schema,
 * policy, an unreadable kubeconfig) rejects the whole reload and the previous
 * configuration stays in force. Restart-only settings are reported and keep
 * their values (src/config/reload.ts). A SIGHUP also reloads unchanged
 * policy files, as before config reload existed.
 *
 * @example
 * const reload = createReloader({ slot, load: () => parseConfig(readConfigFile(path), path), openPolicy, build, log, metrics });
 * process.on('SIGHUP', () => reload('signal'));
 */
export function createReloader(deps: ReloaderDeps): Reloader {
  const { slot, log, metrics } = deps;
  let last: ReloadStatus['last'];
  // Restart-only sections keep their start-up values, so each applied reload lists every difference still waiting.
  let pending: readonly RestartNeeded[] = [];
  const settle = (result: ReloadResult): ReloadResult => {
    last = { ...result, at: new Date().toISOString() };
    metrics?.configReload(result.trigger, result.ok, pending.length);
    return result;
  };
  const reject = (trigger: ConfigReloadTrigger, reason: string): ReloadResult => {
    log.error({ trigger, reason }, `config reload rejected, the previous configuration stays in force:\n  ${reason.replaceAll('\n', '\n  ')}`);
    return settle({ ok: false, trigger, reason });
  };
  const reload = (trigger: ConfigReloadTrigger): ReloadResult => {
    const current = slot.current();
    let next: GatehouseConfig;
    try {
      next = deps.load();
    } catch (err) {
      return reject(trigger, (err as Error).message);
    }
    const plan = planReload(current.config, next);
    const live = liveConfig(current.config, next);
    const samePolicy = isDeepStrictEqual(current.config.policy, live.policy);
    let loaded: PolicyParts = { policy: current.policy, shadow: current.shadow };
    if (!samePolicy) {
      try {
        loaded = deps.openPolicy(live);
      } catch (err) {
        return reject(trigger, (err as Error).message);
      }
    }
    let handling: Handling;
    try {
      handling = deps.build(live, loaded);
    } catch (err) {
      if (!samePolicy) closePolicy(loaded);
      return reject(trigger, (err as Error).message);
    }
    // Last, so a failure above leaves even the policy in force untouched; the watcher logs the file:line:col.
    if (samePolicy && trigger === 'signal' && !(loaded.policy.reload() && (loaded.shadow?.reload() ?? true))) {
      handling.close();
      return reject(trigger, 'the policy files are invalid (see the policy reload error above)');
    }
    slot.swap(handling);
    // Closing stops only the file watches; requests still running keep judging by the policy they started with.
    if (!samePolicy) closePolicy(current);
    if (live.log.level !== current.config.log.level) log.level = live.log.level;
    pending = plan.restartNeeded;
    log.info({ trigger, changed: plan.changed }, plan.changed.length > 0 ? `config reloaded: ${plan.changed.join(', ')} changed` : 'config reloaded: nothing changed that applies live');
    for (const r of plan.restartNeeded) log.warn({ trigger, setting: r.setting, why: r.why }, `${r.setting} changed; takes effect after a restart`);
    return settle({ ok: true, trigger, changed: plan.changed, restartNeeded: plan.restartNeeded });
  };
  return Object.assign(reload, { status: (): ReloadStatus => ({ last, restartPending: pending }) });
}

function closePolicy(parts: PolicyParts): void {
  parts.policy.close();
  parts.shadow?.close();
}
