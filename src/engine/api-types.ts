// The engine's public surface, shaped after the Docker Engine API v1.44 (../shared/specs/
// docker-engine-api-v1.44.yaml): the API server (src/api) is a thin translation of HTTP onto
// these methods, and the JSON objects they take and return ARE the Docker API's objects
// (field names, casing, `{}` vs `null` exactly as the swagger says), so routes pass them through.
//
// Errors: methods throw HakoError (src/common/errors.ts) whose `kind` picks the HTTP status:
// invalid-argument → 400, not-found → 404, conflict → 409, forbidden → 403, internal → 500.
// Message texts follow docker's where clients match on them, e.g.
// `No such container: abc`, `No such image: busybox:latest`,
// `Conflict. The container name "/web" is already in use by container "…". You have to remove (or rename) that container to be able to reuse that name.`
import type { Readable, Writable, Duplex } from 'node:stream';

export type Json = Record<string, unknown>;

/** Docker's `filters` query parameter, decoded: {"status":["running"],"label":["a=b"]}. */
export type Filters = Record<string, string[]>;

export interface ContainerCreateBody extends Json {
  /** The Config part (Image, Cmd, Entrypoint, Env, WorkingDir, User, Labels, Tty, OpenStdin, StdinOnce, AttachStdin/out/err, ExposedPorts, Volumes, StopSignal, StopTimeout, Healthcheck, Hostname, Domainname, …) plus: */
  HostConfig?: Json;
  NetworkingConfig?: Json;
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Stream live output (true) or only replay logs. */
  stream: boolean;
  /** Replay the logs first. */
  logs: boolean;
  /** e.g. "ctrl-p,ctrl-q" (docker's default when not set). */
  detachKeys?: string;
}

/**
 * A live attachment. Without a TTY, output chunks carry their stream (the API server frames
 * them with docker's 8-byte stdcopy header); with a TTY everything is 'stdout' and raw.
 */
export interface Attachment {
  tty: boolean;
  /** Output chunks until the container's output ends (or detach). */
  output: Readable; // objectMode: { stream: 'stdout' | 'stderr'; data: Buffer }
  /** Input for the container's stdin (when stdin was asked for and the container has OpenStdin). end() = close stdin (when StdinOnce). */
  input: Writable | null;
  /** Stop relaying (client went away) without affecting the container. */
  close(): void;
}

export interface LogsOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Unix seconds (fractional) or 0. */
  since: number;
  until: number;
  timestamps: boolean;
  /** Number of lines from the end, or 'all'. */
  tail: number | 'all';
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** Raw bytes of the entry (a line including its '\n', or a partial chunk). */
  data: Buffer;
  /** RFC3339Nano timestamp as written in the json-file log. */
  time: string;
}

export interface ExecCreateBody extends Json {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  Env?: string[];
  Cmd: string[];
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}

export interface EngineEvent {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  /** ns since the epoch: past 2^53, so a bigint (written with every digit, as dockerd's int64). */
  timeNano: bigint;
  // legacy fields docker still sends for containers/images:
  status?: string;
  id?: string;
  from?: string;
}

export interface CommitContainerOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause?: boolean;
  changes?: string[];
  config?: Json;
  /**
   * A Dockerfile step (the builder): the image's config is `config` as given, and `containerConfig`
   * is recorded as the image's container_config (the layer cache compares it).
   */
  buildStep?: { config: Json; containerConfig: Json };
}

export interface ContainerEngine {
  // ---- system
  /** GET /version body. */
  version(): Json;
  /** GET /info body. */
  info(): Promise<Json>;
  /**
   * GET /system/df body: the kinds asked for (default all); the others null (LayersSize 0), as
   * dockerd answers `?type=`. Images carry no VirtualSize (the route adds it below API 1.44).
   */
  df(what?: DiskUsageKinds): Promise<Json>;
  /** Events from `since` (replayed from a bounded in-memory history) then live until `until`/abort. */
  events(opts: { since?: number; until?: number; filters?: Filters; signal?: AbortSignal }): AsyncIterable<EngineEvent>;

