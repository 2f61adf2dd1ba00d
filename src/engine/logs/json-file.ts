// docker's json-file log driver: one JSON object per line ({"log","stream","time"}) in
// <container dir>/<id>-json.log, rotated by size (max-size) into .1 … .(max-file-1).
// The reader replays rotated files oldest first, filters by stream/since/until, tails, and follows.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import type { LogEntry, LogsOptions } from '../api-types.js';
import { invalid } from '../../common/errors.js';

/** docker's size syntax: 10k, 10m, 1g (binary units), plain bytes. */
export function parseLogSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i.exec(text.trim());
  if (!m) throw invalid(`invalid max-size "${text}"`, 'use a size such as 10m');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

/** RFC3339Nano with nanosecond digits, as docker writes them. */
export function rfc3339Nano(ms = Date.now(), extraNs = 0): string {
  const iso = new Date(ms).toISOString(); // 2024-01-01T00:00:00.123Z
  const frac = String((ms % 1000) * 1_000_000 + extraNs).padStart(9, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}

export function timeOf(rfc: string): number {
  // Date.parse keeps milliseconds; add the sub-ms part.
  const m = /\.(\d+)Z$/.exec(rfc);
  const base = Date.parse(rfc.replace(/\.\d+Z$/, 'Z'));
  const frac = m ? Number(`0.${m[1]}`) : 0;
  return base / 1000 + frac;
}

export class JsonFileWriter {
  private fd: number;
  private size: number;
  private seq = 0;

  constructor(
    readonly path: string,
    private readonly maxSize = 0,
    private readonly maxFiles = 1,
  ) {
    this.fd = openSync(path, 'a', 0o640);
    this.size = fstatSync(this.fd).size;
  }

  write(stream: 'stdout' | 'stderr', data: Buffer): void {
    // Split into lines like docker (each entry is a line including its '\n', or a partial tail).
    let start = 0;
    while (start < data.length) {
      const nl = data.indexOf(0x0a, start);
      const end = nl < 0 ? data.length : nl + 1;
      this.writeEntry(stream, data.subarray(start, end));
      start = end;
    }
  }

  private writeEntry(stream: string, chunk: Buffer): void {
    const line = JSON.stringify({ log: chunk.toString('utf8'), stream, time: rfc3339Nano(Date.now(), this.seq++ % 1_000_000) }) + '\n';
    const buf = Buffer.from(line);
    if (this.maxSize > 0 && this.size + buf.length > this.maxSize && this.size > 0) this.rotate();
    writeSync(this.fd, buf);
    this.size += buf.length;
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.maxFiles <= 1) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${this.maxFiles - 1}`, { force: true });
      for (let i = this.maxFiles - 2; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, 'a', 0o640);
    this.size = 0;
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* closed */
    }
  }
}

function parseLine(line: string): LogEntry | undefined {
  if (line.length === 0) return undefined;
  try {
    const o = JSON.parse(line) as { log: string; stream: 'stdout' | 'stderr'; time: string };
    return { stream: o.stream === 'stderr' ? 'stderr' : 'stdout', data: Buffer.from(o.log, 'utf8'), time: o.time };
  } catch {
    return undefined; // a line being written right now
  }
}

function rotatedFiles(path: string): string[] {
  const files: string[] = [];
  for (let i = 1; existsSync(`${path}.${i}`); i++) files.unshift(`${path}.${i}`);
  if (existsSync(path)) files.push(path);
  return files;
}

/**
 * Reads the log: history (filtered, tailed), then with `follow` new entries until `running()`
 * turns false (and the file is drained) or the signal aborts.
 */
export async function* readJsonLog(path: string, opts: LogsOptions, running: () => boolean, signal?: AbortSignal): AsyncIterable<LogEntry> {
  const want = (e: LogEntry): boolean => {
    if (e.stream === 'stdout' && !opts.stdout) return false;
    if (e.stream === 'stderr' && !opts.stderr) return false;
    const t = timeOf(e.time);
    if (opts.since > 0 && t < opts.since) return false;
    if (opts.until > 0 && t > opts.until) return false;
    return true;
  };
  let entries: LogEntry[] = [];
  for (const f of rotatedFiles(path)) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const e = parseLine(line);
      if (e && want(e)) entries.push(e);
    }
  }
  let offset = existsSync(path) ? statSync(path).size : 0;
  let ino = existsSync(path) ? statSync(path).ino : 0;
  if (opts.tail !== 'all') entries = opts.tail <= 0 ? [] : entries.slice(-opts.tail);
  for (const e of entries) yield e;
  if (!opts.follow) return;
  let partial = '';
  for (;;) {
    if (signal?.aborted) return;
    const alive = running();
    let st;
    try {
      st = statSync(path);
    } catch {
      st = undefined;
    }
    if (st && st.ino !== ino) {
      // rotated: finish the old file is not possible by path; start the new one from 0.
      ino = st.ino;
      offset = 0;
      partial = '';
    }
    if (st && st.size > offset) {
      const fd = openSync(path, 'r');
      try {
        const buf = Buffer.alloc(st.size - offset);
        const n = readSync(fd, buf, 0, buf.length, offset);
        offset += n;
        const text = partial + buf.subarray(0, n).toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const e = parseLine(line);
          if (e && want(e)) yield e;
        }
      } finally {
        closeSync(fd);
      }
      continue;
    }
    if (!alive) return;
    if (opts.until > 0 && Date.now() / 1000 > opts.until) return;
    await new Promise<void>((r) => {
      const t = setTimeout(r, 100);
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        r();
      }, { once: true });
    });
  }
}
