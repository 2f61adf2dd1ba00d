// Who holds a host port: /proc/net/{tcp,udp}{,6} gives the socket inode of a bound port, and the
// /proc/<pid>/fd links (`socket:[inode]`) give the process. Used only to word an error message.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** The sockets of /proc/net/<file> for each file that can be read: local port, state, inode. */
function* procNetSockets(files: string[]): Generator<{ port: number; state: string; inode: string }> {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      yield { port: parseInt(f[1]!.split(':')[1] ?? '', 16), state: f[3]!, inode: f[9]! };
    }
  }
}

export function portOwner(port: number, proto: 'tcp' | 'udp' | 'sctp'): string | undefined {
  if (proto === 'sctp') return undefined;
  const inodes = new Set<string>();
  for (const sock of procNetSockets([proto, `${proto}6`])) {
    // tcp: only LISTEN (0A) blocks a bind; udp: any bound socket (07 = unconnected).
    if (sock.port === port && (proto === 'udp' || sock.state === '0A')) inodes.add(sock.inode);
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) {
        let comm = '?';
        try {
          comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          // raced with its exit
        }
        return `${comm} (pid ${pid})`;
      }
    }
  }
  return 'a socket of another network namespace or process we cannot see';
}

/**
 * Whether every TCP socket on `port` (v4 and v6) is a connection (TIME_WAIT, FIN_WAIT, ESTABLISHED
 * …): none listens (0A) and none is merely bound (07, e.g. another daemon's port holder). Such
 * sockets make a bind without SO_REUSEADDR fail with EADDRINUSE; with it, the bind succeeds, as
 * it does for dockerd's Go listeners. False when nothing is found (the conflict is elsewhere).
 */
export function tcpPortHasOnlyConnections(port: number): boolean {
  let found = false;
  for (const sock of procNetSockets(['tcp', 'tcp6'])) {
    if (sock.port !== port) continue;
    if (sock.state === '0A' || sock.state === '07') return false;
    found = true;
  }
  return found;
}
