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

/**
 * Go's RFC3339Nano in UTC (a time.Time's JSON as dockerd writes it) for `ns` since the epoch: the
 * fraction's trailing zeros dropped, no fraction at all when it is 0 (`…T08:04:09Z`).
 */
export function rfc3339NanoUtc(ns: bigint): string {
  let sec = ns / 1_000_000_000n;
  let frac = ns % 1_000_000_000n;
  if (frac < 0n) {
    frac += 1_000_000_000n;
    sec -= 1n;
  }
  const whole = isoTime(Number(sec) * 1000);
  if (frac === 0n) return `${whole.slice(0, -5)}Z`;
  return `${whole.slice(0, -5)}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}Z`;
}

// The wall clock in ns: Date.now() has ms only, so a base (wall − monotonic) is fixed at a
// millisecond edge of Date.now() and the monotonic clock adds the rest. Re-based when the wall
// clock was stepped (the estimate leaves Date.now()'s millisecond).
let wallBase: bigint | undefined;

function calibrateWall(): void {
  // Spin to the next millisecond edge (≤ 1 ms, once, and after each step of the clock).
  const first = Date.now();
  let now = first;
  let mono = process.hrtime.bigint();
  while (now === first) {
    mono = process.hrtime.bigint();
    now = Date.now();
  }
  wallBase = BigInt(now) * 1_000_000n - mono;
}

/** Nanoseconds since the epoch (CLOCK_REALTIME to about a microsecond). */
export function realtimeNs(): bigint {
  if (wallBase === undefined) calibrateWall();
  const mono = process.hrtime.bigint();
  const wallMs = BigInt(Date.now());
  let t = wallBase! + mono;
  const ms = t / 1_000_000n;
  // One millisecond of slack each way: Date.now() and the hrtime read are not one instant.
  if (ms < wallMs - 1n || ms > wallMs + 1n) {
    calibrateWall();
    t = wallBase! + process.hrtime.bigint();
  }
  return t;
}

/** Now as dockerd writes a time.Time (Created, StartedAt, SystemTime, …): Go's RFC3339Nano, in ns. */
export function nowRfc3339Nano(): string {
  return rfc3339NanoUtc(realtimeNs());
}
