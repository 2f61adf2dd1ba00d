// One network namespace made ahead for the next container start.
//
// A new network namespace costs ~0.5 ms of kernel time (every pernet init runs), and as a clone
// flag it is spent between a start request and the container's program. The engine keeps one
// made ahead (native netnsCreate: a thread of its own unshares it and sets lo up, off the event
// loop) and hands it to the next start, which enters it with setns; the next one is made after
// that start has answered. What the container gets is the same as before: a namespace of its
// own, owned by the host's user ns, with nothing in it but lo, up (docker's `--network none`;
// networks are attached to it by the prestart step as before). The runtime uses it only where
// the spec asks for such a namespace (PlanRequest.premadeNetwork) and closes it either way.
// Nothing is ever shared: each namespace goes to one container, and ours is closed at once.
import { closeSync } from 'node:fs';
import { native } from '../native/addon.js';

export class NetnsPool {
  private spare: number | undefined;
  private making: Promise<void> | undefined;
  private closed = false;
  /** A failure to make one (no privilege, no netns support) turns the pool off: starts make their own. */
  private off = false;

  constructor(private readonly onFailure: (message: string) => void) {}

  /** A fresh namespace with lo up (the caller owns the fd), or undefined when none is ready. */
  take(): number | undefined {
    const fd = this.spare;
    this.spare = undefined;
    return fd;
  }

  /** Makes one ahead unless one is ready or being made. */
  fill(): void {
    if (this.closed || this.off || this.spare !== undefined || this.making) return;
    let create: Promise<number>;
    try {
      create = native().netnsCreate(true);
    } catch (err) {
      this.turnOff(err);
      return;
    }
    this.making = create.then(
      (fd) => {
        if (this.closed) closeSync(fd);
        else this.spare = fd;
      },
      (err) => this.turnOff(err),
    ).finally(() => {
      this.making = undefined;
    });
  }

  /** Closes the spare; one still being made is closed when it comes. */
  async close(): Promise<void> {
    this.closed = true;
    const fd = this.take();
    if (fd !== undefined) closeSync(fd);
    await this.making;
  }

  private turnOff(err: unknown): void {
    this.off = true;
    this.onFailure(`network namespaces are not made ahead: ${(err as Error).message}`);
  }
}
