// path.join for the daemon's hot paths. node:path's join normalizes its result character by
// character in JavaScript (normalizeString): ~8–11 µs a call in hakod (V8 --no-opt), and a
// container's create → start → remove joins a path about a hundred times (its dirs, cgroup
// files, temp names). Parts that are already clean (no empty, `.` or `..` segment, no slash at
// either end; the first may be absolute) are joined with a plain concatenation, which is what
// path.join returns for them; anything else goes to path.join. Same results, always
// (test/unit/join-path.test.ts checks it against path.join).
import { join as pathJoin } from 'node:path';

/** A relative path that path.normalize leaves as it is: `a`, `a/b`; not ``, `.`, `a/`, `a//b`, `../a`. */
function cleanRelative(p: string): boolean {
  const n = p.length;
  if (n === 0 || p.charCodeAt(0) === 47 || p.charCodeAt(n - 1) === 47) return false;
  if (p.includes('//')) return false;
  if (p.charCodeAt(0) === 46 && (n === 1 || p.charCodeAt(1) === 47 || (p.charCodeAt(1) === 46 && (n === 2 || p.charCodeAt(2) === 47)))) return false; // . ./ .. ../
  if (p.includes('/./') || p.includes('/../') || p.endsWith('/.') || p.endsWith('/..')) return false;
  return true;
}

/** A first part path.join keeps as it is: a clean relative path, or `/` followed by one. */
function cleanFirst(p: string): boolean {
  return p.charCodeAt(0) === 47 ? p.length > 1 && cleanRelative(p.slice(1)) : cleanRelative(p);
}

/** path.join(a, b[, c[, d]]), with the concatenation fast path described above. */
export function joinPath(a: string, b: string, c?: string, d?: string): string {
  if (c === undefined && typeof a === 'string' && typeof b === 'string') {
    // Two parts: the first may also be `/`, the second `/` followed by a clean path (a cgroup's
    // directory: its hierarchy's mount point + its path from the hierarchy's root).
    const rel = b.charCodeAt(0) === 47 ? b.slice(1) : b;
    if (cleanRelative(rel)) {
      if (a === '/') return `/${rel}`;
      if (cleanFirst(a)) return `${a}/${rel}`;
    }
    return pathJoin(a, b);
  }
  if (typeof a === 'string' && typeof b === 'string' && cleanFirst(a) && cleanRelative(b)) {
    if (c === undefined) return `${a}/${b}`;
    if (typeof c === 'string' && cleanRelative(c)) {
      if (d === undefined) return `${a}/${b}/${c}`;
      if (typeof d === 'string' && cleanRelative(d)) return `${a}/${b}/${c}/${d}`;
    }
  }
  return c === undefined ? pathJoin(a, b) : d === undefined ? pathJoin(a, b, c) : pathJoin(a, b, c, d);
}
