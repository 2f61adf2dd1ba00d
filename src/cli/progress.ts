// Renders docker's JSON-lines progress stream (pull, push, load, import, build) like the docker
// CLI's jsonmessage: on a terminal one line per layer id, redrawn in place with a bar and sizes;
// otherwise plain status lines without the progress updates.
import { humanSize } from './units.js';

export interface JsonMessage {
  status?: string;
  id?: string;
  stream?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number; units?: string; hidecounts?: boolean };
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: unknown;
  from?: string;
  time?: number;
  timeNano?: number;
}

/** An error message in the stream; `code`: its errorDetail's (a build step's exit code). */
export class ProgressError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** docker's JSONProgress.String(): `[=====>      ]  1.2MB/3.4MB`; the bar only when wider than 110 columns. */
export function progressBar(d: NonNullable<JsonMessage['progressDetail']>, width: number): string {
  const current = d.current ?? 0;
  const total = d.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  let pct = Math.trunc(Math.trunc((current / total) * 100) / 2);
  if (pct > 50) pct = 50;
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  let numbers = '';
  if (!d.hidecounts) {
    numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  }
  return bar + numbers;
}

const RATE_WIDTH = 11; // `  999.9MB/s`

/**
 * hako's progress text for one layer on a terminal: a bar fitted to `room` columns (at most 51
 * as docker's, left out below 10), the byte counts and, once `speed` (bytes/s) is known, the transfer rate:
 * `[=====>      ]  12.3MB/49.1MB  3.1MB/s`.
 */
export function progressLine(d: NonNullable<JsonMessage['progressDetail']>, room: number, speed?: number): string {
  const current = d.current ?? 0;
  const total = d.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  const counts = d.hidecounts ? '' : total > 0 && current <= total ? `${humanSize(current).padStart(8)}/${humanSize(total)}` : humanSize(current).padStart(8);
  const rate = speed !== undefined && speed > 0 && total > 0 && current < total ? `  ${humanSize(speed)}/s` : '';
  let bar = '';
  if (total > 0) {
    // Room for the rate is kept even before it is known, so the bar does not jump. As docker's:
    // a `=` per step done, `>`, a space per step left; 50 steps (docker's bar, the same
    // characters) where the terminal has room, fewer where not.
    const width = Math.min(51, room - counts.length - Math.max(rate.length, RATE_WIDTH) - 3);
    if (width >= 10) {
      const steps = width - 1;
      const done = steps === 50 ? Math.trunc(Math.trunc((current / total) * 100) / 2) : Math.floor((current / total) * steps);
      const fill = Math.max(0, Math.min(steps, done));
      bar = `[${'='.repeat(fill)}>${' '.repeat(steps - fill)}] `;
    }
  }
  return bar + counts + rate;
}

/**
 * Renders messages as text handed to `out`; on a terminal redraws per-id lines. Throws
 * ProgressError on an error message. `width`: the terminal's columns, asked at each redrawn line
 * (as docker's CLI asks the terminal at each message, so a resize is followed).
 */
export class ProgressRenderer {
  private ids = new Map<string, number>();
  /** Per id: when and at what count its byte progress was first seen (for the speed). */
  private firstSeen = new Map<string, { at: number; bytes: number; status: string }>();
  private readonly now: () => number;
  private readonly width: () => number;
  private lines = 0;
  /** Auxiliary payloads (e.g. the pushed digest, the loaded image id). */
  readonly aux: unknown[] = [];
  /** The text of the last `stream` message (a quiet build's image ID). */
  lastStream: string | undefined;

  constructor(
    private readonly out: (text: string) => void,
    private readonly tty: boolean,
    width: number | (() => number) = 80,
    now?: () => number,
  ) {
    this.width = typeof width === 'number' ? () => width : width;
    this.now = now ?? (() => Date.now());
  }

  /** Bytes per second since this id's transfer was first seen (after half a second). */
  private speed(m: JsonMessage): number | undefined {
    if (!m.id || !m.progressDetail) return undefined;
    const current = m.progressDetail.current ?? 0;
    const t = this.now();
    const first = this.firstSeen.get(m.id);
    if (!first || first.status !== m.status) {
      this.firstSeen.set(m.id, { at: t, bytes: current, status: m.status ?? '' });
      return undefined;
    }
    const secs = (t - first.at) / 1000;
    return secs >= 0.5 ? (current - first.bytes) / secs : undefined;
  }

  private line(m: JsonMessage): string {
    let s = '';
    if (m.id) s += `${m.id}: `;
    if (m.from) s += `(from ${m.from}) `;
    if (m.progressDetail && this.tty && (m.progressDetail.current || m.progressDetail.total)) {
      const head = `${s}${m.status ?? ''} `;
      s = head + progressLine(m.progressDetail, this.width() - head.length - 1, this.speed(m));
    } else if (m.stream !== undefined) s += m.stream;
    else s += m.status ?? '';
    return s;
  }

  /**
   * A redrawn line, cut to the terminal's width: a line that wrapped would take two rows while
   * the cursor moves count one (docker's CLI does not cut: its redraws then land on the wrong rows).
   */
  private fitted(m: JsonMessage): string {
    const text = this.line(m);
    const room = this.width() - 1;
    return room > 0 && text.length > room ? text.slice(0, room) : text;
  }

  write(m: JsonMessage): void {
    if (m.error || m.errorDetail) throw new ProgressError(m.errorDetail?.message ?? m.error ?? 'unknown error', m.errorDetail?.code);
    if (m.aux !== undefined) {
      this.aux.push(m.aux);
      return;
    }
    if (m.stream !== undefined) this.lastStream = m.stream;
    const hasProgress = !!m.progressDetail && !!(m.progressDetail.current || m.progressDetail.total);
    if (!this.tty) {
      if (hasProgress) return; // no progress bars when not a terminal
      if (m.stream !== undefined && !m.id) this.out(m.stream);
      else if (m.stream !== undefined || m.status !== undefined) this.out(this.line(m) + (m.stream !== undefined ? '' : '\n'));
      return;
    }
    if (!m.id && !hasProgress) {
      // As docker's CLI: what is not a layer's line ends the redrawing of the lines above it
      // (`pull -a`: the next tag's layers get lines of their own, below).
      this.ids.clear();
      if (m.stream !== undefined) this.out(m.stream);
      else if (m.status !== undefined) {
        this.out(`${m.status}\n`);
        this.lines++;
      }
      return;
    }
    // A bar without an id (import's `Importing`) redraws its own line too.
    const key = m.id ?? '';
    let index = this.ids.get(key);
    if (index === undefined) {
      index = this.lines;
      this.ids.set(key, index);
      this.out(`${this.fitted(m)}\n`);
      this.lines++;
      return;
    }
    const up = this.lines - index;
    // Cursor up `up` lines, clear it, write, go back down.
    this.out(`\x1b[${up}A\x1b[2K\r${this.fitted(m)}\r\x1b[${up}B`);
  }

  /** Feeds raw JSON-lines text; keeps a partial trailing line between calls. */
  private partial = '';
  feed(chunk: string): void {
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) this.write(JSON.parse(p) as JsonMessage);
  }
  end(): void {
    if (this.partial.trim()) this.write(JSON.parse(this.partial) as JsonMessage);
    this.partial = '';
  }
}
