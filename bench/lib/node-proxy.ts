/**
 * A reference side for the benchmark: the least a Node.js proxy does per
 * request. It listens as the gateway does by default (Node's HTTP/2 server
 * with HTTP/1.1 by ALPN, Nagle off), with the gateway's own certificate and
 * key so its TLS costs the same, and sends each GET to the API server over
 * an undici pool, as the gateway's read pool does, with the bearer token the
 * other sides present; the answer is piped back with the headers the
 * gateway's forwarder keeps (src/proxy/headers.ts). No authentication, policy,
 * audit or log. What the gateway spends beyond this side is what its stages
 * and its record cost; what this side spends beyond the API server is what
 * one Node.js hop costs on the machine, whatever it does.
 *
 * Run as a program (bench/lib/env.ts starts it), told what to do in
 * GATEHOUSE_BENCH_NODE_PROXY (JSON: {@link NodeProxyConfig}); prints
 * `listening <port>`.
 */
import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Pool } from 'undici';
import { clientResponseHeaders } from '../../src/proxy/headers.js';

/** Where the reference proxy listens from and forwards to. */
export interface NodeProxyConfig {
  /** PEM files of the serving certificate and its key. */
  certFile: string;
  keyFile: string;
  /** The API server's origin, its CA's PEM file, and the bearer token to present there. */
  origin: string;
  caFile: string;
  token: string;
}

function refuse(res: Http2ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${message}\n`);
}

function main(): void {
  const given = process.env.GATEHOUSE_BENCH_NODE_PROXY;
  if (given === undefined) {
    process.stderr.write('node-proxy: GATEHOUSE_BENCH_NODE_PROXY (JSON: certFile, keyFile, origin, caFile, token) is not set\n');
    process.exit(2);
  }
  const config = JSON.parse(given) as NodeProxyConfig;
  const authorization = `Bearer ${config.token}`;
  const pool = new Pool(config.origin, { connect: { ca: readFileSync(config.caFile, 'utf8') }, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 });
  const handle = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    // The benchmarks it serves only read; a body would need forwarding this side does not do.
    if (req.method !== 'GET') return refuse(res, 405, 'the reference proxy forwards GET only');
    const headers: Record<string, string> = { authorization };
    if (req.headers.accept !== undefined) headers.accept = req.headers.accept;
    pool.request({ method: 'GET', path: req.url, headers }).then(
      (up) => {
        res.writeHead(up.statusCode, clientResponseHeaders(up.headers));
        // An answer cut off upstream cuts the client's too, rather than ending this process with an unhandled error.
        up.body.once('error', () => res.destroy());
        up.body.pipe(res);
      },
      (err: unknown) => refuse(res, 502, `upstream: ${String(err)}`),
    );
  };
  const server = createSecureServer({ cert: readFileSync(config.certFile), key: readFileSync(config.keyFile), noDelay: true, allowHTTP1: true }, handle);
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
  });
  const stop = (): void => {
    server.close();
    void pool.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
