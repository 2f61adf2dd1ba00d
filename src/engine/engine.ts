// The engine: containers, volumes, exec and events over the image service, the snapshot store
// and the OCI runtime. Everything lives under two roots (no global state):
//   <root>/containers/<id>/   record (config.v2.json), hosts, hostname, resolv.conf, <id>-json.log
//   <root>/snapshots/         layers and container upper dirs (SnapshotStore)
//   <root>/volumes/<name>/    local volumes
//   <root>/network/           network state (networks, endpoints, IPAM, published ports)
//   <root>/content, <root>/image   the ImageService's stores
//   <execRoot>/runtime/       the runtime's state
//   <execRoot>/containers/<id>/    bundle: config.json and the mounted rootfs
import { overlayDriverStatus, probeOverlay, hostProbe, type OverlayStatus } from './overlay-status.js';
import { close as closeFd, closeSync, openSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync, readFileSync, lstatSync, unlinkSync, type Stats } from 'node:fs';
import { removeTree } from '../native/fs.js';
import { rm } from 'node:fs/promises';
import { discardUnsupported, infoWarnings, readHostCaps, type HostCaps } from './host-caps.js';
import { randomBytes } from 'node:crypto';
import { resolve, dirname } from 'node:path';
import { joinPath as join } from '../common/join-path.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { constants as osc, hostname as hostHostname, cpus, totalmem, release as osRelease } from 'node:os';
import { fileURLToPath } from 'node:url';
import { HakoError, conflict, invalid, notFound, fromSystemError } from '../common/errors.js';
import { ImageService } from '../image/images.js';
import type { Digest } from '../image/digest.js';
import { SnapshotStore, type ContainerSnapshot } from '../image/snapshot/index.js';
import { Runtime } from '../runtime/index.js';
import { parseSignal } from '../runtime/lifecycle/kill.js';
import { cgroupsOf } from '../runtime/lifecycle/context.js';
import { psContainer } from '../runtime/lifecycle/ps.js';
import { detectCgroupMode } from '../runtime/cgroups/index.js';
import { applyCapChanges, capNames } from '../runtime/security/capabilities.js';
import { isSameProcess, processStartTime } from '../runtime/state/process-info.js';
import type { Spec } from '../runtime/spec/types.js';
import type {
  Attachment, AttachOptions, CommitContainerOptions, ContainerCreateBody, ContainerEngine, DiskUsageKinds, EngineEvent, ExecCreateBody, Filters, Json, LogEntry, LogsOptions,
} from './api-types.js';
import { EventBus } from './events.js';
import { NameRegistry, normalizeName } from './names.js';
import { archiveMounts } from './containers/archive-mounts.js';
import { RecordStore, initialState, ZERO_TIME, type ContainerRecord, type MountPoint } from './containers/record.js';
import type { ContainerRecord as RuntimeRecord } from '../runtime/state/container-store.js';
import { parseLink } from './containers/network-config.js';
import { linkEnv, linkHostname, linkHostsEntry, linkLinesOf, parseLinkName, updateHostsAddress, updateHostsEntry, type LinkedContainer } from './containers/legacy-links.js';
import type { HostsEntry } from '../network/hosts-files.js';
import { statInLayers } from './fs/layered.js';
import { checkNetworkModeConflicts, collectMounts, mergeConfig, normalizeHostConfig, parseVolumesFrom, RUNTIMES } from './containers/config.js';
import { buildSpec, containerCaps, securityOpts, specToJson } from './containers/spec.js';
import { resolveUser } from './containers/user.js';
import { EngineNetworking, hasEndpoints, type NetworkingOptions } from './networking.js';
import { SandboxKeys } from './sandbox-keys.js';
import { ShmMounts, shmSizeOf, type ShmPlan } from './shm-mounts.js';
import { superviseContainer, superviseProcess, superviseWithMonitor, reattachMonitor, monitorAvailable, monitorAttach, monitorResize, MAX_ATTACH_AT_LAUNCH, type ExitInfo, type ProcessIO, type Supervised } from './containers/supervise.js';
import { checkListFilters, containerMatches, inspectView, summaryView } from './containers/view.js';
import { parseLogSize, logMaxFiles } from './logs/json-file.js';
import { readLogs } from './monitor/logs.js';
import { readMonitorInfo, monitorAlive, monitorBinary } from './monitor/index.js';
import { processGone } from './process-gone.js';
import { VolumeStore, checkVolumeFilters, volumeMatches } from './volumes.js';
import { VolumeMounts } from './volume-mounts.js';
import { dockerStats, netDevStats } from './stats.js';
import { snapshotUnpacker } from './snapshot-unpacker.js';
import { resolveInRoot } from './fs/paths.js';
import * as fsops from './fs/ops.js';
import { copyTreeInRoot } from './fs/copy-in-root.js';
import { isMountPoint, mountOverlay, unmount } from './fs/mount.js';
import { HealthChecker, LimitedOutput, goDuration, probeSettings, type HealthStatus, type ProbeOutcome } from './health.js';
import { execProcessSpec } from './exec-process.js';
import { execAttachment, execAttachRequest, execMonitorDir, restoreExecs, startMonitoredExec } from './exec-monitor.js';
import { AttachSession } from './attach.js';
import { parseDetachKeys } from './detach-keys.js';
import { NetnsMaker, type NetnsAhead } from './netns-ahead.js';
import type { CgroupsAhead } from '../runtime/lifecycle/cgroups-ahead.js';
import { PhaseTrace } from './phase-trace.js';
import { parsePruneFilters, pruneMatches } from './prune-filters.js';
import { parseImageConfig, type ImageConfig } from '../image/manifest.js';
import { dockerErrorName, familiarString, parseReference } from '../image/reference.js';
import { detailsPrefix, logAttributes } from './logs/attrs.js';
import { checkDeviceRequests, dockerStartExitCode, dockerStartMessage, startRefusal } from './start-errors.js';
import type { ImageRecord } from '../image/store/metadata.js';
import { nowRfc3339Nano, realtimeNs } from '../common/time.js';

// promisify(execFile) at each call, not at load: node:child_process loads on first use in hakod's
// bundle (scripts/bundle.mjs, lazyBuiltins).
const run = (file: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> => promisify(execFile)(file, args);
const API_VERSION = '1.44';
const ENGINE_VERSION = '0.1.0';

export interface EngineLogger {
  warn(msg: string): void;
  info?(msg: string): void;
}

export interface EngineOptions {
  /** Persistent state, e.g. /var/lib/hako. */
  root: string;
  /** Runtime state and mounted rootfs bundles, e.g. /run/hako. */
  execRoot: string;
  /** Defaults to an ImageService on `root` whose pulls unpack into <root>/snapshots. */
  images?: ImageService;
  log?: EngineLogger;
  /**
   * Parent of every container's cgroup (default `/hako`, absolute). A relative parent lands beneath
   * this process's own cgroup (tests use testCgroupName()). HostConfig.CgroupParent overrides it.
   */
  cgroupParent?: string;
  /** hako-init for HostConfig.Init (default build/hako-init of this checkout). */
  initBinary?: string;
  /** dockerd's --default-ipc-mode: IpcMode of containers created without one (default private). */
  defaultIpcMode?: 'private' | 'shareable';
  /** dockerd's --default-shm-size: ShmSize of containers created without one (default 64 MiB; 0: no limit). */
  defaultShmSize?: number;
  /**
   * Run containers under hako-monitor (default: when build/hako-monitor exists). Without it the
   * engine itself is the parent and containers lose their output and exit status on an engine restart.
   */
  monitor?: boolean;
  /**
   * Networking: the default bridge, nft table and interface names, forwarding and resolvers
   * (default: docker's, i.e. bridge `hako0`, table `hako`). Tests pass unique names.
   */
  network?: NetworkingOptions;
  /** How long an ended exec stays known (default EXEC_RETENTION_MS; tests shorten it). */
  execRetentionMs?: number;
}

/** How long after an exit the runtime state and rootfs mount are released unless asked sooner (deferCleanup). */
const CLEANUP_DELAY_MS = 50;

interface Live {
  rec: ContainerRecord;
  sup?: Supervised;
  /** Volumes whose `mount` event this run sent: their `unmount` events are due when it ends (dockerd's). */
  mountedVolumes?: string[];
  /** The monitor's dir while a monitor supervises the container. */
  monitorDir?: string;
  /** Serializes lifecycle operations on this container. */
  chain: Promise<unknown>;
  restartTimer?: NodeJS.Timeout;
  exitWaiters: Array<(r: { StatusCode: number; Error?: { Message: string } | null }) => void>;
  removeWaiters: Array<(r: { StatusCode: number; Error?: { Message: string } | null }) => void>;
  execs: Set<string>;
  /** Set while a stop/kill/rm is in progress: the exit is not a restart-policy failure. */
  stopping: boolean;
  /** Not auto-removed (--rm) when it exits: a restart or a forced removal of its own is under way. */
  keepOnExit?: boolean;
  /** GraphDriver.Data, once worked out (see graphDriver). */
  graphData?: { LowerDir: string; MergedDir: string; UpperDir: string; WorkDir: string };
  /** The health-check loop while the container runs (and has a Healthcheck). */
  health?: HealthChecker;
  /** Attachments made while the container was not running: connected at its next start. */
  pending: AttachSession[];
  /** Its networks and runtime state were released since its last start (cleanupAfterExit ran). */
  cleaned?: boolean;
  /**
   * The release of an exited container's runtime state, cgroups and rootfs mount, under way after
   * the exit was answered (onExit): whatever needs them released or mounted anew (start, remove,
   * cp/export) awaits it first. It never rejects.
   */
  cleaning?: { done: Promise<void>; now: () => void };
  /** A new container's record until it is durable (RecordStore.commitSoon); start awaits it. */
  durable?: Promise<void>;
  /** The bind mount of its SandboxKey under way (bindSandboxKey); never rejects. */
  sandboxBind?: Promise<void>;
  /** The running container's mount namespace, held (see superviseWithMonitor); closed by releaseRuntime. */
  mountNsFd?: number;
  /** The runtime's record of its current run (from its launch), for the runtime's delete; taken by it. */
  runtimeRecord?: RuntimeRecord;
}

interface ExecRecord {
  ID: string;
  ContainerID: string;
  body: ExecCreateBody;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  io?: ProcessIO;
  /** Under a monitor of its own (./exec-monitor.ts): its dir. */
  monitorDir?: string;
  started: boolean;
  exited?: Promise<number>;
  /** The legacy links' variables, as its create found them (dockerd's ContainerExecCreate). */
  linkedEnv?: string[];
  /** Its dir under the container's monitor dir (a monitored exec's, also one found after a restart). */
  dir?: string;
  /** Forgets it (record, monitor dir) once it has been over for the retention time (forgetExecLater). */
  forgetTimer?: NodeJS.Timeout;
}

/**
 * How long an exec that ended stays known (exec inspect, its monitor dir under the exec-root).
 * dockerd's execCommandGC runs every 5 minutes: a pass marks the execs no container lists as
 * running, the next deletes them, so an exited exec is forgotten 5–10 minutes after its exit.
 * hako forgets it 5 minutes after. Before, every exec of a long-running container (a monitoring
 * agent's, a periodic `docker exec`) stayed in memory and left 4 files in the exec-root until the
 * container was removed (bench/soak.mjs found it).
 */
export const EXEC_RETENTION_MS = 5 * 60_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * dockerd's SetupWorkingDirectory on a mounted rootfs: a missing working directory is made,
 * root's, 0755, whatever the user (MkdirAllAndChownNew with the daemon's root identity; seen in a
 * dockerd 20.10 lab with -u 1000); one that is not a directory refuses in dockerd's words.
 */
