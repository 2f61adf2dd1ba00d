// Stable MAC addresses: like docker, 02:42 followed by the four bytes of the IPv4 address, so a
// container keeps its MAC for as long as it keeps its address (02 = locally administered, unicast).
import { invalid } from '../common/errors.js';
import { parseIp } from './ipv4.js';

export function macForIp(ip: string): string {
  const n = parseIp(ip);
  const bytes = [0x02, 0x42, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** `"02:42:ac:11:00:02"` → 6 bytes; rejects multicast addresses (bit 0 of the first byte). */
export function parseMac(text: string): Buffer {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (!m) throw invalid(`invalid MAC address "${text}"`, 'expected six hex bytes like 02:42:ac:11:00:02');
  const buf = Buffer.from(m.slice(1).map((h) => parseInt(h, 16)));
  if (buf[0]! & 1) throw invalid(`invalid MAC address "${text}"`, 'a multicast address cannot be assigned to an interface');
  return buf;
}

export function formatMac(buf: Uint8Array): string {
  return Array.from(buf.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}
