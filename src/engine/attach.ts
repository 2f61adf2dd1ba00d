// One client's attachment to a container's (or exec's) stdio, as the API server sees it: an
// output stream and a stdin Writable that exist before the process is reachable (docker run and
// start -a attach before the start) and are connected to it later: to a monitor attachment, or
// to a ProcessIO when the engine itself is the parent. With a TTY and stdin, the detach keys are
// looked for in stdin: the sequence ends this attachment and leaves the container running.
import { Readable, Writable } from 'node:stream';
import type { Attachment } from './api-types.js';
import { DetachScanner } from './detach-keys.js';
import type { OutputChunk, ProcessIO } from './containers/supervise.js';

export interface SessionOptions {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Look for these in stdin (TTY only); null: no detaching. */
  detachKeys: Buffer | null;
  /** The detach sequence was read (the session then closes). */
  onDetach?: () => void;
  /** The session ended (client gone, detach, or the output ended). */
  onClose?: () => void;
}

interface Upstream {
  input: Writable | null;
  close(): void;
  resume(): void;
}

export class AttachSession {
  readonly output: Readable;
  readonly input: Writable | null;
  private upstream: Upstream | undefined;
  /** stdin written before the upstream was there (the write callbacks wait with it). */
  private held: Array<{ data: Buffer; cb: (err?: Error | null) => void }> = [];
  private inputEnded = false;
  private closed = false;
  /** stdin from here on goes nowhere (detached, or nothing to send it to). */
  private inputDropped = false;
  private readonly scanner: DetachScanner | null;

  constructor(private readonly opts: SessionOptions) {
    this.output = new Readable({ objectMode: true, read: () => this.upstream?.resume() });
    this.scanner = opts.tty && opts.stdin && opts.detachKeys ? new DetachScanner(opts.detachKeys) : null;
    this.input = opts.stdin
      ? new Writable({
          write: (chunk: Buffer, _enc, cb) => this.writeStdin(chunk, cb),
          final: (cb) => {
            this.inputEnded = true;
            if (this.upstream?.input && !this.upstream.input.destroyed) this.upstream.input.end();
            cb();
          },
        })
      : null;
    this.input?.on('error', () => undefined);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get wantsOutput(): boolean {
    return this.opts.stdout || this.opts.stderr;
  }

  get wantsStdout(): boolean {
    return this.opts.stdout;
  }

  get wantsStderr(): boolean {
    return this.opts.stderr;
  }

  attachment(): Attachment {
    return { tty: this.opts.tty, output: this.output, input: this.input, close: () => this.close() };
  }

  /** Replayed log entries (before any live output). */
  pushReplay(c: OutputChunk): void {
    if (!this.closed) this.output.push(c);
  }

  /** Connects a monitor attachment (its output already filtered by the streams asked for). */
  connectMonitor(up: Attachment): void {
    if (this.closed) return void up.close();
    const out = up.output;
    out.on('data', (c: OutputChunk) => {
      if (!this.closed && !this.output.push({ stream: c.stream, data: c.data })) out.pause();
    });
    out.on('end', () => this.close());
    out.on('error', () => this.close());
    this.setUpstream({ input: up.input, close: () => up.close(), resume: () => out.resume() });
  }

  /** Connects to a process the engine supervises itself; `stdinOnce` closes its stdin when our input ends. */
  connectIO(io: ProcessIO, stdinOnce: boolean): void {
    if (this.closed) return;
    // While our output is over its high-water mark the process's output is held (io.hold): it
    // blocks on its pipe as under a monitor, until our reader takes some (read() → resume).
    const key = {};
    const unsubscribe = io.subscribe((c) => {
      if (c === null) return this.close();
      if (this.closed) return; // closed while its stdin still goes in: the output goes nowhere
      if ((c.stream === 'stdout' && this.opts.stdout) || (c.stream === 'stderr' && this.opts.stderr)) {
        if (!this.output.push({ stream: c.stream, data: c.data })) io.hold(key);
      }
    });
    let input: Writable | null = null;
    const target = io.stdin;
    if (this.opts.stdin && target) {
      input = new Writable({
        write(chunk: Buffer, _enc, cb) {
          if (target.destroyed) return cb();
          target.write(chunk, () => cb());
        },
        final(cb) {
          if (stdinOnce) target.end();
          cb();
        },
      });
      input.on('error', () => undefined);
    }
    this.setUpstream({
      input,
      close: () => {
        io.release(key);
        unsubscribe();
      },
      resume: () => io.release(key),
    });
  }

  /**
   * Ends this attachment; the container is not affected. The output ends at once; stdin the
   * client sent before it went still goes in, as dockerd's attach copies a gone client's stdin to
   * its end (then, with StdinOnce, closes the container's stdin): the input ends after what it
   * queued, and only then the upstream closes (a monitor connection ends after its frames).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.output.push(null);
    this.opts.onClose?.();
    this.upstream?.resume(); // its output is dropped from now on: it must not stay held for us
    const input = this.input;
    if (!input || this.inputDropped || !this.upstream?.input || input.writableFinished || input.destroyed) {
      this.dropInput();
      this.upstream?.close();
      return;
    }
    input.once('finish', () => this.upstream?.close());
    input.once('error', () => this.upstream?.close());
    if (!input.writableEnded) input.end();
  }

  /** stdin written from now on (and held for a start) goes nowhere. */
  private dropInput(): void {
    this.inputDropped = true;
    for (const h of this.held.splice(0)) h.cb();
  }

  private setUpstream(up: Upstream): void {
    this.upstream = up;
    const held = this.held.splice(0);
    for (const h of held) this.forward(h.data, h.cb);
    if (this.inputEnded && up.input) up.input.end();
  }

  private writeStdin(chunk: Buffer, cb: (err?: Error | null) => void): void {
    if (this.inputDropped) return cb();
    let data = chunk;
    if (this.scanner) {
      const r = this.scanner.push(chunk);
      data = r.pass;
      if (r.detach) {
        const finish = () => {
          this.opts.onDetach?.();
          this.dropInput(); // what follows the detach keys is not the container's
          this.close();
        };
        if (data.length) this.forwardOrHold(data, () => finish());
        else finish();
        return cb();
      }
    }
    if (data.length === 0) return cb();
    this.forwardOrHold(data, cb);
  }

  private forwardOrHold(data: Buffer, cb: (err?: Error | null) => void): void {
    if (!this.upstream) this.held.push({ data, cb });
    else this.forward(data, cb);
  }

  private forward(data: Buffer, cb: (err?: Error | null) => void): void {
    const target = this.upstream?.input;
    if (!target || target.destroyed || target.writableEnded) return cb();
    target.write(data, () => cb());
  }
}
