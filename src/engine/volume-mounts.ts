// The mounts of local volumes with options (type/device/o): the device is mounted on the volume's
// _data when the first running container uses it and unmounted when the last one is gone (as
// dockerd's local driver counts Mount/Unmount). The users are the ids of the containers holding
// it; a daemon start rebuilds them from the running containers and unmounts volumes nobody uses.
// Unmounts detach (MNT_DETACH, as dockerd): a process still in there cannot keep the mount on _data.
import { HakoError } from '../common/errors.js';
import { hasMountAt, mountSyscall, unmount } from './fs/mount.js';
import { describeMountCall, resolveNetworkAddress, volumeMountCalls, volumeMountOptions, type VolumeMountOptions } from './volume-options.js';
import type { VolumeStore } from './volumes.js';

const MNT_DETACH = 2;

export class VolumeMounts {
  /** Volume name → ids of the containers using its mount (present only while mounted). */
  private readonly users = new Map<string, Set<string>>();
  /** Per volume, the mount/unmount in flight: one at a time. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: VolumeStore,
    private readonly warn: (msg: string) => void,
  ) {}

  /** The mount a volume asks for; undefined for a plain one (or one that is gone). */
  private wanted(name: string): VolumeMountOptions | undefined {
    if (!this.store.exists(name)) return undefined;
    return volumeMountOptions(this.store.get(name).Options);
  }

  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(name, tail);
    void tail.then(() => {
      if (this.chains.get(name) === tail) this.chains.delete(name);
    });
    return next;
  }

  /** Whether something is mounted on the volume's _data (mountinfo: a bind of the same fs has no device of its own). */
  mounted(name: string): boolean {
    return hasMountAt(this.store.dataPath(name));
  }

  /**
   * Container `id` starts using the volumes `names`: each one with options is mounted unless it
   * is already. On a failure the ones this call counted are released again and it throws
   * dockerd's error (`error while mounting volume '…/_data': failed to mount local volume: mount
   * tmpfs:…/_data, data: size=1m,bogus=1: invalid argument (EINVAL)`).
   */
  async acquire(id: string, names: readonly string[]): Promise<void> {
    const done: string[] = [];
    try {
      for (const name of new Set(names)) {
        const m = this.wanted(name);
        if (!m) continue;
        await this.serial(name, async () => {
          const users = this.users.get(name);
          if (users) {
            users.add(id);
            return;
          }
          await this.mount(name, m);
          this.users.set(name, new Set([id]));
        });
        done.push(name);
      }
    } catch (err) {
      await this.release(id, done).catch((e: unknown) => this.warn(`release the volumes of ${id}: ${(e as Error).message}`));
      throw err;
    }
  }

  /** Container `id` stops using its volumes (`names`, or every one it holds): the last user unmounts. */
  async release(id: string, names?: readonly string[]): Promise<void> {
    const held = names ?? [...this.users].filter(([, ids]) => ids.has(id)).map(([name]) => name);
    let first: unknown;
    for (const name of held) {
      await this.serial(name, async () => {
        const users = this.users.get(name);
        if (!users || !users.delete(id) || users.size > 0) return;
        // dockerd counts the user down even when the unmount fails: the volume can still be removed.
        this.users.delete(name);
        await this.unmountAll(name);
      }).catch((e: unknown) => (first ??= e));
    }
    if (first) throw first;
  }

  /** Before a volume (without users) is removed: whatever is still mounted on its _data goes. */
  async beforeRemove(name: string): Promise<void> {
    await this.serial(name, async () => {
      this.users.delete(name);
      await this.unmountAll(name);
    });
  }

  /**
   * At daemon start: `running` maps each volume to the running containers that use it. Those
   * volumes keep their mount (mounted again if it is gone); every other volume with options has
   * its mount undone (a crash, or a container that exited while the daemon was away).
   */
  async restore(running: ReadonlyMap<string, readonly string[]>): Promise<void> {
    for (const name of this.store.names()) {
      let m: VolumeMountOptions | undefined;
      try {
        m = this.wanted(name);
      } catch (err) {
        this.warn(`volume ${name}: ${(err as Error).message}`);
        continue;
      }
      if (!m) continue;
      const ids = running.get(name) ?? [];
      try {
        if (ids.length > 0) {
          if (!this.mounted(name)) await this.mount(name, m);
          this.users.set(name, new Set(ids));
        } else {
          await this.unmountAll(name);
        }
      } catch (err) {
        this.warn(`restore the mount of volume ${name}: ${(err as Error).message}`);
      }
    }
  }

  /** Users per mounted volume (tests, inspection). */
  usersOf(name: string): string[] {
    return [...(this.users.get(name) ?? [])];
  }

  private async mount(name: string, m: VolumeMountOptions): Promise<void> {
    const target = this.store.dataPath(name);
    const prefix = `error while mounting volume '${target}': failed to mount local volume`;
    if (m.device === '') throw new HakoError({ step: `${prefix}: missing device in volume options`, path: target, kind: 'internal' });
    const o = await resolveNetworkAddress(m).catch((err: unknown) => {
      throw new HakoError({ step: `${prefix}: ${(err as Error).message}`, path: target, kind: 'internal', cause: err });
    });
    const calls = volumeMountCalls(m, o);
    let mountedHere = false;
    try {
      for (const c of calls) {
        await mountSyscall(`${prefix}: ${describeMountCall(c, target)}`, c.source, target, c.fstype, c.flags, c.data);
        if (c.op === 'mount') mountedHere = true;
      }
    } catch (err) {
      // A propagation or read-only step failed after the mount: nothing stays mounted.
      if (mountedHere) await unmount(target, `volume ${name}`, MNT_DETACH).catch((e: unknown) => this.warn(`unmount volume ${name} after a failed mount: ${(e as Error).message}`));
      throw err;
    }
  }

  /** Unmounts every mount stacked on the volume's _data (normally one). */
  private async unmountAll(name: string): Promise<void> {
    const target = this.store.dataPath(name);
    for (let i = 0; i < 16 && this.mounted(name); i++) {
      if ((await unmount(target, `volume ${name}`, MNT_DETACH)) !== 'done') break;
    }
  }
}
