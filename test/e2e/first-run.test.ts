/**
 * The README's first run, as a newcomer does it: `gatehouse up` in front of
 * a real cluster (the shared e2e control plane stands in for the user's
 * current context), the agent kubeconfig it prints, the console, `doctor`,
 * a second run that reuses the state, and bad inputs. One cheap `up --demo`
 * run checks the demo stack comes up (binaries from the harness cache) and stops.
 */
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { kubectlFor, run } from './helpers/run.js';
import { startLongRunning } from './helpers/long-running.js';
import type { LongRunning } from './helpers/long-running.js';

const cluster = inject('cluster');
const gatehouse = (args: string[]) => run(process.execPath, ['bin/gatehouse.js', ...args]);
const READY = /Ctrl-C stops the gateway/;

/** Starts `gatehouse up` and waits for its next steps; returns the gateway URL it names. */
async function up(args: string[]): Promise<{ proc: LongRunning; url: string }> {
  const proc = startLongRunning(process.execPath, ['bin/gatehouse.js', 'up', '--yes', '--listen', '127.0.0.1:0', ...args]);
  await proc.nextLine(READY, 120_000);
  const guarding = await proc.nextLine(/Gatehouse is guarding .* at https:/);
  return { proc, url: /(https:\/\/\S+)$/.exec(guarding)![1]! };
}

async function stop(proc: LongRunning): Promise<void> {
  if (proc.child.exitCode !== null) return;
  const closed = once(proc.child, 'close');
  proc.child.kill('SIGINT');
  await closed;
}

const tokenOf = (kubeconfig: string): string => (parseYaml(readFileSync(kubeconfig, 'utf8')) as { users: { user: { token: string } }[] }).users[0]!.user.token;

