// The part of the embedded DNS that answers queries on the main loop: a name table (dns-names.ts),
// the forwarding of other names to the upstream resolvers, from the daemon's netns, and node:dgram
// sockets adopted from the fds the daemon made in the containers' netns (bound to 127.0.0.11:53).
// With the addon's answering thread running (dns-server.ts), it only answers what that thread
// hands over (answer()); when the thread could not start, it reads the sockets itself.
import { createSocket, type Socket } from 'node:dgram';
import { closeSync, readFileSync } from 'node:fs';
import { CLASS_IN, RCODE, TYPE, buildResponse, decodeMessage, ipFromReverseName, isResponse, opcodeOf, type Message, type ResourceRecord } from './dns-message.js';
import { lookupName, ownUpstreams, reverseNameOn, sharedNetworks, type DnsTable } from './dns-names.js';
import { parseResolvConf } from './hosts-files.js';

const TTL = 600;

/** How names not ours are forwarded. */
export interface UpstreamDefaults {
  /** The daemon's --dns (`ip` or `ip:port`); else the nameservers of `resolvConf`. */
  upstreamDns?: string[] | undefined;
  resolvConf: string;
  /** Forwarding timeout per upstream, ms. */
  timeoutMs: number;
}

/** What the main thread asks of the answerer (posted to the DNS thread, in order). */
export type DnsCommand =
  | { op: 'table'; table: DnsTable }
  /** Answer on `fd` (a bound UDP socket; the answerer owns it from now on) for the netns `key`. */
  | { op: 'listen'; key: string; fd: number }
  | { op: 'close'; key: string }
  | { op: 'closeAll' };

export class DnsAnswerer {
  private readonly sockets = new Map<string, Socket>();
  private table: DnsTable = { networks: {}, endpoints: {} };
  private queue: Promise<unknown> = Promise.resolve();
  private ended = false;

  constructor(private readonly defaults: UpstreamDefaults) {}

  /**
   * Applies the commands one after another, in the order given (a `close` must not overtake the
   * `listen` before it); each resolves when it took effect (a listener is receiving, a socket closed).
   */
  run(c: DnsCommand): Promise<void> {
    const p = this.queue.then(() => this.apply(c));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async apply(c: DnsCommand): Promise<void> {
    switch (c.op) {
      case 'table':
        this.table = c.table;
        return;
      case 'listen':
        return this.listen(c.key, c.fd);
      case 'close':
        this.close(c.key);
        return;
      case 'closeAll':
        for (const key of [...this.sockets.keys()]) this.close(key);
        return;
    }
  }

  /** The table answers come from, from now on (the answering thread's host: no sockets here). */
  setTable(table: DnsTable): void {
    this.table = table;
  }

  /** Closes every socket now, and refuses later listens (the host is going away). */
  closeAllNow(): void {
    this.ended = true;
    for (const key of [...this.sockets.keys()]) this.close(key);
  }

  keys(): string[] {
    return [...this.sockets.keys()];
  }

  private listen(key: string, fd: number): Promise<void> {
    if (this.sockets.has(key) || this.ended) {
      closeSync(fd);
      throw new Error(this.ended ? 'the embedded DNS is closed' : `a DNS listener for ${key} is already open`);
    }
    const sock = createSocket('udp4');
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => {
        // Not adopted (not a UDP socket, EBADF): the fd is still ours to close.
        try {
          closeSync(fd);
        } catch {
          // already gone
        }
        reject(err);
      };
      sock.once('error', failed);
      try {
        // Adopts the bound socket (uv_udp_open); closing `sock` closes the fd.
        sock.bind({ fd }, () => {
          sock.off('error', failed);
          // A receive error on a UDP socket (ICMP from a vanished asker) is nothing to act on.
          sock.on('error', () => undefined);
          sock.on('message', (msg, rinfo) => void this.handle(key, sock, msg, rinfo.address, rinfo.port).catch(() => undefined));
          this.sockets.set(key, sock);
          resolve();
        });
      } catch (err) {
        failed(err as Error);
      }
    });
  }

  private close(key: string): void {
    const sock = this.sockets.get(key);
    if (!sock) return;
    this.sockets.delete(key);
    // Synchronous as far as the fd goes: dgram's close() closes the handle (uv_close → close(2))
    // before it returns, so the netns loses our reference and 127.0.0.11:53 is free again.
    sock.close();
  }

  private reply(key: string, sock: Socket, data: Buffer, address: string, port: number): void {
    if (this.sockets.get(key) !== sock) return;
    // The container's resolver may be gone: nothing to tell anyone.
    sock.send(data, port, address, () => undefined);
  }

  private async handle(key: string, sock: Socket, packet: Buffer, address: string, port: number): Promise<void> {
    const reply = await this.answer(key, packet);
    if (reply) this.reply(key, sock, reply, address, port);
  }

  /**
   * The reply to `packet` from the netns `key`, or undefined to drop it: names of ours answered,
   * others forwarded (SERVFAIL when no upstream answered), malformed and odd queries as a server does.
   */
  async answer(key: string, packet: Buffer): Promise<Buffer | undefined> {
    let query: Message;
    try {
      query = decodeMessage(packet);
    } catch {
      return undefined; // not DNS: drop it, as a server does with garbage
    }
    if (isResponse(query)) return undefined;
    if (query.questions.length !== 1) return buildResponse(query, [], RCODE.FORMERR);
    if (opcodeOf(query) !== 0) return buildResponse(query, [], RCODE.NOTIMP);
    const answer = answerLocally(this.table, key, query);
    if (answer) return answer;
    const forwarded = await this.forward(key, packet);
    return forwarded ?? buildResponse(query, [], RCODE.SERVFAIL);
  }

  /** The table answers come from now. */
  names(): DnsTable {
    return this.table;
  }

  /** Where names not ours asked from the netns `key` are forwarded (read now: the host's resolvers may change). */
  upstreams(key: string): string[] {
    const own = ownUpstreams(this.table, key) ?? this.defaults.upstreamDns;
    if (own) return own;
    try {
      // Sync: an async read would queue in libuv's thread pool, behind the main thread's fs work.
      return parseResolvConf(readFileSync(this.defaults.resolvConf, 'utf8')).nameservers;
    } catch {
      return [];
    }
  }

  /** Whether upstreams(key) comes from the resolv.conf file. */
  upstreamsFromFile(key: string): boolean {
    return !(ownUpstreams(this.table, key) ?? this.defaults.upstreamDns);
  }

  private async forward(key: string, packet: Buffer): Promise<Buffer | undefined> {
    for (const up of this.upstreams(key)) {
      const [host, portText] = up.includes(':') && !up.includes('::') ? up.split(':') : [up, '53'];
      const got = await queryUdp(packet, host!, Number(portText), this.defaults.timeoutMs).catch(() => undefined);
      if (got) return got;
    }
    return undefined;
  }
}

