import type { Command } from 'commander';
import { LOG_LEVELS } from '../log/level.js';
import type { LogLevel } from '../log/level.js';
import { consoleClient, withConsoleClientOptions } from './console-client.js';
import type { ConsoleClientFlags } from './console-client.js';

/**
 * `gatehouse log-level [level]`: shows or changes a running gateway's log
 * level through its console API (admins only). The change lasts until the
 * gateway restarts; `log.level` in gatehouse.yaml is the level it starts with.
 */
export function registerLogLevel(program: Command): void {
  withConsoleClientOptions(program.command('log-level'))
    .description(`show or change the running gateway's log level (${LOG_LEVELS.join('|')}); admins only, until the gateway restarts`)
    .argument('[level]', 'the new level; without it, print the current one')
    .addHelpText('after', '\nExamples:\n  gatehouse log-level\n  gatehouse log-level debug --kubeconfig admin.kubeconfig\n  gatehouse log-level info')
    .action(async (level: string | undefined, flags: ConsoleClientFlags) => {
      const client = consoleClient(flags);
      if (level === undefined) {
        const { level: current } = await client.call<{ level: string }>('GET', '/gatehouse/v1/log-level');
        process.stdout.write(`${current}\n`);
        return;
      }
      if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`unknown log level "${level}": use one of ${LOG_LEVELS.join(', ')}`);
      const changed = await client.call<{ level: LogLevel; previous: string }>('PUT', '/gatehouse/v1/log-level', { level });
      process.stdout.write(`log level of ${client.server}: ${changed.previous} → ${changed.level}\n`);
    });
}
