// The embedded DNS server. For every container on a user-defined network the daemon opens a UDP
// socket INSIDE the container's netns (addon netSocket: made by a thread that setns'd) bound to
// 127.0.0.11:53, so no DNAT or proxy is involved: the container's resolver talks to that socket.
// Names of containers sharing a network with the asking container are answered; everything else
// is forwarded, from the daemon's netns, to the upstream resolvers (so a host resolver on
// 127.0.0.53 works too).
//
// The sockets are read by a thread of their own (dns-worker.ts, running dns-answerer.ts), not on
// the daemon's main loop: there, sync fs calls of container starts and removals at load delayed
// answers by 0.4–0.9 s (dockerd answers from goroutines). Fds are process-wide, so the main
// thread makes each socket (the setns thread is the addon's) and hands its number over; the
// thread adopts it with node:dgram and owns it from then on. The name table is posted whenever it
// changes; every command is acknowledged in order, so a start that awaits its listener (or
// synced()) knows the thread has the names of that moment.
//
// The thread starts with the first listener and ends a while after the last one closed. A thread
// that cannot start (its module missing or broken) or that dies is reported through `warn`, and
// the answering goes on from the main loop (the same answerer, in-process), never silently off.
import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { HakoError } from '../common/errors.js';
import { addonErrno } from '../native/addon.js';
import { DnsAnswerer, type DnsCommand, type UpstreamDefaults } from './dns-answerer.js';
import { dnsTableOf, type DnsTable } from './dns-names.js';
import { EMBEDDED_DNS } from './hosts-files.js';
import { AF_INET, SOCK_DGRAM, SOCK_NONBLOCK, netNative } from './native-net.js';


export interface EmbeddedDnsOptions {
  /** The names of now (the manager's state; projected with dnsTableOf before posting). */
  table: () => DnsTable;
  /** The daemon's --dns; else the nameservers of `resolvConf`. */
  upstreamDns?: string[] | undefined;
  resolvConf?: string | undefined;
  /** Forwarding timeout per upstream, ms (2000). */
  timeoutMs?: number | undefined;
  warn?: ((msg: string) => void) | undefined;
  /** The DNS thread's module (default: dns-worker.js, found from the bundle too). */
  workerModule?: URL | undefined;
  /** How long the thread stays after the last listener closed, ms (a churn of short containers should not start one per container). */
  lingerMs?: number | undefined;
}

/** Where the embedded DNS answers: its own thread, or the main loop after the thread failed. */
export type DnsMode = 'thread' | 'main loop';

/** The thread's module: beside this one in dist/src/, or, from hakod's bundle (import.meta.url is the bundle's), tsc's copy in dist/src/. */
function workerModule(): URL {
  const beside = new URL('./dns-worker.js', import.meta.url);
  return existsSync(fileURLToPath(beside)) ? beside : new URL('../src/network/dns-worker.js', import.meta.url);
}

/** A module that fails to load makes only an 'error' event: the bootstrap says why on the port instead. */
const BOOTSTRAP = `const { workerData: w } = require('node:worker_threads');
import(w.module).catch((e) => w.port.postMessage({ failed: String(e?.message ?? e) }));`;

/** How long the thread may take to start before it counts as failed, ms (seconds at load 10 on 2 CPUs). */
const START_MS = 15_000;
/** How long a daemon stop waits for the thread to close its sockets, ms. */
const CLOSE_MS = 1000;

/** The thread went away while a command was in flight. */
class HostGone extends Error {}

interface Host {
  readonly mode: DnsMode;
  send(c: DnsCommand): Promise<void>;
  /** Closes every socket before it returns (a bounded wait for a thread), then ends. */
  closeNow(): void;
  /** Ends an idle host (no socket open). */
  end(): void;
}

/** The answerer on the main loop. */
class LoopHost implements Host {
  readonly mode = 'main loop';
  private readonly answerer: DnsAnswerer;
  private closed = false;

  constructor(defaults: UpstreamDefaults) {
    this.answerer = new DnsAnswerer(defaults);
  }

  send(c: DnsCommand): Promise<void> {
    if (this.closed) return Promise.reject(new HostGone('the embedded DNS is closed'));
    return this.answerer.run(c);
  }