describe('gatehouse up in front of a cluster', () => {
  let dataDir: string;
  let gateway: { proc: LongRunning; url: string };
  let agentKubeconfig: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-first-run-'));
    gateway = await up(['--kubeconfig', cluster.adminKubeconfig, '--data-dir', dataDir, '--approval-hold', '0']);
    agentKubeconfig = join(dataDir, 'gatehouse-agent.kubeconfig');
  });
  afterAll(async () => {
    await stop(gateway.proc);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints what to do next: the agent kubeconfig, approvals, the console, the bootstrap admin once', () => {
    const out = gateway.proc.lines().join('\n');
    expect(out).toContain(`export KUBECONFIG=${agentKubeconfig}`);
    expect(out).toContain(`gatehouse approvals approve <id> --kubeconfig ${join(dataDir, 'admin.kubeconfig')}`);
    expect(out).toContain(`${gateway.url}/ui`);
    expect(out).toMatch(/token is shown once: ghb_/);
    expect(out).toContain(`wrote ${join(dataDir, 'gatehouse.yaml')}`);
  });

  it('the agent kubeconfig works for the commands it prints: the read allowed, the risky one held', async () => {
    const kubectl = kubectlFor(agentKubeconfig);
    // The commands exactly as printed: a newcomer copies them (an unpinned image there was refused by another rule).
    const printed = (comment: string): string[] => {
      const line = gateway.proc.lines().find((l) => l.trimStart().startsWith('kubectl ') && l.includes(comment));
      expect(line, `a kubectl line marked "${comment}"`).toBeDefined();
      return line!.split('#')[0]!.trim().split(/\s+/).slice(1);
    };
    await kubectl.ok(printed('# allowed, recorded'));
    const risky = await kubectl(printed('# held for a person to approve'));
    expect(risky.code).not.toBe(0);
    expect(risky.stderr).toMatch(/needs approval: policy rule "privileged-containers".*Approval apr_/);
  });

  it('applies an edit of its gatehouse.yaml without a restart', async () => {
    const admin = kubectlFor(join(dataDir, 'admin.kubeconfig'));
    const big = (name: string) => admin(['create', 'configmap', name, '-n', 'default', `--from-literal=blob=${'x'.repeat(8192)}`, '--dry-run=server']);
    expect((await big('first-run-before')).code).toBe(0);
    const file = join(dataDir, 'gatehouse.yaml');
    const original = readFileSync(file, 'utf8');
    try {
      writeFileSync(file, `${original}\nlimits:\n  maxBodyBytes: 4096\n`);
      // The file is watched; the edit applies within moments, no signal needed.
      let refused = await big('first-run-after');
      for (let i = 0; i < 50 && refused.code === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        refused = await big('first-run-after');
      }
      expect(refused.stderr).toMatch(/exceeds the gateway limit of 4096 bytes/);
    } finally {
      writeFileSync(file, original);
      gateway.proc.child.kill('SIGHUP');
    }
    let back = await big('first-run-restored');
    for (let i = 0; i < 50 && back.code !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      back = await big('first-run-restored');
    }
    expect(back.code).toBe(0);
  });

  it('the console and its API answer; the bootstrap admin is an admin', async () => {
    const adminToken = tokenOf(join(dataDir, 'admin.kubeconfig'));
    const ca = readFileSync(join(dataDir, 'ca.crt'), 'utf8');
    const get = (path: string, token?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        httpsGet(`${gateway.url}${path}`, { ca, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
    const whoami = await get('/gatehouse/v1/whoami', adminToken);
    expect(whoami.status).toBe(200);
    expect((JSON.parse(whoami.body) as { roles: string[] }).roles).toContain('admin');
    if (existsSync('dist/web/index.html')) {
      const ui = await get('/ui/');
      expect(ui.status).toBe(200);
      expect(ui.body).toContain('<html');
    }
  });

  it('doctor reports every check ok', async () => {
    const doctor = await gatehouse(['doctor', '--data-dir', dataDir, '--json']);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: { check: string; status: string }[] };
    expect(report.checks.map((c) => `${c.check}:${c.status}`)).toEqual(['config:ok', 'certificate:ok', 'upstream:ok', 'credential:ok', 'oidc:ok', 'store:ok', 'audit-chain:ok']);
    expect(doctor.code).toBe(0);
  });

  it('refuses a port in use with one line and a fix', async () => {
    const port = new URL(gateway.url).port;
    const taken = await gatehouse(['up', '--yes', '--kubeconfig', cluster.adminKubeconfig, '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`]);
    expect(taken.code).toBe(1);
    expect(taken.stderr.trim().split('\n')).toEqual([`gatehouse: 127.0.0.1:${port} is already in use (another gatehouse up?) — fix: stop what listens there, or pass --listen 127.0.0.1:<another port>`]);
  });

  it('a second run reuses the state: same config, same agent token, no new admin token', async () => {
    const token = tokenOf(agentKubeconfig);
    await stop(gateway.proc);
    gateway = await up(['--data-dir', dataDir]);
    const out = gateway.proc.lines().join('\n');
    expect(out).toContain(`using ${join(dataDir, 'gatehouse.yaml')}`);
    expect(out).toContain('kept from an earlier run');
    expect(out).not.toMatch(/shown once/);
    expect(tokenOf(agentKubeconfig)).toBe(token);
    await kubectlFor(agentKubeconfig).ok(['get', 'pods', '-n', 'default']);
  });
});

describe('gatehouse up: bad inputs', () => {
  it.each([
    ['an unreachable context', ['--kubeconfig', '__DEAD__'], /^gatehouse: cannot reach the cluster of .*ECONNREFUSED.* — fix: /],
    ['an unknown context', ['--kubeconfig', '__ADMIN__', '--context', 'nope'], /^gatehouse: cannot reach the cluster of context "nope".* — fix: /],
    ['an unwritable data directory', ['--kubeconfig', '__ADMIN__', '--data-dir', '__FILE__/sub'], /^gatehouse: cannot write the data directory .*ENOTDIR.* — fix: pass --data-dir/],
  ])('%s: one line with a fix, exit 1', async (_name, args, line) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bad-'));
    try {
      const dead = join(dir, 'dead.kubeconfig');
      writeFileSync(dead, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: dead, context: {cluster: c, user: u}}]\ncurrent-context: dead\n');
      writeFileSync(join(dir, 'file'), '');
      const swap = (a: string) => a.replace('__DEAD__', dead).replace('__ADMIN__', cluster.adminKubeconfig).replace('__FILE__', join(dir, 'file'));
      const result = await gatehouse(['up', '--yes', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), ...args.map(swap)]);
      expect(result.code).toBe(1);
      const errors = result.stderr.trim().split('\n').filter((l) => !l.startsWith('gatehouse: checking'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(line);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gatehouse up --demo', () => {
  it('starts its own control plane with the sample namespace and the demo identity provider, and stops them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
    const demo = await up(['--demo', '--data-dir', dataDir]);
    try {
      const issuer = /demo identity provider at (\S+)/.exec(await demo.proc.nextLine(/demo identity provider at/))![1]!;
      const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(issuer);
      const agent = kubectlFor(join(dataDir, 'gatehouse-agent.kubeconfig'));
      expect(await agent.ok(['get', 'namespace', 'demo', '-o', 'name'])).toBe('namespace/demo\n');
      // The demo's planted credentials reach the agent masked: the Deployment's env value and the ConfigMap's token.
      const web = await agent.ok(['-n', 'demo', 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].env[0].value}']);
      expect(web).toBe('<masked by gatehouse>');
      expect(await agent.ok(['-n', 'demo', 'get', 'configmap', 'web-config', '-o', 'jsonpath={.data.api_token} {.data.LOG_LEVEL}'])).toBe('<masked by gatehouse> info');
      expect(demo.proc.lines().join('\n')).toMatch(/alice +password alice-password/);
    } finally {
      await stop(demo.proc);
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(demo.proc.lines().join('\n')).toMatch(/control plane stopped/);
  });
});
