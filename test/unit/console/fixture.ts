/**
 * The console handler on a loopback HTTP server over real parts: a SQLite
 * store with signed audit events, the token service, the shipped policy, and
 * the in-memory approvals fake. Bearer tokens are mapped to principals by a
 * table, as the gateway's authenticators would.
 */
import { createJoinTokens } from '../../../src/tunnel/join-tokens.js';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createAuditSigner, trustedKeysFromPem } from '../../../src/audit/checkpoint.js';
import type { AuditEvent } from '../../../src/audit/event.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import type { AuditWriter } from '../../../src/audit/writer.js';
import { createConsoleHandler, resolveConsoleSettings } from '../../../src/console/index.js';
import { consoleConfigSchema } from '../../../src/console/config.js';
import { createSessionCodec, loadSessionKey } from '../../../src/console/session.js';
import type { BrowserSession } from '../../../src/console/session.js';
import type { Principal } from '../../../src/identity/principal.js';
import { createTokenService } from '../../../src/identity/tokens.js';
import { compileCel } from '../../../src/policy/cel/index.js';
import { baselineAllowFile, builtinGuardrailsDir } from '../../../src/policy/config.js';
import type { RoleLookup } from '../../../src/policy/explain.js';
import { loadPolicy } from '../../../src/policy/load.js';
import { staticPolicy } from '../../../src/policy/model.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { fakeApprovals } from './fake-approvals.js';
import type { FakeApprovals } from './fake-approvals.js';

const person = (subject: string, groups: string[], via: Principal['via'] = 'oidc'): Principal => ({ subject, groups, kind: 'human', via, tokenId: undefined });

/** Bearer token → who it is. */
export const PRINCIPALS: Readonly<Record<string, Principal>> = {
  admin: person('gatehouse-admin', ['gatehouse:admins'], 'bootstrap-token'),
  alice: person('oidc:alice', ['dev', 'approvers']),
  carol: person('oidc:carol', ['approvers', 'sre']),
  bob: person('oidc:bob', ['dev']),
  auditor: person('oidc:auditor', ['auditors']),
  agent: { subject: 'token:cursor', groups: ['approvers'], kind: 'agent', via: 'token', tokenId: 't-1' },
};

export interface CallOptions {
  /** A key of {@link PRINCIPALS}, sent as the bearer token. */
  as?: string;
  cookie?: string;
  /** Send X-Gatehouse-Console: 1. */
  csrf?: boolean;
  body?: unknown;
  /** Raw body text (sent as JSON). */
  raw?: string;
  headers?: Record<string, string>;
}

export interface ConsoleFixture {
  url: string;
  dataDir: string;
  approvals: FakeApprovals;
  events: AuditEvent[];
  /** The SQLite store behind the API, for tampering. */
  store: ReturnType<typeof openSqliteStore>;
  call(method: string, path: string, options?: CallOptions): Promise<Response>;
  /** A session cookie header value, as a browser sign-in would set. */
  sessionCookie(session: Omit<BrowserSession, 'expiresAt'>, ttlMs?: number): Promise<string>;
  close(): Promise<void>;
}

export async function startConsoleFixture(
  options: { events?: AuditEvent[]; record?: (writer: AuditWriter) => Promise<void>; devLogin?: boolean; webRoot?: string; keepaliveMs?: number; boundRole?: RoleLookup } = {},
): Promise<ConsoleFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-console-'));
  const store = openSqliteStore(join(dataDir, 'gatehouse.db'));
  const signer = createAuditSigner(generateKeyPairSync('ed25519').privateKey);
  const writer = createAuditWriter(store.audit, { signer, checkpointEvery: 5 });
  const events = options.events ?? [];
  for (const event of events) await writer.append(event);
  await options.record?.(writer);
  await writer.close();

  const approvals = fakeApprovals();
  const settings = resolveConsoleSettings(
    {
      identity: { oidc: [], impersonation: { enabled: false } },
      console: consoleConfigSchema.parse({ devLogin: options.devLogin ?? false, roles: { admins: ['gatehouse:admins'], auditors: ['auditors'], approvers: ['approvers'] } }),
    },
    'https://gatehouse.test:6443',
  );
  const handler = createConsoleHandler({
    settings,
    dataDir,
    authenticate: (req) => {
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      return Promise.resolve(token === undefined ? undefined : PRINCIPALS[token]);
    },
    approvals,
    audit: store.audit,
    auditKeys: trustedKeysFromPem(signer.publicKeyPem),
    policy: staticPolicy(loadPolicy([builtinGuardrailsDir(), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' })),
    boundRole: options.boundRole,
    tokens: createTokenService(store),
    clusters: {
      list: () => [
        { name: 'default', mode: 'direct', default: true, where: 'https://10.0.0.1:6443', agents: [] },
        { name: 'prod', mode: 'agent', default: false, where: 'cluster "prod" (through its agent)', agents: [] },
      ],
      joinTokens: createJoinTokens(store.clusterAgentTokens),
    },
    log: pino({ level: 'silent' }),
    webRoot: options.webRoot ?? join(dataDir, 'no-web-build'),
    keepaliveMs: options.keepaliveMs,
  });
  const server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(418).end('not the console');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const codec = createSessionCodec(loadSessionKey(dataDir));

  return {
    url,
    dataDir,
    approvals,
    events,
    store,
    call(method, path, call = {}) {
      const headers: Record<string, string> = { ...call.headers };
      if (call.as !== undefined) headers['authorization'] = `Bearer ${call.as}`;
      if (call.cookie !== undefined) headers['cookie'] = call.cookie;
      if (call.csrf) headers['x-gatehouse-console'] = '1';
      const body = call.raw ?? (call.body === undefined ? undefined : JSON.stringify(call.body));
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      return fetch(url + path, { method, headers, body, redirect: 'manual' });
    },
    sessionCookie: async (session, ttlMs = 3_600_000) => `gatehouse_session=${await codec.seal(session, ttlMs)}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The `error` of a console error answer. */
export async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return body.error;
}
