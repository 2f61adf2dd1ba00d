// Timestamps in the daemon's hot and idle paths.
//
// V8's Date.prototype.toISOString (and JSON.stringify of a Date) pulls ~0.8 MB of ICU time-zone
// data into the process the first time it runs, even though an ISO time is UTC; the getUTC*
// getters do not. A long-lived daemon pays that in resident memory (issue #4's idle target), so
// ISO strings are built from the getters here, identical to toISOString's output.

/**
 * Milliseconds on the monotonic clock (for durations). `performance.now()` would do the same,
 * but its first use loads node:perf_hooks (~0.5 MB of idle RSS, issue #4).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/** `YYYY-MM-DDTHH:mm:ss.sssZ` for `ms` (default: now), exactly as `new Date(ms).toISOString()`. */
export function isoTime(ms: number = Date.now()): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  // Outside four-digit years (and for an invalid time, which throws) V8's own formatting applies.
  if (!(year >= 0 && year <= 9999)) return d.toISOString();
  const milli = d.getUTCMilliseconds();
  return `${String(year).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An HTTP `Date` header value (RFC 9110 IMF-fixdate), exactly as `new Date(ms).toUTCString()`. */
export function httpDate(ms: number = Date.now()): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) return d.toUTCString();
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${year} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`;
}
