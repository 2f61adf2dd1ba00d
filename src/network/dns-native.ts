// The embedded DNS's answering thread in the addon (native/addon_dns.c), typed.
import { native } from '../native/addon.js';

/** A running answering thread (an external; dnsStop ends it). */
export type DnsServerHandle = { readonly __dnsServer: unique symbol };

export interface DnsNative {
  /** Starts the thread; `onMiss` gets, on the main loop, each query it had no answer for. */
  dnsStart(onMiss: (lid: number, packet: Buffer, address: string, port: number) => void): DnsServerHandle;
  /** Answers on `fd` (a bound UDP socket, the server's once this returned) with table `table` (-1: none). */
  dnsListen(h: DnsServerHandle, lid: number, fd: number, table: number): void;
  /** Closes listener `lid`'s socket before it returns; false when there was none. */
  dnsClose(h: DnsServerHandle, lid: number): boolean;
  /** Replaces every table and upstream set; `assign` holds triples (listener id, table index, upstream set index; -1: none). */
  dnsTables(h: DnsServerHandle, tables: Buffer[], upstreams: Buffer[], assign: Int32Array): void;
  /** Sends `data` to ip:port from listener `lid`'s socket; false when it is closed. */
  dnsSend(h: DnsServerHandle, lid: number, data: Buffer, ip: string, port: number): boolean;
  /** Closes every listener before it returns, and ends the thread. */
  dnsStop(h: DnsServerHandle): void;
  /** The answer the thread sends to `query` with `table`, 'forward' when it forwards it, null when it hands it to the main loop (tests). */
  dnsAnswer(table: Buffer, query: Buffer): Buffer | 'forward' | null;
}

export function dnsNative(): DnsNative {
  return native() as unknown as DnsNative;
}
