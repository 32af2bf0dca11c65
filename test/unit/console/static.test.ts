/**
 * The built console under /ui: redirects, files with their types and cache
 * headers, index.html for app routes, the CSP, and a clear 503 before the
 * web build exists.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleFixture } from './fixture.js';
import type { ConsoleFixture } from './fixture.js';

const INDEX = '<!doctype html><title>Gatehouse</title><script type="module" src="/ui/assets/index-AbCd1234.js"></script>';

describe('console files', () => {
  let fx: ConsoleFixture;
  beforeAll(async () => {
    fx = await startConsoleFixture();
    const root = join(fx.dataDir, 'no-web-build');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), INDEX);
    writeFileSync(join(root, 'assets/index-AbCd1234.js'), 'console.log(1)');
    writeFileSync(join(root, 'assets/style-Xy_9-8765.css'), 'body{}');
    writeFileSync(join(root, 'favicon.svg'), '<svg/>');
    writeFileSync(join(fx.dataDir, 'secret.txt'), 'do not serve');
  });
  afterAll(() => fx.close());

  it('redirects /ui to /ui/, keeping the query', async () => {
    const response = await fx.call('GET', '/ui?x=1');
    expect(response.status).toBe(301);
    expect(response.headers.get('location')).toBe('/ui/?x=1');
  });

  it('serves index.html for / and app routes, never cached, with a strict CSP', async () => {
    for (const path of ['/ui/', '/ui/approvals/abc', '/ui/sessions']) {
      const response = await fx.call('GET', path);
      expect(response.status, path).toBe(200);
      expect(await response.text()).toBe(INDEX);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
    }
    const csp = (await fx.call('GET', '/ui/')).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    // The terminal player compiles WebAssembly ('wasm-unsafe-eval'); nothing else is relaxed, and no other origin is allowed.
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(csp.replace("'wasm-unsafe-eval'", '')).not.toMatch(/https?:|\*|unsafe/);
  });

  it('serves hashed assets as immutable and other files revalidated, with their types', async () => {
    const js = await fx.call('GET', '/ui/assets/index-AbCd1234.js');
    expect(await js.text()).toBe('console.log(1)');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const css = await fx.call('GET', '/ui/assets/style-Xy_9-8765.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const svg = await fx.call('GET', '/ui/favicon.svg');
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(svg.headers.get('cache-control')).toBe('no-cache');
    const head = await fx.call('HEAD', '/ui/assets/index-AbCd1234.js');
    expect(head.headers.get('content-length')).toBe('14');
  });

  it('answers 404 for a missing asset rather than HTML, and refuses writes', async () => {
    const missing = await fx.call('GET', '/ui/assets/gone-12345678.js');
    expect(missing.status).toBe(404);
    expect((await fx.call('POST', '/ui/', { csrf: true })).status).toBe(405);
  });

  it('never serves a file outside the build', async () => {
    const { hostname, port } = new URL(fx.url);
    for (const path of ['/ui/%2e%2e/secret.txt', '/ui/..%2fsecret.txt', '/ui/%2e%2e%2fsecret.txt']) {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        httpRequest({ hostname, port, path }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        })
          .on('error', reject)
          .end();
      });
      expect(body, path).not.toContain('do not serve');
      expect(status, path).toBe(400);
    }
  });
});

describe('console files before the web build', () => {
  let fx: ConsoleFixture;
  beforeAll(async () => {
    fx = await startConsoleFixture();
  });
  afterAll(() => fx.close());

  it('answers 503 saying to run the web build', async () => {
    const response = await fx.call('GET', '/ui/');
    expect(response.status).toBe(503);
    expect(await response.text()).toMatch(/not built.*npm run build:web/);
  });
});
