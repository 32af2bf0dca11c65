import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { logLevelRoutes } from '../../../src/console/log-level.js';
import type { Caller } from '../../../src/console/roles.js';
import { createRouter } from '../../../src/console/router.js';

let server: Server | undefined;
afterEach(() => server?.close());

const caller = (subject: string, admin: boolean): Caller => ({
  subject,
  groups: [],
  kind: 'human',
  via: 'oidc',
  roles: new Set(admin ? ['admin', 'auditor', 'approver'] : ['auditor']),
  cookie: false,
});
const CALLERS: Record<string, Caller> = { admin: caller('oidc:root', true), auditor: caller('oidc:audrey', false) };

/** The log-level routes on loopback over a logger whose lines are kept. */
async function serve(): Promise<{ url: string; lines: Record<string, unknown>[]; log: pino.Logger }> {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const router = createRouter(logLevelRoutes(log), (req) => Promise.resolve(CALLERS[/^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '']), {
    log,
    devLogin: false,
  });
  server = createServer((req, res) => void router(req, res, new URL(req.url ?? '/', 'http://gatehouse.test')));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/gatehouse/v1/log-level`, lines, log };
}

const put = (url: string, as: string, body: unknown): Promise<Response> =>
  fetch(url, { method: 'PUT', headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('PUT /gatehouse/v1/log-level', () => {
  it('changes the level live and logs who did it, going up and coming back', async () => {
    const { url, lines, log } = await serve();
    log.debug('before');
    const up = await put(url, 'admin', { level: 'debug' });
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ level: 'debug', previous: 'info' });
    expect(log.level).toBe('debug');
    log.debug('after');
    expect(await (await fetch(url, { headers: { authorization: 'Bearer admin' } })).json()).toEqual({ level: 'debug' });

    const quiet = await put(url, 'admin', { level: 'warn' });
    expect(await quiet.json()).toEqual({ level: 'warn', previous: 'debug' });
    expect(log.level).toBe('warn');
    expect(lines.map((l) => l.msg)).toEqual(['log level changed', 'after', 'log level changed']);
    expect(lines[0]).toMatchObject({ level: 30, from: 'info', to: 'debug', by: 'oidc:root' });
    expect(lines[2]).toMatchObject({ level: 30, from: 'debug', to: 'warn', by: 'oidc:root' });
    // From warn back to info: the line is written once info shows.
    await put(url, 'admin', { level: 'info' });
    expect(lines.at(-1)).toMatchObject({ msg: 'log level changed', from: 'warn', to: 'info', by: 'oidc:root' });
  });

  it('is for admins only', async () => {
    const { url, log } = await serve();
    const res = await put(url, 'auditor', { level: 'debug' });
    expect(res.status).toBe(403);
    expect((await fetch(url, { headers: { authorization: 'Bearer auditor' } })).status).toBe(403);
    expect((await put(url, 'nobody', { level: 'debug' })).status).toBe(401);
    expect(log.level).toBe('info');
  });

  it('refuses an unknown level or extra fields', async () => {
    const { url, log } = await serve();
    expect((await put(url, 'admin', { level: 'verbose' })).status).toBe(400);
    expect((await put(url, 'admin', { level: 'debug', forever: true })).status).toBe(400);
    expect(log.level).toBe('info');
  });
});
