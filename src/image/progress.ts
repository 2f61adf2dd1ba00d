// Progress of pull, push, load and import as structured events: per layer (its short ID), a
// status (`Downloading`, `Pushing`, `Loading layer`, …) and, while bytes move, how many of how
// many. The API turns them into docker's JSON messages (`progressDetail {current,total,start}`),
// which the docker CLI and `hako` draw as bars; plain status lines otherwise.

export interface ProgressEvent {
  /** The layer's short ID (12 hex digits), when the event is about one layer. */
  id?: string | undefined;
  status: string;
  /** Bytes done so far, and the total when known. */
  current?: number | undefined;
  total?: number | undefined;
  /** When the transfer began (Unix seconds), for time-left and speed estimates. */
  start?: number | undefined;
}

export type ProgressSink = (ev: ProgressEvent) => void;

/** The 12-digit short form of a digest, as docker shows layer IDs. */
export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

/**
 * Counts bytes of one transfer and reports them at most every `intervalMs` (docker: 100 ms),
 * plus once at the end, so a fast transfer does not flood the client with messages.
 */
export class ByteProgress {
  private current = 0;
  private last = 0;
  private reported = 0;
  private readonly start = Math.floor(Date.now() / 1000);

  constructor(
    private readonly sink: ProgressSink | undefined,
    private readonly id: string,
    private readonly status: string,
    private readonly total: number | undefined,
    private readonly intervalMs = 100,
  ) {}

  add(bytes: number): void {
    this.current += bytes;
    if (!this.sink) return;
    const now = Date.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.emit();
  }

  /** Reports the final count (call once when the transfer ends). */
  done(): void {
    if (this.sink && this.current > 0 && this.reported !== this.current) this.emit();
  }

  private emit(): void {
    this.reported = this.current;
    this.sink!({ id: this.id, status: this.status, current: this.current, total: this.total, start: this.start });
  }
}
