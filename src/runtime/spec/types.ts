// TypeScript shapes of the OCI runtime-spec v1.x configuration (config.json) and state, Linux only.
// Field names follow the spec exactly; everything the spec marks OPTIONAL is optional here.
// `validateSpec` (./validate.ts) turns untrusted JSON into a `Spec`.
import type { CgroupResources } from '../cgroups/types.js';

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export const NAMESPACE_TYPES: readonly NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds, >= 1. */
  timeout?: number;
}

export interface Hooks {
  /** Deprecated by the spec, still run (as createRuntime) by runc. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

export interface Root {
  path: string;
  readonly?: boolean;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Rlimit {
  /** `RLIMIT_NOFILE`, ... */
  type: string;
  soft: number;
  hard: number;
}

export interface ConsoleSize {
  height: number;
  width: number;
}

export interface IoPriority {
  class: 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE';
  priority?: number;
}

export interface Scheduler {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export interface ExecCPUAffinity {
  initial?: string;
  final?: string;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: ConsoleSize;
  user: User;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  ioPriority?: IoPriority;
  scheduler?: Scheduler;
  execCPUAffinity?: ExecCPUAffinity;
}

export interface Namespace {
  type: NamespaceType;
  path?: string;
}

export interface TimeOffset {
  secs?: number;
  nanosecs?: number;
}

export interface Device {
  /** c (char), b (block), u (unbuffered char), p (fifo). */
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major?: number;
  minor?: number;
  /** Permission bits (decimal in JSON, e.g. 438 = 0o666). */
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

export interface IntelRdt {
  closID?: string;
  schemata?: string[];
  l3CacheSchema?: string;
  memBwSchema?: string;
  enableMonitoring?: boolean;
}

export interface Personality {
  domain?: 'LINUX' | 'LINUX32';
  flags?: string[];
}

export interface MemoryPolicy {
  mode?: string;
  nodes?: string;
  flags?: string[];
}

export type RootfsPropagation = 'private' | 'shared' | 'slave' | 'unbindable';

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  timeOffsets?: { monotonic?: TimeOffset; boottime?: TimeOffset };
  devices?: Device[];
  netDevices?: Record<string, { name?: string }>;
  cgroupsPath?: string;
  resources?: CgroupResources;
  intelRdt?: IntelRdt;
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: RootfsPropagation;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: Personality;
  memoryPolicy?: MemoryPolicy;
}

export interface Spec {
  ociVersion: string;
  root?: Root;
  mounts?: Mount[];
  process?: Process;
  hostname?: string;
  domainname?: string;
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped';

/** The `state` of a container as `hako-runtime state` prints it (state-schema.json). */
export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Present unless the container is stopped (the spec allows omitting it then). */
  pid?: number;
  /** Absolute path of the bundle. */
  bundle: string;
  annotations?: Record<string, string>;
}

/** The OCI runtime-spec version hako writes (`runc spec`, state). */
export const OCI_VERSION = '1.3.0';

/** Alias used by the lifecycle for an OCI `process` object (config.json or `exec --process`). */
export type SpecProcess = Process;