  closeNow(): void {
    this.closed = true;
    this.answerer.closeAllNow();
  }

  end(): void {
    this.closeNow();
  }
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  /** A listen's fd and its socket's inode, until the thread acknowledged it (then it is the thread's). */
  fd?: { fd: number; ino: number } | undefined;
}

/** The answerer in a worker thread. */
class ThreadHost implements Host {
  readonly mode = 'thread';
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private ending = false;
  private exitReason = '';

  /** closedFlag[0] becomes 1 once the thread closed every socket (closeAll). */
  private constructor(private readonly worker: Worker, private readonly port: MessagePort, private readonly closedFlag: Int32Array) {}

  /** Resolves once the thread runs its module; rejects with the reason it did not. */
  static start(module: URL, defaults: UpstreamDefaults, onDeath: (reason: string) => void): Promise<ThreadHost> {
    const { port1, port2 } = new MessageChannel();
    const closed = new SharedArrayBuffer(4);
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { module: module.href, port: port1, defaults, closed },
      transferList: [port1],
      // Small heaps: the thread holds a name table and a few sockets (idle RSS matters).
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
    });
    const host = new ThreadHost(worker, port2, new Int32Array(closed));
    // The thread does not keep hakod alive (a SIGTERM'd daemon stops without waiting for it); the
    // port does while an answer is awaited (the start, a command in flight), so that a caller
    // with nothing else on its loop still gets the answer.
    worker.unref();
    return new Promise((resolve, reject) => {
      let started = false;
      const fail = (reason: string) => {
        if (started) return;
        started = true;
        clearTimeout(timer);
        host.ending = true;
        void worker.terminate();
        port2.close();
        reject(new Error(reason));
      };
      const timer = setTimeout(() => fail(`not running after ${START_MS / 1000} s`), START_MS);
      timer.unref();
      worker.on('error', (err) => {
        host.exitReason = err.message;
        fail(err.message);
      });
      worker.on('exit', (code) => {
        fail(host.exitReason || `exited with code ${code}`);
        host.gone(host.exitReason || `exited with code ${code}`, onDeath);
      });
      port2.on('message', (m: { ready?: boolean; failed?: string; seq?: number; error?: { message: string; code?: string; errno?: number } }) => {
        if (m.failed !== undefined) return fail(m.failed);
        if (m.ready) {
          started = true;
          clearTimeout(timer);
          if (host.pending.size === 0) port2.unref();
          return resolve(host);
        }
        if (m.seq !== undefined) host.acked(m.seq, m.error);
      });
    });
  }

  send(c: DnsCommand): Promise<void> {
    if (this.ending) return Promise.reject(new HostGone('the DNS thread is gone'));
    const seq = ++this.seq;
    return new Promise<void>((resolve, reject) => {
      let fd: Pending['fd'];
      if (c.op === 'listen') fd = { fd: c.fd, ino: fstatSync(c.fd).ino };
      if (this.pending.size === 0) this.port.ref();
      this.pending.set(seq, { resolve, reject, fd });
      this.port.postMessage({ seq, command: c });
    });
  }

  private acked(seq: number, error: { message: string; code?: string; errno?: number } | undefined): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (this.pending.size === 0) this.port.unref();
    if (!error) return p.resolve();
    const err = new Error(error.message) as NodeJS.ErrnoException;
    if (error.code) err.code = error.code;
    if (error.errno !== undefined) err.errno = error.errno;
    p.reject(err);
  }

  /** The thread ended: its sockets are closed (worker teardown closes its handles); commands in flight fail. */
  private gone(reason: string, onDeath: (reason: string) => void): void {
    const wasEnding = this.ending;
    this.ending = true;
    this.port.close();
    for (const p of this.pending.values()) {
      // A listen's fd the thread did not adopt is still open: close it, unless its number now
      // names another file (the thread adopted and closed it, and the number was reused).
      if (p.fd) {
        try {
          if (fstatSync(p.fd.fd).ino === p.fd.ino) closeSync(p.fd.fd);
        } catch {
          // closed with the thread
        }
      }
      p.reject(new HostGone(`the DNS thread ended: ${reason}`));
    }
    this.pending.clear();
    if (!wasEnding) onDeath(reason);
  }

  closeNow(): void {
    if (this.ending) return;
    // Sockets closed before this returns: a new daemon (or manager) in this process binds
    // 127.0.0.11:53 in the same netns right after. The wait is bounded; terminate() follows.
    void this.send({ op: 'closeAll' }).catch(() => undefined);
    Atomics.wait(this.closedFlag, 0, 0, CLOSE_MS);
    this.end();
  }

  end(): void {
    this.ending = true;
    void this.worker.terminate();
  }
}

