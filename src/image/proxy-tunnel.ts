// Talking through the proxy proxy.ts picked, as Go's http.Transport does for dockerd: an http
// URL is asked of the proxy as an absolute-URI request (RFC 9112 3.2.2), an https URL through a
// CONNECT tunnel with TLS to the target inside it. Proxy credentials from the proxy URL's user
// info go out as Proxy-Authorization: Basic. Errors name the proxy (`proxyconnect tcp: …`).
//
// TunnelingAgent is an https.Agent that opens its connections through a CONNECT tunnel when a
// request carries the `proxy` option; its pool keys include the proxy, so direct and tunnelled
// connections are never mixed, and a tunnelled one is kept alive like any other.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** `Proxy-Authorization` for a proxy URL with user info, else nothing. */
export function proxyAuthHeader(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'Proxy-Authorization': `Basic ${Buffer.from(creds).toString('base64')}` };
}

/** The proxy as `host:port` (its default port filled in), for messages. */
export function proxyAddress(proxy: URL): string {
  return `${proxy.hostname}:${proxy.port || (proxy.protocol === 'https:' ? '443' : '80')}`;
}

/** Request options that send `target` to `proxy` as an absolute-URI request (http targets only). */
export function absoluteUriRequest(target: URL, proxy: URL): { host: string; port: number; path: string; hostHeader: Record<string, string> } {
  return {
    host: proxy.hostname.replace(/^\[|\]$/g, ''),
    port: Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80)),
    path: target.toString(),
    hostHeader: { Host: target.host, ...proxyAuthHeader(proxy) },
  };
}

/** An Error whose message reads like Go's for a proxy that cannot be reached. */
export function proxyConnectError(proxy: URL, err: Error): Error {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'ECONNREFUSED' ? 'connect: connection refused' : e.code === 'ENOTFOUND' ? `lookup ${proxy.hostname}: no such host` : e.message;
  return Object.assign(new Error(`proxyconnect tcp: dial tcp ${proxyAddress(proxy)}: ${why}`), { code: e.code, proxyError: true });
}

/**
 * Opens a CONNECT tunnel to `authority` (`host:port`) through `proxy`; resolves with the raw
 * stream once the proxy answered 200. A refusal names the proxy and its status line.
 */
export function connectTunnel(proxy: URL, authority: string, signal?: AbortSignal): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const { host, port } = absoluteUriRequest(new URL('http://x/'), proxy);
    const mod = proxy.protocol === 'https:' ? https : http;
    const req = mod.request({ host, port, method: 'CONNECT', path: authority, headers: { Host: authority, ...proxyAuthHeader(proxy) }, signal, agent: false });
    req.on('error', (err) => reject(signal?.aborted ? err : proxyConnectError(proxy, err)));
    req.on('connect', (res: http.IncomingMessage, socket: Duplex) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        const status = `${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd();
        const hint = res.statusCode === 407 ? ' (give the proxy’s credentials in the proxy URL: http://user:password@host:port)' : '';
        // `refused`: an answer, not a network failure; asking again gets the same one.
        reject(Object.assign(new Error(`proxyconnect: the proxy ${proxyAddress(proxy)} refused CONNECT ${authority}: ${status}${hint}`), { proxyError: true, refused: true }));
        return;
      }
      resolve(socket);
    });
    req.end();
  });
}

type ConnectCallback = (err: Error | null, socket?: Duplex) => void;
type AgentInternals = {
  createConnection(options: Record<string, unknown>, cb: ConnectCallback): Duplex | undefined;
  getName(options: Record<string, unknown>): string;
};
/**
 * An https.Agent whose requests with a `proxy` option (a URL) go through a CONNECT tunnel. The
 * class is made on first use: defining it reads https.Agent, and in hakod's bundle node:https
 * (and node:tls) load on first use, not at start (~1 MB of idle RSS, issue #4).
 */
export function newTunnelingAgent(opts: https.AgentOptions): https.Agent {
  return new (tunnelingAgentClass ??= makeTunnelingAgentClass())(opts);
}

let tunnelingAgentClass: (new (opts: https.AgentOptions) => https.Agent) | undefined;

function makeTunnelingAgentClass(): new (opts: https.AgentOptions) => https.Agent {
  const base = https.Agent.prototype as unknown as AgentInternals;
  return class TunnelingAgent extends https.Agent {
    override getName(options: Record<string, unknown>): string {
      const name = base.getName.call(this, options);
      return options.proxy instanceof URL ? `${name}:proxy=${options.proxy.href}` : name;
    }

    override createConnection(options: Record<string, unknown>, cb: ConnectCallback): Duplex | undefined {
      const proxy = options.proxy;
      if (!(proxy instanceof URL)) return base.createConnection.call(this, options, cb);
      const host = String(options.host ?? 'localhost');
      const authority = `${host.includes(':') ? `[${host}]` : host}:${String(options.port ?? 443)}`;
      connectTunnel(proxy, authority, options.signal as AbortSignal | undefined).then(
        (socket) => {
          // Node's own https createConnection, with the tunnel as the TLS socket's transport (it
          // keeps the servername the agent computed and caches TLS sessions per target).
          const tls = base.createConnection.call(this, { ...options, socket: socket as Socket }, () => undefined);
          cb(null, tls);
        },
        (err: Error) => cb(err),
      );
      return undefined;
    }
  };
}
