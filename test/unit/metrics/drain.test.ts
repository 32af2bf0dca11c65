import { createServer, request } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isStreamingUrl, isWatchUrl } from '../../../src/kube/streaming-url.js';
import { createLifecycle } from '../../../src/proxy/drain.js';

describe('streaming requests', () => {
  it.each([
    ['/api/v1/namespaces/a/pods?watch=true', true, true],
    ['/api/v1/pods?labelSelector=x&watch=1', true, true],
    ['/api/v1/watch/namespaces/a/pods', true, true],
    ['/apis/apps/v1/watch/deployments', true, true],
    ['/api/v1/namespaces/a/pods/p/log?follow=true', false, true],
    ['/api/v1/namespaces/a/pods?watch=false', false, false],
    ['/api/v1/namespaces/watch/pods', false, false],
  ])('%s', (url, watch, streaming) => {
    expect([isWatchUrl(url), isStreamingUrl(url)]).toEqual([watch, streaming]);
  });
});

describe('drain', () => {
  it('fails readiness, lets an ordinary request finish, and ends a watch', async () => {
    const lifecycle = createLifecycle();
    const held: ServerResponse[] = [];
    const server = createServer((req, res) => {
      lifecycle.track(res);
      if (req.url === '/slow') setTimeout(() => res.end('done'), 300);
      else {
        res.writeHead(200).flushHeaders();
        held.push(res);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const get = (path: string) =>
      new Promise<{ body: string; ended: 'end' | 'error' }>((resolve) => {
        request({ port, path, host: '127.0.0.1' }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ body, ended: 'end' }));
          res.on('error', () => resolve({ body, ended: 'error' }));
        })
          .on('error', () => resolve({ body: '', ended: 'error' }))
          .end();
      });
    const watch = get('/api/v1/pods?watch=true');
    await new Promise((r) => setTimeout(r, 50));
    const slow = get('/slow');
    await new Promise((r) => setTimeout(r, 50));
    expect(lifecycle.inFlight()).toEqual({ requests: 2, watches: 1 });
    const report = lifecycle.drain(server, { delayMs: 0, drainMs: 5_000 });
    expect(lifecycle.draining()).toBe(true);
    expect(await slow).toEqual({ body: 'done', ended: 'end' });
    expect(await report).toEqual({ cut: 0, streams: 1 });
    expect((await watch).ended).toBe('error');
    expect(lifecycle.inFlight().requests).toBe(0);
  });
});
