// create and run share this: reserve the state dir, validate the bundle, make the cgroups,
// plan the container, spawn it through the native executor, do the parent's half of the
// handshake (id maps, release; the child joins its cgroups itself or is cloned into them), run the
// hooks at the child's checkpoints, and record it.
// Any failure undoes every step already taken: no process, cgroup, fifo or state dir remains.
import { chmodSync, closeSync, openSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import { HakoError, fromSystemError, invalid } from '../../common/errors.js';
import type { Plan, PlanOp } from '../../native/plan.js';
import { describeOp } from '../../native/describe-op.js';
import { addonErrno, native } from '../../native/addon.js';
import { spawnEncoded, type SpawnedProcess } from '../../native/executor.js';
import { encodePlan, encodePlanHeader, encodePlanOps } from '../../native/plan-encoding.js';
import { checkRootfsDir, validateSpec } from '../spec/validate.js';
import type { Spec } from '../spec/types.js';
import { detectCgroupLayout, planContainer, NOTIFY } from '../plan/index.js';
import type { CgroupLayout, PlanRequest, SourceKind } from '../plan/types.js';
import { defaultMountPointOf, defaultStatSource, hostHasKcore } from '../plan/mounts.js';
import { patchedOps, plannedFor, swapIdDeep, withoutId, type PlannedMeta } from './launch-templates.js';
import { cgroupManager, readCgroupHostView, type CgroupHostView, type CgroupManager, type SelfJoinFds } from '../cgroups/index.js';
import type { ContainerRecord } from '../state/container-store.js';
import { writeFileAtomicSync } from '../../common/atomic-file.js';
import { processStartTime } from '../state/process-info.js';
import { runHooks, type HookState } from './hooks.js';
import type { RuntimeContext } from './context.js';
import { deviceCgroupRules } from './device-rules.js';
import { awaitFork, killContainerPidfd, supervisedPlan, type SupervisorOptions } from './supervised.js';
import { detachHostMount, topMountId } from './host-mounts.js';
import type { CgroupsAhead } from './cgroups-ahead.js';
import { isoTime } from '../../common/time.js';

/** Checkpoint values the child reports with `notify` ops (shared with the planner). */
const NOTIFY_BEFORE_PIVOT = NOTIFY.BEFORE_PIVOT;
const NOTIFY_CREATED = NOTIFY.CREATED;

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const O_RDONLY_CLOEXEC = O_CLOEXEC;
const CLONE_NEWNS = 0x00020000;

export interface LaunchOptions {
  id: string;
  bundle: string;
  mode: 'create' | 'run';
  /** The container's fds 0, 1, 2 (fds of this process). */
  stdio: [number, number, number];
  /** Pass fds 3 … 3+n-1 of this process on to the container (runc --preserve-fds). */
  preserveFds?: number;
  /** Unix socket path that receives the pty master (runc --console-socket). */
  consoleSocket?: string;
  /** run only: receive the pty master ourselves (run with a terminal and no console socket). */
  ownTerminal?: boolean;
  pidFile?: string;
  /** Kill the container if this process dies (in-process API); 0 = outlive it. */
  pdeathsig?: number;
  /**
   * Supervised: the container runs under a monitor process (its parent, which holds its stdio,
   * logs, serves attach and writes its exit file; see ./supervised.ts). `stdio`, `consoleSocket`,
   * `ownTerminal` and `pdeathsig` are then ignored; the returned `process` tracks the monitor.
   */
  monitor?: SupervisorOptions;
  /**
   * In-process prestart hook (the embedding engine's networking): called with the container's pid
   * once its namespaces exist and before its program runs, at the checkpoint of the spec's
   * prestart hooks. A throw fails the launch (and undoes it like any other failure).
   */
  prestart?: (pid: number) => Promise<void>;
  /**
   * Supervised launches: called once the container's process is forked (its pid known, its
   * program far from running), with the fd of `premadeNetwork` when the plan enters it and the
   * forked process is the container's (no clone op): the container's network namespace already,
   * before the child's setns op, so the caller may work in it meanwhile (e.g. connect networks
   * that `prestart` then awaits). The fd is only sure to be open until this call returns (launch
   * closes it later): open your own. Must not throw.
   */
  onForked?: (pid: number, premadeNetworkFd: number | undefined) => void;
  /** Set `lo` of the container's new network namespace up in the child (before its program runs). */
  loopbackUp?: boolean;
  /**
   * A fresh network namespace made ahead (an fd of it; `loopbackUp`: its lo is up already), for
   * a spec that asks for a new one owned by the host's user ns: the container enters it instead
   * of creating one on its way to exec (see PlanRequest.premadeNetwork). launch owns the fd: it
   * is closed when launch returns or throws, used or not.
   */
  premadeNetwork?: { fd: number; loopbackUp: boolean };
  /**
   * The container's cgroup directories being made ahead (./cgroups-ahead.ts, for the spec's
   * cgroupsPath): adopted (or dropped, for another cgroupsPath) by launch, which ends it either way.
   */
  cgroupsAhead?: CgroupsAhead;
  /**
   * Profiling: called with the name of each step as it completes (the engine's phase trace);
   * `atMs` when the step completed earlier (ms, CLOCK_MONOTONIC): the executor child's ops,
   * reported as `op.<index>.<what it did>` once the container is created.
   */
  mark?: (phase: string, atMs?: number) => void;
  /**
   * The bundle's config, from an embedding engine that built it and writes config.json itself
   * (concurrently): validated in memory, not read back from the file. The CLI never passes it.
   */
  spec?: Spec;
  /** JSON.stringify(spec) when the caller made it already (the state records embed it). */
  specJson?: string;
  /**
   * Supervised launches with a new mount namespace: return an fd of it (Launched.mountNsFd).
   * While it is open, the container's exit does not tear its mounts down (the last reference
   * does: umount of every mount and an RCU grace period, ms), so its exit is seen sooner; the
   * caller closes it later, off its event loop (an async close runs in libuv's thread pool).
   */
  holdMountNamespace?: boolean;
}

export interface Launched {
  record: ContainerRecord;
  process: SpawnedProcess;
  cgroups: CgroupManager;
  /** The pty master when ownTerminal was asked for. */
  ptyMaster?: number;
  /** Supervised launches: the monitor (also written to <monitor dir>/monitor.json). */
  monitor?: { pid: number; startTime: string | null; containerPid: number };
  /** holdMountNamespace: an fd of the container's mount namespace, the caller's to close. */
  mountNsFd?: number;
}

/** The container's view of the v1 hierarchies, once per host view (a kept view is shared by every launch). */
const layouts = new WeakMap<CgroupHostView, CgroupLayout>();
function layoutOf(host: CgroupHostView): CgroupLayout {
  let layout = layouts.get(host);
  if (layout === undefined) layouts.set(host, (layout = detectCgroupLayout(host.mountinfo)));
  return layout;
}

export async function launch(ctx: RuntimeContext, opts: LaunchOptions): Promise<Launched> {
  const { store } = ctx;
  const id = opts.id;
  const bundle = resolve(opts.bundle);
  const mark = opts.mark ?? (() => undefined);
  const undo: Array<() => void | Promise<void>> = [];
  const fdsToClose: number[] = [];
  const closers: Array<() => void> = [];
  let monitorFds: number[] = [];
  let proc: SpawnedProcess | undefined;
  let mountNsFd: number | undefined;
  if (opts.premadeNetwork) fdsToClose.push(opts.premadeNetwork.fd);
  let procSelfCgroup: string;
  let host: CgroupHostView;
  const ahead = opts.cgroupsAhead;
  try {
    procSelfCgroup = ahead?.procSelfCgroup ?? readFileSync('/proc/self/cgroup', 'utf8');
    host = ahead?.host ?? ctx.cgroupHost?.get() ?? readCgroupHostView();
    mark('launch.proc-read');
    store.reserve(id);
  } catch (err) {
    for (const fd of fdsToClose) safeClose(fd);
    ahead?.drop();
    throw err;
  }
  undo.push(() => store.remove(id));
  mark('launch.reserved');
  try {
    // A launch template (./launch-templates.ts) may stand in for validation, planning and
    // encoding: only under a monitor with a spec from the caller (the engine), by a key without the id.
    const templates = opts.spec && opts.specJson !== undefined && opts.monitor ? ctx.launchTemplates : undefined;
    const specKey = templates ? `${withoutId(opts.specJson!, id)}\n${withoutId(bundle, id)}` : undefined;
    let spec: Spec;
    if (opts.spec && specKey !== undefined && templates!.validated(specKey)) {
      // Validation is a function of the spec's JSON, which differs from a valid one's only by the
      // id; the rootfs it names is checked again.
      spec = opts.spec;
      checkRootfsDir(spec.root!.path, bundle);
    } else {
      spec = opts.spec ? validateSpec(opts.spec, bundle) : loadBundleSpec(bundle);
      if (specKey !== undefined) templates!.markValidated(specKey);
    }
    // The bulk of each state record: serialised once for the launch's saves (or by the caller).
    const configJson = opts.spec && opts.specJson !== undefined ? opts.specJson : JSON.stringify(spec);
    mark('launch.spec');
    const rootfs = resolve(bundle, spec.root?.path ?? 'rootfs');
    if (opts.mode === 'create' && spec.process?.terminal && !opts.consoleSocket && !opts.monitor) {
      throw invalid('cannot allocate a terminal for a detached container without --console-socket', 'pass --console-socket, or set process.terminal to false');
    }
    const record: ContainerRecord = {
      ociVersion: spec.ociVersion,
      id,
      bundle,
      rootfs,
      created: isoTime(),
      owner: ownerName(),
      status: 'creating',
      pid: 0,
      annotations: spec.annotations ?? {},
      cgroupsPath: spec.linux?.cgroupsPath,
      config: spec,
    };

    // cgroups: made before the process exists, limited right after the spawn (below), while it
    // waits for its release: none of its ops runs, and its program never runs, unlimited.
    const useAhead = ahead !== undefined && ahead.cgroupsPath === spec.linux?.cgroupsPath;
    if (ahead && !useAhead) ahead.drop();
    const managerFor = (view: CgroupHostView) => cgroupManager({ cgroupsPath: spec.linux?.cgroupsPath, containerId: id, procSelfCgroup, host: view, ...(ctx.cgroupDriver ? { driver: ctx.cgroupDriver } : {}) });
    // No move of the process by us, whose lock waits for an RCU grace period (5–16 ms after an
    // idle gap, ../cgroups/v1.ts): on cgroup v2 the container is cloned straight into its cgroup
    // (CLONE_INTO_CGROUP); on v1 it joins each hierarchy itself (openSelfJoin's fds), and is cloned
    // into the unified one of a hybrid host. Under a monitor the clone is the fork of the
    // container, so the monitor (the process we spawn) stays outside.
    // Makes the cgroups and opens the container's ways in; on a failure, undone (destroy() is
    // async: awaited before any retry, whose mkdirs it would otherwise race).
    const makeCgroups = async (cg: CgroupManager, madeAhead: { made: string[]; tasks: Map<string, number> }): Promise<SelfJoinFds | undefined> => {
      try {
        cg.create(madeAhead.made); // removes what it made when it fails
        try {
          return cg.version === 2 ? undefined : cg.openSelfJoin(madeAhead.tasks);
        } catch (err) {
          await cg.destroy().catch(() => undefined);
          throw err;
        }
      } finally {
        for (const fd of madeAhead.tasks.values()) safeClose(fd); // (those not taken)
      }
    };
    let cgroups = useAhead ? ahead.manager : managerFor(host);
    let selfJoin: SelfJoinFds | undefined;
    try {
      selfJoin = await makeCgroups(cgroups, useAhead ? ahead.adopt() : { made: [], tasks: new Map() });
    } catch (err) {
      // A kept view of the host's cgroup mounts (../cgroups/host.ts) that no longer holds: a
      // hierarchy gone (its directory now a plain one, without `tasks`: ENOENT) or the cgroup fs
      // root remounted read-only (EROFS). Read the mounts again and retry once where they changed.
      const errno = (err as HakoError).code;
      if (!ctx.cgroupHost || (errno !== 'ENOENT' && errno !== 'EROFS')) throw err;
      const fresh = ctx.cgroupHost.refresh();
      if (fresh.mode === host.mode && JSON.stringify(fresh.mounts) === JSON.stringify(host.mounts)) throw err;
      host = fresh;
      cgroups = managerFor(host);
      selfJoin = await makeCgroups(cgroups, { made: [], tasks: new Map() });
    }
    const made = cgroups;
    undo.push(() => made.destroy());
    mark('launch.cgroups-made');
    const intoCgroup = cgroups.version === 2;
    if (selfJoin) fdsToClose.push(...selfJoin.tasks.map((t) => t.fd), ...(selfJoin.cloneInto >= 0 ? [selfJoin.cloneInto] : []));
    record.cgroupPaths = { ...cgroups.paths };
    store.save(record, configJson);
    mark('launch.cgroups');

    // fds the child's ops refer to by index.
    const internalFds: number[] = [];
    const internal = (fd: number) => internalFds.push(fd) - 1;
    let fifoIndex: number | undefined;
    if (opts.mode === 'create') {
      const fifo = store.fifoPath(id);
      native().mkfifo(fifo, 0o622);
      // Past the umask: the container process opens it for writing after its switch to the
      // container user and its capability drop (no CAP_DAC_OVERRIDE), so others need write.
      chmodSync(fifo, 0o622);
      const fd = openSync(fifo, O_PATH | O_CLOEXEC);
      fdsToClose.push(fd);
      fifoIndex = internal(fd);
    }
    let consoleIndex: number | undefined;
    let ownPtyEnd: number | undefined;
    let monitorPtyEnd: number | undefined;
    if (spec.process?.terminal) {
      if (opts.monitor) {
        const [ours, theirs] = native().socketPair();
        fdsToClose.push(ours, theirs);
        monitorPtyEnd = ours;
        consoleIndex = internal(theirs);
      } else if (opts.consoleSocket) {
        const { connectConsoleSocket } = await import('./console.js'); // node:net, only when needed
        const sock = await connectConsoleSocket(opts.consoleSocket);
        closers.push(() => sock.close());
        consoleIndex = internal(sock.fd);
      } else if (opts.ownTerminal) {
        const [ours, theirs] = native().socketPair();
        fdsToClose.push(ours, theirs);
        ownPtyEnd = ours;
        consoleIndex = internal(theirs);
      } else {
        throw invalid('process.terminal is set but no console socket was given', 'pass --console-socket');
      }
    }
    const joinNamespaces: Array<{ type: string; fd: number }> = [];
    for (const ns of spec.linux?.namespaces ?? []) {
      if (!ns.path) continue;
      let fd: number;
      try {
        fd = openSync(ns.path, 'r');
      } catch (err) {
        throw fromSystemError(`open ${ns.type} namespace ${ns.path}`, err, ns.path);
      }
      fdsToClose.push(fd);
      joinNamespaces.push({ type: ns.type, fd: internal(fd) });
    }
    const hooks = spec.hooks ?? {};
    const hooksBeforePivot = opts.prestart !== undefined || [hooks.prestart, hooks.createRuntime, hooks.createContainer].some((h) => h && h.length > 0);
    const planRequest: PlanRequest = {
      spec,
      bundle,
      mode: opts.mode,
      fifo: fifoIndex,
      consoleSocket: consoleIndex,
      joinNamespaces: joinNamespaces as never,
      hooksBeforePivot,
      cgroupPaths: record.cgroupPaths,
      // The container's view follows the driver placing it (v2 on a hybrid host: the unified one).
      cgroupLayout: cgroups.version === 2 ? { version: 2 } : layoutOf(host),
      cgroupV2IntoClone: intoCgroup,
      ...(selfJoin ? { cgroupSelfJoin: selfJoin.tasks.map((t) => ({ fd: internal(t.fd), path: t.path })) } : {}),
      ...(ctx.seccompCache ? { seccompCache: ctx.seccompCache } : {}),
      ...(opts.loopbackUp ? { loopbackUp: true } : {}),
      ...(opts.premadeNetwork ? { premadeNetwork: { fd: internal(opts.premadeNetwork.fd), loopbackUp: opts.premadeNetwork.loopbackUp } } : {}),
      hostHasKcore: hostHasKcore(),
    };
    const fds: Plan['fds'] = [
      { source: opts.stdio[0], target: 0 },
      { source: opts.stdio[1], target: 1 },
      { source: opts.stdio[2], target: 2 },
    ];
    for (let i = 0; i < (opts.preserveFds ?? 0); i++) fds.push({ source: 3 + i, target: 3 + i });
    let cgroupFd = selfJoin?.cloneInto ?? -1;
    if (intoCgroup) {
      cgroupFd = cgroups.openForCloneInto();
      fdsToClose.push(cgroupFd);
    }
    // Under a monitor the fork of the container gets it (as an internal fd), not the spawn.
    const forkCgroupFd = opts.monitor && cgroupFd >= 0 ? internal(cgroupFd) : undefined;
    if (opts.monitor) cgroupFd = -1;
    const memoryDir = cgroups.paths.memory ?? cgroups.paths.unified;
    const supervisor = opts.monitor && opts.monitor.cgroupMemoryFlag && memoryDir ? { ...opts.monitor, args: [...opts.monitor.args, opts.monitor.cgroupMemoryFlag, memoryDir] } : opts.monitor;
    // Everything the planner and supervisedPlan go by, but the spec (specKey) and fd numbers.
    const templateKey = specKey === undefined ? undefined : `${specKey}\n${withoutId(JSON.stringify({
      request: { ...planRequest, spec: undefined, seccompCache: planRequest.seccompCache !== undefined },
      supervisor: { ...supervisor, clientFds: supervisor?.clientFds?.length ?? 0 },
      pty: monitorPtyEnd !== undefined,
      forkCgroupFd,
      pdeathsig: opts.pdeathsig ?? 0,
      euid: process.geteuid?.() ?? 0,
    }), id)}`;
    const template = templateKey !== undefined ? templates!.use(templateKey, id, defaultMountPointOf) : undefined;
    // The host facts the planner asks for, recorded for a template.
    const stats: Array<[string, SourceKind]> = [];
    const mountPoints: Array<[string, string]> = [];
    let planned: PlannedMeta;
    let ops: PlanOp[];
    if (template) {
      planned = plannedFor(template, id);
      ops = template.containerOps; // (their number and kinds: supervisedPlan's fd and step layout)
    } else {
      const full = planContainer(templateKey === undefined ? planRequest : {
        ...planRequest,
        statSource: (path) => {
          const kind = defaultStatSource(path);
          stats.push([path, kind]);
          return kind;
        },
        mountPointOf: (path) => {
          const point = defaultMountPointOf(path);
          mountPoints.push([path, point]);
          return point;
        },
      });
      const { ops: plannedOps, ...meta } = full;
      planned = meta;
      ops = [...plannedOps];
      if (opts.pdeathsig && !opts.monitor) {
        // The kernel clears the parent-death signal when the process changes its euid/egid (a
        // non-root container user): set it again right after the switch, as runc does.
        const at = ops.map((o) => o.op).lastIndexOf('setresid');
        if (at >= 0) ops.splice(at + 1, 0, { op: 'pdeathsig', signal: opts.pdeathsig });
      }
      if (opts.mode === 'create') {
        // Tell the parent the container is fully set up, right before it blocks on the fifo.
        const at = ops.findIndex((o) => o.op === 'waitFifo');
        if (at < 0) throw new HakoError({ step: 'plan container', hint: 'the plan has no waitFifo op in create mode', kind: 'internal' });
        ops.splice(at, 0, { op: 'notify', value: NOTIFY_CREATED });
      }
    }
    for (const w of planned.warnings) ctx.log.warn(w);
    for (const n of planned.notices ?? []) ctx.log.debug(n);
    let plan: Plan = {
      cloneFlags: planned.cloneFlags,
      cgroupFd,
      fds,
      internalFds,
      pdeathsig: opts.pdeathsig ?? 0,
      ops,
    };
    if (opts.monitor) {
      const supervised = supervisedPlan({
        supervisor: supervisor!,
        cloneFlags: planned.cloneFlags,
        ops,
        internalFds,
        ...(monitorPtyEnd === undefined ? {} : { pty: { monitorEnd: monitorPtyEnd } }),
        ...(forkCgroupFd === undefined ? {} : { cgroupFd: forkCgroupFd }),
      });
      fdsToClose.push(...supervised.fdsToClose);
      monitorFds = supervised.fdsToClose;
      plan = supervised.plan;
    }
    let encoded: Buffer;
    if (template) {
      // The template's ops for this id; plan.ops (failure messages, tracing) rewritten only when asked for.
      const header = plan;
      let rewritten: PlanOp[] | undefined;
      plan = {
        cloneFlags: header.cloneFlags,
        cgroupFd: header.cgroupFd,
        fds: header.fds,
        internalFds: header.internalFds,
        pdeathsig: header.pdeathsig,
        get ops(): PlanOp[] {
          return (rewritten ??= swapIdDeep(template.ops, template.id, id));
        },
      };
      encoded = Buffer.concat([encodePlanHeader(plan), patchedOps(template, id)]);
    } else if (templateKey !== undefined) {
      const opsBytes = encodePlanOps(plan);
      encoded = Buffer.concat([encodePlanHeader(plan), opsBytes]);
      templates!.record(templateKey, { id, opsBytes, ops: plan.ops, planned, containerOps: ops, stats, mountPoints });
    } else {
      encoded = encodePlan(plan);
    }

    // No mount namespace: the child's mounts land in ours, beneath a self-bind of the rootfs
    // (see ./host-mounts.ts). A failed create detaches whatever it got to mount.
    const hostMount = planned.hostRootfsMount;
    const mountBefore = hostMount === undefined ? undefined : topMountId(hostMount);
    if (hostMount !== undefined) {
      undo.push(async () => {
        const now = topMountId(hostMount);
        if (now !== undefined && now !== mountBefore) await detachHostMount(hostMount, now);
      });
    }

    mark('launch.planned');
    const opTrace = opts.mark ? new BigUint64Array(plan.ops.length + 1) : undefined;
    proc = spawnEncoded(plan, encoded, opTrace, opts.monitor !== undefined || undefined);
    // The monitor's ends and the container's ends of its stdio pipes are the spawned process's now
    // (it has its own fd table). Ours would keep the container's output open after it exits: the
    // monitor would see no EOF, and so report no exit, until this launch returns.
    for (const fd of monitorFds) {
      fdsToClose.splice(fdsToClose.indexOf(fd), 1);
      safeClose(fd);
    }
    mark('launch.spawned');
    const spawned = proc;
    undo.push(async () => {
      spawned.abort();
      await spawned.exited.catch(() => undefined);
    });
    // The limits, while the spawned process forks the container and execs its monitor (on the
    // other CPU): it is blocked at its first syncWait until the release below. runc, too, sets
    // them once its init is in the cgroup, before that execs. (On v2 the fork may already be in
    // the cgroup: blocked, it uses next to nothing; the device rules precede its mknod ops.)
    cgroups.apply({ ...(spec.linux?.resources ?? {}), devices: deviceCgroupRules(spec) } as never);
    mark('launch.cgroups-applied');
    // Supervised: the container is the monitor's child; its pid comes with the fork record.
    let containerPid = spawned.pid;
    const containerPidfds: number[] = [];
    if (opts.monitor) {
      const forked = await awaitFork(spawned);
      containerPid = forked.pid;
      containerPidfds.push(forked.pidfd);
      mark('launch.forked');
      // (Not with a clone op: the container's pid is then another one, known later.)
      opts.onForked?.(forked.pid, planned.premadeNetworkUsed && !planned.pidFromClone ? opts.premadeNetwork?.fd : undefined);
      if (opts.holdMountNamespace && planned.cloneFlags & CLONE_NEWNS) {
        try {
          mountNsFd = openSync(`/proc/${forked.pid}/ns/mnt`, O_RDONLY_CLOEXEC);
        } catch {
          /* gone already: its failure is reported below */
        }
      }
      // The forked process, and the clone op's process that replaces it (if any).
      // (Closed on success below; on failure the undo kills through them and closes them.)
      undo.push(async () => {
        for (const fd of containerPidfds.splice(0).reverse()) await killContainerPidfd(fd);
      });
    }
    const pid = () => (opts.monitor ? containerPid : spawned.pid);

    // The parent's half of the handshake: id maps (unless the child makes its user namespace
    // later, after joining others: then at its USERNS checkpoint), release.
    if (planned.idMapsAtNotify === undefined) writeIdMappings(pid(), planned);
    try {
      spawned.release();
    } catch (err) {
      // A child that failed meanwhile is gone (EPIPE on the release): its own failure says more.
      throw spawned.pendingFailure() ?? err;
    }

    const hookState = (status: string): HookState => ({ ociVersion: spec.ociVersion, id, status, pid: pid(), bundle, annotations: spec.annotations ?? {} });
    for await (const ev of spawned.events()) {
      if (ev.type === 'notify' && planned.idMapsAtNotify !== undefined && ev.value === planned.idMapsAtNotify) {
        writeIdMappings(pid(), planned);
        spawned.release();
      } else if (ev.type === 'notify' && ev.value === NOTIFY_BEFORE_PIVOT) {
        mark('launch.before-pivot');
        if (opts.prestart) await opts.prestart(pid());
        await runHooks('prestart', hooks.prestart, hookState('creating'));
        await runHooks('createRuntime', hooks.createRuntime, hookState('creating'));
        await runHooks('createContainer', hooks.createContainer, hookState('creating'));
        spawned.release();
      } else if (ev.type === 'notify' && ev.value === NOTIFY_CREATED) {
        break;
      } else if (ev.type === 'pid' && opts.monitor) {
        // The container's clone op made the real process (the monitor's child, like the forked
        // one it replaces); without a monitor the SpawnedProcess already follows it.
        containerPid = ev.pid;
        containerPidfds.push(openPidfd(ev.pid));
        spawned.release(); // it waits after its clone op until this pidfd is open (supervisedPlan)
      } else if (ev.type === 'exec') {
        break;
      }
    }
    if (hostMount !== undefined) {
      const mountId = topMountId(hostMount);
      if (mountId === undefined || mountId === mountBefore) {
        throw new HakoError({ step: 'create container', path: hostMount, hint: 'the self-bind of the rootfs is missing from the mount table', kind: 'internal' });
      }
      record.hostRootfsMount = { path: hostMount, mountId };
    }
    mark('launch.created');
    if (opTrace) reportOpTimes(plan.ops, opTrace, mark);
    mark('launch.reported');
    record.pid = pid();
    record.pidStartTime = processStartTime(record.pid) ?? undefined;
    record.status = opts.mode === 'create' ? 'created' : 'running';
    store.save(record, configJson);
    mark('launch.state-saved');
    // Pid files and monitor.json name live processes: atomic, not fsync'ed (a crash ends them).
    if (opts.pidFile) writeFileAtomicSync(resolve(opts.pidFile), String(record.pid), { mode: 0o644, durable: false });
    let monitor: Launched['monitor'];
    if (opts.monitor) {
      monitor = { pid: spawned.pid, startTime: processStartTime(spawned.pid), containerPid: record.pid };
      writeFileAtomicSync(resolve(opts.monitor.dir, 'monitor.json'), JSON.stringify(monitor), { mode: 0o644, durable: false });
    }

    let ptyMaster: number | undefined;
    if (ownPtyEnd !== undefined) ptyMaster = receivePty(ownPtyEnd);
    const heldMountNs = mountNsFd;
    mountNsFd = undefined;
    for (const fd of fdsToClose) safeClose(fd);
    for (const close of closers) close();
    for (const fd of containerPidfds) safeClose(fd);
    if (opts.mode === 'create') spawned.closeErrPipe();
    mark('launch.done');
    return { record, process: spawned, cgroups, ...(ptyMaster === undefined ? {} : { ptyMaster }), ...(monitor ? { monitor } : {}), ...(heldMountNs === undefined ? {} : { mountNsFd: heldMountNs }) };
  } catch (err) {
    ahead?.drop(); // (not adopted yet; adopted ones are the cgroup manager's to remove)
    if (mountNsFd !== undefined) safeClose(mountNsFd);
    for (const fd of fdsToClose) safeClose(fd);
    for (const close of closers) close();
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (cleanupErr) {
        ctx.log.warn(`cleanup after failed create of ${id}: ${(cleanupErr as Error).message}`);
      }
    }
    throw err;
  }
}

