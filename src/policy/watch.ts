/**
 * Hot reload: watches the policy files and directories, reloads after a short
 * quiet period, and swaps the compiled policy only when the whole new set
 * loads. A bad edit is logged with file:line:col and the last good policy
 * stays in force.
 *
 * @module
 */

import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { statSync } from 'node:fs';
import { loadPolicy, PolicyLoadError } from './load.js';
import type { CelCompiler, CompiledPolicy, PolicyAction, PolicyHandle } from './model.js';

/** The part of a pino logger the watcher uses. */
export interface PolicyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WatchOptions {
  /** The default action when no Policy document sets one. */
  defaultAction: PolicyAction;
  /** Rules switched off by name. */
  disabledRules?: readonly string[];
  /** Quiet period after the last change before reloading; editors write in bursts. */
  debounceMs?: number;
  /** Told the result of every reload attempt, e.g. for metrics. */
  onReload?: (trigger: ReloadTrigger, ok: boolean) => void;
}

/** What started a reload: a watched file changed, or someone asked (SIGHUP). */
export type ReloadTrigger = 'file' | 'signal';

/** A policy kept current from its files. */
export interface WatchedPolicy extends PolicyHandle {
  /** Reloads now (SIGHUP); returns whether the new policy is in force (on failure the last good one stays). */
  reload(): boolean;
}

/**
 * Loads the policy now (throwing {@link PolicyLoadError} if it is invalid, so
 * a gateway never starts on a broken policy) and keeps it current.
 *
 * @example
 * const handle = watchPolicy(['/etc/gatehouse/policies'], compileCel, (p) => log.info({ rules: p.rules.length }, 'policy'), log, { defaultAction: 'deny' });
 * handle.current(); // the policy in force
 * handle.close();
 */
export function watchPolicy(
  paths: readonly string[],
  compile: CelCompiler,
  onChange: (policy: CompiledPolicy) => void,
  log: PolicyLog,
  options: WatchOptions,
): WatchedPolicy {
  const load = (): CompiledPolicy => loadPolicy(paths, { compile, defaultAction: options.defaultAction, disabledRules: options.disabledRules });
  let current = load();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const reload = (trigger: ReloadTrigger): boolean => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (closed) return false;
    try {
      current = load();
    } catch (err) {
      const problems = err instanceof PolicyLoadError ? err.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`) : [(err as Error).message];
      log.error({ problems, trigger }, `policy reload failed, the last good policy stays in force:\n  ${problems.join('\n  ')}`);
      options.onReload?.(trigger, false);
      return false;
    }
    log.info({ files: current.files.length, rules: current.rules.length, trigger }, 'policy reloaded');
    options.onReload?.(trigger, true);
    onChange(current);
    return true;
  };
  const schedule = (): void => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(reload, options.debounceMs ?? 200, 'file');
  };

  const watchers: FSWatcher[] = [];
  for (const [dir, names] of watchTargets(paths)) {
    try {
      const watcher = watch(dir, (_event, name) => {
        // A file path is watched through its directory, so editors that save by rename are seen too.
        if (names === undefined || name === null || names.has(name.toString())) schedule();
      });
      watcher.on('error', (err) => log.warn({ err, dir }, 'policy watch failed; edits here are no longer picked up'));
      watchers.push(watcher);
    } catch (err) {
      log.warn({ err, dir }, 'cannot watch a policy path; edits there are not picked up until restart');
    }
  }

  return {
    current: () => current,
    reload: () => reload('signal'),
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}

/** Directory → the file names to react to there (undefined: any). */
function watchTargets(paths: readonly string[]): Map<string, Set<string> | undefined> {
  const targets = new Map<string, Set<string> | undefined>();
  for (const p of paths.map((x) => resolve(x))) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // loadPolicy already refused a missing path; nothing to watch.
    }
    if (isDir) {
      targets.set(p, undefined);
      continue;
    }
    const dir = dirname(p);
    if (targets.has(dir) && targets.get(dir) === undefined) continue;
    const names = targets.get(dir) ?? new Set<string>();
    names.add(basename(p));
    targets.set(dir, names);
  }
  return targets;
}
