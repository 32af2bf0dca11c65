import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** A watch on the config file; `close()` stops it. */
export interface ConfigFileWatch {
  close(): void;
}

/**
 * Calls `onChange` after the config file changed and stayed quiet for
 * `debounceMs` (editors and config management write in bursts). The file is
 * watched through its directory, so saves by rename are seen, and so is a
 * Kubernetes ConfigMap volume, which swaps its `..data` link.
 *
 * @example
 * const watching = watchConfigFile('/etc/gatehouse/gatehouse.yaml', () => gateway.reload('file'), log);
 * watching.close();
 */
export function watchConfigFile(path: string, onChange: () => void, log: { warn(obj: object, msg: string): void }, debounceMs = 200): ConfigFileWatch {
  const file = resolve(path);
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = (): void => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) onChange();
    }, debounceMs);
  };
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(dirname(file), (_event, changed) => {
      const n = changed?.toString();
      if (n === undefined || n === name || n === '..data') schedule();
    });
    watcher.on('error', (err) => log.warn({ err, file }, 'config file watch failed; edits are picked up on SIGHUP only'));
  } catch (err) {
    log.warn({ err, file }, 'cannot watch the config file; edits are picked up on SIGHUP only');
  }
  return {
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      watcher?.close();
    },
  };
}
