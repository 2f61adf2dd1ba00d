// The userland proxy of published ports on IPv6 (docker-proxy's job for dockerd): containers
// have IPv4 addresses only and hako's nft table is `ip` (IPv4), so a connection to [::]:8080 is
// relayed by hakod to <container IPv4>:80. dockerd 20.10 does the same with its default
// --userland-proxy=true and no ip6tables: a binding without a host address gets both 0.0.0.0
// (DNAT) and [::] (the proxy), where IPv6 is enabled (moby's IsV6Listenable).
//   TCP: one listener; each accepted connection gets its own upstream connection; half-closes
//        are passed on (allowHalfOpen), a reset or error ends both sides.
//   UDP: one socket; each client address gets its own upstream socket (replies go back to that
//        client), dropped after 90 s without traffic (docker-proxy's UDPConnTrackTimeout).
// The proxies live in the daemon, like docker-proxy (Pdeathsig): they end with it and are
// started again by the next daemon's reconcile.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { existsSync } from 'node:fs';
import { HakoError } from '../common/errors.js';

export interface ProxyTarget {
  proto: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  targetIp: string;
  targetPort: number;
}

export interface UserlandProxy {
  close(): void;
}

export const UDP_IDLE_MS = 90_000;

/** IPv6 is enabled in this kernel (absent with ipv6.disable=1, where moby publishes IPv4 only). */
export function ipv6Enabled(): boolean {
  return existsSync('/proc/net/if_inet6');
}

/** Listens on hostIp:hostPort (IPv6 only) and relays to the target. Rejects with a conflict when the port is taken. */
export async function startProxy(t: ProxyTarget): Promise<UserlandProxy> {
  return t.proto === 'tcp' ? startTcp(t) : startUdp(t);
}

function bindError(t: ProxyTarget, err: NodeJS.ErrnoException): HakoError {
  const where = `[${t.hostIp}]:${t.hostPort}/${t.proto}`;
  if (err.code === 'EADDRINUSE') return new HakoError({ step: `bind host port ${where}`, errno: 98, hint: 'another socket holds it', kind: 'conflict' });
  return new HakoError({ step: `bind host port ${where}`, errno: err.errno ? Math.abs(err.errno) : undefined, hint: err.code === 'EADDRNOTAVAIL' ? `${t.hostIp} is not an address of this host` : undefined, cause: err });
}

function startTcp(t: ProxyTarget): Promise<UserlandProxy> {
  const conns = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const up = connect({ host: t.targetIp, port: t.targetPort, allowHalfOpen: true });
    conns.add(client);
    conns.add(up);
    const end = () => {
      client.destroy();
      up.destroy();
      conns.delete(client);
      conns.delete(up);
    };
    client.on('error', end);
    up.on('error', end);
    client.on('close', () => (up.writableEnded ? end() : up.end()));
    up.on('close', () => (client.writableEnded ? end() : client.end()));
    client.pipe(up);
    up.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(bindError(t, err)));
    server.listen({ host: t.hostIp, port: t.hostPort, ipv6Only: true, exclusive: true }, () => {
      server.removeAllListeners('error');
      server.on('error', () => undefined);
      server.unref();
      resolve({
        close: () => {
          server.close();
          for (const c of conns) c.destroy();
          conns.clear();
        },
      });
    });
  });
}

function startUdp(t: ProxyTarget): Promise<UserlandProxy> {
  const sock: UdpSocket = createSocket({ type: 'udp6', ipv6Only: true });
  const clients = new Map<string, { up: UdpSocket; timer: NodeJS.Timeout }>();
  const drop = (key: string) => {
    const c = clients.get(key);
    if (!c) return;
    clearTimeout(c.timer);
    c.up.close();
    clients.delete(key);
  };
  sock.on('message', (msg: Buffer, from: RemoteInfo) => {
    const key = `[${from.address}]:${from.port}`;
    let c = clients.get(key);
    if (!c) {
      const up = createSocket('udp4');
      up.on('error', () => drop(key));
      up.on('message', (reply: Buffer) => {
        sock.send(reply, from.port, from.address);
        const cur = clients.get(key);
        cur?.timer.refresh();
      });
      up.unref();
      c = { up, timer: setTimeout(() => drop(key), UDP_IDLE_MS).unref() };
      clients.set(key, c);
    } else c.timer.refresh();
    c.up.send(msg, t.targetPort, t.targetIp);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', (err) => {
      sock.close();
      reject(bindError(t, err));
    });
    sock.bind({ address: t.hostIp, port: t.hostPort, exclusive: true }, () => {
      sock.removeAllListeners('error');
      sock.on('error', () => undefined);
      sock.unref();
      resolve({
        close: () => {
          for (const k of [...clients.keys()]) drop(k);
          sock.close();
        },
      });
    });
  });
}
