// The "Backing Filesystem" of `docker info`'s storage driver status: the file system the
// snapshots live on, named as moby's graphdriver names statfs(2)'s f_type (its FsNames table),
// `<unknown>` for a type it does not name. The magic numbers are the kernel's (linux/magic.h).
import { statfsSync } from 'node:fs';

const FS_NAMES: ReadonlyMap<number, string> = new Map([
  [0x61756673, 'aufs'],
  [0x9123683e, 'btrfs'],
  [0x28cd3d45, 'cramfs'],
  [0x0000f15f, 'ecryptfs'],
  [0x0000ef53, 'extfs'],
  [0xf2f52010, 'f2fs'],
  [0x65735546, 'fuse'],
  [0x47504653, 'gpfs'],
  [0x000072b6, 'jffs2'],
  [0x3153464a, 'jfs'],
  [0x00006969, 'nfs'],
  [0x794c7630, 'overlayfs'],
  [0x858458f6, 'ramfs'],
  [0x52654973, 'reiserfs'],
  [0x0000517b, 'smb'],
  [0x73717368, 'squashfs'],
  [0x01021994, 'tmpfs'],
  [0x00000000, 'unsupported'],
  [0xa501fcf5, 'vxfs'],
  [0x58465342, 'xfs'],
  [0x2fc12fc1, 'zfs'],
]);

/** The name of the file system `path` is on, as dockerd prints it (`extfs`, `xfs`, `tmpfs`, …). */
export function backingFsName(path: string): string {
  let type: number;
  try {
    // (f_type is a signed long: a magic above 2^31 may come back negative)
    type = Number(BigInt.asUintN(32, BigInt(statfsSync(path).type)));
  } catch {
    return '<unknown>';
  }
  return FS_NAMES.get(type) ?? '<unknown>';
}
