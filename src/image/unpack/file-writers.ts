// A small pool of worker threads that create a layer's regular files (file-writer-worker.ts).
//
// Why: extracting a layer is mostly kernel time per file (inode allocation, the page-cache copy,
// chown/chmod/utimes): ~50–750 µs a file on ext4, depending on how many inodes were freed lately.
// On the main thread that is serial with the tar parsing and hashing; spread over threads it uses
// the other cores (the parent directory's lock is the only thing two creations share).
//
// The Extractor keeps every decision (path safety, replacement, whiteouts, directories, links) and
// hands over only the creation of a *new* regular file at an already verified path: open
// O_CREAT|O_EXCL|O_NOFOLLOW, write, fchown, fchmod, futimes, close. Whatever could depend on a
// file still in flight (a later entry with the same name, a hard link to it, removing a directory
// above it, the final xattrs and directory times) first waits for the pool to drain (drainSync).
//
// Ops of one file go to one worker, in order; a batch is a flat op array plus one transferred
// buffer holding the data of its writes:
//   OPEN  path name mode       create the file with `mode` (the tar name is for messages)
//   WRITE offset length        write data[offset, offset+length) to it
//   CLOSE mode uid gid atime mtime
//                              fchown when uid >= 0, fchmod when mode >= 0, futimes, close
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { HakoError, fromSystemError } from '../../common/errors.js';

const DONE = 0;
const FAILED = 1;
const ABORT = 2;
const OP_OPEN = 1;
const OP_WRITE = 2;
const OP_CLOSE = 3;

/** Data bytes per batch; a larger file spans batches. Workers hand the buffers back for reuse. */
const BATCH_BYTES = 256 * 1024;
/** Ops per batch before it is sent anyway (small files: keep the workers fed). */
const BATCH_OPS = 3 * 48;
/** What a file costs a worker besides its bytes, for balancing and backpressure. */
const FILE_COST = 16 * 1024;

/** ES2024's Atomics.waitAsync (in Node since 16; our TypeScript lib is older). */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeout?: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** The first failure of a worker, as posted by file-writer-worker.ts. */
interface WriterFailure {
  stage: string;
  name: string;
  path: string;
  errno: number | undefined;
  code: string | undefined;
  message: string;
}

interface Batch {
  ops: Array<string | number>;
  data: Buffer;
  used: number;
  cost: number;
}

/**
 * The worker's module: beside this one in dist/src/, or, when this code runs from hakod's bundle
 * (dist/bundle/hakod.cjs, where import.meta.url is the bundle's), tsc's copy in dist/src/ (the
 * bundle is used only while it is newer than dist/src/, so the copy is there).
 */
function workerModule(): URL {
  const beside = new URL('./file-writer-worker.js', import.meta.url);
  return existsSync(fileURLToPath(beside)) ? beside : new URL('../src/image/unpack/file-writer-worker.js', import.meta.url);
}

/**
 * Starts the worker's module through a bootstrap. A module that fails to load (missing, a syntax
 * error) makes only an 'error' event, which a main thread blocked in drainSync never sees: it
 * would wait for the thread forever. The bootstrap posts the failure and sets FAILED instead, as
 * the worker does for its own failures.
 */
const BOOTSTRAP = `const { workerData: w } = require('node:worker_threads');
import(w.module).catch((e) => {
  w.errors.postMessage({ stage: 'start file writer thread', name: w.module, path: w.module, errno: e?.errno, code: e?.code, message: String(e?.message ?? e) });
  const s = new Int32Array(w.state);
  Atomics.store(s, ${FAILED}, 1);
  Atomics.notify(s, ${DONE});
});`;

class WriterThread {
  readonly worker: Worker;
  readonly state: Int32Array;
  readonly errors: MessagePort;
  /** Batch buffers coming back from the worker, to be reused. */
  readonly returns: MessagePort;
  /** Costs of the batches sent and not yet seen done, oldest first. */
  private readonly sent: number[] = [];
  private seenDone = 0;
  private sentCost = 0;
  batch: Batch | undefined;
  /** Its first failure, once read from `errors`. */
  failure: WriterFailure | undefined;
  readonly exited: Promise<void>;

  constructor(url: URL) {
    this.state = new Int32Array(new SharedArrayBuffer(16));
    const { port1, port2 } = new MessageChannel();
    const back = new MessageChannel();
    this.errors = port2;
    this.returns = back.port2;
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: { module: url.href, state: this.state.buffer, errors: port1, returns: back.port1 }, transferList: [port1, back.port1], stdout: false, stderr: false });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.once('error', () => undefined); // reported through `exit` and the drained state
    });
  }

  /** Bytes (plus per-file cost) queued on this thread: sent and not done, and the open batch. */
  load(): number {
    this.update();
    return this.sentCost + (this.batch?.cost ?? 0);
  }

  inFlight(): number {
    this.update();
    return this.sent.length;
  }

  private update(): void {
    const done = Atomics.load(this.state, DONE);
    while (this.seenDone < done) {
      this.sentCost -= this.sent.shift() ?? 0;
      this.seenDone++;
    }
  }

  open(): Batch {
    if (this.batch) return this.batch;
    const back = receiveMessageOnPort(this.returns)?.message as ArrayBuffer | undefined;
    const data = back ? Buffer.from(back) : Buffer.allocUnsafeSlow(BATCH_BYTES);
    return (this.batch = { ops: [], data, used: 0, cost: 0 });
  }

  flush(): void {
    const b = this.batch;
    if (!b || b.ops.length === 0) return;
    this.batch = undefined;
    this.sent.push(b.cost);
    this.sentCost += b.cost;
    const ab = b.data.buffer as ArrayBuffer;
    this.worker.postMessage({ ops: b.ops, data: ab }, [ab]);
  }

  doneCount(): number {
    return Atomics.load(this.state, DONE);
  }

  sentCount(): number {
    return this.seenDone + this.sent.length;
  }
}

