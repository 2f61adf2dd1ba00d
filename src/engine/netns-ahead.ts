// A start's network namespace, made alongside the start's own work.
//
// A new network namespace costs ~0.5 ms of kernel time (every pernet init runs). As a clone flag
// it is spent after the spawn, on the way to the container's program, while the daemon waits.
// Instead the start asks for one as it begins (native netnsBegin: a thread of its own unshares it
// and sets lo up, on the other CPU) while it mounts the rootfs, makes the cgroups and plans; the
// container then enters it with setns (a few µs). One not made by the spawn is not waited for:
// the container makes its own as before, and the thread closes the late one.
// What the container gets is the same either way: a namespace of its own, owned by the host's
// user ns, with nothing in it but lo, up (docker's `--network none`; networks are attached to it
// by the prestart step as before). The runtime uses it only where the spec asks for such a
// namespace (PlanRequest.premadeNetwork) and closes it either way. Each goes to one container.
import { closeSync } from 'node:fs';
import { native, type NetnsHandle } from '../native/addon.js';

export class NetnsAhead {
  constructor(
    private readonly handle: NetnsHandle,
    private readonly onFailure: (err: unknown) => void,
  ) {}

  /** The namespace if it is made (the caller owns the fd), else undefined. Once: later calls give undefined. */
  take(): number | undefined {
    try {
      const fd = native().netnsTake(this.handle);
      return fd >= 0 ? fd : undefined;
    } catch (err) {
      this.onFailure(err);
      return undefined;
    }
  }

  /** Not needed (the start failed before its launch): closed now, or by its thread when made. */
  drop(): void {
    const fd = this.take();
    if (fd !== undefined) closeSync(fd);
  }
}

export class NetnsMaker {
  /** A failure to make one (no privilege, no netns support) turns this off: starts make their own. */
  private off = false;

  constructor(private readonly onFailure: (message: string) => void) {}

  /** Starts making a network namespace with lo up; undefined when turned off. */
  begin(): NetnsAhead | undefined {
    if (this.off) return undefined;
    try {
      return new NetnsAhead(native().netnsBegin(true), (err) => this.turnOff(err));
    } catch (err) {
      this.turnOff(err);
      return undefined;
    }
  }

  private turnOff(err: unknown): void {
    if (this.off) return;
    this.off = true;
    this.onFailure(`network namespaces are not made ahead: ${(err as Error).message}`);
  }
}
