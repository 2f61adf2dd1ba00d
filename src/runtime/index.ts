// The embeddable runtime API: `new Runtime({ root })` and the OCI lifecycle verbs.
import { makeContext, type RuntimeContext, type RuntimeLogger } from './lifecycle/context.js';
import { launch, type LaunchOptions, type Launched } from './lifecycle/launch.js';
import { startContainer } from './lifecycle/start.js';
import { killContainer, parseSignal } from './lifecycle/kill.js';
import { deleteContainer } from './lifecycle/delete.js';
import { pauseContainer, resumeContainer } from './lifecycle/pause.js';
import { ociState, statusOf } from './lifecycle/status.js';
import { runContainer, type RunOptions } from './lifecycle/run.js';
import { startExec, execInContainer, type ExecOptions } from './lifecycle/exec.js';
import { cgroupsOf } from './lifecycle/context.js';
import { SeccompCache } from './plan/process.js';
import { CgroupHostCache } from './cgroups/host.js';
import { LaunchTemplates } from './lifecycle/launch-templates.js';
import type { ContainerRecord } from './state/container-store.js';
import { cgroupsAhead, removeCgroupsLeft, type CgroupsAhead } from './lifecycle/cgroups-ahead.js';

export class Runtime {
  readonly ctx: RuntimeContext;

  constructor(opts: { root: string; log?: Partial<RuntimeLogger>; cgroupDriver?: 'v1' | 'v2' }) {
    this.ctx = makeContext(opts.root, opts.log, opts.cgroupDriver ? { cgroupDriver: opts.cgroupDriver } : {});
    // Containers and execs of one Runtime mostly share a seccomp profile (docker's default).
    this.ctx.seccompCache = new SeccompCache();
    // …and the host's cgroup mounts, read once (re-read when a launch finds them changed).
    this.ctx.cgroupHost = new CgroupHostCache();
    // …and the engine's containers of one image and config, their launch plans (one per kind).
    this.ctx.launchTemplates = new LaunchTemplates();
  }

  /** Creates the container; its process waits (exec fifo) until start(). */
  create(opts: Omit<LaunchOptions, 'mode'>): Promise<Launched> {
    return launch(this.ctx, { ...opts, mode: 'create' });
  }

  /**
   * Starts making container `id`'s cgroup directories on another thread (cgroup v1 hosts), for a
   * launch with this `cgroupsPath` to adopt (LaunchOptions.cgroupsAhead); undefined where there is
   * nothing to gain. Whoever gets one passes it to launch or drops it.
   */
  cgroupsAhead(id: string, cgroupsPath: string): CgroupsAhead | undefined {
    return cgroupsAhead(this.ctx, id, cgroupsPath);
  }

  /** Removes what cgroupsAhead made for a container that has no runtime state (never launched). */
  removeCgroupsLeft(id: string, cgroupsPath: string): Promise<void> {
    return removeCgroupsLeft(this.ctx, id, cgroupsPath);
  }

  /** Creates and starts in one step; the process is this process's child (exit via `process.exited`). */
  launch(opts: Omit<LaunchOptions, 'mode'>): Promise<Launched> {
    return launch(this.ctx, { ...opts, mode: 'run' });
  }

  start(id: string): Promise<void> {
    return startContainer(this.ctx, id);
  }

  run(opts: RunOptions): Promise<number> {
    return runContainer(this.ctx, opts);
  }

  state(id: string) {
    return ociState(this.ctx, this.ctx.store.load(id));
  }

  status(id: string) {
    return statusOf(this.ctx, this.ctx.store.load(id));
  }

  kill(id: string, signal: string | number = 'TERM', opts: { all?: boolean } = {}): Promise<void> {
    return killContainer(this.ctx, id, parseSignal(signal), opts);
  }

  delete(id: string, opts: { force?: boolean; record?: ContainerRecord } = {}): Promise<void> {
    return deleteContainer(this.ctx, id, opts);
  }

  pause(id: string): Promise<void> {
    return pauseContainer(this.ctx, id);
  }

  resume(id: string): Promise<void> {
    return resumeContainer(this.ctx, id);
  }

  exec(id: string, opts: ExecOptions): Promise<number> {
    return execInContainer(this.ctx, id, opts);
  }

  startExec(id: string, opts: ExecOptions) {
    return startExec(this.ctx, id, opts);
  }

  pids(id: string): number[] {
    return cgroupsOf(this.ctx.store.load(id)).pids();
  }

  stats(id: string) {
    return cgroupsOf(this.ctx.store.load(id)).stats();
  }

  list(): string[] {
    return this.ctx.store.ids();
  }
}