export interface FileWriterPoolOptions {
  threads: number;
  /** `layer sha256:…`, for messages. */
  label: string;
  /** The worker's module (default: file-writer-worker.js; tests give a broken one). */
  module?: URL | undefined;
}

export class FileWriterPool {
  private readonly threads: WriterThread[] = [];
  private cur: WriterThread | undefined;
  private closed = false;

  constructor(private readonly opts: FileWriterPoolOptions) {
    const url = opts.module ?? workerModule();
    for (let i = 0; i < Math.max(1, opts.threads); i++) this.threads.push(new WriterThread(url));
  }

  /** Starts a new file at `path` (its parent verified, nothing there yet); `name` is the tar name. */
  openFile(path: string, name: string, mode: number): void {
    // Files of one directory go to one thread while it is not far behind: two threads creating
    // in one directory contend for its lock (the kernel spins on it, burning CPU).
    const dir = path.slice(0, path.lastIndexOf('/'));
    let h = 0;
    for (let i = 0; i < dir.length; i++) h = (h * 31 + dir.charCodeAt(i)) | 0;
    let best = this.threads[(h >>> 0) % this.threads.length]!;
    let bestLoad = best.load();
    if (bestLoad > 4 * BATCH_BYTES) {
      for (const t of this.threads) {
        const l = t.load();
        if (l < bestLoad) {
          best = t;
          bestLoad = l;
        }
      }
    }
    this.cur = best;
    const b = best.open();
    b.ops.push(OP_OPEN, path, name, mode);
    b.cost += FILE_COST;
  }

  /** Data of the current file (copied: the caller's buffer is reused). */
  writeData(chunk: Buffer): void {
    const t = this.cur!;
    let off = 0;
    while (off < chunk.length) {
      let b = t.open();
      if (b.used === b.data.length) {
        t.flush();
        b = t.open();
      }
      const n = Math.min(chunk.length - off, b.data.length - b.used);
      chunk.copy(b.data, b.used, off, off + n);
      b.ops.push(OP_WRITE, b.used, n);
      b.used += n;
      b.cost += n;
      off += n;
    }
  }

  /** Ends the current file: owner (uid >= 0), mode (>= 0), times, close. */
  closeFile(mode: number, uid: number, gid: number, atime: number, mtime: number): void {
    const t = this.cur!;
    this.cur = undefined;
    const b = t.open();
    b.ops.push(OP_CLOSE, mode, uid, gid, atime, mtime);
    if (b.ops.length >= BATCH_OPS || b.used >= BATCH_BYTES) t.flush();
  }

  /** Sends every batch that has ops. */
  flush(): void {
    for (const t of this.threads) t.flush();
  }

  /** Bytes (plus per-file cost) not yet written by the workers. */
  load(): number {
    let n = 0;
    for (const t of this.threads) n += t.load();
    return n;
  }

  /** Throws the first worker failure, if any (as the Extractor would have: `write "etc/x"`). */
  check(): void {
    for (const t of this.threads) {
      if (t.failure || Atomics.load(t.state, FAILED) === 0) continue;
      // The failure is posted before FAILED is set, so it is already in the port's queue.
      t.failure = receiveMessageOnPort(t.errors)?.message as WriterFailure | undefined;
      if (!t.failure) throw new HakoError({ step: `${this.opts.label}: a file writer thread failed without a report`, kind: 'internal' });
    }
    for (const t of this.threads) {
      const m = t.failure;
      if (!m) continue;
      const err = m.errno !== undefined || m.code !== undefined ? Object.assign(new Error(m.message), { errno: m.errno, code: m.code }) : new Error(m.message);
      throw fromSystemError(`${this.opts.label}: ${m.stage} "${m.name}"`, err, m.path);
    }
  }

  /** Sends everything and blocks until the workers are done with it; throws their first failure. */
  drainSync(): void {
    this.flush();
    for (const t of this.threads) {
      for (;;) {
        const done = t.doneCount();
        if (done >= t.sentCount() || Atomics.load(t.state, FAILED) !== 0) break;
        Atomics.wait(t.state, DONE, done, 1000);
      }
    }
    this.check();
  }

  /** Sends everything and waits (without blocking the event loop) until the load is at most `limit`. */
  async below(limit: number): Promise<void> {
    this.flush();
    while (this.load() > limit) {
      const waits: Array<Promise<unknown>> = [];
      for (const t of this.threads) {
        if (t.inFlight() === 0) continue;
        const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(t.state, DONE, t.doneCount(), 200);
        waits.push(r.async ? r.value : Promise.resolve());
      }
      if (waits.length === 0) break;
      await Promise.race(waits);
      this.check();
    }
  }

  /** After drainSync: lets the threads exit. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.threads) t.worker.postMessage('quit');
    await Promise.all(this.threads.map((t) => t.exited));
    for (const t of this.threads) {
      t.errors.close();
      t.returns.close();
    }
  }

  /** On failure: the threads skip what is queued, close their open file and exit; resolves when they have. */
  async destroy(): Promise<void> {
    if (this.closed) return;
    for (const t of this.threads) Atomics.store(t.state, ABORT, 1);
    await this.shutdown();
  }
}
