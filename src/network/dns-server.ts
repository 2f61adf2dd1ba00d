// The embedded DNS server. For every container on a user-defined network the daemon opens a UDP
// socket INSIDE the container's netns (addon netSocket: made by a thread that setns'd) bound to
// 127.0.0.11:53, so no DNAT or proxy is involved: the container's resolver talks to that socket.
// Names of containers sharing a network with the asking container are answered; everything else
// is forwarded, from the daemon's netns, to the upstream resolvers (so a host resolver on
// 127.0.0.53 works too).
//
// The sockets are read by a thread of their own, not on the daemon's main loop: there, sync fs
// calls of container starts and removals at load delayed answers by 0.4–0.9 s (dockerd answers
// from goroutines). The thread is the addon's (native/addon_dns.c): it answers the questions of
// a table computed here (dns-table.ts: the containers' names and reverse names, answers in wire
// form), forwards the names the table says are not ours to the upstreams given here, from the
// daemon's netns, and hands every other query to the main loop (DnsAnswerer: odd queries, ID
// prefixes, upstreams the thread cannot use). Until session 12 it was a worker_threads Worker
// answering everything, which cost ~10 MB of RSS while it ran (a Node isolate and environment:
// ~9 MB even idle, whatever its heap limits); the addon's thread costs a 64 KiB stack and its
// tables. Fds are process-wide: the main thread makes each socket (the setns thread is the
// addon's) and hands its number to the thread, which owns it from then on. Listening, closing and
// table changes take effect before the call returns (the thread's mutex), so a start that awaits
// its listener (or synced()) knows the thread has the names of that moment.
//
// The thread starts with the first listener and ends a while after the last one closed. A thread
// that cannot start is reported through `warn`, and the answering goes on from the main loop
// (the same DnsAnswerer, on node:dgram sockets), never silently off.
import { closeSync, openSync, statSync } from 'node:fs';
import { HakoError } from '../common/errors.js';
import { addonErrno } from '../native/addon.js';
import { DnsAnswerer, type DnsCommand, type UpstreamDefaults } from './dns-answerer.js';
import { dnsNative, type DnsNative, type DnsServerHandle } from './dns-native.js';
import { dnsTableOf, type DnsTable } from './dns-names.js';
import { nativeTables, newTableCache, upstreamSet, type TableCache } from './dns-table.js';
import { EMBEDDED_DNS } from './hosts-files.js';
import { AF_INET, SOCK_DGRAM, SOCK_NONBLOCK, netNative } from './native-net.js';

export interface EmbeddedDnsOptions {
  /** The names of now (the manager's state; projected with dnsTableOf before use). */
  table: () => DnsTable;
  /** The daemon's --dns; else the nameservers of `resolvConf`. */
  upstreamDns?: string[] | undefined;
  resolvConf?: string | undefined;
  /** Forwarding timeout per upstream, ms (2000). */
  timeoutMs?: number | undefined;
  warn?: ((msg: string) => void) | undefined;
  /** The answering thread's functions (default: the addon's; tests give one that fails to start). */
  native?: DnsNative | undefined;
  /** How often the thread's host looks for changes of the resolv.conf file, ms (5000). */
  resolvConfPollMs?: number | undefined;
  /** How long the thread stays after the last listener closed, ms (a churn of short containers should not start one per container). */
  lingerMs?: number | undefined;
}

/** Where the embedded DNS answers: its own thread, or the main loop after the thread failed. */
export type DnsMode = 'thread' | 'main loop';

/** The host is closed. */
class HostGone extends Error {}

/** What changes when a file is rewritten or replaced ('' when it cannot be read). */
function fileSignature(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return '';
  }
}

interface Host {
  readonly mode: DnsMode;
  send(c: DnsCommand): Promise<void>;
  /** Closes every socket before it returns, then ends. */
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

/** The addon's answering thread, with the main loop's DnsAnswerer for what it hands over. */
class ThreadHost implements Host {
  readonly mode = 'thread';
  /** The main loop's part: queries without a table entry (forwarding, odd queries). */
  private readonly answerer: DnsAnswerer;
  private handle: DnsServerHandle | undefined;
  /** Listener ids (never reused: an answer for a closed listener must not go out of a new one). */
  private readonly lids = new Map<string, number>();
  private readonly keys = new Map<number, string>();
  private lastLid = 0;
  private ended = false;
  private resolvSig = '';
  private readonly tableCache: TableCache = newTableCache();
  private resolvPoll: NodeJS.Timeout | undefined;

  private constructor(
    private readonly n: DnsNative,
    private readonly defaults: UpstreamDefaults,
    private readonly warn: ((msg: string) => void) | undefined,
    private readonly pollMs: number,
  ) {
    this.answerer = new DnsAnswerer(defaults);
  }

  /** Starts the thread; throws when it cannot (pthread_create failed, an addon without it). */
  static start(n: DnsNative, defaults: UpstreamDefaults, warn: ((msg: string) => void) | undefined, pollMs: number): ThreadHost {
    const host = new ThreadHost(n, defaults, warn, pollMs);
    host.handle = n.dnsStart((lid, packet, address, port) => host.missed(lid, packet, address, port));
    return host;
  }