function ensureWorkingDir(rootfs: string, wd: string): void {
  const host = resolveInRoot(rootfs, wd);
  const st = statSync(host, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new HakoError({ step: `Cannot mkdir: ${wd} is not a directory`, kind: 'internal' });
  if (st) return;
  try {
    mkdirSync(host, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw fromSystemError(`mkdir ${wd}`, err, wd);
  }
}

function defaultInitBinary(): string {
  // build/hako-init of this package: the nearest ancestor with package.json (src/, dist/src/ or
  // a dist/bundle/ file all work).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'build', 'hako-init');
    const up = dirname(dir);
    if (up === dir) return resolve('build/hako-init');
    dir = up;
  }
}

/**
 * A signal named in an API request or a stop signal, as moby's ParseSignal reads it: any number
 * but 0 (deliverable or not: see deliverable()), or a known name; else dockerd's
 * `Invalid signal: BOGUS`.
 */
function apiSignal(text: string): number {
  if (/^-?\d+$/.test(text) && Number(text) !== 0) return Number(text);
  // moby's Linux signal map names the real-time signals RTMIN, RTMIN+1…+15, RTMAX-14…-1, RTMAX.
  const rt = /^(?:SIG)?RTM(IN|AX)(?:([+-])(\d+))?$/.exec(text.toUpperCase());
  if (rt) {
    const n = rt[3] === undefined ? 0 : Number(rt[3]);
    if (rt[1] === 'IN' && (rt[2] ?? '+') === '+' && n <= 15) return 34 + n;
    if (rt[1] === 'AX' && (rt[2] ?? '-') === '-' && n <= 14) return 64 - n;
  }
  try {
    return parseSignal(text);
  } catch {
    throw invalid(`Invalid signal: ${text}`);
  }
}

/** Whether Linux has this signal (moby's ValidSignalForPlatform: 1–31 and SIGRTMIN 34 to 64). */
function deliverable(sig: number): boolean {
  return (sig >= 1 && sig <= 31) || (sig >= 34 && sig <= 64);
}

/** A container's stop signal (SIGTERM when none is set). */
function stopSignalOf(rec: ContainerRecord): number {
  return apiSignal((rec.Config.StopSignal as string | undefined) || 'SIGTERM');
}


function lstatSafe(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/** dockerd's exec event action: entrypoint, a space, the arguments (`exec_create: id ` without any). */
function execEventCmd(argv: readonly string[]): string {
  return `${argv[0] ?? ''} ${argv.slice(1).join(' ')}`;
}

function readSysctl(p: string): string {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The `type` of a network event: the network's driver (`null` for none). */
function networkEventType(name: string): string {
  return name === 'host' ? 'host' : name === 'none' ? 'null' : 'bridge';
}

export class Engine implements ContainerEngine {
  readonly root: string;
  readonly execRoot: string;
  readonly images: ImageService;
  readonly snapshots: SnapshotStore;
  readonly runtime: Runtime;
  readonly bus = new EventBus();
  readonly volumes: VolumeStore;
  /** What volumes with options mounted on their _data, and which containers use it. */
  readonly volumeMounts: VolumeMounts;
  /** The containers' network namespaces bind-mounted under <execRoot>/netns (inspect's SandboxKey). */
  private readonly sandboxKeys: SandboxKeys;
  private readonly shm: ShmMounts;
  private readonly defaultIpcMode: 'private' | 'shareable' | undefined;
  private readonly defaultShmSize: number | undefined;
  /** Numbers the volume users of archive operations on stopped containers (archiveVolumes). */
  private archiveUses = 0;
  readonly net: EngineNetworking;
  private readonly records: RecordStore;
  private readonly names = new NameRegistry();
  private readonly containers = new Map<string, Live>();
  private readonly execs = new Map<string, ExecRecord>();
  private readonly execRetentionMs: number;
  private readonly log: EngineLogger;
  private readonly ownsImages: boolean;
  private readonly cgroupParent: string;
  private readonly initBinary: string;
  private readonly useMonitor: boolean;
  /** build/hako-monitor (looked up once: a walk up the directories costs ~0.2 ms per start). */
  private readonly monitorBin = monitorBinary();
  private readonly ready: Promise<void>;
  private closed = false;
  /** Aborted by close(): waits on processes not our children end with it. */
  private readonly closing = new AbortController();
  /** Phase timestamps for profiling (HAKO_PHASE_TRACE, see ./phase-trace.ts). */
  private readonly trace = PhaseTrace.fromEnv();
  /** Work that follows an answer (deleting a removed container's files); close() waits for it. */
  private readonly background = new Set<Promise<void>>();
  /** Parsed image configs by image ID (content-addressed, so never stale), see imageForCreate. */
  private readonly imageConfigs = new Map<string, ImageConfig>();
  /** See the constructor: deleted by sweepOrphans(). */
  private readonly crashLeftovers: string[];
  /** Each start's network namespace, made alongside its other work (./netns-ahead.ts). */
  private readonly netnsMaker = new NetnsMaker((m) => this.log.info?.(m));

  constructor(opts: EngineOptions) {
    this.root = resolve(opts.root);
    this.execRoot = resolve(opts.execRoot);
    this.log = opts.log ?? { warn: (m) => process.stderr.write(`hako: warning: ${m}\n`) };
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    mkdirSync(this.execRoot, { recursive: true, mode: 0o711 });
    this.snapshots = new SnapshotStore(join(this.root, 'snapshots'));
    this.ownsImages = opts.images === undefined;
    this.images = opts.images ?? new ImageService({ root: this.root, unpacker: snapshotUnpacker(this.snapshots) });
    // dockerd's image events (pull, tag, untag, delete, …) on the engine's bus.
    this.images.onEvent = (action, id, attributes) => this.bus.emit('image', action, id, attributes);
    this.runtime = new Runtime({ root: join(this.execRoot, 'runtime'), log: { warn: (m) => this.log.warn(m) } });
    this.records = new RecordStore(join(this.root, 'containers'));
    this.volumes = new VolumeStore(this.root, this.trace.enabled ? (phase) => this.trace.mark('-', phase) : undefined);
    this.volumeMounts = new VolumeMounts(this.volumes, (m) => this.log.warn(m));
    this.sandboxKeys = new SandboxKeys(join(this.execRoot, 'netns'));
    this.shm = new ShmMounts(join(this.execRoot, 'shm'));
    this.cgroupParent = opts.cgroupParent ?? '/hako';
    this.initBinary = opts.initBinary ?? defaultInitBinary();
    this.defaultIpcMode = opts.defaultIpcMode;
    this.defaultShmSize = opts.defaultShmSize;
    this.useMonitor = opts.monitor ?? monitorAvailable(this.monitorBin);
    this.execRetentionMs = opts.execRetentionMs ?? EXEC_RETENTION_MS;
    this.net = new EngineNetworking(join(this.root, 'network'), opts.network ?? {}, this.log, this.trace.enabled ? (phase) => this.trace.mark('-', phase) : undefined);
    // (Written by its start, updated by its linked containers' starts: rec.LinkHosts.)
    this.net.linkedHosts = (rec) => rec.LinkHosts ?? [];
    // What a crash left half-made under random names (staging and retired dirs of volumes,
    // layers, blobs): listed now, before any request can make new ones, deleted by the start-up
    // sweep. The image store's only when it is this engine's own (a shared one may be mid-pull).
    this.crashLeftovers = [...this.volumes.leftovers(), ...(this.images.root === this.root ? [...this.images.content.leftovers(), ...this.snapshots.leftovers()] : []), ...this.cpLeftovers()];
    this.ready = this.reconcile();
    this.ready.catch(() => undefined);
  }

  /** The staging dirs of `docker cp` into containers (<root>/tmp/cp-*) a crash cut short. */
  private cpLeftovers(): string[] {
    const dir = join(this.root, 'tmp');
    try {
      return readdirSync(dir).filter((n) => n.startsWith('cp-')).map((n) => join(dir, n));
    } catch {
      return [];
    }
  }

  // ------------------------------------------------------------------ reconcile (daemon restart)

  private async reconcile(): Promise<void> {
    // Networks first: reconcile re-holds the published ports of containers that kept running
    // and drops endpoints whose netns is gone; containers that exited meanwhile are released below.
    await this.net.init();
    const toRestart: Live[] = [];
    const toFinish: Array<[Live, ExitInfo & { finishedAt: string }]> = [];
    // Containers with runtime state: started at least once (a created one's start was cut short).
    const launched = new Set(this.runtime.list());
    for (const rec of this.records.loadAll((m) => this.log.warn(m))) {
      const live: Live = { rec, chain: Promise.resolve(), exitWaiters: [], removeWaiters: [], execs: new Set(), stopping: false, pending: [] };
      this.containers.set(rec.Id, live);
      try {
        this.names.reserve(rec.Name, rec.Id);
      } catch {
        this.log.warn(`container ${rec.Id}: name ${rec.Name} is taken; renaming to /${rec.Id.slice(0, 12)}`);
        rec.Name = `/${rec.Id.slice(0, 12)}`;
        this.names.reserve(rec.Name, rec.Id);
      }
      const st = rec.State;
      if (st.Status === 'removing') {
        await this.finishRemove(live, { volumes: false }).catch((e) => this.log.warn(`finish removing ${rec.Id}: ${(e as Error).message}`));
        continue;
      }
      // State saves are not fsync'd (the monitor's files are the truth for a running container):
      // after a crash the record may be one transition behind. A live monitor means running; an
      // exit record newer than the recorded finish is an exit still to record.
      const mdir = this.monitorDirOf(rec.Id);
      const m = existsSync(mdir) ? reattachMonitor(mdir) : ({ state: 'lost' } as const);
      if (m.state !== 'lost') this.restoreExecs(live, mdir);
      if (!st.Running && st.Status !== 'restarting') {
        const info = m.state === 'running' ? readMonitorInfo(mdir) : null;
        if (info) {
          Object.assign(st, { Status: 'running', Running: true, Paused: false, Restarting: false, Pid: info.containerPid, ExitCode: 0, Error: '' });
          if (st.StartedAt.startsWith('0001')) st.StartedAt = nowRfc3339Nano();
          rec.PidStartTime = processStartTime(info.containerPid) ?? undefined;
          rec.HasBeenStartedBefore = true;
        } else if (m.state === 'exited' && Date.parse(m.exit.finishedAt) > Date.parse(st.FinishedAt) && Date.parse(m.exit.finishedAt) > Date.parse(st.StartedAt)) {
          Object.assign(st, { Status: 'running', Running: true });
        }
      }
      if (st.Running || st.Status === 'restarting') {
        if (m.state === 'running') {
          live.monitorDir = mdir;
          // A commit pauses a running container without recording it (as dockerd's): a crash in
          // the commit left it frozen with a record that says running, and every later kill (stop,
          // rm -f) waited for a process that cannot die while frozen. Thawed here (one read of the
          // freezer state per running container).
          if (!st.Paused) {
            try {
              if (this.runtime.status(rec.Id) === 'paused') await this.runtime.resume(rec.Id);
            } catch (err) {
              this.log.warn(`container ${rec.Id}: thaw after a crash in a commit: ${(err as Error).message}`);
            }
          }
          void m.exited.then((info) => this.locked(live, () => this.onExit(live, info)));
          // moby's restore: initHealthMonitor (Status starting, streak 0) for a live, unpaused container.
          if (!st.Paused) this.startHealth(live, true);
          continue;
        }
        if (m.state === 'exited') {
          toFinish.push([live, m.exit]);
          continue;
        }
        if (st.Running && st.Pid > 0 && isSameProcess(st.Pid, rec.PidStartTime)) {
          // Still running, but its parent (we, before the restart) is gone: without the monitor
          // we cannot collect its output or exit status; watch the pid so the state follows.
          this.watchOrphan(live);
          continue;
        }
        // It died while we were away; its exit status is lost without the monitor.
        await this.cleanupAfterExit(live).catch(() => undefined);
        Object.assign(st, { Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: st.Status === 'restarting' ? st.ExitCode : 255, FinishedAt: st.FinishedAt.startsWith('0001') || st.Running ? nowRfc3339Nano() : st.FinishedAt });
        this.records.save(rec);
        const policy = (rec.HostConfig.RestartPolicy as { Name: string }).Name;
        if (policy === 'always' || (policy === 'unless-stopped' && !rec.HasBeenManuallyStopped) || (policy === 'on-failure' && rec.State.ExitCode !== 0)) toRestart.push(live);
      } else if (st.Status !== 'created' && st.Status !== 'dead') {
        const policy = (rec.HostConfig.RestartPolicy as { Name: string }).Name;
        if (policy === 'always' && !rec.HasBeenManuallyStopped && rec.HasBeenStartedBefore) toRestart.push(live);
        // Stale mounts/cgroups of a stopped container.
        await this.cleanupAfterExit(live).catch(() => undefined);
      } else if (st.Status === 'created' && launched.has(rec.Id)) {
        // Its first start was cut short (monitor.json, which reattachMonitor needs, is written
        // last): the runtime's state, cgroups and rootfs mount, and maybe a container process under
        // a monitor that no one will ever adopt. The runtime's forced delete kills what is in the
        // cgroups (the monitor then exits with its child); the container stays created.
        await this.cleanupAfterExit(live).catch((e) => this.log.warn(`clean up the cut-short start of ${rec.Id}: ${(e as Error).message}`));
      }
      // A start cut short before its launch may have left the cgroup dirs made ahead for it
      // (cgroups-ahead.ts), which the runtime's delete does not know without runtime state.
      if (!st.Running && st.Status !== 'restarting' && !launched.has(rec.Id)) {
        await this.runtime.removeCgroupsLeft(rec.Id, this.cgroupsPathOf(rec)).catch((e) => this.log.warn(`remove the cgroups left for ${rec.Id}: ${(e as Error).message}`));
      }
    }
    for (const l of this.containers.values()) if (l.rec.State.Running && l.rec.LegacyLinks?.length && !l.rec.LinkHosts) this.deriveLinkHosts(l);
    // Volumes mounted for containers still running stay mounted (their users counted again);
    // the others' mounts go. Before the exits recorded below release their users.
    const volumeUsers = new Map<string, string[]>();
    for (const l of this.containers.values()) {
      if (!l.rec.State.Running) continue;
      for (const name of volumeNamesOf(l.rec)) volumeUsers.set(name, [...(volumeUsers.get(name) ?? []), l.rec.Id]);
    }
    await this.volumeMounts.restore(volumeUsers);
    // Host-side /dev/shm tmpfs: those of shareable containers still running stay (a joiner may
    // come), the rest (dead or unknown containers', after a crash) go.
    const shmKeep = new Set([...this.containers.values()].filter((l) => l.rec.State.Running && l.rec.HostConfig.IpcMode === 'shareable').map((l) => l.rec.Id));
    await this.shm.sweep(shmKeep, (m) => this.log.warn(m));
    // Stale runtime state and bundles of containers we do not know.
    for (const id of this.runtime.list()) if (!this.containers.has(id)) await this.runtime.delete(id, { force: true }).catch(() => undefined);
    await this.sweepOrphans();
    // Exited while we were away: record the monitor's exit status (restart policies apply).
    for (const [l, exit] of toFinish) await this.locked(l, () => this.onExit(l, exit, '', exit.finishedAt));
    // Endpoints of containers that are not running any more (or that we do not know) go.
    await this.net.sweep(new Set([...this.containers.values()].filter((l) => l.rec.State.Running).map((l) => l.rec.Id)));
    // A running container's networks: a connect or disconnect cut short by a crash is settled.
    for (const l of this.containers.values()) {
      if (!l.rec.State.Running) continue;
      const changed = await this.net.reconcileRecord(l.rec).catch((e: unknown) => (this.log.warn(`reconcile the networks of ${l.rec.Id}: ${(e as Error).message}`), false));
      if (changed) this.save(l);
    }
    // SandboxKeys: all dropped (a crash leaves them mounted), then bound again for the running.
    await this.sandboxKeys.releaseAll(new Set(), (m) => this.log.warn(m));
    for (const l of this.containers.values()) {
      const mode = l.rec.HostConfig.NetworkMode as string;
      if (l.rec.State.Running && l.rec.State.Pid > 0 && !mode.startsWith('container:')) await this.bindSandboxKey(l, true);
    }
    for (const l of toRestart) {
      void this.locked(l, () => this.startLocked(l)).catch((e) => this.log.warn(`restart ${l.rec.Id} after daemon start: ${(e as Error).message}`));
    }
  }

  /**
   * What a crash in the middle of a create or a remove leaves (the record is written last by a
   * create and renamed away first by a remove): rootfs mounts, snapshots and monitor dirs of
   * containers without a record, their image leases, and the retired directories of removed ones.
   */
  private async sweepOrphans(): Promise<void> {
    const warn = (what: string) => (e: unknown) => this.log.warn(`${what}: ${(e as Error).message}`);
    const entries = (dir: string) => {
      try {
        return readdirSync(dir).filter((n) => !n.startsWith('.'));
      } catch {
        return [];
      }
    };
    for (const id of entries(join(this.execRoot, 'containers'))) {
      if (!this.containers.has(id)) await this.unmountRootfs(id).catch(warn(`remove the rootfs mount of unknown container ${id}`));
    }
    // A build's COPY/ADD overlay (commitBuildFiles) that a crash left mounted; its snapshot goes below.
    for (const id of entries(join(this.execRoot, 'build'))) {
      const target = join(this.execRoot, 'build', id);
      await (async () => {
        if (isMountPoint(target) && (await unmount(target)) === 'unavailable') await this.snapshots.unmountRootfs(target);
        rmdirSync(target);
      })().catch(warn(`remove the build rootfs ${target}`));
    }
    for (const id of this.snapshots.containerIds()) {
      if (!this.containers.has(id)) await this.snapshots.removeContainer(id).catch(warn(`remove the rootfs of unknown container ${id}`));
    }
    for (const id of entries(join(this.execRoot, 'monitors'))) {
      if (this.containers.has(id)) continue;
      const info = readMonitorInfo(this.monitorDirOf(id));
      if (info && monitorAlive(info.pid, info.startTime)) continue; // still running: not ours to judge
      await rm(this.monitorDirOf(id), { recursive: true, force: true }).catch(warn(`remove the monitor dir of unknown container ${id}`));
    }
    // A crash between the record's rename and the lease delete (finishRemove) leaves the image
    // lease of a container that no longer exists, and the image would stay "in use" for ever.
    // Only leases named like a container ID and only in an image store of this engine's own
    // root (a store shared with other engines holds their containers' leases too).
    const leases = await this.images.leases();
    if (this.images.root === this.root) {
      for (const lease of leases) {
        if (/^[0-9a-f]{64}$/.test(lease.owner) && !this.containers.has(lease.owner)) await this.images.removeLease(lease.owner).catch(warn(`remove the image lease of unknown container ${lease.owner}`));
        // A COPY/ADD step's lease (commitBuildFiles) outlives its build only when hakod died in it.
        else if (/^build-[0-9a-f]{32}$/.test(lease.owner)) await this.images.removeLease(lease.owner).catch(warn(`remove the image lease of build step ${lease.owner}`));
      }
    }
    // Leases are written without fsync at create (the record, fsync'd, is the truth): a crash
    // may lose one, and it is restored here, before any request is served.
    const leased = new Set(leases.map((l) => l.owner));
    for (const [id, live] of this.containers) {
      if (!leased.has(id)) await this.images.addLease(id, live.rec.Image as Digest).catch(warn(`restore the image lease of container ${id}`));
    }
    this.inBackground('delete the files of removed containers', async () => {
      await this.records.removeRetired();
      await this.snapshots.removeRetired();
      for (const p of this.crashLeftovers.splice(0)) await rm(p, { recursive: true, force: true }).catch(warn(`remove ${p}`));
    });
  }

  private watchOrphan(live: Live): void {
    void this.processGone(live.rec.State.Pid, live.rec.PidStartTime).then(() =>
      this.onExit(live, { exitCode: 255, oomKilled: false }, 'exit status unknown: the engine restarted while the container ran'),
    );
  }

  /** process-gone.ts: seen at once through a pidfd (a 500 ms poll without one); never settles once the engine is closed. */
  private processGone(pid: number, start: string | undefined): Promise<void> {
    return processGone(pid, start, { signal: this.closing.signal });
  }

  // ------------------------------------------------------------------ helpers

  /** Runs `fn` after the current answer; a failure is logged (what it leaves, reconcile() sweeps). */
  private inBackground(what: string, fn: () => Promise<void>): void {
    const p: Promise<void> = new Promise<void>((r) => setImmediate(r))
      .then(fn)
      .catch((e: unknown) => this.log.warn(`${what}: ${(e as Error).message}`))
      .finally(() => this.background.delete(p));
    this.background.add(p);
  }

  private async locked<T>(live: Live, fn: () => Promise<T>): Promise<T> {
    const next = live.chain.then(fn, fn);
    live.chain = next.catch(() => undefined);
    return next;
  }

  private lookup(idOrName: string): Live {
    if (!idOrName) throw invalid('invalid name or ID supplied: ""'); // moby's GetContainer
    const byId = this.containers.get(idOrName);
    if (byId) return byId;
    const named = this.names.get(idOrName);
    if (named) {
      const l = this.containers.get(named);
      if (l) return l;
    }
    const linked = this.lookupLinkName(idOrName);
    if (linked) return linked;
    if (/^[a-f0-9]+$/.test(idOrName)) {
      const matches = [...this.containers.keys()].filter((id) => id.startsWith(idOrName));
      if (matches.length > 1) throw invalid(`multiple IDs found with provided prefix: ${idOrName}`);
      if (matches.length === 1) return this.containers.get(matches[0]!)!;
    }
    throw notFound(`No such container: ${idOrName}`);
  }

  /**
   * A legacy link's name, `/<linker>/<alias>` (the leading slash optional): dockerd reserves it in
   * its name registry for the linked container, so it names that one anywhere a container is
   * named (inspect, rm, …). A linked container that was removed is not found by it.
   */
  private lookupLinkName(name: string): Live | undefined {
    const ln = parseLinkName(name);
    if (!ln) return undefined;
    const parentId = this.names.get(ln.linker);
    const link = parentId === undefined ? undefined : this.containers.get(parentId)?.rec.LegacyLinks?.find((l) => l.Alias === ln.alias);
    return link && this.containers.get(link.Id);
  }

  private async get(idOrName: string): Promise<Live> {
    await this.ready;
    return this.lookup(idOrName);
  }

  /**
   * The containers `rec` links to on the default bridge (HostConfig.Links left there by the
   * network plan, resolved at create: rec.LegacyLinks), each with its address there.
   * Only for a container on the default bridge (dockerd's setupLinkedContainers, which a start, an
   * exec's create and each health probe run): a linked container that is not running, or not on
   * the default bridge, refuses it in dockerd's words (500).
   */
  private legacyLinks(rec: ContainerRecord): LinkedContainer[] {
    const links = rec.LegacyLinks;
    if (!links?.length) return []; // (every start, exec and probe asks: most have none)
    const bridge = this.net.defaultNetwork();
    if (!bridge || !hasEndpoints(rec) || !this.net.networksOf(rec)[bridge.name]) return [];
    const out: LinkedContainer[] = [];
    for (const { Id, Name, Alias: alias } of links) {
      const child = this.containers.get(Id)?.rec;
      if (!child || !child.State.Running) throw startRefusal(`Cannot link to a non running container: ${child?.Name ?? Name} AS ${rec.Name}/${alias}`);
      const ep = this.net.mgr.endpointsOfContainer(child.Id).find((e) => e.networkId === bridge.id);
      if (!ep) throw startRefusal(`container ${child.Id} not attached to default bridge network`);
      out.push({ ...this.linkNames(child, alias), ip: ep.ip, env: (child.Config.Env as string[] | null | undefined) ?? [], exposedPorts: Object.keys((child.Config.ExposedPorts as Record<string, unknown> | null | undefined) ?? {}) });
    }
    return out;
  }

  /**
   * A removed container stays linked from its linkers (dockerd's link index keeps the container:
   * inspect's Links name it, a Refresh writes its line): its last name and hostname go into
   * their LegacyLinks.
   */
  private keepRemovedLinkNames(child: ContainerRecord): void {
    const hostname = linkHostname(child);
    for (const l of this.containers.values()) {
      let changed = false;
      for (const link of l.rec.LegacyLinks ?? []) {
        if (link.Id !== child.Id || (link.Name === child.Name && link.Hostname === hostname)) continue;
        Object.assign(link, { Name: child.Name, Hostname: hostname });
        changed = true;
      }
      if (changed) this.save(l);
    }
  }

  /**
   * rec.LinkHosts of a running linker whose record a session-12 daemon wrote (it had none): the
   * link lines its start wrote into /etc/hosts (each link's alias first on its line; the last such
   * line), else, for a link without one, the linked container's line now if it runs on the
   * default bridge. Without it a network connect or disconnect rewrote the file without them.
   */
  private deriveLinkHosts(live: Live): void {
    const rec = live.rec;
    let text = '';
    try {
      text = readFileSync(rec.HostsPath, 'utf8');
    } catch (err) {
      this.log.warn(`read ${rec.HostsPath} of ${rec.Id.slice(0, 12)} for its link lines: ${(err as Error).message}`);
    }
    const written = linkLinesOf(text, (rec.LegacyLinks ?? []).map((l) => l.Alias));
    const entries: HostsEntry[] = [];
    for (const l of rec.LegacyLinks ?? []) {
      const line = written.get(l.Alias);
      const child = this.containers.get(l.Id)?.rec;
      const ip = child ? this.bridgeAddress(child) : '';
      if (line) entries.push(line);
      else if (child && ip) entries.push(linkHostsEntry({ ...this.linkNames(child, l.Alias), ip }));
    }
    rec.LinkHosts = entries;
    this.save(live);
  }

  private linkNames(child: ContainerRecord, alias: string): { alias: string; name: string; hostname: string } {
    return { alias, name: child.Name.replace(/^\//, ''), hostname: linkHostname(child) };
  }

  /** The linked container's address on the default bridge while it runs there, else "" (dockerd clears it at the stop). */
  private bridgeAddress(child: ContainerRecord): string {
    const bridge = this.net.defaultNetwork();
    if (!bridge || !child.State.Running) return '';
    return this.net.mgr.endpointsOfContainer(child.Id).find((e) => e.networkId === bridge.id)?.ip ?? '';
  }

  /**
   * inspect's HostConfig.Links for legacy links, as dockerd shows them ("/<linked>:/<me>/<alias>",
   * current names; a removed linked container keeps its link under its last name, as dockerd's
   * link index keeps it: seen in a 20.10 lab; null once `rm --link` took the last one);
   * undefined: HostConfig.Links as stored.
   */
  private linksView(rec: ContainerRecord): string[] | null | undefined {
    if (!rec.LegacyLinks) return undefined;
    if (rec.LegacyLinks.length === 0) return null;
    return rec.LegacyLinks.map((l) => `${this.containers.get(l.Id)?.rec.Name ?? l.Name}:${rec.Name}/${l.Alias}`);
  }

  /**
   * A container that starts on the default bridge (a new address there) has that address written
   * into the /etc/hosts of the running containers linked to it (dockerd's ParentUpdate: libnetwork's
   * etchosts.Update of each link's alias, in place; nothing else in the file changes), and into
   * their rec.LinkHosts. Containers on their network (container:<linker>) have a copy of the
   * linker's file (dockerd: the same file): updated too.
   */
  private updateLinkingHosts(child: ContainerRecord): void {
    const mode = child.HostConfig.NetworkMode as string;
    if (mode === 'host' || mode.startsWith('container:')) return; // dockerd: not IsPrivate
    const ip = this.bridgeAddress(child);
    if (!ip) return; // dockerd: no endpoint on the default bridge, no parent updates
    for (const l of this.containers.values()) {
      const r = l.rec;
      if (!r.LegacyLinks || !r.State.Running) continue;
      const aliases = r.LegacyLinks.filter((x) => x.Id === child.Id).map((x) => x.Alias);
      if (aliases.length === 0) continue;
      const sharers = [...this.containers.values()].filter((s) => s.rec.State.Running && s.rec.HostConfig.NetworkMode === `container:${r.Id}`);
      for (const path of [r.HostsPath, ...sharers.map((s) => s.rec.HostsPath)]) {
        try {
          const old = readFileSync(path, 'utf8');
          const text = aliases.reduce((t, a) => updateHostsAddress(t, a, ip), old);
          if (text !== old) writeFileSync(path, text); // in place: the bind mount follows the inode
        } catch (err) {
          this.log.warn(`update ${path} of ${r.Id.slice(0, 12)} for its link to ${child.Name}: ${(err as Error).message}`);
        }
      }
      if (r.LinkHosts) {
        r.LinkHosts = r.LinkHosts.map((e) => aliases.reduce((x, a) => updateHostsEntry(x, a, ip), e));
        this.save(l);
      }
    }
  }

  private linkedEnv(rec: ContainerRecord): string[] {
    return this.legacyLinks(rec).flatMap((c) => linkEnv(rec.Name, c));
  }

  private emit(live: Live, action: string, extra: Record<string, string> = {}): void {
    const labels = (live.rec.Config.Labels as Record<string, string> | null) ?? {};
    this.bus.emit('container', action, live.rec.Id, { ...labels, image: String(live.rec.Config.Image), name: live.rec.Name.slice(1), ...extra });
  }

  /**
   * State transitions: atomic (rename) but not fsync'd, see reconcile(); written off the event
   * loop, in order, after the caller's answer (RecordStore.saveSoon).
   */
  private save(live: Live): void {
    this.records.saveSoon(live.rec, (e) => this.log.warn(e.message));
  }

  private monitorDirOf(id: string): string {
    return join(this.execRoot, 'monitors', id);
  }

  private bundleDir(id: string): string {
    return join(this.execRoot, 'containers', id);
  }

  private rootfsDir(id: string): string {
    return join(this.bundleDir(id), 'rootfs');
  }

  /** `onSnapshot`: told the snapshot mounted (not when the rootfs was mounted already). */
  private async mountRootfs(id: string, onSnapshot?: (snap: ContainerSnapshot) => void): Promise<string> {
    const target = this.rootfsDir(id);
    mkdirSync(target, { recursive: true, mode: 0o755 });
    if (isMountPoint(target)) return target;
    const snap = this.snapshots.container(id);
    onSnapshot?.(snap);
    if (!(await mountOverlay(target, snap))) await this.snapshots.mountRootfs(id, target);
    return target;
  }

  /** A created container's missing working directory, made in its rootfs (mounted for it), as the start's. */
  private async makeWorkingDir(id: string, snap: ContainerSnapshot, wd: string): Promise<void> {
    const target = this.rootfsDir(id);
    mkdirSync(target, { recursive: true, mode: 0o755 });
    try {
      if (!(await mountOverlay(target, snap))) await this.snapshots.mountRootfs(id, target);
      ensureWorkingDir(target, wd);
    } finally {
      await this.unmountRootfs(id);
    }
  }

  private async unmountRootfs(id: string): Promise<void> {
    const target = this.rootfsDir(id);
    for (let i = 0; i < 5 && isMountPoint(target); i++) {
      try {
        if ((await unmount(target)) === 'unavailable') await this.snapshots.unmountRootfs(target);
      } catch (err) {
        if (i === 4) throw err;
        await sleep(50 * (i + 1)); // EBUSY: a process of ours (cp, tar) may still be in there
      }
    }
    await removeTree(this.bundleDir(id));
  }

  private cgroupsPathOf(rec: ContainerRecord): string {
    const parent = (rec.HostConfig.CgroupParent as string) || this.cgroupParent;
    return `${parent.replace(/\/+$/, '')}/${rec.Id}`;
  }

  private isRunning(live: Live): boolean {
    return live.rec.State.Running;
  }

  // ------------------------------------------------------------------ system

  version(): Json {
    return {
      Platform: { Name: 'hako' },
      Components: [{ Name: 'Engine', Version: ENGINE_VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: '1.24', Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch, KernelVersion: osRelease() } }],
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: '1.24',
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      KernelVersion: osRelease(),
      BuildTime: '',
    };
  }

  private caps: HostCaps | undefined;

  /** The kernel's resource controls, read once (as dockerd's sysinfo at its start). */
  private hostCaps(): HostCaps {
    // From the runtime's kept view of the cgroup mounts (runtime/cgroups/host.ts): one read of mountinfo.
    return (this.caps ??= readHostCaps({ mountinfo: this.runtime.ctx.cgroupHost?.get().mountinfo }));
  }

  private overlay: Promise<OverlayStatus> | undefined;

  async info(): Promise<Json> {
    await this.ready;
    // Probed once, at the first info (overlay mounts under snapshots/tmp: a few ms), as dockerd at its start.
    const overlay = await (this.overlay ??= probeOverlay(this.snapshots.root, { ...hostProbe, debug: (m) => this.log.info?.(m) }));
    const all = [...this.containers.values()].map((l) => l.rec.State.Status);
    const images = await this.images.list().catch(() => []);
    const cgv = (() => {
      try {
        return detectCgroupMode() === 'v2' ? '2' : '1';
      } catch {
        return '1';
      }
    })();
    const caps = this.hostCaps();
    const ipv4Forwarding = this.net.ipForwarding();
    return {
      ID: '',
      Containers: all.length,
      ContainersRunning: all.filter((s) => s === 'running').length,
      ContainersPaused: all.filter((s) => s === 'paused').length,
      ContainersStopped: all.filter((s) => s !== 'running' && s !== 'paused').length,
      Images: images.length,
      Driver: 'overlay2',
      DriverStatus: overlayDriverStatus(this.snapshots.root, overlay),
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file', 'none'] },
      MemoryLimit: caps.memoryLimit,
      SwapLimit: caps.swapLimit,
      CpuCfsPeriod: caps.cpuCfsPeriod,
      CpuCfsQuota: caps.cpuCfsQuota,
      CPUShares: caps.cpuShares,
      CPUSet: caps.cpuSet,
      PidsLimit: caps.pidsLimit,
      OomKillDisable: caps.oomKillDisable,
      IPv4Forwarding: ipv4Forwarding,
      BridgeNfIptables: readSysctl('/proc/sys/net/bridge/bridge-nf-call-iptables') === '1',
      BridgeNfIp6tables: readSysctl('/proc/sys/net/bridge/bridge-nf-call-ip6tables') === '1',
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: nowRfc3339Nano(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cgv,
      NEventsListener: 0,
      KernelVersion: osRelease(),
      OSType: 'linux',
      Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
      NCPU: cpus().length,
      MemTotal: totalmem(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
      GenericResources: null,
      DockerRootDir: this.root,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: hostHostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: RUNTIMES,
      DefaultRuntime: 'hako',
      LiveRestoreEnabled: false,
      Isolation: '',
      InitBinary: 'hako-init',
      SecurityOptions: ['name=seccomp,profile=builtin'],
      Warnings: [...infoWarnings(caps, ipv4Forwarding), ...this.net.warnings()],
    };
  }

  async df(what: DiskUsageKinds = { containers: true, images: true, volumes: true, buildCache: true }): Promise<Json> {
    await this.ready;
    const containers = what.containers ? await this.listContainers({ all: true, size: true }) : null;
    let volumes: Json[] | null = null;
    if (what.volumes) {
      volumes = [];
      for (const name of this.volumes.names()) {
        const meta = this.volumes.get(name);
        // dockerd's LocalVolumesSize leaves out volumes with mount options (type/device/o: often
        // remote mounts, an NFS share, whose size is not local disk use).
        if (Object.keys(meta.Options ?? {}).length > 0) continue;
        volumes.push(this.volumes.view(meta, { size: await fsops.diskUsage(this.volumes.dataPath(name)), refs: this.volumeUsers(name).length }));
      }
    }
    // Like dockerd: a layer shared by several images counts once in LayersSize and in each one's SharedSize.
    const du = what.images ? await this.images.diskUsage().catch(() => ({ layersSize: 0, images: [] })) : undefined;
    // As dockerd's image list without `all`: no intermediate images (untagged, with a child: a
    // build's steps); each with its parent and its config's labels (as /images/json: {} for none).
    const parents = new Set(du?.images.map((i) => i.parent).filter((p) => p !== undefined));
    const listed = du?.images.filter((i) => i.repoTags.length > 0 || !parents.has(i.id));
    const labels = new Map<string, Json>();
    for (const i of listed ?? []) labels.set(i.id, ((await this.images.inspect(i.id).catch(() => undefined))?.config.config?.Labels as Json | null | undefined) ?? {});
    return {
      LayersSize: du?.layersSize ?? 0,
      Images: listed ? listed.map((i) => ({ Id: i.id, ParentId: i.parent ?? '', RepoTags: i.repoTags, RepoDigests: i.repoDigests, Created: i.created ? Math.floor(Date.parse(i.created) / 1000) : 0, Size: i.size, SharedSize: i.sharedSize, Labels: labels.get(i.id) ?? {}, Containers: [...this.containers.values()].filter((l) => l.rec.Image === i.id).length })) : null,
      Containers: containers,
      Volumes: volumes,
      // No BuildKit cache: dockerd's builder answers an empty list ([], not null) when asked.
      BuildCache: what.buildCache ? [] : null,
    };
  }

  events(opts: { since?: number; until?: number; filters?: Filters; signal?: AbortSignal }): AsyncIterable<EngineEvent> {
    return this.bus.stream(opts);
  }

  // ------------------------------------------------------------------ create

  async createContainer(name: string | undefined, body: ContainerCreateBody, opts: { platform?: string } = {}): Promise<{ Id: string; Warnings: string[] }> {
    await this.ready;
    if (this.closed) throw new HakoError({ step: 'create container: the engine is shutting down', kind: 'conflict' });
    const id = randomBytes(32).toString('hex');
    this.trace.mark(id, 'create.begin');
    const imageRef = body.Image as string | undefined;
    if (!imageRef) throw invalid('Config.Image is required', 'name the image to create the container from');
    checkNetworkModeConflicts(body, (body.HostConfig ?? {}) as Json);
    let image;
    try {
      image = await this.imageForCreate(imageRef);
    } catch (err) {
      if (err instanceof HakoError && err.kind === 'not-found') throw notFound(`No such image: ${dockerErrorName(imageRef)}`);
      throw err;
    }
    if (opts.platform) {
      const [os, arch] = opts.platform.split('/');
      if ((os && os !== image.platform.os) || (arch && arch !== image.platform.architecture)) {
        throw notFound(`image with reference ${imageRef} was found but does not match the specified platform: wanted ${opts.platform}, actual: ${image.platform.os}/${image.platform.architecture}`);
      }
    }
    this.trace.mark(id, 'create.image');
    const merged = mergeConfig(body, (image.config.config ?? {}) as Record<string, unknown>, id);
    // The daemon's defaults for what the client left unset (dockerd records them at create).
    const asked = (body.HostConfig ?? {}) as Json;
    if (!asked.IpcMode && this.defaultIpcMode) merged.HostConfig.IpcMode = this.defaultIpcMode;
    if (!(Number(asked.ShmSize ?? 0) > 0) && this.defaultShmSize !== undefined) merged.HostConfig.ShmSize = this.defaultShmSize;
    const discarded = discardUnsupported(merged.HostConfig, this.hostCaps());
    // Validate what would otherwise only fail at start.
    applyCapChanges({ add: (merged.HostConfig.CapAdd as string[] | null) ?? [], drop: (merged.HostConfig.CapDrop as string[] | null) ?? [] });
    securityOpts(merged.HostConfig);
    const nm = merged.HostConfig.NetworkMode as string;
    // A 404 from create means "no such image" to the docker CLI, which then tries to pull it: a
    // missing network or network container is a bad parameter here (400), with the same message.
    const notFoundIsInvalid = <T>(f: () => T): T => {
      try {
        return f();
      } catch (err) {
        if (err instanceof HakoError && err.kind === 'not-found') throw new HakoError({ step: err.step, hint: err.hint, kind: 'invalid-argument', cause: err });
        throw err;
      }
    };
    // dockerd records container:<name> modes by the donor's full ID (so a rename of it changes
    // nothing); a missing --pid/--ipc donor is refused here, as dockerd does.
    if (nm.startsWith('container:')) merged.HostConfig.NetworkMode = `container:${notFoundIsInvalid(() => this.lookup(nm.slice('container:'.length))).rec.Id}`;
    for (const key of ['PidMode', 'IpcMode'] as const) {
      const mode = String(merged.HostConfig[key] ?? '');
      // dockerd keeps an IpcMode of `container:` (no name) as it is, and start refuses it.
      if (key === 'IpcMode' && mode === 'container:') continue;
      if (mode.startsWith('container:')) merged.HostConfig[key] = `container:${notFoundIsInvalid(() => this.lookup(mode.slice('container:'.length))).rec.Id}`;
    }
    const netPlan = notFoundIsInvalid(() => this.net.plan(
      merged.HostConfig,
      merged.Config,
      ((body.NetworkingConfig as Json | undefined)?.EndpointsConfig ?? null) as Record<string, unknown> | null,
      typeof body.MacAddress === 'string' && body.MacAddress ? body.MacAddress : undefined,
    ));
    // --volumes-from: each named container's volumes and binds (not tmpfs), read-only with `:ro`,
    // shown without a Mode, never filled from the image (dockerd's CopyData false).
    const inherited = new Set<MountPoint>();
    for (const spec of (merged.HostConfig.VolumesFrom as string[] | null) ?? []) {
      const { ref, readOnly } = parseVolumesFrom(String(spec));
      const donor = notFoundIsInvalid(() => this.lookup(ref)).rec;
      for (const m of donor.MountPoints) {
        if (m.Type === 'tmpfs') continue;
        const copy: MountPoint = { ...m, Mode: '', RW: m.RW && !readOnly };
        if (copy.Type === 'volume') copy.NoCopy = true;
        inherited.add(copy);
      }
    }
    // Links left in HostConfig (not a user network): dockerd's registerLinks wants each container,
    // and links to the container whose network a container:<x> one uses (followed to the end);
    // one on the host network is refused. A second link of the same alias is left out (its name
    // /<me>/<alias> is taken: dockerd warns and goes on).
    const legacyLinks: NonNullable<ContainerRecord['LegacyLinks']> = [];
    const childOf = (ref: string): ContainerRecord => {
      try {
        return this.lookup(ref).rec;
      } catch {
        throw invalid(`could not get container for ${ref}: No such container: ${ref}`);
      }
    };
    for (const l of (merged.HostConfig.Links as string[] | null) ?? []) {
      const { name: target, alias } = parseLink(String(l));
      let child = childOf(target);
      for (let hops = 0; String(child.HostConfig.NetworkMode).startsWith('container:'); hops++) {
        if (hops > this.containers.size) throw invalid(`could not get container for ${target}: its network mode loops`);
        child = childOf(String(child.HostConfig.NetworkMode).slice('container:'.length));
      }
      if (child.HostConfig.NetworkMode === 'host') throw invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
      if (legacyLinks.some((x) => x.Alias === alias)) {
        this.log.warn(`error registering link for the new container, to ${child.Id}, as alias ${alias}, ignoring: the name is reserved`);
        continue;
      }
      legacyLinks.push({ Id: child.Id, Name: child.Name, Alias: alias, Hostname: linkHostname(child) });
    }
    const mounts = collectMounts(merged.Config, merged.HostConfig, [...inherited]);
    const logCfg = merged.HostConfig.LogConfig as { Type: string; Config: Record<string, string> };
    if (logCfg.Config['max-size']) parseLogSize(logCfg.Config['max-size']);

    const finalName = name === undefined || name === '' ? undefined : normalizeName(name);
    if (finalName) this.names.reserve(finalName, id);
    const chosen = finalName ?? this.names.generate(id);
    const dir = this.records.containerDir(id);
    this.trace.mark(id, 'create.validated');
    const undo: Array<() => Promise<void> | void> = [() => this.names.release(chosen, id)];
    try {
      mkdirSync(dir, { recursive: true, mode: 0o710 });
      undo.push(() => rmSync(dir, { recursive: true, force: true }));
      // Volumes: named ones are created if missing, anonymous ones get a fresh name.
      const created: string[] = [];
      for (const m of mounts) {
        if (m.Type !== 'volume') {
          if (m.Type === 'bind' && !existsSync(m.Source)) {
            if ((merged.HostConfig.Binds as string[] | null)?.some((b) => b.startsWith(`${m.Source}:`))) mkdirSync(m.Source, { recursive: true });
            else throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
          }
          continue;
        }
        // --mount volume-opt=…: options for a volume made here (an existing one keeps its own, as dockerd).
        const options = m.DriverOpts;
        delete m.DriverOpts;
        // A driver other than local is dockerd's 404 "error looking up volume plugin" (no plugins here).
        const res = this.volumes.create({ name: m.Name || undefined, anonymous: !m.Name, driver: m.Driver, ...(options ? { options } : {}) });
        // dockerd's volume service logs `create` for every volume a container names, made now
        // or not (its Create returns the existing one): one event per mount, in order; not for
        // a --volumes-from one (dockerd gets those).
        if (!inherited.has(m)) created.push(res.meta.Name);
        if (res.created) undo.push(() => this.volumes.remove(res.meta.Name, []));
        m.Name = res.meta.Name;
        m.Source = this.volumes.dataPath(res.meta.Name);
        if (m.Anonymous === undefined) m.Anonymous = false;
      }
      // The rootfs snapshot, the image lease and the record: small files and dirs, written
      // synchronously (tens of µs each), not through the thread pool, where they would queue
      // behind the background deletions of containers removed just before. The record, fsync'd
      // after the answer (below), is what makes the container exist.
      let prepared = false;
      undo.push(() => {
        if (prepared) return this.snapshots.removeContainer(id);
      });
      // The image's init layer (once per image): a container has /.dockerenv, /etc/hosts, … from
      // its create on, as dockerd's (`docker export` / `docker cp` of a created container).
      if (image.record.chainIds.length > 0 && !this.snapshots.hasInitLayer(image.record.chainIds[image.record.chainIds.length - 1]!)) {
        try {
          await this.snapshots.ensureInitLayer(image.record.chainIds);
        } catch (err) {
          // The container goes without it: its start makes /.dockerenv and the mount targets.
          this.log.warn(`${(err as Error).message}: container ${id} is created without it`);
        }
      }
      const snap = this.snapshots.prepareContainerSync(id, image.record.chainIds);
      prepared = true;
      // dockerd makes the working directory at create (SetupWorkingDirectory, its rootfs mounted:
      // `docker cp`, `diff` and `export` of the created container show it), root's 0755, and
      // refuses one that is not a directory (500, its words). The image's layers tell without a
      // mount whether it is there; only a missing one mounts the rootfs to make it. Volumes and
      // binds are not mounted then (as dockerd): one that covers it gets it by the copy-up, or the
      // runtime makes it at start inside the mount (as runc does with the cwd).
      const wd = merged.Config.WorkingDir as string;
      const wdStat = wd ? statInLayers([snap.upperdir, ...snap.lowerdirs], wd) : undefined;
      if (wdStat?.isDirectory() === false) throw new HakoError({ step: `Cannot mkdir: ${wd} is not a directory`, kind: 'internal' });
      if (wd && !wdStat) await this.makeWorkingDir(id, snap, wd);
      this.trace.mark(id, 'create.snapshot');
      // Not fsync'd: a lease a crash loses is restored from the record at start (sweepOrphans).
      undo.push(() => this.images.removeLease(id));
      await this.images.addLease(id, image.id, { durable: false });
      this.trace.mark(id, 'create.lease');
      const rec: ContainerRecord = {
        Id: id,
        Name: chosen,
        Created: nowRfc3339Nano(),
        Path: merged.Path,
        Args: merged.Args,
        Config: merged.Config,
        HostConfig: merged.HostConfig,
        Image: image.id,
        State: initialState(),
        RestartCount: 0,
        MountPoints: mounts,
        Platform: image.platform.os,
        LogPath: logCfg.Type === 'none' ? '' : join(dir, `${id}-json.log`),
        ResolvConfPath: join(dir, 'resolv.conf'),
        HostnamePath: join(dir, 'hostname'),
        HostsPath: join(dir, 'hosts'),
        HasBeenManuallyStopped: false,
        HasBeenStartedBefore: false,
        ChainIds: image.record.chainIds,
        Networks: netPlan.networks,
        ...(legacyLinks.length ? { LegacyLinks: legacyLinks } : {}),
      };
      // Its /etc files (hostname, hosts, resolv.conf) are written by the start (as dockerd
      // does): nothing reads them before.
      this.trace.mark(id, 'create.files');
      // The record is written in full under a temp name (after the snapshot and lease). Its
      // fsync and rename (the commit point) run after the answer (RecordStore.commitSoon). A
      // daemon killed before the rename leaves the complete temp record, which the start-up
      // commits (loadAll); a host crash within those ~2 ms may leave it torn: then the start-up
      // removes the dir, and reconcile() sweeps the snapshot and lease (a container that was
      // only created is lost). It never runs without a durable record: start awaits `live.durable`.
      const staged = this.records.stageCreateSync(rec);
      this.trace.mark(id, 'create.staged');
      undo.push(() => staged.abort());
      const durable = this.records.commitSoon(rec, staged, (e) => this.log.warn(e.message));
      this.trace.mark(id, 'create.saved');
      const live: Live = { rec, chain: Promise.resolve(), exitWaiters: [], removeWaiters: [], execs: new Set(), stopping: false, pending: [], durable };
      this.containers.set(id, live);
      for (const v of created) this.bus.emit('volume', 'create', v, { driver: 'local' });
      this.emit(live, 'create');
      return { Id: id, Warnings: [...merged.Warnings, ...discarded, ...netPlan.warnings] };
    } catch (err) {
      for (const u of undo.reverse()) {
        try {
          await u();
        } catch {
          /* best effort */
        }
      }
      throw err;
    }
  }

  /**
   * What create needs of an image: its record and config. Not ImageService.inspect, which also
   * lists every lease (a file per container) for `usedBy`. Configs are content-addressed: the
   * parsed ones are kept (a few; the image's existence is still checked on disk every time).
   */
  private async imageForCreate(ref: string): Promise<{ id: ImageRecord['id']; record: ImageRecord; config: ImageConfig; platform: ImageRecord['platform'] }> {
    const record = await this.images.resolve(ref);
    let config = this.imageConfigs.get(record.id);
    if (!config) {
      config = parseImageConfig(await this.images.content.readBlob(record.id));
      if (this.imageConfigs.size >= 32) this.imageConfigs.delete(this.imageConfigs.keys().next().value!);
      this.imageConfigs.set(record.id, config);
    }
    return { id: record.id, record, config, platform: record.platform };
  }

  // ------------------------------------------------------------------ start / exit

  async startContainer(idOrName: string): Promise<'started' | 'already-running'> {
    const live = await this.get(idOrName);
    this.trace.mark(live.rec.Id, 'start.begin');
    return this.locked(live, async () => {
      this.trace.mark(live.rec.Id, 'start.locked');
      const st = live.rec.State;
      if (st.Paused) throw conflict('cannot start a paused container, try unpause instead');
      if (st.Running) return 'already-running'; // docker answers 304 Not Modified
      if (st.Status === 'removing' || st.Status === 'dead') throw conflict(`cannot start container ${live.rec.Id}: container is marked for removal`);
      if (live.restartTimer) {
        clearTimeout(live.restartTimer);
        live.restartTimer = undefined;
      }
      live.rec.HasBeenManuallyStopped = false;
      live.rec.RestartCount = 0;
      await this.startLocked(live);
      return 'started' as const;
    });
  }

  /**
   * The start's spec and its config.json write (for the runtime's own state and CLI), which runs
   * while the runtime launches from the spec in memory; the start answers once both are done.
   */
  /**
   * --pid/--ipc container:<id> (dockerd's checks and words, at start): the donor must run; an IPC
   * donor must be shareable (IpcMode shareable, or host). SysV IPC, POSIX message queues and
   * /dev/shm (a bind of the donor's host-side tmpfs) are shared. And what goes on /dev/shm, for
   * every IPC mode (shm-mounts.ts).
   */
  private namespaceJoins(rec: ContainerRecord): { pidnsPath?: string; ipcnsPath?: string; shm: ShmPlan } {
    const out: { pidnsPath?: string; ipcnsPath?: string } = {};
    const pidMode = String(rec.HostConfig.PidMode ?? '');
    if (pidMode.startsWith('container:')) {
      const donor = this.lookup(pidMode.slice('container:'.length)).rec;
      if (!donor.State.Running || donor.State.Pid <= 0) throw startRefusal(`container ${donor.Id} is not running`);
      out.pidnsPath = `/proc/${donor.State.Pid}/ns/pid`;
    }
    const ipcMode = String(rec.HostConfig.IpcMode ?? '');
    // dockerd takes any IpcMode at create and refuses an unknown one at start (500, these words).
    if (!IPC_MODES.has(ipcMode) && !ipcMode.startsWith('container:')) throw new HakoError({ step: `Invalid IPC mode: ${ipcMode}`, kind: 'internal' });
    let ipcDonor: ContainerRecord | undefined;
    if (ipcMode.startsWith('container:')) {
      const ref = ipcMode.slice('container:'.length);
      let donor: ContainerRecord;
      try {
        donor = this.lookup(ref).rec;
      } catch (err) {
        // Removed since (dockerd's words: "can't join IPC of container <id>: No such container: <id>").
        if (err instanceof HakoError) throw new HakoError({ step: `can't join IPC of container ${ref}: ${err.step}`, kind: 'internal', cause: err }); // 500, as dockerd
        throw err;
      }
      if (!donor.State.Running || donor.State.Pid <= 0) throw startRefusal(`can't join IPC of container ${ref}: container ${donor.Id} is not running`);
      // dockerd checks that the donor has a /dev/shm of its own on the host: shareable ones, and
      // those of the host's IPC (the joiner then shares the host's, namespace and /dev/shm).
      if (donor.HostConfig.IpcMode !== 'shareable' && donor.HostConfig.IpcMode !== 'host') throw startRefusal(`can't join IPC of container ${ref}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
      out.ipcnsPath = `/proc/${donor.State.Pid}/ns/ipc`;
      ipcDonor = donor;
    }
    return { ...out, shm: this.shm.plan(rec, ipcDonor) };
  }

  private buildForStart(rec: ContainerRecord, rootfs: string, user: ReturnType<typeof resolveUser>, netnsPath: string | undefined, joins: { pidnsPath?: string; ipcnsPath?: string; shm?: ShmPlan } = {}, linkedEnv: readonly string[] = []): { spec: Spec; specJson: string; written: Promise<void> } {
    const cgroupV2 = (() => {
      try {
        return (this.runtime.ctx.cgroupHost?.get().mode ?? detectCgroupMode()) === 'v2'; // read once (runtime cgroups/host.ts)
      } catch {
        return false;
      }
    })();
    const spec: Spec = buildSpec({ rec, rootfs, user, initBinary: this.initBinary, cgroupsPath: this.cgroupsPathOf(rec), netnsPath, cgroupV2, ...joins, linkedEnv });
    // Serialised once: config.json here, the runtime's state records (LaunchOptions.specJson).
    const specJson = specToJson(spec);
    // Synchronous: the exec root is a tmpfs (/run) as a rule, where the write takes ~20 µs; through
    // fs/promises (open, write, close on the pool) it cost the event loop ~0.25 ms under --no-opt.
    let written: Promise<void>;
    try {
      writeFileSync(join(this.bundleDir(rec.Id), 'config.json'), specJson);
      written = Promise.resolve();
    } catch (err) {
      written = Promise.reject(err);
      written.catch(() => undefined);
    }
    return { spec, specJson, written };
  }

  private async copyUp(rootfs: string, m: MountPoint): Promise<void> {
    if (m.Type !== 'volume' || m.NoCopy || !m.Source) return;
    const marker = join(dirname(m.Source), '.copied-up');
    if (existsSync(marker)) return;
    // `.copying-up` while the copy runs, `.copied-up` once it is done: a crash in between (the
    // copy not started, or cut short with the host) left a volume that was empty, or partly
    // filled by us, before its first container ever ran: emptied and filled again. (The marker
    // used to be written first: a crash before the copy left the volume empty for good.)
    const pending = join(dirname(m.Source), '.copying-up');
    const src = resolveInRoot(rootfs, m.Destination);
    if (!existsSync(src) || !statSync(src).isDirectory()) return writeFileSync(marker, '');
    if (existsSync(pending)) {
      for (const n of readdirSync(m.Source)) await rm(join(m.Source, n), { recursive: true, force: true });
    } else if (readdirSync(m.Source).length > 0) return writeFileSync(marker, '');
    writeFileSync(pending, '');
    this.trace.mark('-', 'copyup.pending');
    // docker copies the image's content at the mount point into an empty volume, owner and mode
    // included. Through fds pinned beneath the volume's dir (copy-in-root.ts): a running container
    // sharing the volume (volume-nocopy) swapped a directory of the copy for a symlink and `cp -a`
    // wrote the rest of it on the host.
    try {
      await copyTreeInRoot(src, m.Source);
    } catch (err) {
      throw new HakoError({ step: `copy the image's ${m.Destination} into volume ${m.Name ?? m.Source}`, hint: err instanceof HakoError ? err.message : (err as Error).message, kind: err instanceof HakoError ? err.kind : 'internal', cause: err });
    }
    const st = statSync(src);
    await run('chown', [`${st.uid}:${st.gid}`, m.Source]);
    await run('chmod', [(st.mode & 0o7777).toString(8), m.Source]);
    writeFileSync(marker, '');
    unlinkSync(pending);
  }

  private async startLocked(live: Live): Promise<void> {
    const rec = live.rec;
    const id = rec.Id;
    const hc = rec.HostConfig;
    await this.settled(live);
    live.cleaned = false;
    live.runtimeRecord = undefined; // (an earlier run's, if its release never ran)
    let specWritten: Promise<void> | undefined;
    let netnsAhead: NetnsAhead | undefined;
    let cgroupsAhead: CgroupsAhead | undefined;
    let cgroupsLaunched = false;
    // Networks connected at the fork (supOpts.onForked), and whether the prestart took them.
    let earlyNet: Promise<Array<{ id: string; name: string }>> | undefined;
    let earlyNetTaken = false;
    try {
      const nm = hc.NetworkMode as string;
      // Legacy links: each linked container must run (dockerd refuses the start otherwise). Their
      // /etc/hosts lines are written now (below) and kept for the run (rec.LinkHosts).
      const linked = this.legacyLinks(rec);
      const linkedEnv = linked.flatMap((c) => linkEnv(rec.Name, c));
      if (linked.length) rec.LinkHosts = linked.map(linkHostsEntry);
      else delete rec.LinkHosts;
      // Its own network namespace, made on the other CPU while this start works on the rest.
      if (this.useMonitor && nm !== 'host' && !nm.startsWith('container:')) netnsAhead = this.netnsMaker.begin();
      // And its cgroup dirs (v1: one per hierarchy), once its record is durable (nothing is made
      // before; create's fsync is usually done by now), unless the launch came first.
      if (this.useMonitor) {
        const begin = () => {
          try {
            if (!cgroupsLaunched) cgroupsAhead = this.runtime.cgroupsAhead(id, this.cgroupsPathOf(rec));
          } catch {
            /* the launch makes them, and reports what is wrong */
          }
        };
        if (live.durable) live.durable.then(begin, () => undefined);
        else begin();
      }
      // Runtime state left by an earlier run that was not cleaned up (a crash): out of the way.
      if (existsSync(join(this.execRoot, 'runtime', id))) await this.runtime.delete(id, { force: true }).catch(() => undefined);
      // The host side /etc files (new files on the data root) are written on the thread pool
      // (one job; unchanged ones are only read) while another of its threads mounts the rootfs; a
      // container on another's network writes them below (its checks first).
      const mounting = this.mountRootfs(id);
      let etcWritten: Promise<void> | undefined;
      try {
        etcWritten = nm.startsWith('container:') ? undefined : this.net.writeFilesPooled(rec);
      } catch (err) {
        await mounting.catch(() => undefined); // the cleanup below unmounts it
        throw err;
      }
      etcWritten?.catch(() => undefined); // (handled: awaited below, after the mount)
      let rootfs: string;
      try {
        rootfs = await mounting;
      } catch (err) {
        await etcWritten?.catch(() => undefined); // settled before the cleanup below
        throw err;
      }
      await etcWritten;
      // dockerd's init layer has an empty /.dockerenv: programs look for it to know they run in a
      // container. Made here when the container has no init layer (it was created before this
      // engine made them at create, or its image's layers fill the overlay mount options).
      const dockerenv = join(rootfs, '.dockerenv');
      if (!lstatSafe(dockerenv)) writeFileSync(dockerenv, '', { mode: 0o755 });
      this.trace.mark(id, 'start.rootfs');
      // Volumes with options get their device mounted on _data (the first user mounts it), before
      // the copy-up, which fills the mounted filesystem (as dockerd). Released by releaseRuntime.
      await this.volumeMounts.acquire(id, volumeNamesOf(rec));
      for (const m of rec.MountPoints) await this.copyUp(rootfs, m);
      for (const m of rec.MountPoints) {
        if (m.Type !== 'bind' || existsSync(m.Source)) continue;
        // dockerd creates a missing -v (Binds) source on every start, not only at create; --mount binds must exist.
        if ((hc.Binds as string[] | null)?.some((b) => b.startsWith(`${m.Source}:`))) mkdirSync(m.Source, { recursive: true });
        else throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
      }
      this.trace.mark(id, 'start.copyup');
      const user = resolveUser(rootfs, (rec.Config.User as string) || '', ((hc.GroupAdd as string[] | null) ?? []).map(String));
      // dockerd's SetupWorkingDirectory runs again at start: made at create, it may have been
      // removed since, or a file put there (docker cp).
      const wd = rec.Config.WorkingDir as string;
      if (wd) ensureWorkingDir(rootfs, wd);
      this.trace.mark(id, 'start.user');
      let netnsPath: string | undefined;
      if (nm.startsWith('container:')) {
        const other = this.lookup(nm.slice('container:'.length));
        if (!other.rec.State.Running) throw conflict(`cannot join network of a non running container: ${other.rec.Id}`);
        netnsPath = `/proc/${other.rec.State.Pid}/ns/net`;
        // docker: a container on another's network takes its hostname and domain name too.
        rec.Config.Hostname = other.rec.Config.Hostname;
        rec.Config.Domainname = other.rec.Config.Domainname;
        this.net.writeFiles(rec, other.rec);
      }
      // Networks: the prestart hook (networking attach) writes them again, addresses included.
      // `none`: loopback only; the container's child sets its `lo` up itself (no prestart stop).
      checkDeviceRequests(rec.HostConfig.DeviceRequests);
      const joins = this.namespaceJoins(rec);
      // A shareable container's /dev/shm: a tmpfs on the host side, bound in by the spec (a
      // failure from here on unmounts it: cleanupAfterExit below).
      if (joins.shm.kind === 'bind' && joins.shm.source === this.shm.pathOf(id)) {
        await this.shm.mount(id, shmSizeOf(rec));
        this.trace.mark(id, 'start.shm');
      }
      const built = this.buildForStart(rec, rootfs, user, netnsPath, joins, linkedEnv);
      const spec = built.spec;
      specWritten = built.written;
      this.trace.mark(id, 'start.built');
      const lc = hc.LogConfig as { Type: string; Config: Record<string, string> };
      const supOpts = {
        runtime: this.runtime,
        id,
        bundle: this.bundleDir(id),
        tty: rec.Config.Tty === true,
        openStdin: rec.Config.OpenStdin === true,
        stdinOnce: rec.Config.StdinOnce === true,
        log: {
          driver: lc.Type === 'none' ? 'none' : 'json-file',
          path: rec.LogPath,
          maxSize: lc.Config['max-size'] ? parseLogSize(lc.Config['max-size']) : 0,
          maxFiles: logMaxFiles(rec),
        },
        consoleSize: hc.ConsoleSize as [number, number] | undefined,
        spec,
        specJson: built.specJson,
        // Networks are connected once the container's netns exists, before its program runs.
        ...(nm === 'none' && !hasEndpoints(rec) ? { loopbackUp: true } : {}),
        ...(hasEndpoints(rec) ? {
              // The container's netns made ahead (netnsAhead) is connected as soon as its
              // process is forked, while the child does its mounts, instead of after them, with
              // the child stopped at its prestart checkpoint: the veth, addresses and routes
              // (~2–4 ms of netlink, most of it kernel time) leave the start's critical path.
              onForked: (pid: number, netFd: number | undefined) => {
                if (netFd === undefined) return;
                let own: number;
                try {
                  own = openSync(`/proc/self/fd/${netFd}`, 'r'); // (launch closes netFd itself)
                } catch {
                  return; // connected at the prestart checkpoint, as without a namespace made ahead
                }
                this.trace.mark(id, 'start.net-early');
                earlyNet = this.net.attach(rec, pid, `/proc/self/fd/${own}`).finally(() => closeSync(own));
                earlyNet.catch(() => undefined); // (awaited by the prestart, or by the failure path)
              },
              prestart: async (pid: number) => {
                this.trace.mark(id, 'start.prestart');
                const early = earlyNet;
                earlyNetTaken = true;
                const connected = await (early ?? this.net.attach(rec, pid));
                this.emitConnects(id, connected);
                this.trace.mark(id, 'start.net-attached');
              },
            } : {}),
      };
      // Crash safety: nothing runs (no cgroup is made either) before the record is durable:
      // create answers before its fsync (RecordStore.commitSoon), which runs meanwhile.
      if (live.durable) {
        this.trace.mark(id, 'start.durable-wait');
        try {
          await live.durable;
        } catch (err) {
          throw new HakoError({ step: `start container ${id}: its record could not be saved`, hint: 'remove the container and create it again', kind: 'internal', cause: err });
        }
        live.durable = undefined;
        this.trace.mark(id, 'start.durable');
      }
      let sup: { pid: number; startTime: string | undefined; exited: Promise<ExitInfo> };
      // Clients that attached before this start get the output from its first byte: the monitor
      // holds it until they are connected (below).
      const pending = live.pending.filter((p) => !p.isClosed);
      const holdOutput = pending.filter((p) => p.wantsOutput).length;
      // The first of them are handed to the monitor already connected (see superviseWithMonitor).
      const early = pending.slice(0, MAX_ATTACH_AT_LAUNCH);
      let earlyAttached: Attachment[] = [];
      if (this.useMonitor) {
        const attachAtLaunch = early.map((p) => ({ stdin: p.input !== null, stdout: p.wantsStdout, stderr: p.wantsStderr, closeStdinOnEnd: rec.Config.StdinOnce === true && rec.Config.Tty !== true }));
        const premadeNetwork = netnsAhead?.take();
        cgroupsLaunched = true;
        const ahead = cgroupsAhead;
        cgroupsAhead = undefined;
        const m = await superviseWithMonitor({ ...supOpts, log: { ...supOpts.log, driver: supOpts.log.driver as 'json-file' | 'none' }, monitorDir: this.monitorDirOf(id), cgroupsPath: this.cgroupsPathOf(rec), holdOutput, attachAtLaunch, monitorBinary: this.monitorBin, ...(premadeNetwork === undefined ? {} : { premadeNetwork }), ...(ahead ? { cgroupsAhead: ahead } : {}), ...(this.trace.enabled ? { mark: (p: string, at?: number) => this.trace.mark(id, p, at) } : {}) });
        earlyAttached = m.attachments;
        live.monitorDir = m.monitorDir;
        live.mountNsFd = m.mountNsFd;
        live.runtimeRecord = m.runtimeRecord;
        live.sup = undefined;
        sup = m;
      } else {
        const s = await superviseContainer({ ...supOpts, log: { ...supOpts.log, driver: supOpts.log.driver as 'json-file' | 'none' } });
        live.sup = s;
        sup = s;
      }
      this.trace.mark(id, 'start.launched');
      try {
        await specWritten;
      } catch (err) {
        this.log.warn(`write the bundle config of ${id}: ${(err as Error).message}`);
      }
      Object.assign(rec.State, { Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: sup.pid, ExitCode: 0, Error: '', StartedAt: nowRfc3339Nano() });
      rec.PidStartTime = sup.startTime;
      rec.HasBeenStartedBefore = true;
      // Off the start's answer (a mount on the thread pool); inspect and the exit's release await it.
      if (!nm.startsWith('container:')) live.sandboxBind = this.bindSandboxKey(live);
      // dockerd's host and null drivers give the container an endpoint on its pseudo network.
      const pseudo = nm === 'host' || (nm === 'none' && !rec.NoneDisconnected) ? nm : undefined;
      if (pseudo) rec.PseudoEndpointID = randomBytes(32).toString('hex');
      this.save(live);
      this.updateLinkingHosts(rec);
      if (pseudo) this.bus.emit('network', 'connect', this.net.pseudoId(pseudo), { container: id, name: pseudo, type: networkEventType(pseudo) });
      this.emitVolumeMounts(live);
      live.pending = live.pending.filter((p) => !pending.includes(p));
      pending.forEach((p, k) => (earlyAttached[k] ? p.connectMonitor(earlyAttached[k]) : void this.connectSession(live, p)));
      this.emit(live, 'start');
      void sup.exited.then((info) => {
        this.trace.mark(id, 'exit.seen');
        return this.locked(live, () => this.onExit(live, info));
      });
      this.startHealth(live, true);
      this.trace.mark(id, 'start.done');
    } catch (err) {
      netnsAhead?.drop();
      cgroupsLaunched = true;
      cgroupsAhead?.drop();
      // A launch that failed before its prestart checkpoint, with networks connecting at the
      // fork: the connect is over before the cleanup below releases them, and logged (dockerd
      // connects before its runtime runs: a start failing there has connect, then disconnect).
      if (earlyNet && !earlyNetTaken) {
        const connected = await earlyNet.catch(() => []);
        this.emitConnects(id, connected);
      }
      await specWritten?.catch(() => undefined); // before the cleanup removes the bundle dir
      const dockerMsg = dockerStartMessage(err);
      const msg = dockerMsg ?? (err instanceof Error ? err.message : String(err));
      // dockerd: 127 when the program does not exist, 126 when it cannot be executed (the CLI exits with these).
      const execCode = dockerMsg !== undefined ? dockerStartExitCode(dockerMsg) : err instanceof HakoError && /^exec\b/.test(err.step) ? (err.code === 'ENOENT' ? 127 : err.code === 'EACCES' ? 126 : undefined) : undefined;
      // dockerd: 128 unless an earlier run left a code of its own (its start never resets it).
      Object.assign(rec.State, { Status: rec.HasBeenStartedBefore ? 'exited' : 'created', Running: false, Restarting: false, Pid: 0, Error: msg, ExitCode: execCode ?? (rec.State.ExitCode !== 0 ? rec.State.ExitCode : 128) });
      if (rec.HasBeenStartedBefore) rec.State.FinishedAt = nowRfc3339Nano();
      const autoRemove = hc.AutoRemove === true;
      if (!autoRemove) this.save(live);
      await this.cleanupAfterExit(live).catch(() => undefined);
      // dockerd removes an auto-remove (--rm) container whose start failed: `docker run --rm` waits for that removal.
      if (autoRemove) await this.removeLocked(live, { force: true, volumes: true }).catch((e) => this.log.warn(`auto-remove ${id}: ${(e as Error).message}`));
      if (dockerMsg !== undefined || (err instanceof HakoError && err.kind === 'internal' && /exec|no such file/i.test(msg) && !err.step.startsWith('error while mounting volume'))) throw new HakoError({ step: msg, kind: 'invalid-argument', cause: err });
      throw err;
    }
  }

  /**
   * releaseRuntime a little later (CLEANUP_DELAY_MS), tracked in `live.cleaning`: the requests
   * that usually follow an exit (the wait answer, the attach end, `rm`) are answered first, with
   * the event loop free of its synchronous cgroup and mount work. Whoever needs it done sooner
   * (start, remove, cp/export, close) runs it at once through settled().
   */
  private deferCleanup(live: Live): void {
    const id = live.rec.Id;
    let kick!: () => void;
    const kicked = new Promise<void>((r) => (kick = r));
    const timer = setTimeout(kick, CLEANUP_DELAY_MS);
    const p: Promise<void> = kicked
      .then(() => this.releaseRuntime(live))
      .catch((e: unknown) => this.log.warn(`clean up after ${id} exited: ${(e as Error).message}`))
      .finally(() => {
        this.background.delete(p);
        if (live.cleaning?.done === p) live.cleaning = undefined;
      });
    live.cleaning = {
      done: p,
      now: () => {
        clearTimeout(timer);
        kick();
      },
    };
    this.background.add(p);
  }

  /** Runs a cleanup deferred after the container's last exit (deferCleanup) now, and waits for it. */
  private async settled(live: Live): Promise<void> {
    while (live.cleaning) {
      live.cleaning.now();
      await live.cleaning.done;
    }
  }

  /** Runtime state, cgroups and the rootfs mount of a container whose process is gone. */
  private async cleanupAfterExit(live: Live): Promise<void> {
    await this.releaseNetworks(live);
    await this.releaseRuntime(live);
  }

  /**
   * A start's network `connect` events, once connected: a start that fails after this point (the
   * program is missing) has the connect before its cleanup's disconnect, as dockerd's.
   */
  private emitConnects(id: string, connected: Array<{ id: string; name: string }>): void {
    for (const n of connected) this.bus.emit('network', 'connect', n.id, { container: id, name: n.name, type: networkEventType(n.name) });
  }

  /** dockerd's `volume mount` events at a start, one per volume mount (binds and tmpfs have none). */
  private emitVolumeMounts(live: Live): void {
    const vols = live.rec.MountPoints.filter((m) => m.Type === 'volume' && m.Name);
    for (const m of vols) this.bus.emit('volume', 'mount', m.Name!, { container: live.rec.Id, destination: m.Destination, driver: 'local', propagation: m.Propagation ?? '', 'read/write': String(m.RW) });
    live.mountedVolumes = vols.map((m) => m.Name!);
  }

  /** Their `unmount` events once the run is over (after the network disconnects, as dockerd). */
  private emitVolumeUnmounts(live: Live): void {
    for (const name of live.mountedVolumes ?? []) this.bus.emit('volume', 'unmount', name, { container: live.rec.Id, driver: 'local' });
    live.mountedVolumes = undefined;
  }

  /**
   * The network endpoints of a container whose process is gone (addresses, published ports).
   * `keyLater`: its SandboxKey is left for the caller to release (releaseSandboxKey) once the
   * client has its answer: the unmount waits for an RCU grace period in the kernel
   * (namespace_unlock → synchronize_rcu), 1–3 ms here, and the key troubles nobody meanwhile
   * (its name is the start's random sandbox ID; a crash leaves it to the engine's start, which
   * releases every key).
   */
  private async releaseNetworks(live: Live, opts: { keyLater?: boolean } = {}): Promise<void> {
    const id = live.rec.Id;
    for (const n of await this.net.release(id)) this.bus.emit('network', 'disconnect', n.id, { container: id, name: n.name, type: 'bridge' });
    this.releasePseudoEndpoint(live);
    this.emitVolumeUnmounts(live);
    if (!opts.keyLater) await this.releaseSandboxKey(live);
    this.trace.mark(id, 'cleanup.net');
  }

  /**
   * A new sandbox ID for this start and its SandboxKey: the container's netns bind-mounted under
   * <execRoot>/netns (host mode: the host's, at netns/default, shared). A failure is logged: the
   * container runs, inspect shows no key.
   */
  private async bindSandboxKey(live: Live, adopt = false): Promise<void> {
    const rec = live.rec;
    const mode = rec.HostConfig.NetworkMode as string;
    // Adopted after a restart: the sandbox of its start (one started by an older hakod gets one now).
    if (!adopt || !rec.SandboxID) {
      rec.SandboxID = randomBytes(32).toString('hex');
      if (adopt) this.save(live);
    }
    const name = this.sandboxKeys.nameOf(rec.SandboxID, mode);
    if (mode === 'host' && this.sandboxKeys.isBound(name)) return;
    try {
      await this.sandboxKeys.bind(name, mode === 'host' ? '/proc/self/ns/net' : `/proc/${rec.State.Pid}/ns/net`, !adopt && mode !== 'host');
    } catch (err) {
      // ENOENT: the process is gone already (a short-lived one): nothing to pin, nothing to say.
      if ((err as HakoError).code !== 'ENOENT') this.log.warn(`container ${rec.Id.slice(0, 12)}: no SandboxKey: ${(err as Error).message}`);
    }
  }

  /** The SandboxKey of a container whose process is gone (host mode's shared one stays). */
  private async releaseSandboxKey(live: Live): Promise<void> {
    await live.sandboxBind;
    live.sandboxBind = undefined;
    const rec = live.rec;
    const mode = rec.HostConfig.NetworkMode as string;
    if (!rec.SandboxID || mode === 'host' || mode.startsWith('container:')) return;
    await this.sandboxKeys.release(this.sandboxKeys.nameOf(rec.SandboxID, mode)).catch((e: unknown) => this.log.warn((e as Error).message));
  }

  /** The path inspect shows as SandboxKey (dockerd keeps the last one after the stop). */
  private sandboxKeyOf(rec: ContainerRecord): string | undefined {
    return rec.SandboxID ? this.sandboxKeys.path(this.sandboxKeys.nameOf(rec.SandboxID, rec.HostConfig.NetworkMode as string)) : undefined;
  }

  /** The endpoint of a `host`/`none` container that is gone or leaves the network (event as dockerd). */
  private releasePseudoEndpoint(live: Live): void {
    const rec = live.rec;
    if (rec.PseudoEndpointID === undefined) return;
    rec.PseudoEndpointID = undefined;
    const mode = rec.HostConfig.NetworkMode as string;
    if (mode === 'host' || mode === 'none') this.bus.emit('network', 'disconnect', this.net.pseudoId(mode), { container: rec.Id, name: mode, type: networkEventType(mode) });
  }

  /**
   * The container's mounts go with the last reference to its mount namespace, our held fd once
   * the container exited (superviseWithMonitor): closed in libuv's thread pool, so the umounts
   * (~0.5 ms for 40 mounts here) block a worker thread, not the event loop. Before the rootfs
   * unmount and snapshot removal: the overlay stays in use until then.
   */
  private async releaseMountNamespace(live: Live): Promise<void> {
    const fd = live.mountNsFd;
    live.mountNsFd = undefined;
    if (fd !== undefined) await new Promise<void>((r) => closeFd(fd, () => r()));
  }

  /** The runtime's delete --force, with the record its launch returned when there is one (not read back). */
  private async deleteRuntimeState(live: Live): Promise<void> {
    const record = live.runtimeRecord;
    live.runtimeRecord = undefined;
    await this.runtime.delete(live.rec.Id, { force: true, ...(record ? { record } : {}) }).catch(() => undefined);
  }

  /** Runtime state, cgroups and the rootfs mount of a container whose process is gone (networks released). */
  private async releaseRuntime(live: Live): Promise<void> {
    const id = live.rec.Id;
    await this.releaseMountNamespace(live);
    await this.deleteRuntimeState(live);
    this.trace.mark(id, 'cleanup.runtime');
    await this.volumeMounts.release(id).catch((e: unknown) => this.log.warn(`release the volumes of ${id}: ${(e as Error).message}`));
    await this.releaseShm(live);
    await this.unmountRootfs(id);
    this.trace.mark(id, 'cleanup.unmount');
    live.cleaned = true;
  }

  /** A shareable container's host-side /dev/shm tmpfs (a joiner's bind keeps its own reference). */
  private async releaseShm(live: Live): Promise<void> {
    if (live.rec.HostConfig.IpcMode !== 'shareable') return;
    await this.shm.release(live.rec.Id).catch((e: unknown) => this.log.warn(`container ${live.rec.Id}: ${(e as Error).message}`));
  }

  private async onExit(live: Live, info: ExitInfo, error = info.error ?? '', finishedAt?: string): Promise<void> {
    const rec = live.rec;
    this.stopHealth(live, { unhealthy: true });
    live.sup = undefined;
    live.monitorDir = undefined;
    // Unmount and runtime cleanup run after the waiters heard of the exit: under the lock before
    // a restart, otherwise deferred (deferCleanup), so wait → rm is not slowed by them.
    const cleanup = () => this.cleanupAfterExit(live).catch((e) => this.log.warn(`clean up after ${rec.Id} exited: ${(e as Error).message}`));
    for (const eid of live.execs) {
      const ex = this.execs.get(eid);
      if (ex && ex.Running && !ex.monitorDir) ex.Running = false; // a monitored exec's own exit record follows
      // One created and never started is forgotten with the run (dockerd's Cleanup unregisters the
      // execs its container still lists: inspect 404); it stayed until the container's removal.
      if (ex && !ex.started) {
        this.execs.delete(eid);
        live.execs.delete(eid);
      }
    }
    Object.assign(rec.State, { Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: info.exitCode, OOMKilled: info.oomKilled, Error: error, FinishedAt: finishedAt ?? nowRfc3339Nano() });
    rec.PidStartTime = undefined;
    if (info.oomKilled) this.emit(live, 'oom');
    this.emit(live, 'die', { exitCode: String(info.exitCode) });
    // (No cleanup to wait for: its event comes right after `die`, as dockerd's.)
    this.releasePseudoEndpoint(live);
    const policy = rec.HostConfig.RestartPolicy as { Name: string; MaximumRetryCount: number };
    const startedAt = Date.parse(rec.State.StartedAt);
    const upFor = Date.now() - startedAt;
    let restart = false;
    if (!live.stopping && !this.closed && !rec.HasBeenManuallyStopped) {
      if (policy.Name === 'always' || policy.Name === 'unless-stopped') restart = true;
      else if (policy.Name === 'on-failure' && info.exitCode !== 0) restart = policy.MaximumRetryCount === 0 || rec.RestartCount < policy.MaximumRetryCount;
    }
    const notify = () => {
      for (const w of live.exitWaiters.splice(0)) w({ StatusCode: info.exitCode, Error: error ? { Message: error } : null });
    };
    if (restart) {
      await cleanup();
      notify();
      // docker's backoff: 100 ms doubling per restart, reset once a run lasted 10 s.
      if (upFor >= 10_000) (live as { backoff?: number }).backoff = 0;
      const prev = (live as { backoff?: number }).backoff ?? 0;
      const delay = prev === 0 ? 100 : Math.min(prev * 2, 60_000);
      (live as { backoff?: number }).backoff = delay;
      Object.assign(rec.State, { Status: 'restarting', Restarting: true });
      this.save(live);
      live.restartTimer = setTimeout(() => {
        live.restartTimer = undefined;
        void this.locked(live, async () => {
          if (!rec.State.Restarting || this.closed) return;
          rec.RestartCount++;
          try {
            await this.startLocked(live);
          } catch (err) {
            this.log.warn(`restart ${rec.Id}: ${(err as Error).message}`);
          }
        });
      }, delay);
      return;
    }
    // Waiters first: the exit is in memory, and a crash before the save below is caught up by
    // reconcile() from the monitor's exit record. An auto-removed container's next save is its
    // removal's.
    notify();
    this.trace.mark(rec.Id, 'exit.notified');
    // dockerd removes an --rm container on every exit, `docker stop` included, but not across a restart.
    const autoRemove = rec.HostConfig.AutoRemove === true && !live.keepOnExit;
    if (!autoRemove) {
      this.save(live);
      // The waiters' answers go out first. The endpoints are released under the lock (network
      // commands that follow see them gone); the runtime state, cgroups and the rootfs mount
      // outside it, so a remove that follows the wait answer does not queue behind the unmount:
      // start, remove and the rootfs users await `live.cleaning` (settled()). A crash meanwhile
      // leaves runtime state and a mount that reconcile() releases like any stopped container's.
      await new Promise<void>((r) => setImmediate(r));
      await this.releaseNetworks(live).catch((e) => this.log.warn(`release the networks of ${rec.Id}: ${(e as Error).message}`));
      this.deferCleanup(live);
      return;
    }
    // Auto-remove: the runtime state and the rootfs mount are released by the removal itself,
    // after `wait?condition=removed` was answered (finishRemove).
    await this.removeLocked(live, { force: true, volumes: true }).catch((e) => this.log.warn(`auto-remove ${rec.Id}: ${(e as Error).message}`));
  }

  // ------------------------------------------------------------------ wait / stop / kill

  async waitContainer(idOrName: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal): Promise<{ StatusCode: number; Error?: { Message: string } | null }> {
    const live = await this.get(idOrName);
    const st = live.rec.State;
    if (condition === 'not-running' && !st.Running && !st.Restarting) return { StatusCode: st.ExitCode, Error: st.Error ? { Message: st.Error } : null };
    return new Promise((resolvePromise, reject) => {
      const list = condition === 'removed' ? live.removeWaiters : live.exitWaiters;
      const w = (r: { StatusCode: number; Error?: { Message: string } | null }) => {
        signal?.removeEventListener('abort', onAbort);
        resolvePromise(r);
      };
      const onAbort = () => {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        reject(new HakoError({ step: 'wait aborted', kind: 'internal' }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      list.push(w);
    });
  }

  private waitExit(live: Live, ms: number): Promise<boolean> {
    if (!live.rec.State.Running) return Promise.resolve(true);
    return new Promise((r) => {
      const t = setTimeout(() => {
        const i = live.exitWaiters.indexOf(w);
        if (i >= 0) live.exitWaiters.splice(i, 1);
        r(false);
      }, ms);
      const w = () => {
        clearTimeout(t);
        r(true);
      };
      live.exitWaiters.push(w);
    });
  }

  /**
   * The container's process has exited and its exit is not recorded yet: an attached client that
   * does not read holds it (as dockerd's exit waits for the attach's copy) until it reads or goes.
   * dockerd's kill, stop and rm -f wait for the container's lock meanwhile and then find it
   * stopped; signals would go nowhere.
   */
  private exitPending(live: Live): boolean {
    const st = live.rec.State;
    return st.Running && st.Pid > 0 && !isSameProcess(st.Pid, live.rec.PidStartTime);
  }

  private signal(live: Live, sig: number): void {
    const rec = live.rec;
    try {
      process.kill(rec.State.Pid, 0);
    } catch {
      return;
    }
    if (!isSameProcess(rec.State.Pid, rec.PidStartTime)) return;
    try {
      process.kill(rec.State.Pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw fromSystemError(`send signal ${sig} to container ${rec.Id}`, err);
    }
  }

  /** Stops without taking the lock (callers hold it or deliberately run alongside the exit handler). */
  private async stopInner(live: Live, opts: { timeoutSeconds?: number; signal?: string }): Promise<'stopped' | 'already-stopped'> {
    const rec = live.rec;
    if (live.restartTimer) {
      clearTimeout(live.restartTimer);
      live.restartTimer = undefined;
    }
    rec.HasBeenManuallyStopped = true;
    if (rec.State.Restarting) {
      Object.assign(rec.State, { Status: 'exited', Restarting: false });
      this.save(live);
      return 'stopped';
    }
    if (!rec.State.Running) {
      this.save(live);
      return 'already-stopped';
    }
    if (this.exitPending(live)) {
      // dockerd answers 304 once the held exit is recorded (no kill or stop events).
      await this.waitExit(live, 2 ** 31 - 1);
      while (rec.State.Running) await sleep(10);
      this.save(live);
      return 'already-stopped';
    }
    live.stopping = true;
    try {
      const sig = opts.signal ? apiSignal(opts.signal) : stopSignalOf(rec);
      const timeout = opts.timeoutSeconds ?? (rec.Config.StopTimeout as number | undefined) ?? 10;
      // A stop signal Linux does not have (create takes any number) cannot be sent: dockerd's
      // kill fails and its stop goes on to wait out the timeout, then SIGKILL.
      if (deliverable(sig)) {
        this.emit(live, 'kill', { signal: String(sig) });
        this.signal(live, sig);
      }
      this.trace.mark(rec.Id, 'stop.signalled');
      if (rec.State.Paused) await this.thaw(live);
      let done = timeout < 0 ? await this.waitExit(live, 2 ** 31 - 1) : await this.waitExit(live, timeout * 1000);
      if (!done && !this.exitPending(live)) {
        this.emit(live, 'kill', { signal: String(osc.signals.SIGKILL) });
        this.signal(live, osc.signals.SIGKILL);
        done = await this.waitExit(live, 30_000);
      }
      // Exited, with the exit held by an attached client: as long as it holds it (dockerd's stop too).
      if (!done && this.exitPending(live)) done = await this.waitExit(live, 2 ** 31 - 1);
      if (!done) throw new HakoError({ step: `stop container ${rec.Id}`, hint: 'the process did not exit after SIGKILL', kind: 'internal' });
      // Let the exit handler (queued on the lock or already run) finish its bookkeeping.
      while (rec.State.Running) await sleep(10);
      this.trace.mark(rec.Id, 'stop.done');
      this.emit(live, 'stop');
      return 'stopped';
    } finally {
      live.stopping = false;
    }
  }

  async stopContainer(idOrName: string, opts: { timeoutSeconds?: number; signal?: string } = {}): Promise<'stopped' | 'already-stopped'> {
    if (opts.signal) apiSignal(opts.signal);
    const live = await this.get(idOrName);
    // Not under the lock: the exit handler needs it to record the exit.
    return this.stopInner(live, opts);
  }

  async restartContainer(idOrName: string, opts: { timeoutSeconds?: number; signal?: string } = {}): Promise<void> {
    const live = await this.get(idOrName);
    live.keepOnExit = true;
    try {
      await this.stopInner(live, opts);
      this.trace.mark(live.rec.Id, 'restart.stopped');
      await this.locked(live, async () => {
        live.rec.HasBeenManuallyStopped = false;
        if (live.rec.State.Running) return;
        await this.startLocked(live);
      });
    } finally {
      live.keepOnExit = false;
    }
    this.emit(live, 'restart');
  }

  async killContainer(idOrName: string, signal?: string): Promise<void> {
    // dockerd checks the signal before it looks the container up.
    const sig = apiSignal(signal || 'SIGKILL');
    const live = await this.get(idOrName);
    const rec = live.rec;
    // Numbers Linux has no signal for: dockerd's 500, the number as its uint64.
    if (!deliverable(sig)) throw startRefusal(`Cannot kill container: ${idOrName}: The linux daemon does not support signal ${BigInt.asUintN(64, BigInt(sig))}`);
    // dockerd's kill waits for the lock a held exit keeps, then answers this: no event, and the
    // exit is not taken for a manual stop (its restart policy applies).
    if (!rec.State.Running || this.exitPending(live)) throw conflict(`Cannot kill container: ${idOrName}: Container ${rec.Id} is not running`);
    const stopSig = stopSignalOf(rec);
    if (sig === osc.signals.SIGKILL || sig === stopSig) {
      rec.HasBeenManuallyStopped = true;
      this.save(live);
    }
    this.emit(live, 'kill', { signal: String(sig) });
    this.signal(live, sig);
    if (sig !== osc.signals.SIGKILL) return;
    if (rec.State.Paused) await this.thaw(live);
    // dockerd's kill with SIGKILL (the default) answers once the container has exited (moby's
    // Kill: SIGKILL, then wait up to 10 s): `kill` then `rm` (docker-py, compose, the CLI) works.
    // Other signals answer at once. Not under the lock: the exit handler needs it.
    // (The exit waiters are told after the record says exited: no need to look again.)
    if (!(await this.waitExit(live, 10_000))) throw new HakoError({ step: `tried to kill container ${rec.Id}, but did not receive an exit event`, kind: 'internal' });
  }

  private async thaw(live: Live): Promise<void> {
    await this.runtime.resume(live.rec.Id).catch(() => undefined);
    Object.assign(live.rec.State, { Paused: false, Status: live.rec.State.Running ? 'running' : live.rec.State.Status });
    this.save(live);
  }

  // ------------------------------------------------------------------ health checks

  /** Starts probing a running container that has a Healthcheck; `reset`: a (re)start (Status starting, streak 0). */
  private startHealth(live: Live, reset: boolean): void {
    this.stopHealth(live);
    const rec = live.rec;
    const settings = probeSettings(rec.Config);
    if (!settings || this.closed) return;
    const st = rec.State;
    if (reset || !st.Health) {
      st.Health = { Status: 'starting', FailingStreak: 0, Log: st.Health?.Log ?? [] };
      this.save(live);
    }
    live.health = new HealthChecker(settings, {
      state: () => rec.State,
      probe: (argv, timeoutMs) => this.probe(live, argv, timeoutMs),
      recorded: (status?: HealthStatus) => {
        if (!status) return;
        this.save(live);
        this.emit(live, `health_status: ${status}`);
      },
      warn: (m) => this.log.warn(`container ${rec.Id}: ${m}`),
    });
    live.health.start();
  }

  /**
   * Stops probing. `unhealthy` (a pause, an exit): a container that was being probed turns
   * `unhealthy` with no event, as dockerd's CloseMonitorChannel ("for compatibility reasons"):
   * after an unpause the first good probe emits `health_status: healthy` again. The caller saves.
   */
  private stopHealth(live: Live, opts: { unhealthy?: boolean } = {}): void {
    if (live.health && opts.unhealthy && live.rec.State.Health) live.rec.State.Health.Status = 'unhealthy';
    live.health?.stop();
    live.health = undefined;
  }

  /** One health probe: an exec in the container (output kept up to 4 KiB), killed after timeoutMs. */
  private async probe(live: Live, argv: string[], timeoutMs: number): Promise<ProbeOutcome> {
    const rec = live.rec;
    if (!rec.State.Running || rec.State.Paused) throw conflict(`container ${rec.Id} is not running`);
    // dockerd's probe sets up the legacy links first: a linked container that stopped makes it
    // fail before its exec exists (no exec events; the result: -1 and the error's text).
    const linkedEnv = this.linkedEnv(rec);
    const execId = randomBytes(32).toString('hex');
    const attrs = { execID: execId };
    this.emit(live, `exec_create: ${execEventCmd(argv)}`, attrs);
    const process_ = execProcessSpec(rec, this.rootfsDir(rec.Id), { Cmd: argv }, false, linkedEnv);
    const started = superviseProcess({ tty: false, openStdin: false, stdinOnce: false }, async (stdio) => {
      const s = await this.runtime.startExec(rec.Id, { process: process_ as never, stdio });
      s.process.closeErrPipe();
      return { pid: s.pid, exited: s.process.exited };
    });
    // Starting can hang only if the runtime does; do not let it count against the probe's timeout.
    let startTimer: NodeJS.Timeout | undefined;
    const sup = await Promise.race([
      started,
      new Promise<never>((_, reject) => {
        startTimer = setTimeout(() => reject(new HakoError({ step: `timed out starting health check for container ${rec.Id}`, kind: 'internal' })), 30_000);
      }),
    ]).finally(() => clearTimeout(startTimer));
    this.emit(live, `exec_start: ${execEventCmd(argv)}`, attrs);
    const out = new LimitedOutput();
    sup.io.subscribe((c) => {
      if (c) out.write(c.data);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(sup.pid, osc.signals.SIGKILL); // our unreaped child: the pid cannot be reused yet
      } catch {
        /* exited meanwhile */
      }
    }, timeoutMs);
    const code = await sup.exited.finally(() => clearTimeout(timer));
    this.emit(live, 'exec_die', { execID: execId, exitCode: String(code) });
    if (timedOut) {
      const o = out.toString();
      return { exitCode: -1, output: `Health check exceeded timeout (${goDuration(timeoutMs)})${o ? `: ${o}` : ''}` };
    }
    return { exitCode: code, output: out.toString() };
  }

  async pauseContainer(idOrName: string): Promise<void> {
    const live = await this.get(idOrName);
    await this.locked(live, async () => {
      const st = live.rec.State;
      if (!st.Running || this.exitPending(live)) throw conflict(`Container ${live.rec.Id} is not running`);
      if (st.Paused) throw conflict(`Container ${live.rec.Id} is already paused`);
      await this.runtime.pause(live.rec.Id);
      this.stopHealth(live, { unhealthy: true });
      Object.assign(st, { Paused: true, Status: 'paused' });
      this.save(live);
      this.emit(live, 'pause');
    });
  }

  async unpauseContainer(idOrName: string): Promise<void> {
    const live = await this.get(idOrName);
    await this.locked(live, async () => {
      const st = live.rec.State;
      if (!st.Paused) throw conflict(`Container ${live.rec.Id} is not paused`);
      await this.runtime.resume(live.rec.Id);
      Object.assign(st, { Paused: false, Status: 'running' });
      this.save(live);
      this.emit(live, 'unpause');
      this.startHealth(live, false);
    });
  }

  // ------------------------------------------------------------------ remove / rename / update

  private volumeUsers(name: string): string[] {
    return [...this.containers.values()].filter((l) => l.rec.MountPoints.some((m) => m.Type === 'volume' && m.Name === name)).map((l) => l.rec.Id);
  }

  async removeContainer(idOrName: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const live = await this.get(idOrName);
    const rec = live.rec;
    this.trace.mark(rec.Id, 'remove.begin');
    if ((rec.State.Running || rec.State.Restarting) && !opts.force) {
      if (rec.State.Paused) throw conflict(`cannot remove container "${rec.Name}": container is paused and must be unpaused first`);
      throw conflict(`cannot remove container "${rec.Name}": container is running: stop the container before removing or force remove`);
    }
    if (rec.State.Status === 'removing') throw conflict(`removal of container ${rec.Id} is already in progress`);
    if (rec.State.Running || rec.State.Restarting) {
      live.stopping = true;
      live.keepOnExit = true; // removed right here, not by the exit handler
      if (live.restartTimer) clearTimeout(live.restartTimer);
      live.restartTimer = undefined;
      rec.State.Restarting = false;
      if (rec.State.Running) {
        if (!this.exitPending(live)) {
          this.emit(live, 'kill', { signal: String(osc.signals.SIGKILL) });
          this.signal(live, osc.signals.SIGKILL);
        }
        if (rec.State.Paused) await this.thaw(live);
        // An answer after 30 s rather than never: a process SIGKILL cannot end (frozen by a
        // cgroup freezer the record does not know of, in D state) kept this request open forever.
        // An exit held by an attached client is waited for as long as it lasts (dockerd's rm -f too).
        let done = await this.waitExit(live, 30_000);
        if (!done && this.exitPending(live)) done = await this.waitExit(live, 2 ** 31 - 1);
        if (!done) {
          live.stopping = false;
          live.keepOnExit = false;
          throw new HakoError({ step: `remove container ${rec.Id}`, hint: 'its process did not exit within 30 s of SIGKILL', kind: 'internal' });
        }
        while (rec.State.Running) await sleep(10);
      }
    }
    await this.locked(live, () => this.removeLocked(live, opts));
  }

  /**
   * `docker rm --link /<linker>/<alias>` (DELETE /containers/{name}?link=1), dockerd's rmLink:
   * `name` names the linked container (a link's name, or its own name or ID); the link is taken
   * off the linker (inspect's HostConfig.Links), which a running linker on the default bridge
   * sees in its /etc/hosts at once: dockerd's sandbox Refresh rebuilds it from the links left,
   * each linked container's address on the default bridge now ("" when it is stopped). Its
   * variables stay until its next start. A name that is no link: dockerd's 500.
   */
  async removeLink(name: string): Promise<void> {
    const child = await this.get(name);
    if (child.rec.State.Status === 'removing') throw conflict(`removal of container ${name} is already in progress`);
    const ln = parseLinkName(name);
    if (!ln) throw new HakoError({ step: 'Conflict, cannot remove the default link name of the container', kind: 'internal' });
    const parentId = this.names.get(ln.linker);
    const parent = parentId === undefined ? undefined : this.containers.get(parentId);
    if (!parent) throw new HakoError({ step: `Cannot get parent /${ln.linker} for link name /${ln.linker}/${ln.alias}`, kind: 'internal' });
    await this.locked(parent, async () => {
      const rec = parent.rec;
      rec.LegacyLinks = (rec.LegacyLinks ?? []).filter((l) => l.Alias !== ln.alias);
      const bridge = this.net.defaultNetwork();
      const onBridge = !!bridge && rec.State.Running && this.net.mgr.endpointsOfContainer(rec.Id).some((e) => e.networkId === bridge.id);
      if (onBridge) {
        const entries = [];
        for (const l of rec.LegacyLinks) {
          const c = this.containers.get(l.Id)?.rec;
          // A removed one: dockerd's link index still has its container (the names it had, its
          // address cleared at its stop): a line without an address.
          entries.push(c ? { ...this.linkNames(c, l.Alias), ip: this.bridgeAddress(c) } : { alias: l.Alias, name: l.Name.replace(/^\//, ''), hostname: l.Hostname ?? l.Id.slice(0, 12), ip: '' });
        }
        if (entries.length) rec.LinkHosts = entries.map(linkHostsEntry);
        else delete rec.LinkHosts;
        try {
          this.net.writeFiles(rec);
        } catch (err) {
          this.log.warn(`update /etc/hosts of ${rec.Id.slice(0, 12)} for the removed link ${ln.alias}: ${(err as Error).message}`);
        }
      }
      this.save(parent);
    });
  }

  private async removeLocked(live: Live, opts: { force?: boolean; volumes?: boolean }): Promise<void> {
    const rec = live.rec;
    if (!this.containers.has(rec.Id)) return;
    this.trace.mark(rec.Id, 'remove.locked');
    // In memory only: the removal's commit point is the rename of the record's directory
    // (finishRemove), and a crash before it leaves the container as it was.
    rec.State.Status = 'removing';
    await this.finishRemove(live, opts);
    this.trace.mark(rec.Id, 'remove.done');
  }

  private async finishRemove(live: Live, opts: { volumes?: boolean }): Promise<void> {
    const rec = live.rec;
    const id = rec.Id;
    this.stopHealth(live);
    // Before the answer, what a command that follows could trip over: the network endpoint (its
    // address and published ports), the record (the name, the API's view) and the image lease
    // (`rmi`). The runtime state, cgroups, rootfs mount, snapshot and monitor dir of a container
    // that no longer exists trouble nobody: they go after the answer, and a crash in between
    // leaves them to reconcile() (unknown runtime state, rootfs mounts, snapshots, monitor dirs).
    // A cleanup deferred after the exit (deferCleanup) has released the networks already; the
    // rest of it is awaited after the answer, below.
    const cleaned = live.cleaned === true || live.cleaning !== undefined;
    if (!cleaned) await this.releaseNetworks(live, { keyLater: true });
    // The record's directory goes first, in one rename: from here on the container does not
    // exist, after a crash too. The renamed directories are deleted after the answer (deleting
    // files on the data-root's fs costs ms each here).
    // A state save still being written (the exit's) is not waited for: once the directory is
    // renamed its write fails (the directory path is gone; saveSoon stops there), or its temp
    // file lands in the retired directory, which is deleted only after that write is over
    // (below). A new record's commit is waited for (its failure would be warned about).
    if (this.records.committing(id)) await this.records.flush(id);
    const retiredRecord = this.records.retire(id);
    this.trace.mark(id, 'remove.record');
    await this.images.removeLease(id).catch((e) => this.log.warn(`remove container ${id}: ${(e as Error).message}`));
    for (const eid of live.execs) {
      clearTimeout(this.execs.get(eid)?.forgetTimer);
      this.execs.delete(eid);
    }
    this.containers.delete(id);
    this.names.release(rec.Name, id);
    this.keepRemovedLinkNames(rec);
    if (opts.volumes) {
      for (const m of rec.MountPoints) {
        if (m.Type !== 'volume' || !m.Anonymous || !m.Name) continue;
        if (this.volumeUsers(m.Name).length > 0) continue;
        try {
          await this.volumeMounts.beforeRemove(m.Name);
          this.volumes.remove(m.Name, []);
          this.bus.emit('volume', 'destroy', m.Name, { driver: 'local' });
        } catch (err) {
          this.log.warn(`remove anonymous volume ${m.Name}: ${(err as Error).message}`);
        }
      }
    }
    this.emit(live, 'destroy');
    for (const p of live.pending.splice(0)) p.close();
    for (const w of live.exitWaiters.splice(0)) w({ StatusCode: rec.State.ExitCode, Error: null });
    for (const w of live.removeWaiters.splice(0)) w({ StatusCode: rec.State.ExitCode, Error: null });
    this.inBackground(`clean up after removed container ${id}`, async () => {
      // One more loop iteration first: an attach stream ended with the exit (docker run --rm) is
      // shut down in libuv's next poll phase, which the synchronous part of the runtime's delete
      // below would otherwise hold up by milliseconds.
      await new Promise<void>((r) => setImmediate(r));
      if (!cleaned) {
        await this.releaseSandboxKey(live);
        this.trace.mark(id, 'cleanup.key');
      }
      // Released when it exited (the usual case): only a rootfs mounted since (cp, export) is left.
      await this.settled(live);
      await this.releaseMountNamespace(live); // an auto-removed one's (its exit deferred nothing)
      if (!live.cleaned) {
        await this.deleteRuntimeState(live);
        this.trace.mark(id, 'cleanup.runtime');
        await this.volumeMounts.release(id).catch((e: unknown) => this.log.warn(`release the volumes of ${id}: ${(e as Error).message}`));
        await this.releaseShm(live);
      }
      await this.unmountRootfs(id);
      this.trace.mark(id, 'cleanup.unmount');
      const settled = await Promise.allSettled([this.snapshots.retireContainer(id), removeTree(this.monitorDirOf(id))]);
      for (const r of settled) if (r.status === 'rejected') this.log.warn(`remove container ${id}: ${(r.reason as Error).message}`);
      this.trace.mark(id, 'remove.snapshot');
      await this.records.flush(id);
      if (retiredRecord) await this.records.removeRetired(retiredRecord);
      if (settled[0].status === 'fulfilled' && settled[0].value) await this.snapshots.removeRetired(settled[0].value);
      this.trace.mark(id, 'remove.files-deleted');
    });
  }

  async renameContainer(idOrName: string, newName: string): Promise<void> {
    // dockerd's order and words: the container first, then the same name, then the new name's
    // validity and conflicts, both "Error when allocating new name: …" with the slashed name.
    const live = await this.get(idOrName);
    const name = newName.startsWith('/') ? newName : `/${newName}`;
    const old = live.rec.Name;
    if (name === old) throw invalid(`Renaming a container with the same name as its current name`);
    try {
      normalizeName(name);
      this.names.reserve(name, live.rec.Id);
    } catch (err) {
      if (err instanceof HakoError) throw new HakoError({ step: `Error when allocating new name: ${err.message}`, kind: err.kind });
      throw err;
    }
    this.names.release(old, live.rec.Id);
    live.rec.Name = name;
    let dnsSynced: Promise<void>;
    try {
      dnsSynced = this.net.rename(live.rec.Id, name);
    } catch (err) {
      // The network state could not be saved (a full data root): the rename is undone, as
      // dockerd's (daemon/rename.go puts the old name back when a step fails).
      this.names.release(name, live.rec.Id);
      this.names.reserve(old, live.rec.Id);
      live.rec.Name = old;
      throw err;
    }
    this.save(live);
    this.emit(live, 'rename', { oldName: old });
    await dnsSynced;
  }

  async updateContainer(idOrName: string, body: Json): Promise<{ Warnings: string[] }> {
    const live = await this.get(idOrName);
    return this.locked(live, async () => {
      const hc = live.rec.HostConfig;
      const keys = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight', 'RestartPolicy'];
      // What this kernel cannot do is dropped with dockerd's warnings (as at create), and dockerd
      // checks the update as a HostConfig of network mode "": the forwarding warning too.
      const asked: Json = {};
      for (const k of keys) if (body[k] !== undefined) asked[k] = body[k];
      const warnings = discardUnsupported(asked, this.hostCaps());
      if (!this.net.ipForwarding()) warnings.push('IPv4 forwarding is disabled. Networking will not work.');
      const next: Record<string, unknown> = { ...hc };
      for (const k of keys) if (asked[k] !== undefined && asked[k] !== null && !(typeof asked[k] === 'number' && asked[k] === 0 && k !== 'PidsLimit')) next[k] = asked[k];
      // The docker CLI sends a RestartPolicy with every update, {Name: ""} when --restart was not
      // given: only a named policy replaces the recorded one (dockerd; it was reset to "no").
      if (((asked.RestartPolicy as { Name?: unknown } | null | undefined)?.Name ?? '') === '') next.RestartPolicy = hc.RestartPolicy;
      // 0 and -1 both mean unlimited in an update; dockerd records 0.
      if (typeof asked.PidsLimit === 'number' && asked.PidsLimit <= 0) next.PidsLimit = 0;
      // dockerd first checks the update's own resources as at create (verifyContainerSettings:
      // 400s such as "Minimum memory limit allowed is 6MB" or the CPU range, before any conflict
      // with what is recorded), then UpdateContainer's checks, in its order and words (409,
      // "Cannot update container <id>: …").
      normalizeHostConfig({ ...asked }, [], { update: true });
      const cannot = (why: string) => conflict(`Cannot update container ${live.rec.Id}: ${why}`);
      const num = (v: unknown) => Number(v ?? 0) || 0;
      if (num(asked.NanoCpus) > 0 && num(hc.CpuPeriod) > 0) throw cannot('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
      if (num(asked.NanoCpus) > 0 && num(hc.CpuQuota) > 0) throw cannot('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
      if (num(asked.CpuPeriod) > 0 && num(hc.NanoCpus) > 0) throw cannot('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
      if (num(asked.CpuQuota) > 0 && num(hc.NanoCpus) > 0) throw cannot('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
      // A memory above the recorded swap limit needs a swap limit in the same update; a container
      // without limits has 0 recorded, so `update --memory X` alone is refused there too (dockerd).
      const newMem = num(asked.Memory);
      if (newMem !== 0 && num(asked.MemorySwap) === 0 && newMem > num(hc.MemorySwap)) throw cannot('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      const policy = (asked.RestartPolicy as { Name?: string } | null | undefined)?.Name ?? '';
      if (hc.AutoRemove === true && policy !== '' && policy !== 'no') throw cannot('Restart policy cannot be updated because AutoRemove is enabled for the container');
      const normalized = normalizeHostConfig(next, [], { update: true, merged: true });
      normalized.ShmSize = hc.ShmSize; // not updatable; a recorded 0 (--default-shm-size 0) stays
      // A negative value is recorded for a container that is not running (dockerd 20.10; its next
      // start fails, spec.ts); a running one's cgroup refuses it, as runc refuses the uint64 it
      // becomes in dockerd (500, "Cannot update container <id>: … the maximum allowed cpu-shares is 262144").
      if (live.rec.State.Running && num(asked.CpuShares) < 0) throw new HakoError({ step: `Cannot update container ${live.rec.Id}: the maximum allowed cpu-shares is 262144`, kind: 'internal' });
      if (live.rec.State.Running) {
        const probe = buildSpec({ rec: { ...live.rec, HostConfig: normalized }, rootfs: this.rootfsDir(live.rec.Id), user: { uid: 0, gid: 0, additionalGids: [], home: '/' }, cgroupsPath: this.cgroupsPathOf(live.rec), cgroupV2: false, initBinary: this.initBinary });
        const resources = { ...(probe.linux?.resources ?? {}) };
        delete resources.devices;
        // An update to unlimited (recorded 0, which a start leaves unset) lifts the current limit.
        if (typeof asked.PidsLimit === 'number' && asked.PidsLimit <= 0) resources.pids = { limit: -1 };
        const rt = this.runtime.ctx.store.load(live.rec.Id);
        cgroupsOf(rt).update(resources);
      }
      live.rec.HostConfig = normalized;
      this.save(live);
      this.emit(live, 'update');
      return { Warnings: warnings };
    });
  }

  // ------------------------------------------------------------------ attach / logs / resize

  async attachContainer(idOrName: string, opts: AttachOptions): Promise<Attachment> {
    const live = await this.get(idOrName);
    const rec = live.rec;
    const tty = rec.Config.Tty === true;
    const stdin = opts.stdin && rec.Config.OpenStdin === true;
    // Read (and refused when malformed) whether or not they can be used, as dockerd.
    const keys = parseDetachKeys(opts.detachKeys);
    const detachKeys = tty && stdin ? keys : null;
    const session = new AttachSession({
      tty,
      stdin,
      stdout: opts.stdout,
      stderr: opts.stderr,
      detachKeys,
      onDetach: () => this.emit(live, 'detach'),
      onClose: () => {
        const i = live.pending.indexOf(session);
        if (i >= 0) live.pending.splice(i, 1);
      },
    });
    // Not running: docker attaches the streams and they carry the output of the next start. The
    // session waits in `pending` (registered before anything asynchronous, so a start that
    // follows our answer cannot miss it) and the start connects it with the output held for it.
    const waitForStart = opts.stream && !rec.State.Running;
    if (waitForStart) live.pending.push(session);
    if (opts.logs && rec.LogPath) {
      for await (const e of readLogs(rec.LogPath, { follow: false, stdout: opts.stdout, stderr: opts.stderr, since: 0, until: 0, timestamps: false, tail: 'all', maxFiles: logMaxFiles(rec) })) {
        session.pushReplay({ stream: tty ? 'stdout' : e.stream, data: e.data });
      }
    }
    if (!opts.stream) session.close();
    else if (!waitForStart) await this.connectSession(live, session);
    this.emit(live, 'attach');
    return session.attachment();
  }

  /** Connects a session to the running container's stdio (ends it when there is nothing to attach to). */
  private async connectSession(live: Live, session: AttachSession): Promise<void> {
    const rec = live.rec;
    try {
      if (live.monitorDir && rec.State.Running) {
        const att = await monitorAttach(live.monitorDir, { stdin: session.input !== null, stdout: session.wantsStdout, stderr: session.wantsStderr, closeStdinOnEnd: rec.Config.StdinOnce === true && rec.Config.Tty !== true });
        session.connectMonitor(att);
      } else if (live.sup && rec.State.Running) {
        session.connectIO(live.sup.io, rec.Config.StdinOnce === true);
      } else session.close();
    } catch (err) {
      if (!(err instanceof HakoError && err.kind === 'not-found')) this.log.warn(`attach to ${rec.Id}: ${(err as Error).message}`);
      session.close();
    }
  }

  async resizeContainer(idOrName: string, height: number, width: number): Promise<void> {
    const live = await this.get(idOrName);
    if (!live.rec.State.Running) throw conflict(`Container ${live.rec.Id} is not running`);
    if (live.monitorDir) await monitorResize(live.monitorDir, height, width);
    else live.sup?.io.resize(height, width);
    this.emit(live, 'resize', { height: String(height), width: String(width) });
  }

  async containerLogs(idOrName: string, opts: LogsOptions, signal?: AbortSignal): Promise<{ tty: boolean; entries: AsyncIterable<LogEntry>; details: string }> {
    const live = await this.get(idOrName);
    const lc = live.rec.HostConfig.LogConfig as { Type: string };
    if (lc.Type === 'none') throw invalid('configured logging driver does not support reading');
    const path = live.rec.LogPath;
    const running = () => live.rec.State.Running || live.rec.State.Restarting;
    return { tty: live.rec.Config.Tty === true, entries: readLogs(path, { ...opts, maxFiles: logMaxFiles(live.rec), running }, signal), details: detailsPrefix(logAttributes(live.rec)) };
  }

  // ------------------------------------------------------------------ list / inspect

  private graphDriver(live: Live): Json {
    // A container's paths and layers are fixed at create: worked out once (a file, a readlink
    // per layer and five path joins were ~80 µs of CPU per inspect under hakod's V8 flags).
    if (!live.graphData) {
      const id = live.rec.Id;
      const snapDir = join(this.snapshots.root, 'containers', id);
      let lower: string | undefined;
      try {
        lower = this.snapshots.container(id).lowerdirs.join(':');
      } catch {
        /* removed */
      }
      const data = { LowerDir: lower ?? '', MergedDir: this.rootfsDir(id), UpperDir: join(snapDir, 'upper'), WorkDir: join(snapDir, 'work') };
      if (lower === undefined) return { Data: data, Name: 'overlay2' };
      live.graphData = data;
    }
    return { Data: { ...live.graphData }, Name: 'overlay2' };
  }

  private async sizes(rec: ContainerRecord): Promise<{ rw: number; rootfs: number }> {
    const rw = await fsops.diskUsage(join(this.snapshots.root, 'containers', rec.Id, 'upper'));
    let base = 0;
    for (const c of rec.ChainIds) base += await fsops.diskUsage(this.snapshots.layerDir(c));
    return { rw, rootfs: rw + base };
  }

  async containerId(idOrName: string): Promise<string> {
    return (await this.get(idOrName)).rec.Id;
  }

  async inspectContainer(idOrName: string, opts: { size?: boolean } = {}): Promise<Json> {
    const live = await this.get(idOrName);
    if (live.sandboxBind) await live.sandboxBind; // its SandboxKey usable once shown
    const size = opts.size ? await this.sizes(live.rec) : undefined;
    // moby drops an exec from the container's list when it exits (exec inspect still knows it).
    const execIds = [...live.execs].filter((e) => this.execs.get(e)?.ExitCode === null);
    return inspectView(live.rec, { graph: this.graphDriver(live), execIds, network: this.net.settings(live.rec, this.sandboxKeyOf(live.rec)), ...(size ? { sizeRw: size.rw, sizeRootFs: size.rootfs } : {}), links: this.linksView(live.rec) });
  }

  async listContainers(opts: { all?: boolean; limit?: number; size?: boolean; filters?: Filters } = {}): Promise<Json[]> {
    await this.ready;
    const filters = opts.filters ?? {};
    const ancestorIds = new Map<string, Set<string>>();
    for (const a of filters.ancestor ?? []) {
      const ids = new Set<string>();
      try {
        ids.add((await this.images.resolve(a)).id);
      } catch {
        /* unknown image matches nothing */
      }
      ancestorIds.set(a, ids);
    }
    // before/since name a container by its full ID or its name (with or without the slash), not
    // by an ID prefix: dockerd's idOrNameFilter (20.10 lab: a 12-digit prefix is "no such container").
    const createdOf = (n: string) => {
      const name = `/${n.replace(/^\//, '')}`;
      for (const { rec } of this.containers.values()) if (rec.Id === n || rec.Name === name) return Date.parse(rec.Created);
      return undefined;
    };
    checkListFilters(filters, createdOf);
    let recs = [...this.containers.values()].map((l) => l.rec);
    recs.sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    const showAll = opts.all === true || (opts.limit !== undefined && opts.limit > 0) || filters.status !== undefined || filters.exited !== undefined;
    if (!showAll) recs = recs.filter((r) => r.State.Running || r.State.Restarting);
    recs = recs.filter((r) => containerMatches(r, filters, { ancestorIds, createdOf, ports: (c) => this.net.ports(c) }));
    if (opts.limit !== undefined && opts.limit > 0) recs = recs.slice(0, opts.limit);
    const out: Json[] = [];
    for (const r of recs) out.push(summaryView(r, { settings: this.net.settings(r, this.sandboxKeyOf(r)), ports: this.net.ports(r) }, opts.size ? await this.sizes(r) : undefined));
    return out;
  }

  // ------------------------------------------------------------------ top / stats

  async topContainer(idOrName: string, psArgs?: string): Promise<Json> {
    const live = await this.get(idOrName);
    if (!live.rec.State.Running || this.exitPending(live)) throw conflict(`Container ${live.rec.Id} is not running`);
    const args = psArgs ? psArgs.split(/\s+/).filter((a) => a) : ['-ef'];
    const text = await psContainer(this.runtime.ctx, live.rec.Id, 'table', args);
    const lines = text.split('\n').filter((l) => l.length > 0);
    const Titles = (lines[0] ?? '').trim().split(/\s+/);
    const Processes = lines.slice(1).map((l) => {
      const f = l.trim().split(/\s+/);
      return [...f.slice(0, Titles.length - 1), f.slice(Titles.length - 1).join(' ')];
    });
    this.emit(live, 'top');
    return { Processes, Titles }; // container.TopResponse's field order
  }

  async *containerStats(idOrName: string, opts: { stream: boolean; oneShot?: boolean; signal?: AbortSignal }): AsyncIterable<Json> {
    const live = await this.get(idOrName);
    const who = { id: live.rec.Id, name: live.rec.Name };
    // As dockerd: the previous sample is this request's own (the first frame's precpu_stats and
    // preread are zero; a stale one from an earlier request made --no-stream's CPU % an average
    // over the time since), and a container that does not run gets one frame of zero values.
    let prev: Json | undefined;
    const sample = (): Json => {
      let s;
      if (live.rec.State.Running) {
        try {
          s = this.runtime.stats(live.rec.Id);
        } catch {
          s = undefined;
        }
      }
      if (!s) return dockerStats(undefined, undefined, who, null);
      const pid = live.rec.State.Pid;
      const j = dockerStats(s, prev, who, realtimeNs(), pid > 0 && live.rec.HostConfig.NetworkMode !== 'host' ? netDevStats(pid) : undefined);
      prev = j;
      return j;
    };
    if (!opts.stream) {
      // Not one-shot: primed with a sample a second before, so the CPU % is the last second's.
      if (!opts.oneShot && live.rec.State.Running) {
        sample();
        await sleep(1000);
      }
      yield sample();
      return;
    }
    for (;;) {
      if (opts.signal?.aborted) return;
      yield sample();
      if (!live.rec.State.Running && !live.rec.State.Restarting) return;
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        opts.signal?.addEventListener('abort', () => {
          clearTimeout(t);
          r();
        }, { once: true });
      });
    }
  }

  // ------------------------------------------------------------------ filesystem

  private async withRootfs<T>(live: Live, fn: (rootfs: string) => Promise<T>): Promise<T> {
    const id = live.rec.Id;
    if (live.rec.State.Running) return fn(this.rootfsDir(id));
    return this.locked(live, async () => {
      await this.settled(live);
      const rootfs = await this.mountRootfs(id);
      let volumes: string | undefined;
      try {
        volumes = await this.archiveVolumes(live);
        return await fn(rootfs);
      } finally {
        if (volumes) await this.volumeMounts.release(volumes).catch((e: unknown) => this.log.warn(`release the volumes of ${id}: ${(e as Error).message}`));
        if (!live.rec.State.Running) await this.unmountRootfs(id).catch(() => undefined);
      }
    });
  }

  /**
   * A stopped container's volumes with options mounted for an archive operation (cp), as dockerd
   * mounts them for it: under a user of its own, released by the caller.
   */
  private async archiveVolumes(live: Live): Promise<string> {
    const user = `${live.rec.Id}:archive-${++this.archiveUses}`;
    await this.volumeMounts.acquire(user, volumeNamesOf(live.rec));
    return user;
  }

  async containerChanges(idOrName: string): Promise<Json[]> {
    const live = await this.get(idOrName);
    return fsops.changes(join(this.snapshots.root, 'containers', live.rec.Id, 'upper'), this.snapshots.container(live.rec.Id).lowerdirs);
  }

  async exportContainer(idOrName: string): Promise<Readable> {
    const live = await this.get(idOrName);
    const id = live.rec.Id;
    await this.settled(live);
    const running = live.rec.State.Running;
    // Under the lock: not beside a start's mount of the same rootfs.
    const rootfs = running ? this.rootfsDir(id) : await this.locked(live, () => this.mountRootfs(id));
    // Like dockerd's export: the root's entries by name (`bin/…`), no `./` prefix and no entry for the root.
    const tar = fsops.tarStream(rootfs, readdirSync(rootfs).sort(), { excludeMounts: live.rec.MountPoints.map((m) => m.Destination) });
    this.emit(live, 'export');
    if (!running) tar.on('close', () => void this.locked(live, async () => {
      if (!live.rec.State.Running) await this.unmountRootfs(id).catch(() => undefined);
    }));
    return tar;
  }

  async statPath(idOrName: string, path: string): Promise<Json> {
    const live = await this.get(idOrName);
    return this.withRootfs(live, async (rootfs) => fsops.statInRoot(rootfs, path, archiveMounts(live.rec), idOrName));
  }

  async getArchive(idOrName: string, path: string): Promise<{ stat: Json; tar: Readable }> {
    const live = await this.get(idOrName);
    const id = live.rec.Id;
    await this.settled(live);
    const running = live.rec.State.Running;
    // Under the lock: not beside a start's mount of the same rootfs.
    let volumes: string | undefined;
    const rootfs = running
      ? this.rootfsDir(id)
      : await this.locked(live, async () => {
          const r = await this.mountRootfs(id);
          try {
            volumes = await this.archiveVolumes(live);
          } catch (err) {
            await this.unmountRootfs(id).catch(() => undefined);
            throw err;
          }
          return r;
        });
    const release = async (): Promise<void> => {
      if (volumes) await this.volumeMounts.release(volumes).catch((e: unknown) => this.log.warn(`release the volumes of ${id}: ${(e as Error).message}`));
      if (!live.rec.State.Running) await this.unmountRootfs(id).catch(() => undefined);
    };
    try {
      const stat = fsops.statInRoot(rootfs, path, archiveMounts(live.rec), idOrName);
      const tar = fsops.archivePath(rootfs, path, archiveMounts(live.rec), idOrName);
      if (!running) tar.on('close', () => void this.locked(live, release));
      // dockerd logs it once the archive is set up (a stat, HEAD, logs nothing).
      this.emit(live, 'archive-path');
      return { stat, tar };
    } catch (err) {
      if (!running) await release();
      throw err;
    }
  }

  async putArchive(idOrName: string, path: string, tar: Readable, opts: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {}): Promise<void> {
    const live = await this.get(idOrName);
    if (live.rec.HostConfig.ReadonlyRootfs === true) throw new HakoError({ step: 'container rootfs is marked read-only', kind: 'forbidden' });
    const stagingParent = join(this.root, 'tmp');
    mkdirSync(stagingParent, { recursive: true });
    await this.withRootfs(live, (rootfs) => fsops.extractInto(rootfs, path, tar, archiveMounts(live.rec), { ...opts, user: String(live.rec.Config.User ?? ''), stagingParent }, idOrName));
    this.emit(live, 'extract-to-dir');
  }

  async commitContainer(idOrName: string, opts: CommitContainerOptions): Promise<{ Id: string }> {
    const live = await this.get(idOrName);
    const rec = live.rec;
    const pause = opts.pause !== false && rec.State.Running && !rec.State.Paused;
    let paused = false;
    if (pause) {
      // dockerd pauses through its Pause, with the container's pause/unpause events.
      paused = await this.runtime.pause(rec.Id).then(() => true, () => false);
      if (paused) this.emit(live, 'pause');
    }
    try {
      const { commitImage } = await import('./commit.js');
      const { buildStep, ...rest } = opts;
      const id = await commitImage({
        images: this.images,
        snapshots: this.snapshots,
        baseImage: rec.Image,
        upperDir: join(this.snapshots.root, 'containers', rec.Id, 'upper'),
        lowerDirs: this.snapshots.container(rec.Id).lowerdirs,
        containerConfig: buildStep?.containerConfig ?? rec.Config,
        containerId: rec.Id,
        ...(buildStep ? { imageConfig: buildStep.config } : {}),
        ...rest,
      });
      const imageRef = opts.repo ? familiarString(parseReference(`${opts.repo}:${opts.tag || 'latest'}`)) : '';
      // A build step's commit sends no event (dockerd's builder commits through CommitBuildStep, which logs none).
      if (!buildStep) this.emit(live, 'commit', { comment: opts.comment ?? '', imageID: id, imageRef });
      return { Id: id };
    } finally {
      if (paused && (await this.runtime.resume(rec.Id).then(() => true, () => false))) this.emit(live, 'unpause');
    }
  }

  async commitBuildLayer(o: { base: string | undefined; dir: string | undefined; config: Json; containerConfig: Json }): Promise<string> {
    const { commitImage } = await import('./commit.js');
    const empty = o.dir ? undefined : mkdtempSync(join(this.root, 'tmp-build-'));
    try {
      return await commitImage({ images: this.images, snapshots: this.snapshots, baseImage: o.base, upperDir: o.dir ?? empty!, containerConfig: o.containerConfig, containerId: '', imageConfig: o.config });
    } finally {
      if (empty) rmSync(empty, { recursive: true, force: true });
    }
  }

  /**
   * A build's COPY/ADD step as dockerd's builder does it: no container (so no container events and
   * nothing in `ps -a`), the image's layers under a private upper dir mounted on a temp target,
   * `work` given that rootfs, the upper committed. The snapshot's id is not a container's: a
   * hakod that dies meanwhile removes it at its next start with the other unknown snapshots.
   */
  async commitBuildFiles(o: { base: string; config: Json; containerConfig: Json; author?: string; work: (rootfs: string) => Promise<void> }): Promise<string> {
    await this.ready;
    const image = await this.images.inspect(o.base);
    const id = `build-${randomBytes(16).toString('hex')}`;
    const target = join(this.execRoot, 'build', id);
    await this.images.addLease(id, image.id, { durable: false });
    let prepared = false;
    try {
      const snap = this.snapshots.prepareContainerSync(id, image.record.chainIds);
      prepared = true;
      mkdirSync(target, { recursive: true, mode: 0o700 });
      if (!(await mountOverlay(target, snap))) await this.snapshots.mountRootfs(id, target);
      try {
        await o.work(target);
      } finally {
        if ((await unmount(target)) === 'unavailable') await this.snapshots.unmountRootfs(target);
      }
      const { commitImage } = await import('./commit.js');
      return await commitImage({ images: this.images, snapshots: this.snapshots, baseImage: image.id, upperDir: snap.upperdir, lowerDirs: snap.lowerdirs, containerConfig: o.containerConfig, containerId: '', imageConfig: o.config, ...(o.author ? { author: o.author } : {}) });
    } finally {
      // Not recursive: were it still mounted, a recursive delete would go into the overlay.
      try {
        rmdirSync(target);
      } catch {
        /* never made, or still mounted: the next start's sweep of the exec root takes it */
      }
      if (prepared) await this.snapshots.removeContainer(id).catch((e: unknown) => this.log.warn(`remove build snapshot ${id}: ${(e as Error).message}`));
      await this.images.removeLease(id).catch(() => undefined);
    }
  }

  async pruneContainers(filters: Filters = {}): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    await this.ready;
    // Read up front like dockerd (nothing to prune refuses a bad filter too).
    const f = parsePruneFilters(filters);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const live of [...this.containers.values()]) {
      const r = live.rec;
      if (r.State.Running || r.State.Restarting || r.State.Paused) continue;
      if (!pruneMatches(Date.parse(r.Created), r.Config.Labels as Record<string, string> | null, f)) continue;
      try {
        reclaimed += await fsops.diskUsage(join(this.snapshots.root, 'containers', r.Id, 'upper'));
        await this.removeContainer(r.Id, {});
        deleted.push(r.Id);
      } catch (err) {
        this.log.warn(`prune ${r.Id}: ${(err as Error).message}`);
      }
    }
    this.bus.emit('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  // ------------------------------------------------------------------ exec

  async createExec(idOrName: string, body: ExecCreateBody): Promise<{ Id: string }> {
    const live = await this.get(idOrName);
    if (!Array.isArray(body.Cmd) || body.Cmd.length === 0) throw invalid('No exec command specified');
    if (!live.rec.State.Running || this.exitPending(live)) throw conflict(`Container ${live.rec.Id} is not running`);
    if (live.rec.State.Paused) throw conflict(`Container ${idOrName} is paused, unpause the container before exec`);
    if (live.rec.State.Restarting) throw conflict(`Container ${live.rec.Id} is restarting, wait until the container is running`);
    // dockerd reads the detach keys at the exec's create, tty or not, in its exec words.
    if (body.DetachKeys) {
      try {
        parseDetachKeys(body.DetachKeys);
      } catch {
        throw invalid(`Invalid escape keys (${body.DetachKeys}) provided`);
      }
    }
    // dockerd's ContainerExecCreate sets up the legacy links' variables (kept for the exec's start):
    // a linked container that stopped refuses the exec (500, the start's words).
    const linkedEnv = this.linkedEnv(live.rec);
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { ID: id, ContainerID: live.rec.Id, body, Running: false, ExitCode: null, Pid: 0, started: false, ...(linkedEnv.length ? { linkedEnv } : {}) });
    live.execs.add(id);
    this.emit(live, `exec_create: ${execEventCmd(body.Cmd)}`, { execID: id });
    this.trace.mark(live.rec.Id, 'exec.created');
    return { Id: id };
  }

  private getExec(execId: string): ExecRecord {
    const ex = this.execs.get(execId);
    if (!ex) throw notFound(`No such exec instance: ${execId}`);
    return ex;
  }

  async startExec(execId: string, opts: { detach: boolean; tty: boolean; consoleSize?: [number, number] | null }): Promise<Attachment | null> {
    await this.ready;
    const ex = this.getExec(execId);
    if (ex.started) throw conflict(`Error: Exec command ${execId} has already run`);
    const live = this.lookup(ex.ContainerID);
    const rec = live.rec;
    if (!rec.State.Running || this.exitPending(live)) throw conflict(`Container ${rec.Id} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${rec.Id} is paused, unpause the container before exec`);
    const b = ex.body;
    const tty = b.Tty === true || opts.tty;
    const detachKeys = tty && b.AttachStdin === true ? parseDetachKeys(b.DetachKeys) : null;
    ex.started = true;
    // dockerd logs exec_start before it sets the process up: an exec that then fails to start
    // (unknown user, missing workdir or program; exit code 126) has its exec_start too, no exec_die.
    this.emit(live, `exec_start: ${execEventCmd(b.Cmd)}`, { execID: ex.ID });
    let process_: ReturnType<typeof execProcessSpec>;
    try {
      process_ = execProcessSpec(rec, this.rootfsDir(rec.Id), b, tty, ex.linkedEnv);
    } catch (err) {
      ex.ExitCode = 126; // dockerd: an exec that cannot start (unknown user, …) exits 126
      this.forgetExecLater(live, ex);
      throw err;
    }
    const size = opts.consoleSize ?? b.ConsoleSize ?? undefined;
    if (this.useMonitor) return this.startMonitoredExec(live, ex, process_, { tty, detach: opts.detach, detachKeys, ...(size ? { size } : {}) });
    let sup: Awaited<ReturnType<typeof superviseProcess>>;
    try {
      sup = await superviseProcess(
        { tty, openStdin: b.AttachStdin === true, stdinOnce: true, ...(size ? { consoleSize: size } : {}) },
        async (stdio) => {
          const started = await this.runtime.startExec(rec.Id, { process: process_ as never, stdio });
          started.process.closeErrPipe();
          return { pid: started.pid, ...(started.ptyMaster === undefined ? {} : { ptyMaster: started.ptyMaster }), exited: started.process.exited };
        },
      );
    } catch (err) {
      // dockerd: an exec whose process could not be started has exit code 126 (`docker exec` exits with it).
      ex.ExitCode = 126;
      this.forgetExecLater(live, ex);
      throw err;
    }
    ex.Running = true;
    ex.Pid = sup.pid;
    ex.io = sup.io;
    ex.exited = sup.exited.then((code) => {
      ex.Running = false;
      ex.ExitCode = code;
      this.emit(live, 'exec_die', { execID: ex.ID, exitCode: String(code) });
      this.forgetExecLater(live, ex);
      return code;
    });
    if (opts.detach) return null;
    const session = new AttachSession({
      tty,
      stdin: b.AttachStdin === true,
      stdout: b.AttachStdout !== false,
      stderr: b.AttachStderr !== false,
      detachKeys,
      onDetach: () => this.emit(live, 'exec_detach', { execID: ex.ID }),
    });
    session.connectIO(sup.io, true);
    return session.attachment();
  }

  /** startExec under a monitor of its own: the process survives a daemon restart. */
  private async startMonitoredExec(live: Live, ex: ExecRecord, process_: ReturnType<typeof execProcessSpec>, o: { tty: boolean; detach: boolean; detachKeys: Buffer | null; size?: [number, number] }): Promise<Attachment | null> {
    const b = ex.body;
    const attached = !o.detach && (b.AttachStdout !== false || b.AttachStderr !== false);
    const streams = { stdin: b.AttachStdin === true, stdout: b.AttachStdout !== false, stderr: b.AttachStderr !== false, tty: o.tty };
    let started: Awaited<ReturnType<typeof startMonitoredExec>>;
    try {
      started = await startMonitoredExec({
        runtime: this.runtime,
        containerId: live.rec.Id,
        dir: execMonitorDir(this.monitorDirOf(live.rec.Id), ex.ID),
        meta: { ID: ex.ID, ContainerID: ex.ContainerID, body: b },
        process: process_ as never,
        tty: o.tty,
        openStdin: b.AttachStdin === true && !o.detach,
        holdOutput: attached ? 1 : 0,
        ...(o.size ? { consoleSize: o.size } : {}),
        // The attached client is handed to the exec's monitor at its launch (no connect after it).
        ...(o.detach ? {} : { attachAtLaunch: execAttachRequest(streams) }),
        ...(this.trace.enabled ? { mark: (phase: string) => this.trace.mark(live.rec.Id, phase) } : {}),
      });
    } catch (err) {
      // dockerd: an exec whose process could not be started has exit code 126 (`docker exec` exits with it).
      ex.ExitCode = 126;
      this.forgetExecLater(live, ex);
      throw err;
    }
    this.trackExec(live, ex, started.pid, started.dir, started.exited);
    this.trace.mark(live.rec.Id, 'exec.started');
    if (o.detach) return null;
    const session = new AttachSession({
      tty: o.tty,
      stdin: b.AttachStdin === true,
      stdout: b.AttachStdout !== false,
      stderr: b.AttachStderr !== false,
      detachKeys: o.detachKeys,
      onDetach: () => this.emit(live, 'exec_detach', { execID: ex.ID }),
    });
    const exited = ex.exited!;
    const onExit = (code: number): void => this.execExited(live, ex, code);
    if (!started.attached) throw new HakoError({ step: `attach to exec ${ex.ID}`, hint: 'its client was not handed to the monitor', kind: 'internal' });
    const up = execAttachment(started.attached.client, started.attached.attachment, onExit, exited, this.trace.enabled ? (phase) => this.trace.mark(live.rec.Id, phase) : undefined);
    session.connectMonitor(up);
    return session.attachment();
  }

  /**
   * A monitored exec is running (started now, or found again after a daemon restart). When its
   * monitor dies without an exit record (`exited` gives null), its process may live on in the
   * container: the exec then ends when that process does, with 255 (orphanedExecEnd), as one
   * found so after a restart.
   */
  private trackExec(live: Live, ex: ExecRecord, pid: number, dir: string, exited: Promise<number | null>, containerPid?: number): void {
    ex.Running = true;
    ex.Pid = pid;
    ex.monitorDir = dir;
    ex.dir = dir;
    ex.exited = exited
      .then((code) => code ?? this.orphanedExecEnd(pid, containerPid ?? live.rec.State.Pid))
      .then((code) => {
        this.execExited(live, ex, code);
        return ex.ExitCode ?? code;
      });
  }

  private execExited(live: Live, ex: ExecRecord, code: number): void {
    if (ex.ExitCode !== null) return; // told by the EXIT frame and by the monitor's exit, once
    ex.Running = false;
    ex.ExitCode = code;
    this.emit(live, 'exec_die', { execID: ex.ID, exitCode: String(code) });
    this.forgetExecLater(live, ex);
  }

  /** `ex` has ended: it is forgotten (its record, its monitor dir) after the retention time (EXEC_RETENTION_MS). */
  private forgetExecLater(live: Live, ex: ExecRecord): void {
    if (ex.forgetTimer) return;
    ex.forgetTimer = setTimeout(() => {
      ex.forgetTimer = undefined;
      if (this.execs.get(ex.ID) !== ex) return; // its container was removed
      this.execs.delete(ex.ID);
      live.execs.delete(ex.ID);
      // (its monitor wrote its exit record and left long ago; the dir is gone already when the
      // container started again: its monitor dir is emptied at each start)
      if (ex.dir) rmSync(ex.dir, { recursive: true, force: true });
    }, this.execRetentionMs);
    ex.forgetTimer.unref();
  }

  /** After a daemon restart: the container's monitored execs, running or finished. */
  private restoreExecs(live: Live, monitorDir: string): void {
    for (const r of restoreExecs(monitorDir, (m) => this.log.warn(`container ${live.rec.Id}: ${m}`))) {
      if (r.ContainerID !== live.rec.Id || this.execs.has(r.ID)) continue;
      if (r.state === 'lost' && !existsSync(join(r.dir, 'control.sock')) && !existsSync(join(r.dir, 'monitor.json'))) {
        // A crash between its exec.json and its monitor's launch: nothing ran. Listed, it stayed
        // in the container's ExecIDs for good (no exit code ever came); forgotten, as dockerd
        // forgets every exec at a restart (inspect: 404).
        rmSync(r.dir, { recursive: true, force: true });
        continue;
      }
      const ex: ExecRecord = { ID: r.ID, ContainerID: r.ContainerID, body: r.body, Running: false, ExitCode: null, Pid: r.pid, started: true, dir: r.dir };
      this.execs.set(ex.ID, ex);
      live.execs.add(ex.ID);
      const containerPid = readMonitorInfo(monitorDir)?.containerPid;
      if (r.state === 'running') this.trackExec(live, ex, r.pid, r.dir, r.exited, containerPid);
      else if (r.state === 'exited') {
        ex.ExitCode = r.exitCode;
        this.forgetExecLater(live, ex);
      }
      // Its monitor died without an exit record, its process runs on: running until it ends.
      else if (r.pid > 0 && sameCgroups(r.pid, containerPid)) {
        ex.Running = true;
        ex.exited = this.orphanedExecEnd(r.pid, containerPid).then((code) => {
          this.execExited(live, ex, code);
          return code;
        });
      }
      // Its monitor and process are gone without an exit record: 255, as for one that dies while we watch.
      else {
        ex.ExitCode = 255;
        this.forgetExecLater(live, ex);
      }
      this.trace.mark(live.rec.Id, 'exec.restored');
    }
  }

  /**
   * The end of an exec whose monitor died (killed) without an exit record: its process may run
   * on in the container (reparented there; nothing kills it before the container stops). While
   * `pid` is in the container's cgroups (`containerPid`'s), the exec runs until that process
   * ends, as watchOrphan does for a container; then, or at once when it is gone, 255 (its status
   * went with the monitor). Never settles once the engine is closed.
   */
  private orphanedExecEnd(pid: number, containerPid: number | undefined): Promise<number> {
    if (!(pid > 0) || !sameCgroups(pid, containerPid)) return Promise.resolve(255);
    return this.processGone(pid, processStartTime(pid) ?? undefined).then(() => 255);
  }

  async inspectExec(execId: string): Promise<Json> {
    await this.ready;
    const ex = this.getExec(execId);
    const b = ex.body;
    return {
      CanRemove: false,
      ContainerID: ex.ContainerID,
      DetachKeys: b.DetachKeys ?? '',
      ExitCode: ex.ExitCode,
      ID: ex.ID,
      OpenStderr: b.AttachStderr === true,
      OpenStdin: b.AttachStdin === true,
      OpenStdout: b.AttachStdout === true,
      // user is omitempty in dockerd's ExecProcessConfig.
      ProcessConfig: { arguments: b.Cmd.slice(1), entrypoint: b.Cmd[0], privileged: b.Privileged === true, tty: b.Tty === true, ...(b.User ? { user: b.User } : {}) },
      Running: ex.Running,
      Pid: ex.Pid,
    };
  }

  async resizeExec(execId: string, height: number, width: number): Promise<void> {
    await this.ready;
    const ex = this.getExec(execId);
    // dockerd waits (up to 10 s) for the exec's process to be started: a client resizes as soon
    // as its start's upgrade answer arrives, which goes out before the process runs (the CLI's
    // `exec -it`, dockerode's exec.start then exec.resize got a 409 "not running").
    for (const deadline = Date.now() + 10_000; !ex.Running && ex.ExitCode === null; ) {
      if (!this.lookup(ex.ContainerID).rec.State.Running) throw conflict(`Container ${ex.ContainerID} is not running`);
      if (Date.now() > deadline) throw new HakoError({ step: 'timeout waiting for exec session ready', kind: 'internal' });
      await new Promise((r) => setTimeout(r, 10));
    }
    if (ex.monitorDir && ex.Running) return monitorResize(ex.monitorDir, height, width);
    if (!ex.io) throw conflict(`exec ${execId} is not running`);
    ex.io.resize(height, width);
  }

  // ------------------------------------------------------------------ volumes

  async createVolume(body: Json): Promise<Json> {
    await this.ready;
    const { meta } = this.volumes.create({
      name: (body.Name as string | undefined) || undefined,
      labels: (body.Labels as Record<string, string> | null | undefined) ?? null,
      options: (body.DriverOpts as Record<string, string> | undefined) ?? {},
      driver: (body.Driver as string | undefined) || 'local',
    });
    // Logged for an existing volume too, as dockerd does (`docker volume create v` twice: two events).
    this.bus.emit('volume', 'create', meta.Name, { driver: 'local' });
    return this.volumes.view(meta);
  }

  async listVolumes(filters: Filters = {}): Promise<{ Volumes: Json[]; Warnings: string[] | null }> {
    await this.ready;
    checkVolumeFilters(filters);
    const out: Json[] = [];
    for (const name of this.volumes.names()) {
      const meta = this.volumes.get(name);
      if (volumeMatches(meta, filters, this.volumeUsers(name).length > 0)) out.push(this.volumes.view(meta));
    }
    return { Volumes: out, Warnings: null };
  }

  async inspectVolume(name: string): Promise<Json> {
    await this.ready;
    if (name === '') throw notFound('get: no such volume'); // dockerd's words for `GET /volumes/`
    return this.volumes.view(this.volumes.get(name));
  }

  async removeVolume(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.ready;
    if (name === '') {
      if (opts.force) return; // `DELETE /volumes/?force=1`: 204 from dockerd
      throw notFound('get: no such volume'); // `DELETE /volumes/`, dockerd's words
    }
    if (!this.volumes.exists(name)) {
      if (opts.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    const users = this.volumeUsers(name);
    if (users.length === 0) await this.volumeMounts.beforeRemove(name);
    this.volumes.remove(name, users);
    this.bus.emit('volume', 'destroy', name, { driver: 'local' });
  }

  async pruneVolumes(filters: Filters = {}): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    await this.ready;
    checkVolumeFilters(filters, true);
    const all = filters.all?.some((v) => v === 'true' || v === '1') ?? false;
    const f = { ...filters };
    delete f.all;
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const name of this.volumes.names()) {
      const meta = this.volumes.get(name);
      if (this.volumeUsers(name).length > 0) continue;
      if (!all && !meta.Anonymous) continue; // docker ≥ 23 prunes only anonymous volumes unless all=true
      if (!volumeMatches(meta, f, false)) continue;
      await this.volumeMounts.beforeRemove(name);
      reclaimed += await fsops.diskUsage(this.volumes.dataPath(name));
      this.volumes.remove(name, []);
      this.bus.emit('volume', 'destroy', name, { driver: 'local' });
      deleted.push(name);
    }
    this.bus.emit('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  // ------------------------------------------------------------------ networks

  /** Running containers in `host` / `none` mode (members of those pseudo networks). */
  private pseudoMembers = (mode: 'host' | 'none'): Array<{ id: string; name: string; endpointId: string | undefined }> =>
    [...this.containers.values()]
      .filter((l) => l.rec.State.Running && l.rec.HostConfig.NetworkMode === mode && !(mode === 'none' && l.rec.NoneDisconnected))
      .map((l) => ({ id: l.rec.Id, name: l.rec.Name.slice(1), endpointId: l.rec.PseudoEndpointID }));

  async listNetworks(filters: Filters = {}): Promise<Json[]> {
    await this.ready;
    return this.net.list(filters, this.pseudoMembers);
  }

  async inspectNetwork(ref: string): Promise<Json> {
    await this.ready;
    return this.net.inspect(ref, this.pseudoMembers);
  }

  async createNetwork(body: Json): Promise<{ Id: string; Warning: string }> {
    await this.ready;
    const r = await this.net.create(body);
    this.bus.emit('network', 'create', r.Id, { name: r.name, type: 'bridge' });
    return { Id: r.Id, Warning: r.Warning };
  }

  async removeNetwork(ref: string): Promise<void> {
    await this.ready;
    const r = await this.net.remove(ref);
    this.bus.emit('network', 'destroy', r.id, { name: r.name, type: 'bridge' });
  }

  async pruneNetworks(filters: Filters = {}): Promise<{ NetworksDeleted: string[] }> {
    await this.ready;
    const removed = await this.net.prune(filters);
    for (const r of removed) this.bus.emit('network', 'destroy', r.id, { name: r.name, type: 'bridge' });
    // dockerd reports nothing reclaimed for networks, as an attribute all the same.
    this.bus.emit('network', 'prune', '', { reclaimed: '0' });
    return { NetworksDeleted: removed.map((r) => r.name) };
  }

  async connectNetwork(ref: string, body: Json): Promise<void> {
    if (typeof body.Container !== 'string' || !body.Container) throw invalid('bad parameter: Container is required');
    const live = await this.get(body.Container);
    await this.locked(live, async () => {
      const st = live.rec.State;
      if (st.Status === 'removing' || st.Status === 'dead') throw conflict(`container ${live.rec.Id} is marked for removal`);
      const pseudo = this.net.pseudoOf(ref);
      const mode = live.rec.HostConfig.NetworkMode as string;
      if (pseudo === 'none' && mode === 'none') {
        // dockerd: back on the none network after a disconnect; a running one already on it has
        // its endpoint (a stopped one gets it at its start).
        if (!live.rec.NoneDisconnected) {
          if (st.Running) throw new HakoError({ step: `endpoint with name ${live.rec.Name.slice(1)} already exists in network none`, kind: 'forbidden' });
          return;
        }
        // dockerd: not once it joined another network (none allows no other).
        if (Object.keys(this.net.networksOf(live.rec)).length) throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
        live.rec.NoneDisconnected = undefined;
        if (st.Running) live.rec.PseudoEndpointID = randomBytes(32).toString('hex');
        this.save(live);
        if (st.Running) this.bus.emit('network', 'connect', this.net.pseudoId('none'), { container: live.rec.Id, name: 'none', type: 'null' });
        return;
      }
      if (pseudo === 'none') throw invalid(mode === 'host' || mode.startsWith('container:') ? 'container sharing network namespace with another container or host cannot be connected to any other network' : 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
      const net = await this.net.connect(live.rec, ref, body, st.Running ? st.Pid : undefined);
      this.trace.mark(live.rec.Id, 'connect.attached');
      this.save(live);
      // A stopped container gets its endpoint (and the event) when it starts.
      if (st.Running) this.bus.emit('network', 'connect', net.id, { container: live.rec.Id, name: net.name, type: 'bridge' });
    });
  }

  async disconnectNetwork(ref: string, body: Json): Promise<void> {
    if (typeof body.Container !== 'string' || !body.Container) throw invalid('bad parameter: Container is required');
    const live = await this.get(body.Container);
    await this.locked(live, async () => {
      const pseudo = this.net.pseudoOf(ref);
      const mode = live.rec.HostConfig.NetworkMode as string;
      // dockerd words it in two ways: "the network" for a container that is not running; both
      // are plain errors there (500; dockerd 20.10 lab and moby's DisconnectFromNetwork).
      const notConnected = (n: string) => new HakoError({ step: `container ${live.rec.Id} is not connected to ${live.rec.State.Running ? '' : 'the '}network ${n}`, kind: 'internal' });
      if (pseudo !== undefined && pseudo !== mode) throw notConnected(pseudo);
      if (pseudo === 'none') {
        // dockerd lets a --network none container leave the none network (it keeps its
        // loopback-only namespace, and shows no networks until connected again).
        if (live.rec.NoneDisconnected) throw notConnected('none');
        live.rec.NoneDisconnected = true;
        const running = live.rec.PseudoEndpointID !== undefined;
        live.rec.PseudoEndpointID = undefined;
        this.save(live);
        // dockerd's event comes for a stopped container too, and twice for a running one (its
        // endpoint leaves the sandbox, then the container leaves the network).
        for (let i = running ? 2 : 1; i > 0; i--) this.bus.emit('network', 'disconnect', this.net.pseudoId('none'), { container: live.rec.Id, name: 'none', type: 'null' });
        return;
      }
      const r = await this.net.disconnect(live.rec, ref, live.rec.State.Running, body.Force === true);
      this.trace.mark(live.rec.Id, 'disconnect.detached');
      this.save(live);
      // dockerd's event comes for a stopped container too (its config loses the network), but
      // not for a forced disconnect from a network that no longer exists.
      if (r.found) this.bus.emit('network', 'disconnect', r.id, { container: live.rec.Id, name: r.name, type: 'bridge' });
    });
  }

  // ------------------------------------------------------------------ close

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    await this.ready.catch(() => undefined);
    for (const live of this.containers.values()) live.cleaning?.now();
    // Held mount namespaces of running containers: theirs to keep now.
    for (const live of this.containers.values()) await this.releaseMountNamespace(live);
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await this.records.flush();
    for (const live of this.containers.values()) {
      if (live.restartTimer) clearTimeout(live.restartTimer);
      live.restartTimer = undefined;
      this.stopHealth(live);
    }
    // The SandboxKeys pin namespaces: none stays mounted while no engine runs (a restart binds
    // those of the containers still running again).
    await this.sandboxKeys.releaseAll(new Set(), (m) => this.log.warn(m));
    await this.net.close();
    if (this.ownsImages) this.images.close();
  }
}

/** The names of the volumes a container mounts. */
function volumeNamesOf(rec: ContainerRecord): string[] {
  return rec.MountPoints.filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name as string);
}

/** The IPC modes besides container:<id> (dockerd 20.10; "" from records of old daemons). */
const IPC_MODES = new Set(['', 'none', 'private', 'shareable', 'host']);

export { ZERO_TIME };

/** Whether `pid` is in the same cgroups as `other` (an exec's process and its container's init). */
function sameCgroups(pid: number, other: number | undefined): boolean {
  if (!other || other <= 0) return false;
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8') === readFileSync(`/proc/${other}/cgroup`, 'utf8');
  } catch {
    return false;
  }
}