interface Listener {
  nsPath: string;
  /** waiting: not yet posted; sent: posted, not acknowledged; open: answering. */
  state: 'waiting' | 'sent' | 'open';
  ready: Promise<void>;
}

export class EmbeddedDns {
  private readonly listeners = new Map<string, Listener>();
  /** Closes in flight per key: a new listener there waits for 127.0.0.11:53 to be free. */
  private readonly closing = new Map<string, Promise<void>>();
  private host: Host | undefined;
  private booting: Promise<Host> | undefined;
  /** Set once the thread failed: the answering stays on the main loop. */
  private threadFailed = false;
  private closed = false;
  private tableSent = '';
  private lastSync: Promise<void> = Promise.resolve();
  private linger: NodeJS.Timeout | undefined;
  private readonly defaults: UpstreamDefaults;

  constructor(private readonly opts: EmbeddedDnsOptions) {
    this.defaults = { upstreamDns: opts.upstreamDns, resolvConf: opts.resolvConf ?? '/etc/resolv.conf', timeoutMs: opts.timeoutMs ?? 2000 };
  }

  /** Where the answers come from now (undefined: nothing is listening). */
  mode(): DnsMode | undefined {
    return this.host?.mode;
  }

  /**
   * Starts answering on 127.0.0.11:53 inside the netns at `nsPath`; `key` is the netns's key (its
   * inode). Resolves when queries there are answered with the names of this moment.
   */
  start(key: string, nsPath: string): Promise<void> {
    if (this.closed) return Promise.reject(new HakoError({ step: `start the embedded DNS server for ${key}`, hint: 'the network manager is closed', kind: 'internal' }));
    const have = this.listeners.get(key);
    if (have) return have.ready;
    clearTimeout(this.linger);
    const l: Listener = { nsPath, state: 'waiting', ready: Promise.resolve() };
    l.ready = this.open(key, l).catch((err: unknown) => {
      if (this.listeners.get(key) === l) {
        this.listeners.delete(key);
        this.idleLater();
      }
      throw err;
    });
    this.listeners.set(key, l);
    return l.ready;
  }

  private async open(key: string, l: Listener): Promise<void> {
    for (;;) {
      await this.closing.get(key);
      const host = await this.ensureHost();
      if (this.listeners.get(key) !== l || this.closed) return; // stopped meanwhile
      const fd = listenerSocket(key, l.nsPath);
      l.state = 'sent';
      try {
        await host.send({ op: 'listen', key, fd });
        l.state = 'open';
        return;
      } catch (err) {
        l.state = 'waiting';
        // The thread died with the listen in flight: again, on the main loop.
        if (err instanceof HostGone && !this.closed) continue;
        throw new HakoError({ step: `start the embedded DNS server on ${EMBEDDED_DNS}:53 for ${key}`, path: l.nsPath, errno: addonErrno(err), hint: (err as Error).message, cause: err });
      }
    }
  }

  /** The answering host: the thread (started on first use), or the main loop once it failed. */
  private ensureHost(): Promise<Host> {
    if (this.host) return Promise.resolve(this.host);
    this.booting ??= this.boot().finally(() => (this.booting = undefined));
    return this.booting;
  }

  private async boot(): Promise<Host> {
    let host: Host;
    if (this.threadFailed) {
      host = new LoopHost(this.defaults);
    } else {
      const module = this.opts.workerModule ?? workerModule();
      try {
        const thread: ThreadHost = await ThreadHost.start(module, this.defaults, (reason) => this.died(thread, reason));
        host = thread;
      } catch (err) {
        this.threadFailed = true;
        this.opts.warn?.(`embedded DNS: the DNS thread did not start (${(err as Error).message}; module ${fileURLToPath(module)}): answering on the main loop`);
        host = new LoopHost(this.defaults);
      }
    }
    if (this.closed) {
      host.end();
      throw new HostGone('the embedded DNS is closed');
    }
    this.host = host;
    this.tableSent = '';
    this.tableChanged();
    // Started by prepare() for a listener that did not come (its connect failed): ends idle.
    this.idleLater();
    return host;
  }

