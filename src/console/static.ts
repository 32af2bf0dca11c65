/**
 * The web console's files: `/ui` redirects to `/ui/`, `/ui/*` serves the
 * Vite build in `dist/web/`, and any other path under /ui/ that is not a
 * file gets index.html (the app routes in the browser). Hashed assets are
 * cached for a year; everything else is revalidated. A strict
 * Content-Security-Policy allows nothing from any other origin.
 *
 * @module
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

/** The build output, beside `src/` and `dist/` of this package. */
export const DEFAULT_WEB_ROOT = resolve(import.meta.dirname, '../../dist/web');

const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite names built assets `assets/<name>-<hash>.<ext>`: their content never changes under that name. */
const HASHED_ASSET = /^assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

/** The file under `root` a request path names, or undefined for paths that try to leave it. */
function fileUnder(root: string, relative: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const path = resolve(root, `.${sep}${decoded}`);
  return path === root || path.startsWith(root + sep) ? path : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * @example
 * const serveUi = createStaticHandler(DEFAULT_WEB_ROOT);
 * await serveUi(req, res, url); // for /ui and /ui/*
 */
export function createStaticHandler(webRoot: string): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  const root = resolve(webRoot);
  const index = join(root, 'index.html');

  return async (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      plain(res, 405, 'the console files are read-only: use GET', { allow: 'GET, HEAD' });
      return;
    }
    if (url.pathname === '/ui') {
      res.writeHead(301, { ...SECURITY_HEADERS, location: `/ui/${url.search}` }).end();
      return;
    }
    if (!(await isFile(index))) {
      plain(res, 503, `the web console is not built (no ${index}): run \`npm run build:web\`, then reload`);
      return;
    }
    const relative = url.pathname.slice('/ui/'.length);
    const file = fileUnder(root, relative);
    if (file === undefined) {
      plain(res, 400, 'that path leaves the console');
      return;
    }
    let path = index;
    let cache = 'no-cache';
    if (relative !== '' && (await isFile(file))) {
      path = file;
      if (HASHED_ASSET.test(relative)) cache = 'public, max-age=31536000, immutable';
    } else if (relative.startsWith('assets/')) {
      // A missing script or style must fail loudly, not turn into the app's HTML.
      plain(res, 404, `no such console file: ${url.pathname}`);
      return;
    }
    const size = (await stat(path)).size;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
      'content-length': String(size),
      'cache-control': cache,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(path)
      .once('error', () => res.destroy())
      .pipe(res);
  };
}
