// Health checks (docker's HEALTHCHECK): the config rules (merge with the image's, validation,
// defaults) and the per-container checker that runs the probe as an exec in the container on a
// timer and keeps State.Health {Status, FailingStreak, Log} the way dockerd does:
//   - the first probe runs one interval after the start (StartInterval while still `starting`
//     within StartPeriod), the next one an interval after the previous one ended (moby's
//     getInterval: nothing shortens an interval to end at the StartPeriod's end);
//   - exit 0 → healthy (FailingStreak 0); anything else is a failure, counted unless the container
//     is still `starting` inside its StartPeriod; FailingStreak ≥ Retries → unhealthy;
//   - a probe that outlives Timeout is killed and logged with ExitCode -1 and
//     "Health check exceeded timeout (…)"; output is kept up to 4096 bytes ("..." when cut);
//   - the Log keeps the last 5 results; a status change emits `health_status: <status>`.
// Paused containers are not probed; a (re)start, and a daemon restart that finds the container
// running (moby's restore calls initHealthMonitor), resets Status to starting and FailingStreak
// to 0 (the Log stays); a pause or an exit stops probing and marks the status `unhealthy` (no
// event), as dockerd does when it closes a monitor.
import { invalid } from '../common/errors.js';
import type { Json } from './api-types.js';
import { nowRfc3339Nano, realtimeNs, rfc3339NanoUtc } from '../common/time.js';

export const MAX_OUTPUT = 4096;
export const MAX_LOG_ENTRIES = 5;
const MS = 1_000_000; // ns per ms

export const DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 } as const;

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';
export const HEALTH_FILTER_VALUES = ['starting', 'healthy', 'unhealthy', 'none'];

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: string;
  FailingStreak: number;
  Log: Json[];
}

