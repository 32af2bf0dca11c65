/**
 * `url()` values, after the Kubernetes CEL URL library: an absolute URI
 * (`https://host:8443/p?q=1`) or an absolute path (`/p?q=1`), as Go's
 * `url.ParseRequestURI` accepts them. Parsed by hand (no regex, linear).
 */

/** A parsed URL. Immutable. */
export class Url {
  constructor(
    readonly source: string,
    readonly scheme: string,
    /** `host[:port]` without user info; IPv6 literals keep their brackets. */
    readonly host: string,
    readonly path: string,
    readonly rawQuery: string,
  ) {}

  /** Host without the port; IPv6 literals without brackets. */
  hostname(): string {
    const h = this.host;
    if (h.startsWith('[')) {
      const end = h.indexOf(']');
      return end < 0 ? h : h.slice(1, end);
    }
    const colon = h.lastIndexOf(':');
    return colon < 0 ? h : h.slice(0, colon);
  }

  /** The port, or `''`. */
  port(): string {
    const h = this.host;
    const afterBracket = h.startsWith('[') ? h.indexOf(']') + 1 : 0;
    const colon = h.indexOf(':', afterBracket);
    return colon < 0 ? '' : h.slice(colon + 1);
  }

  /** Query parameters, values in order; keys and values percent-decoded. */
  query(): Record<string, string[]> {
    const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
    if (this.rawQuery === '') return out;
    for (const part of this.rawQuery.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const k = decode(eq < 0 ? part : part.slice(0, eq));
      const v = eq < 0 ? '' : decode(part.slice(eq + 1));
      (out[k] ??= []).push(v);
    }
    return out;
  }

  toString(): string {
    return this.source;
  }
}

/** Raised for strings that are not absolute URIs or absolute paths. */
export class UrlError extends Error {
  override readonly name = 'UrlError';
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    throw new UrlError(`invalid URL escape in ${JSON.stringify(s)}`);
  }
}

const MAX_URL_LENGTH = 8192;

function isSchemeChar(c: number, first: boolean): boolean {
  const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (first) return alpha;
  return alpha || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46; // + - .
}

/**
 * Parses `text` like Go's `url.ParseRequestURI`.
 *
 * @example
 * parseUrl('https://example.com:8443/a?b=c').port() // '8443'
 */
export function parseUrl(text: string): Url {
  const bad = (why: string): never => {
    throw new UrlError(`invalid URL ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)}: ${why}`);
  };
  if (text.length > MAX_URL_LENGTH) bad('too long');
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) bad('contains a space or control character');
  }
  let rest = text;
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (rest.startsWith('/')) return new Url(text, '', '', rest, rawQuery);

  let i = 0;
  while (i < rest.length && isSchemeChar(rest.charCodeAt(i), i === 0)) i++;
  if (i === 0 || rest[i] !== ':') return bad('not an absolute URI or absolute path');
  const scheme = rest.slice(0, i).toLowerCase();
  rest = rest.slice(i + 1);
  if (!rest.startsWith('//')) return new Url(text, scheme, '', rest, rawQuery); // opaque, e.g. mailto:x

  rest = rest.slice(2);
  const slash = rest.indexOf('/');
  let authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority.startsWith('[') && authority.indexOf(']') < 0) bad('unterminated IPv6 literal');
  const u = new Url(text, scheme, authority, path, rawQuery);
  const port = u.port();
  for (let k = 0; k < port.length; k++) {
    const c = port.charCodeAt(k);
    if (c < 48 || c > 57) bad(`invalid port ${JSON.stringify(port)}`);
  }
  return u;
}
