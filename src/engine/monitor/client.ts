// MonitorClient: one connection to a monitor's control socket (attach, resize, close stdin).
import { openSync, closeSync, existsSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { joinPath as join } from '../../common/join-path.js';
import { Readable, Writable } from 'node:stream';
import { HakoError } from '../../common/errors.js';
import type { Attachment } from '../api-types.js';
import { FRAME, FrameReader, MAX_FRAME, STREAM, frame } from './protocol.js';
import type { ExitRecord } from './exit.js';

const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;

export interface MonitorInfo {
  version: number;
  tty: boolean;
  /** The container's pid. */
  pid: number;
  /** Whether the container's stdin is still open for writing. */
  stdin: boolean;
}

export interface AttachRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** input.end() closes the container's stdin (docker StdinOnce); otherwise it only stops sending. */
  closeStdinOnEnd?: boolean;
}

/** Connects to `path`; a path too long for sun_path (108 bytes) goes through /proc/self/fd. */
function connectUnix(dir: string): Promise<Socket> {
  const path = join(dir, 'control.sock');
  let dirFd: number | undefined;
  let target = path;
  if (Buffer.byteLength(path) > 100) {
    dirFd = openSync(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    target = `/proc/self/fd/${dirFd}/control.sock`;
  }
  return new Promise<Socket>((resolve, reject) => {
    const sock = connect(target);
    const done = () => {
      if (dirFd !== undefined) closeSync(dirFd);
      dirFd = undefined;
    };
    sock.once('connect', () => {
      done();
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (err) => {
      done();
      reject(err);
    });
  });
}

export class MonitorClient {
  private readonly reader = new FrameReader();
  private infoWaiters: Array<(i: MonitorInfo) => void> = [];
  private output: Readable | null = null;
  private exitResolve!: (r: ExitRecord | null) => void;
  private ended = false;
  /** close() was called: output frames are dropped from then on. */
  private closing = false;
  /** attach() asked for stdin. */
  private sendsStdin = false;
  /** The INFO of the last HELLO (set by connect(); an adopted client gets it only later). */
  info?: MonitorInfo;
  /** The exit record if the container exits while connected (null: disconnected without one). */
  readonly exit: Promise<ExitRecord | null>;

  private constructor(
    readonly dir: string,
    private readonly sock: Socket,
  ) {
    this.exit = new Promise((r) => (this.exitResolve = r));
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', () => undefined);
    sock.on('close', () => this.onClose());
  }

  /**
   * Connects to the monitor in `dir` (dir/control.sock). Retries for up to `timeoutMs` while the
   * socket is not there yet (a monitor that is still starting); fails with a `not-found` HakoError
   * once dir/exit.json exists (the container exited: nothing to attach to).
   */
  static async connect(dir: string, opts: { timeoutMs?: number } = {}): Promise<MonitorClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    // A monitor that is still starting listens within a millisecond or so of its exec (which is
    // where launch() returns): retry soon, then back off.
    for (let delay = 1; ; delay = Math.min(delay * 2, 100)) {
      try {
        const sock = await connectUnix(dir);
        const client = new MonitorClient(dir, sock);
        await client.hello(0);
        return client;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const retry = code === 'ENOENT' || code === 'ECONNREFUSED' || err instanceof HakoError;
        if (existsSync(join(dir, 'exit.json'))) throw new HakoError({ step: `attach to the container monitor in ${dir}`, hint: 'the container has exited', kind: 'not-found' });
        if (!retry || Date.now() > deadline) {
          throw new HakoError({ step: `connect to the container monitor`, path: join(dir, 'control.sock'), errno: (err as NodeJS.ErrnoException).errno ? Math.abs((err as NodeJS.ErrnoException).errno!) : undefined, hint: 'is the monitor running?', kind: 'internal', cause: err });
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * A client on one end of a socketpair whose other end is handed to the monitor at its launch
   * (MonitorOptions.clientFds), attached at once: its HELLO is written now, so the monitor finds
   * it on its first poll (no connect to control.sock after the launch). `tty`: the container's,
   * as the attachment reports it before the monitor's INFO arrives. Takes ownership of `fd`.
   */
  static adopt(dir: string, fd: number, req: AttachRequest, tty: boolean): { client: MonitorClient; attachment: Attachment } {
    const client = new MonitorClient(dir, new Socket({ fd, readable: true, writable: true }));
    return { client, attachment: client.attach(req, tty) };
  }

  /** Live output (and stdin) of the container. Output ends when the container's output ends. */
  attach(req: AttachRequest, tty?: boolean): Attachment {
    if (this.output) throw new HakoError({ step: 'attach to the container monitor', hint: 'one attachment per MonitorClient: connect again', kind: 'internal' });
    const sock = this.sock;
    const output = new Readable({
      objectMode: true,
      read: () => {
        if (sock.isPaused()) sock.resume();
      },
    });
    this.output = output;
    if (this.ended) output.push(null);
    const streams = (req.stdin ? STREAM.STDIN : 0) | (req.stdout ? STREAM.STDOUT : 0) | (req.stderr ? STREAM.STDERR : 0);
    this.send(frame(FRAME.HELLO, Buffer.from([streams])));
    let input: Writable | null = null;
    this.sendsStdin = req.stdin;
    if (req.stdin) {
      input = new Writable({
        write: (chunk: Buffer, _enc, cb) => {
          for (let off = 0; off < chunk.length; off += MAX_FRAME) this.send(frame(FRAME.STDIN, chunk.subarray(off, off + MAX_FRAME)));
          if (sock.writableNeedDrain) sock.once('drain', () => cb());
          else cb();
        },
        final: (cb) => {
          if (req.closeStdinOnEnd) this.closeStdin();
          cb();
        },
      });
      input.on('error', () => undefined);
    }
    return { tty: this.info?.tty ?? tty ?? false, output, input, close: () => this.close() };
  }

  /** TIOCSWINSZ on the container's pty (no-op without a terminal). */
  resize(height: number, width: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt16BE(Math.max(0, Math.min(0xffff, height)), 0);
    p.writeUInt16BE(Math.max(0, Math.min(0xffff, width)), 2);
    this.send(frame(FRAME.RESIZE, p));
  }

  /** Closes the container's stdin (EOF for a pipe, ^D for a pty). */
  closeStdin(): void {
    this.send(frame(FRAME.CLOSE_STDIN));
  }

  /**
   * Disconnects (the container is not affected; with StdinOnce the monitor closes its stdin).
   * With stdin attached, the connection ends after the frames written so far (not destroyed:
   * they would be lost): the monitor feeds them to the container, as dockerd copies a gone
   * client's stdin to its end, and closes once they went in; output meanwhile is dropped.
   */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.endOutput();
    if (!this.sendsStdin || this.sock.destroyed) return void this.sock.destroy();
    this.sock.end();
    this.sock.resume();
  }

  private send(buf: Buffer): void {
    if (!this.sock.destroyed) this.sock.write(buf);
  }

  private hello(streams: number): Promise<MonitorInfo> {
    return new Promise((resolve, reject) => {
      const onClose = () => reject(new HakoError({ step: 'greet the container monitor', hint: 'it closed the connection', kind: 'internal' }));
      this.sock.once('close', onClose);
      this.infoWaiters.push((i) => {
        this.sock.off('close', onClose);
        resolve(i);
      });
      this.send(frame(FRAME.HELLO, Buffer.from([streams])));
    });
  }

  private onData(d: Buffer): void {
    for (const f of this.reader.push(d)) {
      if (f.type === FRAME.STDOUT || f.type === FRAME.STDERR) {
        if (this.closing) continue;
        if (this.output && !this.output.push({ stream: f.type === FRAME.STDOUT ? 'stdout' : 'stderr', data: Buffer.from(f.payload) })) this.sock.pause();
      } else if (f.type === FRAME.INFO) {
        this.info = JSON.parse(f.payload.toString('utf8')) as MonitorInfo;
        this.infoWaiters.shift()?.(this.info);
      } else if (f.type === FRAME.EXIT) {
        try {
          this.exitResolve(JSON.parse(f.payload.toString('utf8')) as ExitRecord);
        } catch {
          this.exitResolve(null);
        }
        // The monitor's last frame: every output frame came before it. The monitor waits for us
        // to close (writes until then do not fail): end our side, it closes then.
        this.endOutput();
        this.sock.end();
      }
    }
  }

  private onClose(): void {
    this.exitResolve(null);
    this.endOutput();
  }

  private endOutput(): void {
    if (this.ended) return;
    this.ended = true;
    this.output?.push(null);
  }
}
