/**
 * `GET /gatehouse/v1/events`: server-sent events. Every approval that is
 * created or changes is sent as `event: approval` with the approval as the
 * caller sees it; a comment line keeps proxies from closing an idle stream.
 *
 * @module
 */

import type { ApprovalService } from '../approvals/types.js';
import { approvalView } from './approvals.js';
import { API_HEADERS } from './http.js';
import { route } from './router.js';
import type { Route } from './router.js';

export interface EventStreamOptions {
  /** Default 15 000. */
  keepaliveMs?: number;
  /** A client that has this much unsent is too slow and is dropped (it reconnects and re-reads). Default 1 MiB. */
  maxBufferedBytes?: number;
}

/**
 * @example
 * const routes = [eventRoute(service, { keepaliveMs: 15_000 })];
 */
export function eventRoute(service: ApprovalService, options: EventStreamOptions = {}): Route {
  const keepaliveMs = options.keepaliveMs ?? 15_000;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  return route('GET', '/gatehouse/v1/events', ['approver', 'auditor', 'admin'], ({ res, caller }) => {
    res.writeHead(200, {
      ...API_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      // nginx and similar proxies otherwise hold events back.
      'x-accel-buffering': 'no',
    });
    const send = (text: string): void => {
      if (res.writableLength > maxBuffered) {
        res.destroy();
        return;
      }
      res.write(text);
    };
    // The first bytes make the browser's EventSource report "open" at once.
    send(': connected\n\n');
    const unsubscribe = service.subscribe((approval) => {
      send(`event: approval\ndata: ${JSON.stringify(approvalView(service, approval, caller))}\n\n`);
    });
    const timer = setInterval(() => send(': keepalive\n\n'), keepaliveMs);
    // The response closes when the client goes away (or is dropped above): stop listening then.
    res.once('close', () => {
      clearInterval(timer);
      unsubscribe();
    });
    return undefined;
  });
}
