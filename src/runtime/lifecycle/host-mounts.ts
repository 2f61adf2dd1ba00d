// A container without a mount namespace (the plan's hostRootfsMount) makes its mounts in the
// caller's mount namespace, all beneath a self-bind of its rootfs. That bind is known by its mount
// id in /proc/self/mountinfo; delete (or a failed create) detaches it, and with it everything the
// container mounted, so nothing is left in the host's mount table.
// umount2(2) through the addon rather than umount(8): no process to spawn, and no node:child_process
// (with node:net and the streams, ~5 ms) in the import graph of every create/run/delete.
import { readFileSync } from 'node:fs';
import { HakoError } from '../../common/errors.js';
import { addonErrno, native } from '../../native/addon.js';

const MNT_DETACH = 2;

/** A mountinfo path field: space, tab, newline and backslash are octal escapes (\040 …). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The id of the topmost mount at `path` (the last one mounted there), or undefined. */
export function topMountId(path: string, mountinfo?: string): number | undefined {
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  let id: number | undefined;
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && unescapeMountPath(f[4] ?? '') === path) id = Number(f[0]);
  }
  return id;
}

/**
 * Detach the mount `mountId` at `path` with everything beneath it (umount -l), if it is still the
 * topmost mount there. Returns false when it is already gone.
 */
export async function detachHostMount(path: string, mountId: number): Promise<boolean> {
  const top = topMountId(path);
  if (top !== mountId) {
    if (top !== undefined && mountinfoHas(mountId)) {
      throw new HakoError({ step: `detach the container's mounts at ${path}`, path, hint: `another mount (id ${top}) was made on top of the container's (id ${mountId}): unmount it first`, kind: 'conflict' });
    }
    return false;
  }
  try {
    await native().umountAsync(path, MNT_DETACH);
  } catch (err) {
    throw new HakoError({ step: `detach the container's mounts at ${path} (umount2 MNT_DETACH)`, path, errno: addonErrno(err), cause: err });
  }
  return true;
}

function mountinfoHas(mountId: number): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.startsWith(`${mountId} `));
}
