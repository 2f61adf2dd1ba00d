// Sizes, durations and times the way docker's CLI reads and prints them (go-units semantics).

const binary: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** `512m` → 536870912 (RAMInBytes: binary multiples, optional `i`/`b`); null when invalid. */
export function parseBytes(s: string): number | null {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) return null;
  const n = Number(m[1]);
  if (!Number.isFinite(n)) return null;
  return Math.floor(n * binary[(m[2] ?? '').toLowerCase()]!);
}

const durationUnits: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * Go's time.ParseDuration: `1m30s`, `500ms`, `0` → nanoseconds; null when invalid. (µ as \u00b5 in
 * the regexes: esbuild escapes non-ASCII in strings but not in regex literals, and one µ made the
 * CLI's bundle non-ASCII, whose UTF-8 decoding at every start then took ~0.17 ms more.)
 */
export function parseDuration(s: string): number | null {
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const m = /^([-+]?)((?:\d*\.?\d+(?:ns|us|\u00b5s|ms|s|m|h))+)$/.exec(s);
  if (!m) return null;
  let total = 0;
  for (const part of m[2]!.matchAll(/(\d*\.?\d+)(ns|us|\u00b5s|ms|s|m|h)/g)) {
    total += Number(part[1]) * durationUnits[part[2]!]!;
  }
  return Math.round(m[1] === '-' ? -total : total);
}

const decimalUnits = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Go's %.Ng: `precision` significant digits, no trailing zeros. */
function goG(n: number, precision: number): string {
  if (n === 0) return '0';
  let s = n.toPrecision(precision);
  if (s.includes('e')) {
    const [mant, exp] = s.split('e');
    let m = mant!;
    if (m.includes('.')) m = m.replace(/0+$/, '').replace(/\.$/, '');
    const e = Number(exp);
    return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

/** go-units HumanSizeWithPrecision: decimal units, `1.24MB`. */
export function humanSize(bytes: number, precision = 4): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < decimalUnits.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goG(size, precision)}${decimalUnits[i]}`;
}

const binaryUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** go-units BytesSize: binary units, `1.5GiB` (docker stats memory). */
export function bytesSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1024 && i < binaryUnits.length - 1) {
    size /= 1024;
    i++;
  }
  return `${goG(size, 4)}${binaryUnits[i]}`;
}

/** go-units HumanDuration: `5 seconds`, `About a minute`, `3 hours`, `2 weeks`. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3600000 / 24 / 365)} years`;
}

/** "5 seconds ago" from a unix time in seconds (or an RFC 3339 string). */
export function ago(time: number | string, now = Date.now()): string {
  const t = typeof time === 'number' ? time * 1000 : Date.parse(time);
  if (!Number.isFinite(t) || t <= 0) return '';
  return `${humanDuration(now - t)} ago`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Go's time.Time.String() in UTC for a unix time: `2024-01-02 15:04:05 +0000 UTC`. */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000 UTC`;
}

/**
 * docker's `--since`/`--until` values: RFC 3339 dates, unix timestamps (`1700000000.5`) or
 * durations relative to now (`10m`). Returns the query string value (seconds, maybe fractional).
 */
export function timestampArg(value: string, now = Date.now()): string {
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  const d = parseDuration(value);
  if (d !== null) return ((now - d / 1e6) / 1000).toFixed(9).replace(/\.?0+$/, '');
  let v = value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) v += 'T00:00:00';
  if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v)) v += 'Z';
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new Error(`failed to parse value as time or duration: "${value}"`);
  return String(t / 1000);
}