/** The answer when the name is ours (a container on a network shared with the asker); undefined to forward. */
export function answerLocally(table: DnsTable, askerKey: string, query: Message): Buffer | undefined {
  const q = query.questions[0]!;
  const shared = sharedNetworks(table, askerKey);
  // (the asker's --link aliases first: dns-names.ts's lookupName)
  const records = recordsOf(q.name, q.type, q.class, { ips: (n) => lookupName(table, askerKey, n), ptr: (ip) => reverseNameOn(table, shared, ip) });
  return records && buildResponse(query, records, RCODE.NOERROR);
}

/** The names an asker sees: addresses of a name (lowercase, no final dot), the name of an address. */
export interface LocalNames {
  ips(name: string): string[] | undefined;
  ptr(ip: string): string | undefined;
}

/**
 * The records answering (name, type, class) over the lookups `names` (an asker's: answerLocally's,
 * or dns-table.ts's indexed copy of the same), each with the owner name `qname` as asked;
 * undefined when the name is not ours (forward it). Every type but A, ANY and PTR gets the same
 * answer (dns-table.ts relies on it).
 */
export function recordsOf(qname: string, type: number, klass: number, names: LocalNames): ResourceRecord[] | undefined {
  if (klass !== CLASS_IN) return undefined;
  const name = qname.toLowerCase().replace(/\.$/, '');
  if (type === TYPE.PTR) {
    const ip = ipFromReverseName(name);
    const target = ip ? names.ptr(ip) : undefined;
    if (!target) return undefined;
    return [{ name: qname, type: TYPE.PTR, class: CLASS_IN, ttl: TTL, data: target }];
  }
  const ips = names.ips(name);
  if (!ips) return undefined;
  // A known container name has no AAAA/MX/...: answer NOERROR with no records, like docker,
  // instead of forwarding a container name to the outside world.
  return type === TYPE.A || type === TYPE.ANY ? ips.map((ip) => ({ name: qname, type: TYPE.A, class: CLASS_IN, ttl: TTL, data: ip })) : [];
}

/** One UDP exchange from the daemon's netns; resolves with the reply whose id matches. */
export function queryUdp(packet: Buffer, host: string, port: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (msg) => {
      if (msg.length < 2 || msg.readUInt16BE(0) !== packet.readUInt16BE(0)) return;
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.send(packet, port, host);
  });
}
