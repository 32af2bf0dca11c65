import { randomBytes, randomInt } from 'node:crypto';
import { run } from './run.js';

/** A network namespace joined to this host by one veth pair: the host is `hostIp`, the namespace `nsIp`. */
export interface NetworkNamespace {
  name: string;
  hostIp: string;
  nsIp: string;
  /** Runs a command inside the namespace: prefix it with this. */
  exec: string[];
  destroy(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  const r = await run('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

/**
 * Makes a namespace that can reach the host only over its veth address
 * (its own loopback is its own): a process there has no route to anything
 * listening on the host's 127.0.0.1.
 */
export async function createNetworkNamespace(): Promise<NetworkNamespace> {
  const id = randomBytes(3).toString('hex');
  const name = `gh-${id}`;
  const hostIf = `gh${id}h`;
  const nsIf = `gh${id}n`;
  const net = `10.213.${randomInt(0, 256)}`;
  const hostIp = `${net}.1`;
  const nsIp = `${net}.2`;
  await ip(['netns', 'add', name]);
  try {
    await ip(['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
    await ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    await ip(['link', 'set', nsIf, 'netns', name]);
    await ip(['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    await ip(['link', 'set', hostIf, 'up']);
    await ip(['netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf]);
    await ip(['netns', 'exec', name, 'ip', 'link', 'set', nsIf, 'up']);
  } catch (err) {
    await run('ip', ['link', 'del', hostIf]);
    await run('ip', ['netns', 'del', name]);
    throw err;
  }
  return {
    name,
    hostIp,
    nsIp,
    exec: ['ip', 'netns', 'exec', name],
    destroy: async () => {
      await run('ip', ['link', 'del', hostIf]);
      await run('ip', ['netns', 'del', name]);
    },
  };
}
