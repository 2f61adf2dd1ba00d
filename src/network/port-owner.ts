// Who holds a host port: /proc/net/{tcp,udp}{,6} gives the socket inode of a bound port, and the
// /proc/<pid>/fd links (`socket:[inode]`) give the process. Used only to word an error message.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export function portOwner(port: number, proto: 'tcp' | 'udp' | 'sctp'): string | undefined {
  if (proto === 'sctp') return undefined;
  const inodes = new Set<string>();
  for (const file of [proto, `${proto}6`]) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = parseInt(f[1]!.split(':')[1] ?? '', 16);
      // tcp: only LISTEN (0A) blocks a bind; udp: any bound socket (07 = unconnected).
      if (localPort === port && (proto === 'udp' || f[3] === '0A')) inodes.add(f[9]!);
    }
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
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || parseInt(f[1]!.split(':')[1] ?? '', 16) !== port) continue;
      if (f[3] === '0A' || f[3] === '07') return false;
      found = true;
    }
  }
  return found;
}