export function openPidfd(pid: number): number {
  try {
    return native().pidfdOpen(pid);
  } catch (err) {
    throw new HakoError({ step: `open a pidfd on container process ${pid}`, errno: addonErrno(err), cause: err });
  }
}

/** The pty master the child's openPty op sent on our end of the socket pair. */
/** The executor's per-op completion times as marks (profiling; ops not reached are left out). */
function reportOpTimes(ops: readonly PlanOp[], times: BigUint64Array, mark: (phase: string, atMs?: number) => void): void {
  if (times[ops.length]) mark('op.prologue', Number(times[ops.length]) / 1e6);
  ops.forEach((op, k) => {
    if (times[k]) mark(`op.${k}.${describeOp(op).replace(/\s+/g, '_').slice(0, 80)}`, Number(times[k]) / 1e6);
  });
}

export function receivePty(sock: number): number {
  const got = native().recvFd(sock);
  if (!got) throw new HakoError({ step: 'receive the pty master from the container', hint: 'the container closed the socket without sending it', kind: 'internal' });
  return got.fd;
}

export function loadBundleSpec(bundle: string): Spec {
  const file = resolve(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fromSystemError(`read bundle config ${file}`, err, file);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(`${file} is not valid JSON`, (err as Error).message);
  }
  return validateSpec(raw, bundle);
}

/**
 * uid_map/gid_map of a new user namespace. Root in the parent namespace may write several lines;
 * the kernel accepts one write per file (a second gives EPERM).
 */
function writeIdMappings(pid: number, planned: PlannedMeta): void {
  const fmt = (m: Array<{ containerID: number; hostID: number; size: number }>) => m.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join('');
  if (planned.uidMappings && planned.uidMappings.length > 0) {
    if (planned.needsSetgroupsDeny) writeProc(`/proc/${pid}/setgroups`, 'deny');
    writeProc(`/proc/${pid}/uid_map`, fmt(planned.uidMappings));
    writeProc(`/proc/${pid}/gid_map`, fmt(planned.gidMappings ?? []));
  }
}

function writeProc(path: string, data: string): void {
  try {
    writeFileSync(path, data);
  } catch (err) {
    throw fromSystemError(`write ${path} (${data.trim().replace(/\n/g, ', ')})`, err, path);
  }
}

function safeClose(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}

function ownerName(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}

export function removeFifo(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone */
  }
}
