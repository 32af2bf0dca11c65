import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { agentSettings } from '../../../src/cli/agent.js';
import { buildProgram } from '../../../src/cli/main.js';
import { runCli } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-agent-cli-'));
const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const kubeconfig = file(
  'kubeconfig',
  stringify({
    'current-context': 'admin',
    clusters: [{ name: 'staging', cluster: { server: 'https://10.0.0.1:6443' } }],
    users: [{ name: 'admin', user: { token: 'cluster-admin-token' } }],
    contexts: [{ name: 'admin', context: { cluster: 'staging', user: 'admin' } }],
  }),
);
const valid = { gateway: 'https://gatehouse.example.com', cluster: 'staging', tokenFile: file('token', 'gh-agent-token\n'), kubeconfig };

describe('gatehouse agent options', () => {
  it('resolves a complete set of flags', () => {
    const settings = agentSettings({ ...valid, gatewayCa: file('ca.pem', 'CA'), proxy: 'http://proxy.corp:3128', healthListen: '0.0.0.0:8080' }, {});
    expect(settings).toMatchObject({ cluster: 'staging', token: 'gh-agent-token', health: { host: '0.0.0.0', port: 8080 } });
    expect(settings.gatewayUrl.href).toBe('https://gatehouse.example.com/');
    expect(settings.proxy?.href).toBe('http://proxy.corp:3128/');
    expect(settings.gatewayCa?.toString()).toBe('CA');
    expect(settings.target.server.href).toBe('https://10.0.0.1:6443/');
  });

  it('takes the token from GATEHOUSE_AGENT_TOKEN when no flag gives one', () => {
    const flags = { ...valid, tokenFile: undefined };
    expect(agentSettings(flags, { GATEHOUSE_AGENT_TOKEN: 'from-env' }).token).toBe('from-env');
    expect(agentSettings({ ...flags, token: 'from-flag' }, { GATEHOUSE_AGENT_TOKEN: 'from-env' }).token).toBe('from-flag');
  });

  it.each([
    [{ gateway: undefined }, '--gateway <url> is required'],
    [{ gateway: 'gatehouse' }, '--gateway must be a URL such as https://gatehouse.example.com, got "gatehouse"'],
    [{ gateway: 'http://gatehouse.example.com' }, 'the gateway URL must be https:// or wss://, got http:// (the agent token never travels unencrypted)'],
    [{ cluster: undefined }, '--cluster <name> is required'],
    [{ cluster: 'Prod_1' }, '--cluster "Prod_1": a cluster name is lower-case letters, digits and "-" (a DNS label, at most 63 characters)'],
    [{ token: 'x' }, 'give --token or --token-file, not both'],
    [{ tokenFile: undefined }, 'no agent token: pass --token-file <path> or --token <token>, or set GATEHOUSE_AGENT_TOKEN'],
    [{ tokenFile: join(dir, 'missing') }, `--token-file ${join(dir, 'missing')}: no such file`],
    [{ tokenFile: file('empty', '\n') }, `the token file ${join(dir, 'empty')} is empty`],
    [{ kubeconfig: undefined, context: 'admin' }, '--context goes with --kubeconfig'],
    [{ kubeconfig: undefined }, 'no API server to serve: pass --kubeconfig <path>, or run the agent in a pod of the cluster (KUBERNETES_SERVICE_HOST is not set)'],
    [{ proxy: 'https://proxy.corp' }, `--proxy must be an http:// URL (the tunnel is TLS inside the proxy's CONNECT), got "https://proxy.corp"`],
    [{ healthListen: '8080' }, '--health-listen must be host:port, e.g. 0.0.0.0:8080 for the kubelet\'s probes, got "8080"'],
  ])('refuses %j', (change, message) => {
    expect(() => agentSettings({ ...valid, ...change }, {})).toThrow(message);
  });

  it('exits with 2 on a usage error, naming the problem', async () => {
    const run = await runCli(buildProgram(), ['agent', '--cluster', 'prod']);
    expect((run.error as CommanderError).exitCode).toBe(2);
    expect(run.stderr).toContain('error: --gateway <url> is required');
  });

  it('shows its options and examples in --help', async () => {
    const run = await runCli(buildProgram(), ['agent', '--help']);
    expect(run.stdout).toContain('--token-file <path>');
    expect(run.stdout).toContain('--health-listen <host:port>');
    expect(run.stdout).toContain('Examples:\n  # In a pod');
  });
});
