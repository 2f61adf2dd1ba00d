// The daemon's memory upkeep while it runs. (Its V8 flags, for a small footprint, are set before
// the daemon's code is compiled: bin/daemon-v8-flags.cjs.)
import { getHeapStatistics } from 'node:v8';

/**
 * Gives malloc's free pages back to the kernel once the API has been quiet for `delayMs`: after
 * start-up and after each burst of requests (a request starting or ending is activity; a stream
 * that stays open, like `events` or an attach, is not). glibc keeps freed memory in its heaps
 * (~1.5 MB after start-up: V8's parser and compiler zones, OpenSSL, libuv); malloc_trim(0)
 * releases every whole free page. It takes well under a millisecond on the daemon's heaps.
 */
/** A collection for quiet periods, run only when `grown()` (checked at each one) says so. */
export interface IdleCollect {
  grown(): boolean;
  collect(): void;
}

/**
 * The JS heap's used size without a file: process.memoryUsage() also reads the RSS, and libuv
 * opens /proc/self/stat for it, so at the fd limit it throws EMFILE (a daemon flooded with clients
 * met it in its quiet-period check: an uncaught exception, the trimmer's timer gone).
 */
export function heapUsed(): number {
  return getHeapStatistics().used_heap_size;
}

/**
 * Whether the JS heap grew by `bytes` since `mark()` was last called (at a collection): the
 * garbage a burst of work leaves is worth a collection once the daemon is quiet. `used` reads
 * the heap's used size (default heapUsed()).
 */
export class HeapGrowth {
  private base: number;

  constructor(
    private readonly bytes: number,
    private readonly used: () => number = heapUsed,
  ) {
    this.base = used();
  }

  grown(): boolean {
    return this.used() - this.base >= this.bytes;
  }

  /** After a collection: growth counts from here. */
  mark(): void {
    this.base = this.used();
  }
}

export class IdleTrimmer {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private collect: (() => void) | undefined;

  /**
   * `idle`: a collection each quiet period runs before its trim when `grown()` says the garbage
   * since the last one is worth it (IdleCollect).
   */
  constructor(
    private readonly trim: () => void,
    private readonly delayMs = 1000,
    private readonly idle?: IdleCollect,
  ) {}

  /** Something happened: (re)starts the quiet period. */
  activity(): void {
    if (this.closed) return;
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        const collect = this.collect;
        this.collect = undefined;
        if (collect) collect();
        else if (this.idle?.grown()) this.idle.collect();
        this.trim();
      }, this.delayMs);
      this.timer.unref();
    }
  }

  /**
   * Runs `collect` once, before the trim at the end of the next quiet period (what it frees is
   * then trimmed too); counts as activity.
   */
  collectOnce(collect: () => void): void {
    if (this.closed) return;
    this.collect = collect;
    this.activity();
  }

  close(): void {
    this.closed = true;
    this.collect = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
