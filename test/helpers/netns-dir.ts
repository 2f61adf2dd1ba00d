// `ip netns add` makes /run/netns a mount point the first time (a shared bind mount of itself, so
// the netns bind mounts under it propagate), and `ip netns del` never undoes that: a test file that
// made namespaces would leave a mount on the host. Each such file calls releaseNetnsDir() last in
// its cleanup: /run/netns is unmounted when it was not a mount point as this module loaded (the
// file's start; each test file is a process of its own) and nothing is left in it. Another file
// running at the same time with a namespace there keeps it busy (EBUSY, left to that file).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const DIR = '/run/netns';

function isMountPoint(dir: string): boolean {
  try {
    // mountinfo's fifth field is the mount point (octal escapes for spaces: none in this path)
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
  } catch {
    return false;
  }
}

const mountedBefore = isMountPoint(DIR);

/** Unmounts /run/netns if this test file's `ip netns add` made it a mount point and it is empty again. */
export function releaseNetnsDir(): void {
  if (mountedBefore || !isMountPoint(DIR)) return;
  let entries: string[];
  try {
    entries = readdirSync(DIR);
  } catch {
    return;
  }
  if (entries.length > 0) return;
  try {
    execFileSync('umount', [DIR], { stdio: 'ignore' });
  } catch {
    // busy: another test file's namespace appeared meanwhile; that file releases it
  }
}
