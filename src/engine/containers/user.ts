// `User` resolution against the container's own /etc/passwd and /etc/group (docker resolves
// names in the container's filesystem, at start): `name`, `uid`, `name:group`, `uid:gid`.
import { invalid } from '../../common/errors.js';
import { readFileInRoot } from '../fs/read-in-root.js';

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

/**
 * The lines of /etc/passwd or /etc/group in the container; none when the file is missing. A file
 * that is no regular file (a fifo would hang the daemon, a device be opened on the host) or huge is
 * refused in words naming it (read-in-root.ts).
 */
function readLines(rootfs: string, path: string): string[] {
  const text = readFileInRoot(rootfs, path);
  return text === undefined ? [] : text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
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
      // dockerd (libcontainer's GetAdditionalGroups) capitalises this one, unlike -u's lookups.
      if (!ge) throw invalid(`Unable to find group ${ga}: no matching entries in group file`);
      additional.add(ge.gid);
    }
  }
  // dockerd (getUser in daemon/oci_linux.go) puts the primary group first in the supplementary
  // groups: `id` in a container shows groups=0(root).
  additional.delete(gid);
  return { uid, gid, additionalGids: [gid, ...additional], home: entry?.home ?? '/' };
}

/**
 * The owner `docker cp -a` (PUT archive with copyUIDGID) gives every extracted entry: the
 * container's Config.User looked up in the container's /etc/passwd and /etc/group as current moby
 * does (dockerd 20.10 looked in the host's files, and `uid:gid` forms failed there: "getent unable
 * to find entry"). `user[:group]`, split at the first colon; an empty part is 0. A numeric user is
 * best effort (its passwd entry's uid and primary gid if there is one, else the number and gid 0);
 * a name must be found. `read` gives a file's text by its path in the container (it throws the
 * system error of a missing file).
 */
export function archiveOwner(user: string, read: (path: string) => string): { uid: number; gid: number } {
  const colon = user.indexOf(':');
  const u = colon < 0 ? user : user.slice(0, colon);
  const g = colon < 0 ? '' : user.slice(colon + 1);
  // Go's ParseUint(s, 10, 32) with the id ≤ MaxInt32: anything else is a name.
  const idOf = (s: string): number | undefined => (/^\d+$/.test(s) && Number(s) <= 0x7fffffff ? Number(s) : undefined);
  const lines = (path: string, what: string, name: string): string[] => {
    try {
      return read(path).split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'ENOTDIR' ? 'not a directory' : e.message;
      throw invalid(`failed to look up ${what} "${name}" in container: open ${path}: ${why}`);
    }
  };
  let uid = 0;
  let gid = 0;
  if (u !== '') {
    const id = idOf(u);
    if (id !== undefined) {
      let entry: PasswdEntry | undefined;
      try {
        entry = parsePasswd(lines('/etc/passwd', 'user', u)).find((p) => p.uid === id);
      } catch {
        entry = undefined;
      }
      uid = entry?.uid ?? id;
      gid = entry?.gid ?? 0;
    } else {
      const entry = parsePasswd(lines('/etc/passwd', 'user', u)).find((p) => p.name === u);
      if (!entry) throw invalid(`failed to look up user "${u}" in container: no matching entries in passwd file`);
      uid = entry.uid;
      gid = entry.gid;
    }
  }
  if (g !== '') {
    const id = idOf(g);
    if (id !== undefined) gid = id;
    else {
      const entry = parseGroup(lines('/etc/group', 'group', g)).find((x) => x.name === g);
      if (!entry) throw invalid(`failed to look up group "${g}" in container: no matching entries in group file`);
      gid = entry.gid;
    }
  }
  return { uid, gid };
}
