import { connect } from 'node:tls';

export interface RawReply {
  /** 0 when the connection closed without a status line. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** True when the reply was cut off by the read timeout (a watch or a held-open stream). */
  timedOut: boolean;
}

/**
 * Writes `request` byte for byte on a fresh TLS connection and reads what
 * comes back until the server closes, the response ends, or `timeoutMs`.
 * Nothing is normalised: paths, header lines and bodies go out as given.
 * With `untilClose`, pipelined answers are all read (the body is then raw).
 */
export function sendRaw(url: string, caPem: string, request: Buffer | string, timeoutMs = 8000, untilClose = false): Promise<RawReply> {
  const base = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: base.hostname, port: Number(base.port), ca: caPem, servername: base.hostname === '127.0.0.1' ? undefined : base.hostname });
    const chunks: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parse(Buffer.concat(chunks)), timedOut });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, timeoutMs);
    let connected = false;
    socket.once('secureConnect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!untilClose && complete(Buffer.concat(chunks))) finish();
    });
    socket.once('end', finish);
    socket.once('close', finish);
    socket.once('error', (err: Error) => {
      // Once connected, a reset or EPIPE is the server refusing the rest of a request (e.g. after a 413):
      // what it answered is read on 'close'. Before that, the gateway is unreachable.
      if (connected || settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Builds an HTTP/1.1 request with `Connection: close` and a correct Content-Length. */
export function httpRequest(method: string, target: string, headers: Record<string, string>, body?: Buffer | string): Buffer {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  let head = `${method} ${target} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (payload !== undefined) head += `Content-Length: ${payload.length}\r\n`;
  head += '\r\n';
  return payload === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

function split(raw: Buffer): { head: string; rest: Buffer } | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  return { head: raw.subarray(0, end).toString('latin1'), rest: raw.subarray(end + 4) };
}

function headersOf(head: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function complete(raw: Buffer): boolean {
  const parts = split(raw);
  if (parts === undefined) return false;
  const headers = headersOf(parts.head);
  if (headers['content-length'] !== undefined) return parts.rest.length >= Number(headers['content-length']);
  if (headers['transfer-encoding']?.includes('chunked')) return parts.rest.includes('\r\n0\r\n\r\n') || parts.rest.subarray(0, 5).toString() === '0\r\n\r\n';
  return false;
}

function parse(raw: Buffer): { status: number; headers: Record<string, string>; body: Buffer } {
  const parts = split(raw);
  if (parts === undefined) return { status: 0, headers: {}, body: raw };
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(parts.head)?.[1] ?? 0);
  const headers = headersOf(parts.head);
  return { status, headers, body: headers['transfer-encoding']?.includes('chunked') ? dechunk(parts.rest) : parts.rest };
}

function dechunk(raw: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < raw.length) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
