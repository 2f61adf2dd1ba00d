// dockerd's SandboxKey: a container's network namespace bind-mounted on a file under
// <exec-root>/netns/ (the first 12 hex of its sandbox ID; `default` for the host's namespace, used
// by --network host containers), so `nsenter --net=<SandboxKey>` and `ip netns`-style tools can
// use it while the container runs. The mount pins the namespace: each goes when its container
// exits, all of them when the engine closes, and a restarted engine (after a kill -9) drops the
// stale ones and binds those of the containers still running again.
import { closeSync, mkdirSync, openSync, readdirSync, unlinkSync, constants as fsc } from 'node:fs';
import { joinPath as join } from '../common/join-path.js';
import { HakoError } from '../common/errors.js';
import { isMountPoint, mountSyscall, unmount } from './fs/mount.js';

const MS_BIND = 4096;
const MNT_DETACH = 2;

export const HOST_SANDBOX_KEY = 'default';

export class SandboxKeys {
  /** The directory is made once (each start would pay a mkdir otherwise). */
  private dirMade = false;

  constructor(readonly dir: string) {}

  /** The key's name for a sandbox ID (host mode: the host's namespace, shared). */
  nameOf(sandboxId: string, mode: string): string {
    return mode === 'host' ? HOST_SANDBOX_KEY : sandboxId.slice(0, 12);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Whether something is mounted on the key (an nsfs file has another st_dev than the directory). */
  isBound(name: string): boolean {
    return isMountPoint(this.path(name));
  }

  /**
   * Bind-mounts the namespace at `nsPath` (/proc/<pid>/ns/net) on the key; a failure leaves no
   * file. `fresh`: a name never used (a new sandbox ID), nothing there to unmount first.
   */
  async bind(name: string, nsPath: string, fresh = false): Promise<void> {
    const p = this.path(name);
    if (!this.dirMade) {
      mkdirSync(this.dir, { recursive: true, mode: 0o755 });
      this.dirMade = true;
    }
    if (!fresh && this.isBound(name)) await this.release(name);
    try {
      // read-only and empty, as dockerd's: only the mount on it means anything.
      closeSync(openSync(p, fsc.O_CREAT | fsc.O_RDONLY, 0o444));
      await mountSyscall(`bind-mount the network namespace ${nsPath} on ${p}`, nsPath, p, null, MS_BIND, null);
    } catch (err) {
      try {
        unlinkSync(p);
      } catch {
        /* not made */
      }
      throw err;
    }
  }

  /** Unmounts the key (lazily: a process inside keeps its own reference) and removes its file. */
  async release(name: string): Promise<void> {
    const p = this.path(name);
    // 'not-mounted': a stale file (or none).
    await unmount(p, 'the network namespace key', MNT_DETACH);
    try {
      unlinkSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HakoError({ step: `remove the network namespace key ${p}`, path: p, errno: Math.abs((err as NodeJS.ErrnoException).errno ?? 0), cause: err });
    }
  }

  /** Every key except `keep` (stale mounts after a crash; all of them when the engine closes). */
  async releaseAll(keep: Set<string> = new Set(), warn?: (msg: string) => void): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (keep.has(n)) continue;
      await this.release(n).catch((e: unknown) => warn?.((e as Error).message));
    }
  }
}
