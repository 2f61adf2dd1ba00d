// Whether a directory tree is small enough to delete synchronously on the event loop: at most
// `maxEntries` entries and `maxBytes` in regular files, found by a walk that stops as soon as
// either is exceeded (so a big tree costs only that much looking). A missing dir is small.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function isSmallTree(dir: string, maxEntries: number, maxBytes: number): boolean {
  let entries = 0;
  let bytes = 0;
  const stack = [dir];
  try {
    while (stack.length > 0) {
      const d = stack.pop()!;
      let names: string[];
      try {
        names = readdirSync(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const n of names) {
        if (++entries > maxEntries) return false;
        const p = join(d, n);
        const st = lstatSync(p, { throwIfNoEntry: false });
        if (!st) continue;
        if (st.isDirectory()) stack.push(p);
        else if (st.isFile() && (bytes += st.size) > maxBytes) return false;
      }
    }
  } catch {
    return false; // cannot tell: the thread pool does it
  }
  return true;
}