  /**
   * Starts the thread, if it is not running, without waiting for it: a connect calls this before
   * its netlink work, so the thread's start (~35 ms CPU, on another core) overlaps with it.
   */
  prepare(): void {
    if (this.closed || this.host) return;
    this.ensureHost().catch(() => undefined);
  }

  /** The thread died: reported, and every listener opened again on the main loop. */
  private died(host: Host, reason: string): void {
    if (this.host !== host) return;
    this.host = undefined;
    this.threadFailed = true;
    this.opts.warn?.(`embedded DNS: the DNS thread ended (${reason}): answering on the main loop`);
    for (const [key, l] of this.listeners) {
      if (l.state !== 'open') continue; // a listen in flight retries by itself
      l.state = 'waiting';
      l.ready = this.open(key, l).catch((err: Error) => {
        this.opts.warn?.(`embedded DNS for ${key}: ${err.message}`);
      });
    }
  }

  /** The names changed (the manager saved its state): the host gets the new table. */
  tableChanged(): void {
    const host = this.host;
    if (!host) return; // a host that starts gets the table of its moment
    const table = dnsTableOf(this.opts.table());
    const text = JSON.stringify(table);
    if (text === this.tableSent) return;
    this.tableSent = text;
    this.lastSync = host.send({ op: 'table', table }).catch(() => undefined);
  }

  /** Resolves when the answering host has the table of the last tableChanged(). */
  synced(): Promise<void> {
    return this.lastSync;
  }

  stop(key: string): void {
    const l = this.listeners.get(key);
    if (!l) return;
    this.listeners.delete(key);
    const host = this.host;
    if (host && l.state !== 'waiting') {
      const p = host.send({ op: 'close', key }).catch(() => undefined);
      this.closing.set(key, p);
      void p.then(() => {
        if (this.closing.get(key) === p) this.closing.delete(key);
      });
    }
    this.idleLater();
  }

  /** With no listener left, the thread ends after lingerMs (unless one starts meanwhile). */
  private idleLater(): void {
    if (this.listeners.size || this.host?.mode !== 'thread') return;
    clearTimeout(this.linger);
    this.linger = setTimeout(() => {
      const host = this.host;
      if (this.listeners.size || !host || host.mode !== 'thread') return;
      this.host = undefined;
      // Ended once the closes in flight are acknowledged (terminate() would close the sockets
      // too, but the closes' waiters would then see a thread gone instead of done).
      void Promise.all([...this.closing.values()]).then(() => host.end());
    }, this.opts.lingerMs ?? 30_000);
    this.linger.unref();
  }

  /** Closes every socket before returning, and ends the thread (daemon stop). */
  stopAll(): void {
    this.closed = true;
    clearTimeout(this.linger);
    this.listeners.clear();
    this.host?.closeNow();
    this.host = undefined;
  }

  running(): string[] {
    return [...this.listeners.keys()];
  }
}

/** A UDP socket bound to 127.0.0.11:53 in the netns at nsPath (made by the addon's setns thread). */
function listenerSocket(key: string, nsPath: string): number {
  let nsFd = -1;
  let fd = -1;
  try {
    nsFd = openSync(nsPath, 'r');
    const n = netNative();
    fd = n.netSocket(nsFd, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    n.bindInet(fd, EMBEDDED_DNS, 53);
    return fd;
  } catch (err) {
    if (fd >= 0) netNative().close(fd);
    const errno = addonErrno(err) ?? Math.abs((err as NodeJS.ErrnoException).errno ?? 0);
    throw new HakoError({ step: `start the embedded DNS server on ${EMBEDDED_DNS}:53 for ${key}`, path: nsPath, errno: errno || undefined, hint: 'is lo up in the container?', cause: err });
  } finally {
    if (nsFd >= 0) closeSync(nsFd);
  }
}
