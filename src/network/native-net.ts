// The network functions of the addon (native/addon_net.c), typed. Kept here rather than in
// src/native/addon.ts so the network layer owns its small native surface.
import { native, type NativeAddon } from '../native/addon.js';

export interface NetAddon {
  /** socket(domain, type|SOCK_CLOEXEC, protocol) created inside the netns of `nsFd` (-1: ours). */
  netSocket(nsFd: number, domain: number, type: number, protocol: number): number;
  /** bind to ip:port (AF_INET); returns the bound port. */
  bindInet(fd: number, ip: string, port: number, reuseAddr?: boolean): number;
  sockSend(fd: number, data: Buffer): number;
  /** Bytes received into buf, or -1 when dontWait and nothing is queued. */
  sockRecv(fd: number, buf: Buffer, dontWait?: boolean): number;
  udpRecvFrom(fd: number, buf: Buffer): { length: number; address: string; port: number } | null;
  udpSendTo(fd: number, data: Buffer, ip: string, port: number): number;
  sockListen(fd: number, backlog: number): void;
  /** setsockopt(fd, level, name, &int, sizeof int). */
  sockSetInt(fd: number, level: number, name: number, value: number): void;
}

export function netNative(): NativeAddon & NetAddon {
  return native() as NativeAddon & NetAddon;
}

export const AF_INET = 2;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const NETLINK_ROUTE = 0;
