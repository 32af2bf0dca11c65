import { Agent } from 'node:https';
import type { AgentOptions } from 'node:https';
import { connect as netConnect } from 'node:net';
import type { ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';

// A proxy's answer to CONNECT is a status line and a few headers; more than this is not one.
const MAX_CONNECT_RESPONSE_BYTES = 16 * 1024;

/**
 * The HTTP proxy to reach `target` through: `explicit` if given, else
 * HTTPS_PROXY/https_proxy unless NO_PROXY/no_proxy names the host (an exact
 * host, a domain suffix with or without a leading dot, optionally `:port`, or `*`).
 *
 * @example
 * const proxy = proxyFor(new URL('wss://gatehouse.example.com'), undefined); // from the environment
 */
export function proxyFor(target: URL, explicit: URL | undefined, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  if (explicit) return explicit;
  const configured = env.HTTPS_PROXY ?? env.https_proxy;
  if (!configured || bypassed(target, env.NO_PROXY ?? env.no_proxy ?? '')) return undefined;
  try {
    return new URL(configured.includes('://') ? configured : `http://${configured}`);
  } catch {
    throw new Error(`HTTPS_PROXY is not a URL: "${configured}"`);
  }
}

/**
 * An https.Agent that reaches every host through an HTTP CONNECT tunnel
 * opened on `proxy`, then speaks TLS to the host over it. Credentials in the
 * proxy URL are sent as Basic Proxy-Authorization.
 *
 * @example
 * new WebSocket(url, { agent: connectProxyAgent(new URL('http://proxy.corp:3128')) });
 */
export function connectProxyAgent(proxy: URL, options: AgentOptions = {}): Agent {
  if (proxy.protocol !== 'http:') throw new Error(`the proxy must be an http:// URL, got ${proxy.protocol}//`);
  return new ConnectProxyAgent(proxy, options);
}

class ConnectProxyAgent extends Agent {
  constructor(
    private readonly proxy: URL,
    options: AgentOptions,
  ) {
    super({ ...options, keepAlive: false });
  }

  // Node's Agent accepts a connection handed to `callback` later, which CONNECT needs.
  override createConnection(options: ClientRequestArgs & ConnectionOptions, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    if (!callback) throw new Error('a CONNECT tunnel is opened asynchronously: createConnection needs its callback');
    const host = options.host ?? 'localhost';
    const authority = `${host.includes(':') ? `[${host}]` : host}:${options.port ?? 443}`;
    const proxySocket = netConnect(Number(this.proxy.port || 80), this.proxy.hostname.replace(/^\[|\]$/g, ''));
    let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
    if (this.proxy.username) {
      const userinfo = `${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`;
      head += `Proxy-Authorization: Basic ${Buffer.from(userinfo).toString('base64')}\r\n`;
    }
    proxySocket.write(`${head}\r\n`, 'latin1');

    let received = Buffer.alloc(0);
    const fail = (message: string): void => {
      cleanup();
      proxySocket.destroy();
      // Node ignores the stream when there is an error; the type wants one.
      callback(new Error(`the proxy ${this.proxy.host} ${message}`), proxySocket);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) {
        if (received.length > MAX_CONNECT_RESPONSE_BYTES) fail('sent an oversized answer to CONNECT');
        return;
      }
      cleanup();
      const statusLine = received.subarray(0, received.indexOf('\r\n')).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
      if (status !== '200') {
        fail(`refused CONNECT to ${authority}: ${statusLine || 'no status line'}`);
        return;
      }
      const rest = received.subarray(end + 4);
      if (rest.length > 0) proxySocket.unshift(rest);
      callback(null, tlsConnect({ ...options, socket: proxySocket }));
    };
    const onError = (err: Error): void => fail(`could not be reached: ${err.message}`);
    const onClose = (): void => fail(`closed the connection before answering CONNECT to ${authority}`);
    const cleanup = (): void => {
      proxySocket.off('data', onData);
      proxySocket.off('error', onError);
      proxySocket.off('close', onClose);
    };
    proxySocket.on('data', onData);
    proxySocket.once('error', onError);
    proxySocket.once('close', onClose);
    return undefined;
  }
}

function bypassed(target: URL, noProxy: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || '443';
  return noProxy
    .split(/[\s,]+/)
    .filter((entry) => entry.length > 0)
    .some((entry) => {
      if (entry === '*') return true;
      const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(entry.toLowerCase());
      if (!match) return false;
      if (match[3] !== undefined && match[3] !== port) return false;
      const name = (match[1] ?? match[2] ?? '').replace(/^\*?\./, '');
      return host === name || host.endsWith(`.${name}`);
    });
}
