// Which proxy a daemon-side download uses, as Go's http.ProxyFromEnvironment decides it for
// dockerd (golang.org/x/net/http/httpproxy): HTTP_PROXY / http_proxy for http URLs,
// HTTPS_PROXY / https_proxy for https (upper case first), NO_PROXY / no_proxy exempts hosts;
// `localhost` and loopback addresses are never proxied; a proxy without a scheme is http://.
import { isIP } from 'node:net';
import { BlockList } from 'node:net';

export type ProxyEnv = Readonly<Record<string, string | undefined>>;

function envAny(env: ProxyEnv, ...names: string[]): string {
  for (const n of names) {
    const v = env[n];
    if (v) return v;
  }
  return '';
}

/** Whether any proxy is configured for http or https (the daemon then uses its own HTTP client). */
export function proxyConfigured(env: ProxyEnv): boolean {
  return envAny(env, 'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy') !== '';
}

/** The proxy URL for `target`, or undefined to connect directly. Throws on a malformed proxy. */
export function proxyFor(target: URL, env: ProxyEnv): URL | undefined {
  const https = target.protocol === 'https:';
  // Go ignores HTTP_PROXY in a CGI environment (httpoxy); so do we.
  const raw = https ? envAny(env, 'HTTPS_PROXY', 'https_proxy') : env.REQUEST_METHOD ? '' : envAny(env, 'HTTP_PROXY', 'http_proxy');
  if (raw === '') return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || (https ? '443' : '80');
  if (!useProxy(host, port, envAny(env, 'NO_PROXY', 'no_proxy'))) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new Error(`invalid proxy address ${JSON.stringify(raw)}`);
  }
  if (!['http:', 'https:'].includes(proxy.protocol)) throw new Error(`proxyconnect: unsupported proxy scheme ${JSON.stringify(proxy.protocol.slice(0, -1))} in ${JSON.stringify(raw)} (http and https proxies are supported)`);
  return proxy;
}

/** httpproxy's useProxy: loopback never; NO_PROXY entries are `*`, IPs, CIDRs, domains, each with an optional port. */
function useProxy(host: string, port: string, noProxy: string): boolean {
  if (host === 'localhost') return false;
  const ipv = isIP(host);
  if (ipv === 4 && host.startsWith('127.')) return false;
  if (ipv === 6 && (host === '::1' || /^::ffff:127\./i.test(host))) return false;
  for (let entry of noProxy.split(',')) {
    entry = entry.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return false;
    if (entry.includes('/')) {
      const [net, bits] = entry.split('/') as [string, string];
      const t = isIP(net);
      if (t === 0 || ipv === 0 || !/^\d+$/.test(bits)) continue;
      const bl = new BlockList();
      try {
        bl.addSubnet(net, Number(bits), t === 4 ? 'ipv4' : 'ipv6');
        if (bl.check(host, ipv === 4 ? 'ipv4' : 'ipv6')) return false;
      } catch {
        /* a malformed entry matches nothing */
      }
      continue;
    }
    // host[:port], [ipv6]:port
    let ehost = entry;
    let eport = '';
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? (isIP(entry) === 6 ? null : /^([^:]+):(\d+)$/.exec(entry));
    if (m) {
      ehost = m[1]!;
      eport = m[2] ?? '';
    }
    if (isIP(ehost)) {
      if (ipv !== 0 && ehost === host && (eport === '' || eport === port)) return false;
      continue;
    }
    if (ehost.startsWith('*.')) ehost = ehost.slice(1);
    const exact = !ehost.startsWith('.');
    const suffix = exact ? `.${ehost}` : ehost;
    if ((host.endsWith(suffix) || (exact && host === ehost)) && (eport === '' || eport === port)) return false;
  }
  return true;
}