  // ---- containers
  createContainer(name: string | undefined, body: ContainerCreateBody, opts?: { platform?: string }): Promise<{ Id: string; Warnings: string[] }>;
  listContainers(opts: { all?: boolean; limit?: number; size?: boolean; filters?: Filters }): Promise<Json[]>;
  inspectContainer(idOrName: string, opts?: { size?: boolean }): Promise<Json>;
  /** The container's full id (not-found as inspect), without building the inspect view. */
  containerId(idOrName: string): Promise<string>;
  /** 'already-running': nothing done (docker answers 304). */
  startContainer(idOrName: string): Promise<'started' | 'already-running'>;
  /** Resolves with {StatusCode, Error?} when the condition is met: 'not-running' (default), 'next-exit', 'removed'. */
  waitContainer(idOrName: string, condition?: 'not-running' | 'next-exit' | 'removed', signal?: AbortSignal): Promise<{ StatusCode: number; Error?: { Message: string } | null }>;
  stopContainer(idOrName: string, opts?: { timeoutSeconds?: number; signal?: string }): Promise<'stopped' | 'already-stopped'>;
  restartContainer(idOrName: string, opts?: { timeoutSeconds?: number; signal?: string }): Promise<void>;
  killContainer(idOrName: string, signal?: string): Promise<void>;
  pauseContainer(idOrName: string): Promise<void>;
  unpauseContainer(idOrName: string): Promise<void>;
  removeContainer(idOrName: string, opts?: { force?: boolean; volumes?: boolean }): Promise<void>;
  /** docker rm --link: takes the legacy link `name` (/<linker>/<alias>) off its linker. */
  removeLink(name: string): Promise<void>;
  renameContainer(idOrName: string, newName: string): Promise<void>;
  updateContainer(idOrName: string, body: Json): Promise<{ Warnings: string[] }>;
  attachContainer(idOrName: string, opts: AttachOptions): Promise<Attachment>;
  resizeContainer(idOrName: string, height: number, width: number): Promise<void>;
  /** `details`: the prefix of each line with `details=1` (the log attributes and a space). */
  containerLogs(idOrName: string, opts: LogsOptions, signal?: AbortSignal): Promise<{ tty: boolean; entries: AsyncIterable<LogEntry>; details: string }>;
  /** GET /containers/{id}/top: { Titles, Processes }. */
  topContainer(idOrName: string, psArgs?: string): Promise<Json>;
  /** One stats object (docker's shape); stream: every second until abort. */
  containerStats(idOrName: string, opts: { stream: boolean; oneShot?: boolean; signal?: AbortSignal }): AsyncIterable<Json>;
  /** GET /containers/{id}/changes: [{Path, Kind}] (0 modified, 1 added, 2 deleted). */
  containerChanges(idOrName: string): Promise<Json[]>;
  /** GET /containers/{id}/export: a tar of the container's filesystem. */
  exportContainer(idOrName: string): Promise<Readable>;
  /** GET/HEAD /containers/{id}/archive: a tar of `path` plus the X-Docker-Container-Path-Stat header value (base64 JSON). */
  getArchive(idOrName: string, path: string): Promise<{ stat: Json; tar: Readable }>;
  statPath(idOrName: string, path: string): Promise<Json>;
  /** PUT /containers/{id}/archive: extract a tar into `path`. */
  putArchive(idOrName: string, path: string, tar: Readable, opts?: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean }): Promise<void>;
  /** POST /commit: make an image from a container. */
  commitContainer(idOrName: string, opts: CommitContainerOptions): Promise<{ Id: string }>;
  pruneContainers(filters?: Filters): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }>;
  /**
   * A build step with no container (on `FROM scratch`, where there is no image to make one from):
   * the files of `dir` (when given) become a layer on `base` (none: scratch), as a commit would.
   */
  commitBuildLayer?(o: { base: string | undefined; dir: string | undefined; config: Json; containerConfig: Json }): Promise<string>;
  /** A build's COPY/ADD: `work` changes image `base`'s files (a private overlay, no container, no events); the changes are committed. */
  commitBuildFiles?(o: { base: string; config: Json; containerConfig: Json; author?: string; work: (rootfs: string) => Promise<void> }): Promise<string>;

  // ---- exec
  createExec(idOrName: string, body: ExecCreateBody): Promise<{ Id: string }>;
  /** Starts it; with detach the returned attachment is null. */
  startExec(execId: string, opts: { detach: boolean; tty: boolean; consoleSize?: [number, number] | null }): Promise<Attachment | null>;
  inspectExec(execId: string): Promise<Json>;
  resizeExec(execId: string, height: number, width: number): Promise<void>;

  // ---- volumes
  createVolume(body: Json): Promise<Json>;
  listVolumes(filters?: Filters): Promise<{ Volumes: Json[]; Warnings: string[] | null }>;
  inspectVolume(name: string): Promise<Json>;
  removeVolume(name: string, opts?: { force?: boolean }): Promise<void>;
  pruneVolumes(filters?: Filters): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }>;

  // ---- networks (docker's NetworkResource objects; `ref` is a name, id or unique id prefix)
  listNetworks(filters?: Filters): Promise<Json[]>;
  inspectNetwork(ref: string): Promise<Json>;
  /** POST /networks/create body → {Id, Warning}. */
  createNetwork(body: Json): Promise<{ Id: string; Warning: string }>;
  removeNetwork(ref: string): Promise<void>;
  pruneNetworks(filters?: Filters): Promise<{ NetworksDeleted: string[] }>;
  /** body: {Container, EndpointConfig?}. */
  connectNetwork(ref: string, body: Json): Promise<void>;
  /** body: {Container, Force?}. */
  disconnectNetwork(ref: string, body: Json): Promise<void>;

  /** Stop serving: stop health checks/restart timers, close monitors' connections (containers keep running). */
  close(): Promise<void>;
}

/** Images through the daemon (backed by src/image/images.ts ImageService). */
export interface ImageProgress {
  /** Docker's JSON-lines progress messages: {status, id?, progressDetail?: {current, total}, progress?} or {error, errorDetail}. */
  (message: Json): void;
}

export type Streams = { readable: Readable; writable: Writable; duplex?: Duplex };

/** The object kinds of GET /system/df's `type` (moby's DiskUsageObject). */
export interface DiskUsageKinds {
  containers: boolean;
  images: boolean;
  volumes: boolean;
  buildCache: boolean;
}
