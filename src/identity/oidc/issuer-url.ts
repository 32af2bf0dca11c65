import { isIPv4 } from 'node:net';

/**
 * True for host names that can only reach this machine: `localhost`,
 * 127.0.0.0/8 and `::1` (as `URL.hostname` spells it, `[::1]`).
 *
 * @example
 * isLoopbackHostname(new URL('http://127.0.0.1:5556').hostname); // true
 * isLoopbackHostname('idp.example.com'); // false
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]' || host === '::1') return true;
  return isIPv4(host) && host.startsWith('127.');
}

/**
 * Why `url` cannot identify a trusted OIDC issuer (or serve its keys), or
 * undefined when it can: it must be https, or http on a loopback address only
 * (tests and demos), and carry no query, fragment or credentials
 * (OIDC Discovery §3; RFC 8414 §2).
 *
 * @example
 * issuerUrlProblem('https://accounts.example.com'); // undefined
 * issuerUrlProblem('http://idp.example.com');       // 'must use https (plain http is allowed on loopback only: …)'
 */
export function issuerUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (parsed.protocol === 'http:') {
    if (!isLoopbackHostname(parsed.hostname)) {
      return `must use https; plain http is allowed on loopback only (127.0.0.0/8, ::1, localhost), not on ${JSON.stringify(parsed.hostname)}`;
    }
  } else if (parsed.protocol !== 'https:') {
    return `must use https, not ${parsed.protocol.slice(0, -1)}`;
  }
  if (parsed.search !== '' || url.includes('?')) return 'must not have a query';
  if (parsed.hash !== '' || url.includes('#')) return 'must not have a fragment';
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry credentials';
  return undefined;
}
