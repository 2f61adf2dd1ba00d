// IPv4 addresses and CIDR blocks as plain numbers (uint32), which keeps subnet arithmetic exact.
import { invalid } from '../common/errors.js';

export interface Cidr {
  /** The network address (host bits cleared). */
  base: number;
  prefix: number;
}

/** `"172.18.0.5"` → 0xac120005; throws invalid-argument naming `what` for anything else. */
export function parseIp(text: string, what = 'IPv4 address'): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) throw invalid(`invalid ${what}: "${text}"`, 'expected an IPv4 address like 172.18.0.2');
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = Number(m[i]);
    if (part > 255 || (m[i]!.length > 1 && m[i]!.startsWith('0'))) throw invalid(`invalid ${what}: "${text}"`, 'each part must be 0-255 without leading zeros');
    n = n * 256 + part;
  }
  return n >>> 0;
}

export function isIp(text: string): boolean {
  try {
    parseIp(text);
    return true;
  } catch {
    return false;
  }
}

export function formatIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * `"172.18.0.0/16"` → {base, prefix}. With `strict`, host bits set is an error (docker rejects
 * `--subnet 172.18.0.1/16` too: "invalid subnet ... : it should be 172.18.0.0/16").
 */
export function parseCidr(text: string, what = 'subnet', strict = true): Cidr {
  const slash = text.indexOf('/');
  if (slash < 0) throw invalid(`invalid ${what}: "${text}"`, 'expected CIDR notation like 172.18.0.0/16');
  const ip = parseIp(text.slice(0, slash), what);
  const ptext = text.slice(slash + 1);
  if (!/^\d{1,2}$/.test(ptext) || Number(ptext) > 32) throw invalid(`invalid ${what}: "${text}"`, 'the prefix length must be 0-32');
  const prefix = Number(ptext);
  const base = (ip & maskOf(prefix)) >>> 0;
  if (strict && base !== ip) throw invalid(`invalid ${what}: "${text}"`, `host bits are set; did you mean ${formatIp(base)}/${prefix}?`);
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrLast(c: Cidr): number {
  return (c.base + cidrSize(c) - 1) >>> 0;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.base;
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.base <= cidrLast(b) && b.base <= cidrLast(a);
}
