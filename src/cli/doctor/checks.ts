/**
 * What `gatehouse doctor` checks, one function per concern, each answering
 * with a status, what it found and (when not ok) the fix. The checks read
 * the same files the gateway reads; none of them changes anything.
 *
 * @module
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname, join } from 'node:path';
import { SIGNING_KEY_FILE, trustedKeysFromPem } from '../../audit/checkpoint.js';
import { verifyAuditStore } from '../../audit/verify.js';
import { parseConfig, readConfigFile } from '../../config/schema.js';
import type { GatehouseConfig } from '../../config/schema.js';
import { discoverIssuer } from '../../identity/oidc/discovery.js';
import { createIssuerFetch } from '../../identity/oidc/issuer-fetch.js';
import { configuredStoreLocation, openStore } from '../../store/open.js';
import type { Store } from '../../store/types.js';
import type { UpstreamTarget } from '../../upstream/kubeconfig.js';
import { configuredClusters } from '../../clusters/config.js';
import { allows, credentialRules, probeUpstream } from '../up/upstream-probe.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  /** Short and stable, e.g. `config`, `certificate`, `upstream`. */
  check: string;
  status: CheckStatus;
  detail: string;
  /** What to do, when the status is not ok. */
  fix?: string;
}

const DAY_MS = 86_400_000;
const TIMEOUT_MS = 5_000;

const ok = (check: string, detail: string): CheckResult => ({ check, status: 'ok', detail });
const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'fail', detail, fix });
const warn = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'warn', detail, fix });
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n').join(' ');

/** Reads and validates gatehouse.yaml. */
export function checkConfig(path: string): { result: CheckResult; config?: GatehouseConfig } {
  if (!existsSync(path)) return { result: fail('config', `${path} does not exist`, 'run `gatehouse up` once (or pass --config <file>)') };
  try {
    const config = parseConfig(readConfigFile(path), path);
    return { result: ok('config', `${path} is valid`), config };
  } catch (err) {
    return { result: fail('config', message(err), `edit ${path} (every key is described in README.md)`) };
  }
}

/** The serving certificate: readable, not expired or expiring within 30 days, covering the listen address. */
export function checkCertificate(config: GatehouseConfig, now = Date.now()): CheckResult {
  const path = config.tls.certFile ?? join(config.dataDir, 'tls.crt');
  // A running gateway loads both kinds again every minute (src/gateway/serving-tls.ts), and renews its own 30 days ahead.
  const regenerate = config.tls.certFile ? 'renew the certificate in tls.certFile (a running gateway takes it within a minute)' : 'start the gateway: it issues a new one (a running one does so 30 days ahead)';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(path));
  } catch (err) {
    return fail('certificate', `cannot read ${path}: ${message(err)}`, config.tls.certFile ? 'fix tls.certFile' : 'start the gateway once (`gatehouse up`): it generates one');
  }
  const expires = Date.parse(cert.validTo);
  const days = Math.floor((expires - now) / DAY_MS);
  if (expires <= now) return fail('certificate', `${path} expired on ${cert.validTo}`, regenerate);
  const names = (cert.subjectAltName ?? '').split(', ').map((n) => n.replace(/^(DNS|IP Address):/, ''));
  const host = config.listen.host;
  const wildcard = host === '0.0.0.0' || host === '::';
  if (!wildcard && !names.includes(host)) {
    return fail('certificate', `${path} does not name ${host} (it names ${names.join(', ')})`, `add ${host} to tls.extraSans, or ${regenerate}`);
  }
  const detail = `${path} valid for ${days} more days, names ${names.join(', ')}`;
  return days < 30 ? warn('certificate', detail, regenerate) : ok('certificate', detail);
}

/** A directly reached cluster answers /version with the gateway's credential. */
export async function checkUpstream(cluster: { name: string; kubeconfig: string; context?: string | undefined }): Promise<{ result: CheckResult; target?: UpstreamTarget }> {
  const { kubeconfig, context } = cluster;
  const check = cluster.name === 'default' ? 'upstream' : `upstream ${cluster.name}`;
  try {
    const { target, version } = await probeUpstream(kubeconfig, context);
    return { result: ok(check, `context "${target.contextName}" at ${target.server.origin} answers (Kubernetes ${version})`), target };
  } catch (err) {
    return { result: fail(check, message(err), `check \`kubectl --kubeconfig ${kubeconfig}${context ? ` --context ${context}` : ''} get --raw /version\`, or fix the cluster in gatehouse.yaml`) };
  }
}

