// An in-process Engine with the busybox test image pulled, for the engine's e2e tests: a local
// registry holding the image, a temp dir for the engine's root (root/) and exec root (run/), and
// the test's own cgroup parent and network names. close() undoes all of it, whichever engine the
// test ended with (tests that simulate a crash make a new one on the same roots: newEngine()).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { killCgroupProcs, killProcsNaming, mountsUnder, removeCgroupEverywhere, tempDir, unmountUnder } from './fixtures.js';
import { atExit } from './exit-cleanup.js';
import { startRegistry, type TestRegistry } from './registry.js';
import { busyboxImage, pushLayout, type BuiltImage } from './images.js';
import { cleanupNet, engineNetOptions, type TestNet } from './network.js';

export interface EngineFixture {
  engine: Engine;
  /** The busybox image's reference in the fixture's registry (pulled). */
  image: string;
  dir: { path: string; cleanup: () => void };
  /** Another engine on the same roots, cgroup parent and network. */
  newEngine(): Engine;
  /** Removes every container of `current` (the test's engine now), closes it, then the rest. */
  close(current: Engine | undefined): Promise<void>;
}

/** `monitor: false`: engines without hako-monitor (the engine itself is the containers' parent). */
export async function engineFixture(opts: { dirPrefix: string; cgroupParent: string; net: TestNet; warn?: (m: string) => void; monitor?: boolean }): Promise<EngineFixture> {
  const { cgroupParent, net } = opts;
  let reg: TestRegistry | undefined;
  let img: BuiltImage | undefined;
  const dir = tempDir(opts.dirPrefix);
  const newEngine = () => new Engine({ root: join(dir.path, 'root'), execRoot: join(dir.path, 'run'), cgroupParent, network: engineNetOptions(net), log: { warn: opts.warn ?? (() => undefined) }, ...(opts.monitor === undefined ? {} : { monitor: opts.monitor }) });
  // If this process ends (SIGTERM/SIGINT, a test timeout then force-exit) before close(): the
  // engine's containers (in its cgroups: without a monitor they are this process's children) and
  // monitors (they name the dir) are killed, then mounts, cgroups, network and dir removed
  // (helpers/exit-cleanup.ts; the registry has a stopper of its own), and the image's dir.
  const dropExitCleanup = atExit(() => {
    for (const step of [() => killCgroupProcs(cgroupParent), () => killProcsNaming(dir.path), () => unmountUnder(dir.path), () => removeCgroupEverywhere(cgroupParent), () => cleanupNet(net), () => dir.cleanup(), () => img?.cleanup()]) {
      try {
        step();
      } catch (err) {
        process.stderr.write(`engine fixture ${dir.path}: exit cleanup: ${(err as Error).message}\n`);
      }
    }
  });
  const close = async (current: Engine | undefined) => {
    dropExitCleanup();
    if (current) {
      for (const c of await current.listContainers({ all: true })) await current.removeContainer(c.Id as string, { force: true, volumes: true }).catch(() => undefined);
      await current.close();
    }
    await reg?.stop();
    img?.cleanup();
    for (const m of mountsUnder(dir.path).reverse()) execFileSync('umount', ['-l', m]);
    removeCgroupEverywhere(cgroupParent);
    cleanupNet(net);
    dir.cleanup();
  };
  let engine: Engine | undefined;
  try {
    reg = await startRegistry();
    img = busyboxImage();
    await pushLayout(img, reg.host, 'test/busybox');
    engine = newEngine();
    const image = `${reg.host}/test/busybox:latest`;
    await engine.images.pull(image);
    return { engine, image, dir, newEngine, close };
  } catch (err) {
    await close(engine).catch(() => undefined);
    throw err;
  }
}
