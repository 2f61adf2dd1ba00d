// A container without a mount namespace (the plan's hostRootfsMount) makes its mounts in the
// caller's mount namespace, all beneath a self-bind of its rootfs. That bind is known by its mount
// id in /proc/self/mountinfo; delete (or a failed create) detaches it, and with it everything the
// container mounted, so nothing is left in the host's mount table.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { HakoError } from '../../common/errors.js';

const run = promisify(execFile);

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
    await run('umount', ['--lazy', '--', path]);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new HakoError({ step: `detach the container's mounts at ${path}`, path, hint: stderr || undefined, kind: 'internal', cause: err });
  }
  return true;
}

function mountinfoHas(mountId: number): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.startsWith(`${mountId} `));
}
