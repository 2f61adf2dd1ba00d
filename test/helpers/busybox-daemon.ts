// The set-up several e2e files share: a registry of their own with busybox pushed as test/busybox,
// and a hakod of their own (temp root, its own cgroup parent and network names: startDaemon).
// Each file that calls it gets its own registry, image dir and daemon. A set-up that fails
// halfway removes what it made before it throws (the file's after() then has nothing to stop);
// stop() runs every step whatever the one before did, and fails last (daemon exit code ≠ 0, a
// `BUG: ` in its log when asked, or the first error of a step).
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from './daemon.js';

type StartOptions = NonNullable<Parameters<typeof startDaemon>[1]>;
import { startRegistry, type TestRegistry } from './registry.js';
import { busyboxImage, pushLayout, type BuiltImage } from './images.js';
import { atExit } from './exit-cleanup.js';

export interface BusyboxDaemon {
  reg: TestRegistry;
  /** busybox's OCI layout (its manifests and digests). */
  img: BuiltImage;
  /** `127.0.0.1:PORT/test/busybox:latest` */
  image: string;
  /** The daemon (after restart(), the new one). */
  d: TestDaemon;
  /**
   * Starts a new daemon on the same dirs, cgroup parent and network (startDaemon's `after`: the
   * current one must have stopped or crashed); stop() then stops that one.
   */
  restart(extra?: string[], opts?: Omit<StartOptions, 'after'>): Promise<TestDaemon>;
  /**
   * Stops the daemon (its exit code must be 0), the registry, and removes the image's dir.
   * `noBugs`: the daemon's log must hold no `BUG: ` line either.
   */
  stop(opts?: { noBugs?: boolean }): Promise<void>;
}

/**
 * A registry with busybox as test/busybox:latest and a daemon; `pull`: the daemon has pulled it
 * (through the API, as the files did); `daemonArgs`: more hakod flags; `daemonOptions`: startDaemon's
 * options (env, net, wrap).
 */
export async function startBusyboxDaemon(opts: { pull?: boolean; daemonArgs?: string[]; daemonOptions?: Omit<StartOptions, 'after'> } = {}): Promise<BusyboxDaemon> {
  // What was made so far, undone in reverse order on a failure.
  const undo: Array<() => unknown> = [];
  const undoAll = async (): Promise<Error[]> => {
    const errors: Error[] = [];
    for (const step of undo.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err as Error);
      }
    }
    return errors;
  };
  try {
    const reg = await startRegistry();
    undo.push(() => reg.stop());
    const img = busyboxImage();
    // (the registry and the daemon have exit-time stoppers of their own; the image dir gets one)
    const dropImgAtExit = atExit(() => img.cleanup());
    undo.push(() => (dropImgAtExit(), img.cleanup()));
    await pushLayout(img, reg.host, 'test/busybox');
    const image = `${reg.host}/test/busybox:latest`;
    let d = await startDaemon(opts.daemonArgs ?? [], opts.daemonOptions ?? {});
    let code: number | null = null;
    // the current daemon (restart() replaces it)
    undo.push(async () => (code = await d.stop()));
    if (opts.pull) {
      const r = await d.request('POST', `/v1.44/images/create?fromImage=${encodeURIComponent(image)}`);
      assert.equal(r.status, 200, r.body.toString());
    }
    let stopped = false;
    return {
      reg,
      img,
      image,
      get d() {
        return d;
      },
      async restart(extra: string[] = [], more: Omit<StartOptions, 'after'> = {}) {
        d = await startDaemon(extra, { ...more, after: d });
        return d;
      },
      async stop({ noBugs = false } = {}) {
        if (stopped) return;
        stopped = true;
        const errors = await undoAll();
        if (errors.length) throw errors[0];
        assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
        if (noBugs) assert.doesNotMatch(d.log(), /BUG: /);
      },
    };
  } catch (err) {
    await undoAll();
    throw err;
  }
}
