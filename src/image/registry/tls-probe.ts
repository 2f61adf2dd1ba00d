// Does a port speak TLS? The question docker asks of an insecure registry before it falls back
// to plain HTTP. Answered with one TCP connection and a hand-made ClientHello instead of a real
// handshake: Node's first TLS connection costs ~4–8 ms of CPU in a fresh process (its TLS code
// is loaded and a SecureContext made), most of the probe of a plain-HTTP registry.
//
// A TLS server answers a ClientHello with a handshake record (0x16: ServerHello or
// HelloRetryRequest) or, when it dislikes it, an alert record (0x15). A plain-HTTP server
// answers the bytes (followed by an empty line, so that one waiting for the end of a request
// line or header does not wait) with `HTTP/1.x 400`, or closes the connection.
import { connect, isIP } from 'node:net';
import { randomFillSync } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { connectTunnel } from '../proxy-tunnel.js';

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const withLen16 = (b: number[]): number[] => [...u16(b.length), ...b];
const extension = (type: number, body: number[]): number[] => [...u16(type), ...withLen16(body)];

/** A TLS 1.2/1.3 ClientHello record (with SNI when `host` is a name). */
export function clientHello(host: string): Buffer {
  const random = [...randomFillSync(Buffer.alloc(64))];
  const suites = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d, 0x002f, 0x0035].flatMap(u16);
  const exts: number[] = [];
  if (isIP(host) === 0 && host.length > 0) {
    const name = [...Buffer.from(host, 'ascii')];
    exts.push(...extension(0x0000, withLen16([0, ...withLen16(name)])));
  }
  exts.push(
    ...extension(0x000a, withLen16([0x001d, 0x0017, 0x0018].flatMap(u16))), // supported_groups
    ...extension(0x000b, [1, 0]), // ec_point_formats: uncompressed
    ...extension(0x000d, withLen16([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601].flatMap(u16))), // signature_algorithms
    ...extension(0x002b, [4, 0x03, 0x04, 0x03, 0x03]), // supported_versions: 1.3, 1.2
    ...extension(0x0033, withLen16([])), // key_share: none yet (a 1.3 server asks with HelloRetryRequest)
  );
  const body = [0x03, 0x03, ...random.slice(0, 32), 32, ...random.slice(32), ...withLen16(suites), 1, 0, ...withLen16(exts)];
  const handshake = [0x01, 0, ...u16(body.length), ...body];
  return Buffer.from([0x16, 0x03, 0x01, ...withLen16(handshake)]);
}

/**
 * Whether `host:port` answers like a TLS server. False when it answers otherwise, closes, or
 * cannot be reached at all (the caller then tries plain HTTP, whose error says what is wrong).
 * With `proxy`, asked through a CONNECT tunnel (a proxy that refuses it: false, likewise).
 * Rejects only when `signal` aborts.
 */
export function speaksTls(host: string, port: number, signal?: AbortSignal, proxy?: URL): Promise<boolean> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (!proxy) {
    const sock = connect({ host, port });
    return probe(sock, host, false, signal);
  }
  return connectTunnel(proxy, `${isIP(host) === 6 ? `[${host}]` : host}:${port}`, signal).then(
    (sock) => probe(sock, host, true, signal),
    (err) => {
      if (signal?.aborted) throw err;
      return false;
    },
  );
}

function probe(sock: Duplex, host: string, connected: boolean, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: unknown, tls: boolean): void => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err !== undefined) reject(err);
      else resolve(tls);
    };
    const onAbort = (): void => finish(signal!.reason, false);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const hello = (): void => void sock.write(Buffer.concat([clientHello(host), Buffer.from('\r\n\r\n')]));
    if (connected) hello();
    else sock.once('connect', hello);
    sock.once('data', (b: Buffer) => finish(undefined, b[0] === 0x16 || b[0] === 0x15));
    sock.once('end', () => finish(undefined, false));
    sock.once('close', () => finish(undefined, false));
    sock.once('error', () => finish(undefined, false));
  });
}