  send(c: DnsCommand): Promise<void> {
    try {
      this.apply(c);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private apply(c: DnsCommand): void {
    if (c.op === 'listen' && (this.ended || this.lids.has(c.key))) {
      closeSync(c.fd); // the fd was handed over: ours to close
      throw this.ended ? new HostGone('the embedded DNS is closed') : new Error(`a DNS listener for ${c.key} is already open`);
    }
    if (this.ended) throw new HostGone('the embedded DNS is closed');
    const h = this.handle!;
    switch (c.op) {
      case 'table':
        this.answerer.setTable(c.table);
        this.pushTables();
        return;
      case 'listen': {
        const lid = ++this.lastLid;
        try {
          this.n.dnsListen(h, lid, c.fd, -1);
        } catch (err) {
          closeSync(c.fd);
          throw err;
        }
        this.lids.set(c.key, lid);
        this.keys.set(lid, c.key);
        this.pushTables();
        return;
      }
      case 'close':
        this.close(c.key);
        return;
      case 'closeAll':
        for (const key of [...this.lids.keys()]) this.close(key);
        return;
    }
  }

  private close(key: string): void {
    const lid = this.lids.get(key);
    if (lid === undefined) return;
    this.lids.delete(key);
    this.keys.delete(lid);
    this.n.dnsClose(this.handle!, lid); // its socket is closed when this returns
  }

  /**
   * The thread's tables and upstream sets for the table, listeners and upstreams of now (the
   * resolv.conf file read once for all listeners that use it).
   */
  private pushTables(): void {
    const h = this.handle!;
    this.resolvSig = fileSignature(this.defaults.resolvConf);
    const { tables, tableOf } = nativeTables(this.answerer.names(), this.lids.keys(), this.tableCache);
    const sets: Buffer[] = [];
    const setIndex = new Map<string, number>();
    const assign = new Int32Array(tableOf.size * 3);
    let fromFile: string[] | undefined;
    let i = 0;
    for (const [key, index] of tableOf) {
      const file = this.answerer.upstreamsFromFile(key);
      const set = upstreamSet(file ? (fromFile ??= this.answerer.upstreams(key)) : this.answerer.upstreams(key), this.defaults.timeoutMs);
      let si = -1; // none the thread can use: the main loop forwards
      if (set) {
        const text = set.toString('latin1');
        si = setIndex.get(text) ?? sets.push(set) - 1;
        setIndex.set(text, si);
      }
      assign[i++] = this.lids.get(key)!;
      assign[i++] = index;
      assign[i++] = si;
    }
    this.watchResolvConf(fromFile !== undefined);
    try {
      this.n.dnsTables(h, tables, sets, assign);
    } catch (err) {
      // Never stale answers: without tables the thread hands every query to the main loop.
      this.n.dnsTables(h, [], [], new Int32Array(0));
      this.warn?.(`embedded DNS: the thread's tables were refused (${(err as Error).message}): answering every query from the main loop`);
    }
  }

  /**
   * While a listener forwards to the resolv.conf file's nameservers, its changes reach the thread
   * within pollMs (5 s; the main loop's forwarding reads the file per query).
   */
  private watchResolvConf(on: boolean): void {
    if (!on) {
      clearInterval(this.resolvPoll);
      this.resolvPoll = undefined;
      return;
    }
    this.resolvPoll ??= setInterval(() => {
      if (!this.ended && fileSignature(this.defaults.resolvConf) !== this.resolvSig) this.pushTables();
    }, this.pollMs).unref();
  }

  /** A query the thread had no answer for (on the main loop). */
  private missed(lid: number, packet: Buffer, address: string, port: number): void {
    const key = this.keys.get(lid);
    if (key === undefined || this.ended) return;
    this.answerer.answer(key, packet).then(
      (reply) => {
        // (the listener may have closed meanwhile: the addon then sends nothing)
        if (reply && !this.ended) this.n.dnsSend(this.handle!, lid, reply, address, port);
      },
      // A query whose answer cannot be encoded (a PTR target with a label over 63 bytes) gets
      // none, as a server that cannot answer: not an unhandled rejection on the daemon's loop.
      () => undefined,
    );
  }

  closeNow(): void {
    if (this.ended) return;
    this.ended = true;
    this.watchResolvConf(false);
    this.lids.clear();
    this.keys.clear();
    this.n.dnsStop(this.handle!);
  }

  end(): void {
    this.closeNow();
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
        // The host ended with the listen in flight (it lingered out meanwhile): again, on a new one.
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
      try {
        host = ThreadHost.start(this.opts.native ?? dnsNative(), this.defaults, this.opts.warn, this.opts.resolvConfPollMs ?? 5000);
      } catch (err) {
        this.threadFailed = true;
        this.opts.warn?.(`embedded DNS: the DNS thread did not start (${(err as Error).message}): answering on the main loop`);
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
   * its netlink work.
   */
  prepare(): void {
    if (this.closed || this.host) return;
    this.ensureHost().catch(() => undefined);
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
