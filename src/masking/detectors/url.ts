/**
 * Passwords in URLs: `scheme://user:password@host…`. Database and broker
 * schemes (`postgres://`, `mongodb+srv://`, `redis://:pass@`…) are reported
 * as `connection-string`, any other scheme as `url-credentials` (basic auth
 * in an http URL). Only the password is masked; a user name alone is kept
 * (token detectors still catch a token used as the user name).
 *
 * @module
 */
import { MASK_PREFIX, SCHEME_CHARS, charIn, isSpace } from './chars.js';
import type { Detector, Emit } from './types.js';

/** Longest authority (`user:password@host:port`) looked at. */
const MAX_AUTHORITY = 1024;
const MAX_SCHEME = 32;

const DATABASE_SCHEMES: ReadonlySet<string> = new Set([
  'postgres',
  'postgresql',
  'mysql',
  'mariadb',
  'mssql',
  'sqlserver',
  'oracle',
  'mongodb',
  'mongodb+srv',
  'redis',
  'rediss',
  'memcached',
  'amqp',
  'amqps',
  'nats',
  'kafka',
  'cassandra',
  'couchbase',
  'clickhouse',
  'ldap',
  'ldaps',
]);

export const urlCredentials: Detector = {
  names: ['connection-string', 'url-credentials'],
  needs: [':', '/', '@'],
  scan(text: string, emit: Emit): void {
    let from = 0;
    for (;;) {
      const sep = text.indexOf('://', from);
      if (sep < 0) return;
      const authority = sep + 3;
      let schemeStart = sep;
      while (schemeStart > 0 && sep - schemeStart < MAX_SCHEME && charIn(SCHEME_CHARS, text, schemeStart - 1)) schemeStart--;
      let end = authority;
      let lastAt = -1;
      const limit = Math.min(text.length, authority + MAX_AUTHORITY);
      while (end < limit && !endsAuthority(text.charCodeAt(end))) {
        if (text.charCodeAt(end) === 0x40 /* @ */) lastAt = end;
        end++;
      }
      from = Math.max(end, authority);
      if (schemeStart === sep || lastAt < 0) continue;
      const colon = text.slice(authority, lastAt).indexOf(':') + authority;
      if (colon < authority) continue;
      const start = colon + 1;
      if (start === lastAt || text.startsWith(MASK_PREFIX, start)) continue;
      const scheme = text.slice(schemeStart, sep).toLowerCase();
      emit(start, lastAt, DATABASE_SCHEMES.has(scheme) ? 'connection-string' : 'url-credentials');
    }
  },
};

function endsAuthority(c: number): boolean {
  switch (c) {
    case 0x2f: // /
    case 0x3f: // ?
    case 0x23: // #
    case 0x22: // "
    case 0x27: // '
    case 0x60: // `
    case 0x3c: // <
    case 0x3e: // >
    case 0x5c: // \
      return true;
    default:
      return isSpace(c);
  }
}