export interface ProbeSettings {
  /** The command: CMD's argv, or the shell + the CMD-SHELL string. */
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

const DURATION_KEYS = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * docker's merge of the container's Healthcheck with the image's: no Healthcheck → the image's;
 * otherwise each unset field (empty Test, zero durations/retries) comes from the image's.
 */
export function mergeHealthcheck(user: unknown, image: unknown): Json | undefined {
  const u = user && typeof user === 'object' ? (user as Json) : undefined;
  const i = image && typeof image === 'object' ? (image as Json) : undefined;
  if (!u) return i ? { ...i } : undefined;
  if (!i) return { ...u };
  const out: Json = { ...u };
  if (!Array.isArray(u.Test) || u.Test.length === 0) out.Test = i.Test;
  for (const k of [...DURATION_KEYS, 'Retries'] as const) if (!num(u[k]) && num(i[k])) out[k] = i[k];
  return out;
}

/** Create-time checks (docker's validateHealthCheck, plus the Test form so a typo fails now). */
export function validateHealthcheck(hc: unknown): void {
  if (hc === undefined || hc === null) return;
  if (typeof hc !== 'object' || Array.isArray(hc)) throw invalid('bad parameter: Healthcheck must be an object');
  const h = hc as Json;
  for (const k of DURATION_KEYS) {
    const v = h[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`bad parameter: Healthcheck.${k} must be an integer (nanoseconds)`);
    if (v !== 0 && v < MS) throw invalid(`${k} in Healthcheck cannot be less than 1ms`);
  }
  if (h.Retries !== undefined && h.Retries !== null) {
    if (typeof h.Retries !== 'number' || !Number.isInteger(h.Retries)) throw invalid('bad parameter: Healthcheck.Retries must be an integer');
    if (h.Retries < 0) throw invalid('Retries in Healthcheck cannot be negative');
  }
  const test = h.Test;
  if (test === undefined || test === null) return;
  if (!Array.isArray(test) || !test.every((x) => typeof x === 'string')) throw invalid('bad parameter: Healthcheck.Test must be a list of strings');
  if (test.length === 0) return;
  const kind = test[0];
  if (kind === 'NONE') return;
  if (kind !== 'CMD' && kind !== 'CMD-SHELL') throw invalid(`unknown Healthcheck type '${kind}': the Test must start with "CMD", "CMD-SHELL" or "NONE"`);
  if (test.length < 2 || test[1] === '') throw invalid(`Healthcheck ${kind} has no command`, `e.g. ["${kind}", ${kind === 'CMD' ? '"/bin/true"' : '"exit 0"'}]`);
}

/** The probe of a container's Config, or null when it has none (no Healthcheck, empty Test, NONE). */
export function probeSettings(config: Json): ProbeSettings | null {
  const hc = config.Healthcheck as Json | undefined | null;
  if (!hc || !Array.isArray(hc.Test) || hc.Test.length === 0) return null;
  const test = hc.Test as string[];
  let argv: string[];
  if (test[0] === 'CMD') argv = test.slice(1);
  else if (test[0] === 'CMD-SHELL') {
    const shell = Array.isArray(config.Shell) && (config.Shell as string[]).length > 0 ? (config.Shell as string[]) : ['/bin/sh', '-c'];
    argv = [...shell, ...test.slice(1)];
  } else return null;
  if (argv.length === 0) return null;
  const ms = (k: (typeof DURATION_KEYS)[number], dflt: number) => (num(hc[k]) > 0 ? num(hc[k]) / MS : dflt);
  return {
    argv,
    intervalMs: ms('Interval', DEFAULTS.intervalMs),
    timeoutMs: ms('Timeout', DEFAULTS.timeoutMs),
    startPeriodMs: ms('StartPeriod', DEFAULTS.startPeriodMs),
    startIntervalMs: ms('StartInterval', DEFAULTS.startIntervalMs),
    retries: num(hc.Retries) > 0 ? num(hc.Retries) : DEFAULTS.retries,
  };
}

/** Go's time.Duration.String() for a span in ms: 500ms, 1s, 1.5s, 1m30s, 1h0m0s. */
export function goDuration(ms: number): string {
  const ns = Math.round(ms * MS);
  if (ns === 0) return '0s';
  if (ns < 1000) return `${ns}ns`;
  if (ns < MS) return `${trim(ns / 1000)}µs`;
  if (ns < 1000 * MS) return `${trim(ns / MS)}ms`;
  let s = ns / (1000 * MS);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const sec = `${trim(Number(s.toFixed(9)))}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}

function trim(v: number): string {
  return String(Number(v.toFixed(9)));
}

/** Docker's output buffer: the first 4096 bytes, "..." appended when more was written. */
export class LimitedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  write(b: Buffer): void {
    const keep = Math.min(MAX_OUTPUT - this.size, b.length);
    if (keep > 0) {
      this.chunks.push(b.subarray(0, keep));
      this.size += keep;
    }
    if (keep < b.length) this.truncated = true;
  }

  toString(): string {
    const s = Buffer.concat(this.chunks).toString('utf8');
    return this.truncated ? `${s}...` : s;
  }
}

/** Folds one probe result into the health state; returns the new status when it changed. */
export function applyProbeResult(h: HealthState, r: HealthLogEntry, settings: ProbeSettings, startedAt: string): HealthStatus | undefined {
  const old = h.Status;
  h.Log.push(r as unknown as Json);
  if (h.Log.length > MAX_LOG_ENTRIES) h.Log.splice(0, h.Log.length - MAX_LOG_ENTRIES);
  if (r.ExitCode === 0) {
    h.FailingStreak = 0;
    h.Status = 'healthy';
  } else {
    const inStartPeriod = h.Status === 'starting' && Date.parse(r.Start) - Date.parse(startedAt) < settings.startPeriodMs;
    if (!inStartPeriod) {
      h.FailingStreak++;
      if (h.FailingStreak >= settings.retries) h.Status = 'unhealthy';
    }
  }
  return h.Status !== old ? (h.Status as HealthStatus) : undefined;
}

export interface ProbeOutcome {
  exitCode: number;
  output: string;
}

export interface CheckerHooks {
  /** The container's current state (read on every tick). */
  state(): { Running: boolean; Paused: boolean; StartedAt: string; Health?: HealthState | undefined };
  /** Runs argv in the container, killing it after timeoutMs (then exitCode -1 and the timeout message). */
  probe(argv: string[], timeoutMs: number): Promise<ProbeOutcome>;
  /** After each result (status is set when it changed). */
  recorded(status: HealthStatus | undefined): void;
  /** Diagnostics (a probe that could not even be started). */
  warn(msg: string): void;
}

/** One container's probe loop. start()/stop() follow the container's running/paused state. */
export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private generation = 0;

  constructor(
    readonly settings: ProbeSettings,
    private readonly hooks: CheckerHooks,
  ) {}

  /** Starts (or restarts) the loop; the first probe runs after one interval. */
  start(): void {
    this.stop();
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get active(): boolean {
    return this.running;
  }

  /** moby's getInterval: StartInterval while `starting` inside StartPeriod, else Interval. */
  nextDelay(now = Date.now()): number {
    const s = this.settings;
    const st = this.hooks.state();
    const elapsed = now - Date.parse(st.StartedAt);
    if (!(elapsed < s.startPeriodMs)) return s.intervalMs;
    return st.Health?.Status === 'starting' ? s.startIntervalMs : s.intervalMs;
  }

  private schedule(): void {
    if (!this.running) return;
    const gen = this.generation;
    this.timer = setTimeout(() => void this.tick(gen), Math.max(1, this.nextDelay()));
    this.timer.unref();
  }

  private async tick(gen: number): Promise<void> {
    this.timer = undefined;
    if (gen !== this.generation || !this.running) return;
    const st = this.hooks.state();
    if (!st.Running || !st.Health) return void this.stop();
    if (st.Paused) return this.schedule(); // the engine stops us on pause; this only covers a race
    const start = realtimeNs();
    let outcome: ProbeOutcome;
    try {
      outcome = await this.hooks.probe(this.settings.argv, this.settings.timeoutMs);
    } catch (err) {
      this.hooks.warn(`health check: ${(err as Error).message}`);
      outcome = { exitCode: -1, output: (err as Error).message };
    }
    if (gen !== this.generation || !this.running) return; // stopped while probing: drop the result
    const now = this.hooks.state();
    if (!now.Running || !now.Health) return void this.stop();
    const status = applyProbeResult(now.Health, { Start: rfc3339NanoUtc(start), End: nowRfc3339Nano(), ExitCode: outcome.exitCode, Output: outcome.output }, this.settings, now.StartedAt);
    this.hooks.recorded(status);
    this.schedule();
  }
}
