// docker's -p/--publish and EXPOSE formats:
//   [ip:][hostPort:]containerPort[/proto]   ip may be [v6] ; ports may be ranges a-b
//   80           random host port → 80/tcp         8080:80        host 8080 → 80
//   127.0.0.1::80  random port on 127.0.0.1        8000-8009:80-89  ten mappings
//   8000-8009:80   one free host port of the range for container port 80
import { invalid } from '../common/errors.js';
import { isIPv6 } from 'node:net';
import { isIp } from './ipv4.js';

export type Proto = 'tcp' | 'udp' | 'sctp';

/** One requested mapping; hostPort 0 means "any free port" (hostPortEnd > hostPort: any in range). */
export interface PortSpec {
  hostIp: string;
  hostPort: number;
  hostPortEnd: number;
  containerPort: number;
  proto: Proto;
  /**
   * No host address was given: hostIp is 0.0.0.0 and, where IPv6 is enabled, the same host port
   * is published on [::] too (through the userland proxy), as dockerd does.
   */
  dualStack?: boolean;
}

/** A mapping in effect: the host port has been chosen. */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  proto: Proto;
}

function parsePort(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text)) throw invalid(`invalid port "${text}" in "${spec}"`, 'ports are numbers 1-65535');
  const n = Number(text);
  if (n < 1 || n > 65535) throw invalid(`invalid port "${text}" in "${spec}"`, 'ports are numbers 1-65535');
  return n;
}

function parseRange(text: string, spec: string): [number, number] {
  const dash = text.indexOf('-');
  if (dash < 0) {
    const p = parsePort(text, spec);
    return [p, p];
  }
  const a = parsePort(text.slice(0, dash), spec);
  const b = parsePort(text.slice(dash + 1), spec);
  if (b < a) throw invalid(`invalid port range "${text}" in "${spec}"`, 'the end of a range must not be below its start');
  return [a, b];
}

function parseProto(text: string, spec: string): Proto {
  const p = text.toLowerCase();
  if (p === 'tcp' || p === 'udp' || p === 'sctp') return p;
  throw invalid(`invalid protocol "${text}" in "${spec}"`, 'use tcp, udp or sctp');
}

/** Parses one -p value into one spec per container port. */
export function parsePortSpec(spec: string): PortSpec[] {
  let rest = spec.trim();
  let proto: Proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = parseProto(rest.slice(slash + 1), spec);
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw invalid(`invalid port spec "${spec}"`, 'an IPv6 host address is written [::1]:hostPort:containerPort');
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  let hostPart = '';
  let containerPart: string;
  if (parts.length === 1) containerPart = parts[0]!;
  else if (parts.length === 2) [hostPart, containerPart] = parts as [string, string];
  else if (parts.length === 3 && !hostIp) [hostIp, hostPart, containerPart] = parts as [string, string, string];
  else throw invalid(`invalid port spec "${spec}"`, 'expected [ip:][hostPort:]containerPort[/protocol]');
  // An IPv6 host address is served by the userland proxy (./userland-proxy.ts).
  if (hostIp && !isIp(hostIp) && !isIPv6(hostIp)) throw invalid(`invalid host IP "${hostIp}" in "${spec}"`);
  if (!containerPart) throw invalid(`invalid port spec "${spec}"`, 'the container port is missing');
  const [cStart, cEnd] = parseRange(containerPart, spec);
  const count = cEnd - cStart + 1;
  const ip = hostIp || '0.0.0.0';
  const dual = hostIp ? {} : { dualStack: true };
  if (!hostPart) {
    return Array.from({ length: count }, (_, i) => ({ hostIp: ip, hostPort: 0, hostPortEnd: 0, containerPort: cStart + i, proto, ...dual }));
  }
  const [hStart, hEnd] = parseRange(hostPart, spec);
  const hCount = hEnd - hStart + 1;
  if (count === 1) return [{ hostIp: ip, hostPort: hStart, hostPortEnd: hEnd, containerPort: cStart, proto, ...dual }];
  if (hCount !== count) throw invalid(`invalid port spec "${spec}"`, `the host range has ${hCount} ports but the container range has ${count}`);
  return Array.from({ length: count }, (_, i) => ({ hostIp: ip, hostPort: hStart + i, hostPortEnd: hStart + i, containerPort: cStart + i, proto, ...dual }));
}

/** -P: one random host port per EXPOSEd port (`"80/tcp"`, `"53/udp"`, `"8080"`). */
export function publishAllSpecs(exposed: Iterable<string>): PortSpec[] {
  const out: PortSpec[] = [];
  for (const e of exposed) {
    for (const s of parsePortSpec(e)) {
      if (s.hostPort !== 0 || s.hostIp !== '0.0.0.0') throw invalid(`invalid exposed port "${e}"`, 'EXPOSE takes port[/protocol]');
      out.push(s);
    }
  }
  return out;
}

/** A mapping on an IPv6 host address (served by the userland proxy, not by DNAT). */
export function isV6Mapping(m: { hostIp: string }): boolean {
  return m.hostIp.includes(':');
}

/** docker's `"80/tcp"` key for a mapping's container side. */
export function portKey(p: { containerPort: number; proto: Proto }): string {
  return `${p.containerPort}/${p.proto}`;
}