/** What the gateway's credential may do (SelfSubjectRulesReview), against what the gateway needs. */
export async function checkCredential(config: GatehouseConfig, target: UpstreamTarget): Promise<CheckResult> {
  const namespace = target.namespace ?? 'default';
  try {
    const { rules, incomplete } = await credentialRules(target, namespace);
    if (config.identity.impersonation.enabled && !(['users', 'groups'] as const).every((r) => allows(rules, 'impersonate', '', r))) {
      return fail('credential', 'impersonation is on but the credential may not impersonate users and groups', 'grant it the impersonate verb on users, groups and userextras, or turn identity.impersonation off');
    }
    const everything = allows(rules, '*', '*', '*');
    const reads = ['get', 'list', 'watch'].every((v) => allows(rules, v, '', 'pods'));
    if (everything) return ok('credential', `may do everything in namespace ${namespace} (policy decides what callers get)`);
    if (reads) return ok('credential', `may read pods in namespace ${namespace}${incomplete ? ' (the server says the list is incomplete)' : ''}; callers get at most what it may do`);
    return warn('credential', `may not get, list and watch pods in namespace ${namespace}`, 'bind the credential to a role that covers what your agents and people need (the gateway cannot grant more than it holds)');
  } catch (err) {
    return fail('credential', message(err), 'the credential must be allowed to create selfsubjectrulesreviews (every authenticated user is, by default)');
  }
}

/** Every configured OIDC issuer (gateway and console) serves a valid discovery document. */
export async function checkOidc(config: GatehouseConfig): Promise<CheckResult[]> {
  const issuers = new Map(config.identity.oidc.map((i) => [i.issuer, i.caFile]));
  if (config.console.oidc) issuers.set(config.console.oidc.issuer, config.console.oidc.caFile);
  if (issuers.size === 0) return [ok('oidc', 'no OIDC issuer configured: Gatehouse tokens and the bootstrap admin only (console sign-in is off)')];
  return Promise.all(
    [...issuers].map(async ([issuer, caFile]) => {
      try {
        const { jwksUri } = await discoverIssuer(issuer, createIssuerFetch(caFile), TIMEOUT_MS);
        return ok('oidc', `${issuer} discovery answers (keys at ${jwksUri.href})`);
      } catch (err) {
        return fail('oidc', message(err), `check the issuer is up and its URL in gatehouse.yaml is exact (${issuer}/.well-known/openid-configuration must answer)`);
      }
    }),
  );
}

/** Opens the audit store (never creating it) and checks it can be written. */
export async function checkStore(config: GatehouseConfig): Promise<{ result: CheckResult; store?: Store }> {
  const location = configuredStoreLocation(config);
  if ('sqlite' in location) {
    const file = location.sqlite;
    if (!existsSync(file)) return { result: fail('store', `${file} does not exist`, 'start the gateway once (`gatehouse up`): it creates the store') };
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
      accessSync(dirname(file), constants.W_OK);
    } catch (err) {
      return { result: fail('store', `${file} is not writable (${(err as NodeJS.ErrnoException).code ?? message(err)})`, `run as the user that owns ${file}, or fix its permissions`) };
    }
  }
  try {
    const store = await openStore(location);
    return { result: ok('store', 'sqlite' in location ? `${location.sqlite} opens and is writable` : 'the PostgreSQL store opens'), store };
  } catch (err) {
    return { result: fail('store', message(err), 'check store in gatehouse.yaml, and that the database is up') };
  }
}

/** Walks the record's hash chain and signed checkpoints. */
export async function checkChain(config: GatehouseConfig, store: Store): Promise<CheckResult> {
  const keyFile = join(config.dataDir, SIGNING_KEY_FILE);
  if (!existsSync(keyFile)) return fail('audit-chain', `no signing key at ${keyFile}`, 'start the gateway once, or restore the key from your backup');
  try {
    const report = await verifyAuditStore(store.audit, trustedKeysFromPem(readFileSync(keyFile, 'utf8')));
    if (!report.ok && report.problem) {
      return fail('audit-chain', `broken at seq ${report.problem.seq} (${report.problem.kind}): ${report.problem.message}`, 'the record was changed outside Gatehouse: keep a copy for investigation (`gatehouse audit export`), see docs/audit.md');
    }
    return ok('audit-chain', report.events === 0 ? 'no events recorded yet' : `${report.events} events verify, ${report.checkpoints} signed checkpoint(s)`);
  } catch (err) {
    return fail('audit-chain', message(err), 'see docs/audit.md');
  }
}

/**
 * Every check, in order; later checks that need an earlier one's result are
 * skipped (not reported) when it failed.
 *
 * @example
 * const results = await runDoctor('/home/me/.gatehouse/gatehouse.yaml');
 * const healthy = results.every((r) => r.status !== 'fail');
 */
export async function runDoctor(configPath: string): Promise<CheckResult[]> {
  const { result, config } = checkConfig(configPath);
  if (!config) return [result];
  const results = [result, checkCertificate(config)];
  for (const cluster of configuredClusters(config).clusters) {
    if (cluster.kubeconfig === undefined) {
      results.push(ok(`upstream ${cluster.name}`, 'reached through cluster agents: `gatehouse clusters` shows the connected ones'));
      continue;
    }
    const upstream = await checkUpstream({ ...cluster, kubeconfig: cluster.kubeconfig });
    results.push(upstream.result);
    if (upstream.target) results.push(await checkCredential(config, upstream.target));
  }
  results.push(...(await checkOidc(config)));
  const opened = await checkStore(config);
  results.push(opened.result);
  if (opened.store) {
    try {
      results.push(await checkChain(config, opened.store));
    } finally {
      await opened.store.close();
    }
  }
  return results;
}
