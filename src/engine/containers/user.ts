// `User` resolution against the container's own /etc/passwd and /etc/group (docker resolves
// names in the container's filesystem, at start): `name`, `uid`, `name:group`, `uid:gid`.
import { readFileSync } from 'node:fs';
import { invalid } from '../../common/errors.js';
import { resolveInRoot } from '../fs/paths.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function readLines(rootfs: string, path: string): string[] {
  try {
    return readFileSync(resolveInRoot(rootfs, path), 'utf8').split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
  } catch {
    return [];
  }
}

export function parsePasswd(lines: string[]): PasswdEntry[] {
  return lines.map((l) => l.split(':')).filter((f) => f.length >= 4).map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' }));
}

export function parseGroup(lines: string[]): GroupEntry[] {
  return lines.map((l) => l.split(':')).filter((f) => f.length >= 3).map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter((m) => m) }));
}

const isNum = (s: string) => /^\d+$/.test(s);

export function resolveUser(rootfs: string, user: string, groupAdd: string[] = []): ResolvedUser {
  const passwd = parsePasswd(readLines(rootfs, '/etc/passwd'));
  const groups = parseGroup(readLines(rootfs, '/etc/group'));
  const [u = '', g] = user.split(':');
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (u === '') {
    entry = passwd.find((p) => p.uid === 0);
    uid = 0;
  } else if (isNum(u)) {
    uid = Number(u);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === u);
    if (!entry) throw invalid(`unable to find user ${u}: no matching entries in passwd file`);
    uid = entry.uid;
  }
  let gid: number;
  if (g === undefined || g === '') gid = entry?.gid ?? 0;
  else if (isNum(g)) gid = Number(g);
  else {
    const ge = groups.find((x) => x.name === g);
    if (!ge) throw invalid(`unable to find group ${g}: no matching entries in group file`);
    gid = ge.gid;
  }
  const additional = new Set<number>();
  if (entry && (g === undefined || g === '')) for (const ge of groups) if (ge.members.includes(entry.name) && ge.gid !== gid) additional.add(ge.gid);
  for (const ga of groupAdd) {
    if (isNum(ga)) additional.add(Number(ga));
    else {
      const ge = groups.find((x) => x.name === ga);
      if (!ge) throw invalid(`unable to find group ${ga}: no matching entries in group file`);
      additional.add(ge.gid);
    }
  }
  // dockerd (getUser in daemon/oci_linux.go) puts the primary group first in the supplementary
  // groups: `id` in a container shows groups=0(root).
  additional.delete(gid);
  return { uid, gid, additionalGids: [gid, ...additional], home: entry?.home ?? '/' };
}
