// Reading the monitor's json-file logs: <log>.N-1 … <log>.1, <log> (oldest first), filtered by
// stream and since/until, tailed, and followed across rotations until the container exits.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LogEntry, LogsOptions } from '../api-types.js';

export interface ReadLogsOptions extends LogsOptions {
  /** How many rotated files the monitor keeps (max-file); default 3 (older names are also probed up to 10). */
  maxFiles?: number;
  /** follow: the monitor's dir; following ends once dir/exit.json exists and the log is drained. */
  exitDir?: string;
  /**
   * follow: ends (once the log is drained) when this returns false — for containers whose end is
   * not marked by an exit.json (no monitor), or that are restarting.
   */
  running?: () => boolean;
  /** follow: how often to look for new data (ms); default 100. */
  pollMs?: number;
}

/** Seconds since the epoch (fractional, nanosecond digits kept as far as a double allows). */
export function logTime(rfc: string): number {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(rfc);
  if (!m) return Date.parse(rfc) / 1000;
  return Date.parse(`${m[1]}Z`) / 1000 + (m[2] ? Number(`0.${m[2]}`) : 0);
}

function parseLine(line: string): LogEntry | null {
  try {
    const o = JSON.parse(line) as { log?: string; stream?: string; time?: string };
    if (typeof o.log !== 'string' || typeof o.time !== 'string') return null;
    return { stream: o.stream === 'stderr' ? 'stderr' : 'stdout', data: Buffer.from(o.log, 'utf8'), time: o.time };
  } catch {
    return null; // a torn last line (the monitor was killed mid-write)
  }
}

/** Reads whole lines from an fd, remembering where it got to. */
class LineFile {
  private pos = 0;
  private rest = '';
  private readonly buf = Buffer.alloc(64 * 1024);
  constructor(readonly fd: number, readonly ino: number) {}

  lines(): string[] {
    const out: string[] = [];
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
      if (n <= 0) break;
      this.pos += n;
      const text = this.rest + this.buf.toString('utf8', 0, n);
      const parts = text.split('\n');
      this.rest = parts.pop()!;
      out.push(...parts.filter((l) => l.length > 0));
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function openLine(path: string): LineFile | null {
  try {
    const fd = openSync(path, 'r');
    return new LineFile(fd, fstatSync(fd).ino);
  } catch {
    return null;
  }
}

/** The json-file log as entries (docker logs semantics). */
export async function* readLogs(logPath: string, opts: ReadLogsOptions, signal?: AbortSignal): AsyncIterable<LogEntry> {
  const keep = (e: LogEntry) => (e.stream === 'stdout' ? opts.stdout : opts.stderr) && (!opts.since || logTime(e.time) >= opts.since);
  const pastUntil = (e: LogEntry) => Boolean(opts.until) && logTime(e.time) > opts.until;
  const files: string[] = [];
  for (let k = Math.max(opts.maxFiles ?? 3, 10); k >= 1; k--) if (existsSync(`${logPath}.${k}`)) files.push(`${logPath}.${k}`);
  // The current file is opened first thing, so a rotation while reading the old ones cannot hide it.
  let current = openLine(logPath);
  const tail = opts.tail === 'all' ? Infinity : Math.max(0, opts.tail);
  const ring: LogEntry[] = [];
  let stopped = false;
  const take = (e: LogEntry | null): LogEntry[] => {
    if (!e || stopped) return [];
    if (pastUntil(e)) {
      stopped = true;
      return [];
    }
    if (!keep(e)) return [];
    if (tail === Infinity) return [e];
    ring.push(e);
    if (ring.length > tail) ring.shift();
    return [];
  };
  try {
    for (const f of files) {
      if (current && existsSync(f) && statSync(f).ino === current.ino) continue; // rotated meanwhile
      const lf = openLine(f);
      if (!lf) continue;
      try {
        for (const line of lf.lines()) yield* take(parseLine(line));
      } finally {
        lf.close();
      }
    }
    if (current) for (const line of current.lines()) yield* take(parseLine(line));
    if (tail !== Infinity) {
      yield* ring;
      ring.length = 0;
    }
    if (!opts.follow) return;
    const exitFile = opts.exitDir ? join(opts.exitDir, 'exit.json') : undefined;
    while (!stopped && !signal?.aborted) {
      const exited = (exitFile !== undefined && existsSync(exitFile)) || (opts.running !== undefined && !opts.running());
      if (!current) current = openLine(logPath);
      if (current) {
        for (const line of current.lines()) {
          const e = parseLine(line);
          if (!e || stopped) continue;
          if (pastUntil(e)) stopped = true;
          else if (keep(e)) yield e;
        }
        // Rotated: the old file is drained (we hold it open); continue with the new one.
        let ino: number | undefined;
        try {
          ino = statSync(logPath).ino;
        } catch {
          ino = undefined;
        }
        if (ino !== undefined && ino !== current.ino) {
          for (const line of current.lines()) {
            const e = parseLine(line);
            if (e && !stopped && keep(e) && !pastUntil(e)) yield e;
          }
          // Several rotations since the last look: the files newer than ours are <log>.k … <log>.1.
          const newer: string[] = [];
          for (let k = 1; k <= Math.max(opts.maxFiles ?? 3, 10); k++) {
            const f = `${logPath}.${k}`;
            let fino: number;
            try {
              fino = statSync(f).ino;
            } catch {
              break;
            }
            if (fino === current.ino) break;
            newer.unshift(f);
          }
          current.close();
          current = openLine(logPath);
          for (const f of newer) {
            const lf = openLine(f);
            if (!lf) continue;
            try {
              for (const line of lf.lines()) {
                const e = parseLine(line);
                if (e && !stopped && keep(e) && !pastUntil(e)) yield e;
              }
            } finally {
              lf.close();
            }
          }
          continue;
        }
      }
      // exit.json is written after the monitor flushed every entry: one more read above was final.
      if (exited) break;
      await new Promise<void>((resolve) => {
        const onAbort = () => {
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, opts.pollMs ?? 100);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  } finally {
    current?.close();
  }
}
