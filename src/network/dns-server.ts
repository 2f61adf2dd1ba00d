// The embedded DNS server. For every container on a user-defined network the daemon opens a UDP
// socket INSIDE the container's netns (addon netSocket: made by a thread that setns'd) bound to
// 127.0.0.11:53, so no DNAT or proxy is involved: the container's resolver talks to that socket,
// and the daemon reads it from its own event loop. Names of containers sharing a network with the
// asking container are answered here; everything else is forwarded, from the daemon's netns, to
// the upstream resolvers (so a host resolver on 127.0.0.53 works too).
import { createSocket } from 'node:dgram';
import { closeSync, openSync } from 'node:fs';
import { HakoError } from '../common/errors.js';
import { addonErrno } from '../native/addon.js';
import { CLASS_IN, RCODE, TYPE, buildResponse, decodeMessage, ipFromReverseName, isResponse, opcodeOf, type Message, type ResourceRecord } from './dns-message.js';
import { EMBEDDED_DNS } from './hosts-files.js';
import { AF_INET, SOCK_DGRAM, SOCK_NONBLOCK, netNative } from './native-net.js';

/**
 * Answers "which addresses does `name` have for the containers of the netns `askerKey`" (a netns
 * may hold several containers: --network container:<id>).
 */
export interface NameResolver {
  lookup(askerId: string, name: string): string[] | undefined;
  reverse(askerId: string, ip: string): string | undefined;
  upstreams(askerId: string): string[];
}

const TTL = 600;

interface Listener {
  fd: number;
  containerId: string;
}

export class EmbeddedDns {
  private readonly listeners = new Map<string, Listener>();
  private readonly buf = Buffer.alloc(4096);
  /** Forwarding timeout per upstream, ms. */
  timeoutMs = 2000;

  constructor(private readonly resolver: NameResolver) {}

  /** Starts answering on 127.0.0.11:53 inside the netns at `nsPath`; `containerId` is the netns key. */
  start(containerId: string, nsPath: string): void {
    if (this.listeners.has(containerId)) return;
    const nsFd = openSync(nsPath, 'r');
    let fd = -1;
    try {
      const n = netNative();
      fd = n.netSocket(nsFd, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      n.bindInet(fd, EMBEDDED_DNS, 53);
    } catch (err) {
      if (fd >= 0) netNative().close(fd);
      throw new HakoError({ step: `start the embedded DNS server on ${EMBEDDED_DNS}:53 for ${containerId}`, path: nsPath, errno: addonErrno(err), hint: 'is lo up in the container?', cause: err });
    } finally {
      closeSync(nsFd);
    }
    const l = { fd, containerId };
    this.listeners.set(containerId, l);
    this.arm(l);
  }

  stop(containerId: string): void {
    const l = this.listeners.get(containerId);
    if (!l) return;
    this.listeners.delete(containerId);
    const n = netNative();
    n.unwatch(l.fd);
    n.close(l.fd);
  }

  stopAll(): void {
    for (const id of [...this.listeners.keys()]) this.stop(id);
  }

  running(): string[] {
    return [...this.listeners.keys()];
  }

  private arm(l: Listener): void {
    netNative().watch(l.fd, () => {
      if (this.listeners.get(l.containerId) !== l) return;
      this.drain(l);
      if (this.listeners.get(l.containerId) === l) this.arm(l);
    });
  }

  private drain(l: Listener): void {
    const n = netNative();
    for (let i = 0; i < 64; i++) {
      let got;
      try {
        got = n.udpRecvFrom(l.fd, this.buf);
      } catch {
        return;
      }
      if (!got) return;
      const packet = Buffer.from(this.buf.subarray(0, got.length));
      void this.handle(l, packet, got.address, got.port);
    }
  }

  private reply(l: Listener, data: Buffer, address: string, port: number): void {
    if (this.listeners.get(l.containerId) !== l) return;
    try {
      netNative().udpSendTo(l.fd, data, address, port);
    } catch {
      // The container's resolver went away; nothing to tell anyone.
    }
  }

  private async handle(l: Listener, packet: Buffer, address: string, port: number): Promise<void> {
    let query: Message;
    try {
      query = decodeMessage(packet);
    } catch {
      return; // not DNS: drop it, as a server does with garbage
    }
    if (isResponse(query) || query.questions.length !== 1) {
      if (!isResponse(query)) this.reply(l, buildResponse(query, [], RCODE.FORMERR), address, port);
      return;
    }
    if (opcodeOf(query) !== 0) return this.reply(l, buildResponse(query, [], RCODE.NOTIMP), address, port);
    const answer = this.answerLocally(l.containerId, query);
    if (answer) return this.reply(l, answer, address, port);
    const forwarded = await this.forward(l.containerId, packet);
    this.reply(l, forwarded ?? buildResponse(query, [], RCODE.SERVFAIL), address, port);
  }

  /** The answer when the name is ours; undefined to forward. */
  answerLocally(askerId: string, query: Message): Buffer | undefined {
    const q = query.questions[0]!;
    if (q.class !== CLASS_IN) return undefined;
    const name = q.name.toLowerCase().replace(/\.$/, '');
    if (q.type === TYPE.PTR) {
      const ip = ipFromReverseName(name);
      const target = ip ? this.resolver.reverse(askerId, ip) : undefined;
      if (!target) return undefined;
      return buildResponse(query, [{ name: q.name, type: TYPE.PTR, class: CLASS_IN, ttl: TTL, data: target }], RCODE.NOERROR);
    }
    const ips = this.resolver.lookup(askerId, name);
    if (!ips) return undefined;
    // A known container name has no AAAA/MX/...: answer NOERROR with no records, like docker,
    // instead of forwarding a container name to the outside world.
    const answers: ResourceRecord[] = q.type === TYPE.A || q.type === TYPE.ANY ? ips.map((ip) => ({ name: q.name, type: TYPE.A, class: CLASS_IN, ttl: TTL, data: ip })) : [];
    return buildResponse(query, answers, RCODE.NOERROR);
  }

  private async forward(askerId: string, packet: Buffer): Promise<Buffer | undefined> {
    for (const up of this.resolver.upstreams(askerId)) {
      const [host, portText] = up.includes(':') && !up.includes('::') ? up.split(':') : [up, '53'];
      const got = await queryUdp(packet, host!, Number(portText), this.timeoutMs).catch(() => undefined);
      if (got) return got;
    }
    return undefined;
  }
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
