// The shapes shared by both cgroup drivers: the OCI `linux.resources` object, the stats we report
// (close to runc's `events --stats` "data"), and the manager interface.

export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface LinuxDeviceCgroup {
  allow: boolean;
  /** 'a' (all), 'c' (char), 'b' (block); absent means 'a'. */
  type?: string;
  /** -1 or absent: any. */
  major?: number | null;
  minor?: number | null;
  /** Some of 'rwm'; absent means 'rwm'. */
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  /** OCI: memory+swap (like memory.memsw.limit_in_bytes); -1 is unlimited. */
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  period?: number;
  burst?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxPids {
  /** <= 0 means unlimited ('max'). */
  limit: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  /** e.g. '2MB', '1GB' */
  pageSize: string;
  limit: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: { name: string; priority: number }[];
}

export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

/** The OCI runtime-spec `linux.resources` object. */
export interface CgroupResources {
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  devices?: LinuxDeviceCgroup[];
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 only: file name → value, written as-is. */
  unified?: Record<string, string>;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CgroupStats {
  /** Which hierarchy the numbers come from (dockerd converts v1 and v2 differently). */
  version: 1 | 2;
  cpu: {
    usageTotalNs: number;
    usageUserNs: number;
    usageKernelNs: number;
    /** v1 only (cpuacct.usage_percpu). */
    percpuUsageNs?: number[];
    periods: number;
    throttledPeriods: number;
    throttledTimeNs: number;
  };
  memory: {
    usage: number;
    /** Unlimited is reported as a very large number (v1) or Number.MAX_SAFE_INTEGER (v2 'max'). */
    limit: number;
    maxUsage?: number;
    failcnt?: number;
    cache: number;
    rss?: number;
    swapUsage?: number;
    swapLimit?: number;
    /** memory.stat as numbers. */
    stats: Record<string, number>;
    oomEvents?: number;
    oomKills?: number;
  };
  pids: { current: number; limit?: number };
  io: {
    serviceBytes: BlkioEntry[];
    serviceIOs: BlkioEntry[];
    /**
     * v1 only: the CFQ scheduler's lists (io_queued, io_service_time, io_wait_time, io_merged,
     * time, sectors), read by dockerd when blkio.io_serviced_recursive exists; CFQ left the kernel
     * in 5.0, so they are empty lists (dockerd shows [] for each, not null).
     */
    cfq?: { queued: BlkioEntry[]; serviceTime: BlkioEntry[]; waitTime: BlkioEntry[]; merged: BlkioEntry[]; time: BlkioEntry[]; sectors: BlkioEntry[] };
  };
  hugetlb?: Record<string, { usage: number; maxUsage?: number; failcnt: number }>;
}

export type FreezerState = 'frozen' | 'thawed' | 'freezing' | 'unknown';

export interface SelfJoinFds {
  /** O_WRONLY fds of each v1 hierarchy's `tasks` file, where writing "0" moves the writing thread. */
  tasks: Array<{ fd: number; path: string }>;
  /** The unified (v2) hierarchy of a hybrid host: an O_PATH directory fd for CLONE_INTO_CGROUP, or -1. */
  cloneInto: number;
}

export interface CgroupManager {
  readonly version: 1 | 2;
  /** Human summary: controller → directory (v1), or { unified: dir } (v2). */
  readonly paths: Record<string, string>;
  /**
   * mkdir -p in every hierarchy; idempotent. On failure removes what it made. `madeAhead`:
   * directories someone made for it (dirsAhead), counted as its own (removed with what it made).
   */
  create(madeAhead?: string[]): void;
  /** Directories worth making ahead on another thread (v1: every leaf but cpuset ones; v2: none). */
  dirsAhead?(): string[];
  /**
   * v1: the cpuset leaf, worth making ahead by a maker that also copies its parent's
   * cpuset.cpus/mems down (mkdirsBegin's MKDIRS.CPUSET): create() treats it as made then.
   */
  cpusetDirsAhead?(): string[];
  /** Writes limits. An invalid value throws a HakoError naming the file and the value. */
  apply(resources: CgroupResources): void;
  /** Like runc update: only what is given changes. */
  update(resources: CgroupResources): void;
  /** Writes cgroup.procs in every hierarchy. */
  addProcess(pid: number): void;
  /** v2: an O_PATH|O_DIRECTORY fd of the leaf for clone3 CLONE_INTO_CGROUP (caller closes it). v1: -1. */
  openForCloneInto(): number;
  /**
   * v1: the fds a single-threaded child needs to join its cgroups itself (see v1.ts); v2:
   * undefined (the child is cloned into its cgroup instead). The caller closes them.
   * `opened`: `tasks` fds opened already (by the thread that made the dirs ahead), by hierarchy
   * directory: each one used is deleted from the map (the caller closes what is left in it).
   */
  openSelfJoin(opened?: Map<string, number>): SelfJoinFds | undefined;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  freezerState(): FreezerState;
  /** All pids in the cgroup and its descendants. */
  pids(): number[];
  /** Sends `signal` to every process; with SIGKILL waits until the cgroup is empty. */
  killAll(signal: number): Promise<void>;
  stats(): CgroupStats;
  /** rmdir leaf-first everywhere; retries briefly on EBUSY; ENOENT is fine. */
  destroy(): Promise<void>;
  exists(): boolean;
}
