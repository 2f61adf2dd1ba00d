// What every lifecycle verb needs: the state store, a logger for warnings, and cgroup access.
import { ContainerStore, type ContainerRecord } from '../state/container-store.js';
import { cgroupManager, cgroupManagerFromPaths, type CgroupHostCache, type CgroupManager } from '../cgroups/index.js';
import type { SeccompCache } from '../plan/process.js';
import type { LaunchTemplates } from './launch-templates.js';

export interface RuntimeLogger {
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface RuntimeContext {
  store: ContainerStore;
  log: RuntimeLogger;
  /**
   * The cgroup driver for new containers (default: v2 on a pure v2 host, else v1). 'v2' on a
   * hybrid host uses the controller-less cgroup2 mount at /sys/fs/cgroup/unified (tests).
   */
  cgroupDriver?: 'v1' | 'v2';
  /** Compiled seccomp filters, reused by the containers and execs of a long-lived Runtime. */
  seccompCache?: SeccompCache;
  /** The host's cgroup mounts, read once by a long-lived Runtime (../cgroups/host.ts); read per launch without. */
  cgroupHost?: CgroupHostCache;
  /** Launch templates (./launch-templates.ts) of a long-lived Runtime's supervised launches. */
  launchTemplates?: LaunchTemplates;
}

export function makeContext(root: string, log?: Partial<RuntimeLogger>, opts: { cgroupDriver?: 'v1' | 'v2' } = {}): RuntimeContext {
  return {
    ...(opts.cgroupDriver ? { cgroupDriver: opts.cgroupDriver } : {}),
    store: new ContainerStore(root),
    log: {
      warn: log?.warn ?? ((m) => process.stderr.write(`warning: ${m}\n`)),
      debug: log?.debug ?? (() => {}),
    },
  };
}

/** The cgroup manager of a recorded container, from the paths recorded at create time. */
export function cgroupsOf(rec: ContainerRecord): CgroupManager {
  if (rec.cgroupPaths && Object.keys(rec.cgroupPaths).length > 0) return cgroupManagerFromPaths(rec.cgroupPaths);
  return cgroupManager({ cgroupsPath: rec.cgroupsPath, containerId: rec.id });
}
