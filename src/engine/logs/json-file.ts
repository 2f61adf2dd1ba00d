// docker's json-file log driver: one JSON object per line ({"log","stream","time"}) in
// <container dir>/<id>-json.log, rotated by size (max-size) into .1 … .(max-file-1). This writer
// is for containers supervised in-process (no hako-monitor); reading is ../monitor/logs.ts.
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, renameSync, rmSync } from 'node:fs';
import { writeAllSync } from '../../common/atomic-file.js';
import { invalid } from '../../common/errors.js';
import { isoTime } from '../../common/time.js';

/** docker's size syntax: 10k, 10m, 1g (binary units), plain bytes. */
export function parseLogSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i.exec(text.trim());
  if (!m) throw invalid(`invalid max-size "${text}"`, 'use a size such as 10m');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

/** RFC3339Nano with nanosecond digits, as docker writes them. */
export function rfc3339Nano(ms = Date.now(), extraNs = 0): string {
  const iso = isoTime(ms); // 2024-01-01T00:00:00.123Z
  const frac = String((ms % 1000) * 1_000_000 + extraNs).padStart(9, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
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
    // dockerd's rule (loggerutils LogFile.WriteLogEntry): rotate before a write once the file has
    // reached max-size, so the write that crosses it still goes in (a file ends up to one entry
    // over max-size; dockerd 20.10 wrote 1034 and 1035 bytes for max-size=1k). The monitor's
    // writer (native/monitor.c log_entry) does the same.
    if (this.maxSize > 0 && this.size >= this.maxSize) this.rotate();
    try {
      writeAllSync(this.fd, buf);
    } catch {
      // A full disk (ENOSPC, EDQUOT) takes the part of an entry that fits: it is cut off again so
      // the file stays whole JSON lines, and the entry is dropped, as dockerd drops an entry it
      // cannot write (the container runs on; a throw here would reach the output relay).
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // the next entry then starts a line after the cut one
      }
      return;
    }
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

/** How many files the json-file driver keeps for this container (docker's max-file, default 1). */
export function logMaxFiles(rec: { HostConfig: { LogConfig?: unknown } }): number {
  const cfg = (rec.HostConfig.LogConfig as { Config?: Record<string, string> } | undefined)?.Config ?? {};
  return cfg['max-file'] ? Math.max(1, Number(cfg['max-file'])) : 1;
}
