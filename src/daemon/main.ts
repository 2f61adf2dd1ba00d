// hakod: the daemon. Serves the Docker Engine API on unix sockets (0660, group `hako` when it
// exists, else root only) and, with mutual TLS, on tcp. SIGTERM/SIGINT: stop accepting, close
// the engine (containers keep running), remove sockets and pidfile, exit 0.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import type { Server } from 'node:http';
import { HakoError } from '../common/errors.js';
import { checkTls, parseFlags, parseHost, USAGE, type DaemonFlags, type Listen } from './flags.js';
import type { ApiDeps, LogLevel } from '../api/deps.js';
import { buildWorkDir } from '../engine/build-dir.js';
import type { ContainerEngine } from '../engine/api-types.js';
import { HeapGrowth, IdleTrimmer, heapUsed } from './memory.js';
import { native } from '../native/addon.js';
import { isoTime } from '../common/time.js';
import dc from 'node:diagnostics_channel';
import { PhaseTrace } from '../engine/phase-trace.js';
import { PULL_TRACE_CHANNEL } from '../image/pull-trace.js';

export const HAKO_VERSION = '0.1.0';

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function makeLogger(min: LogLevel): (level: LogLevel, msg: string) => void {
  const floor = LEVELS.indexOf(min);
  return (level, msg) => {
    if (LEVELS.indexOf(level) < floor) return;
    process.stderr.write(`time="${isoTime()}" level=${level} msg=${JSON.stringify(msg)}\n`);
  };
}

/** Whether something answers on the unix socket `path` (another daemon). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    const t = setTimeout(() => {
      c.destroy();
      resolve(true); // accepted but silent: still someone's socket
    }, 1000);
    c.once('connect', () => {
      clearTimeout(t);
      c.destroy();
      resolve(true);
    });
    c.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

function groupId(name: string): number | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [n, , gid] = line.split(':');
      if (n === name && gid !== undefined) return Number(gid);
    }
  } catch {
    // no /etc/group
  }
  if (/^[0-9]+$/.test(name)) return Number(name);
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function loadEngine(flags: DaemonFlags, deps: Omit<ApiDeps, 'engine'>): Promise<ContainerEngine> {
  const { Engine } = await import('../engine/engine.js');
  return new Engine({
    root: flags.dataRoot,
    execRoot: flags.execRoot,
    images: deps.images,
    ...(flags.cgroupParent ? { cgroupParent: flags.cgroupParent } : {}),
    defaultIpcMode: flags.defaultIpcMode,
    defaultShmSize: flags.defaultShmSize,
    network: { bridge: flags.bridge, bip: flags.bip, nftTable: flags.nftTable, ifacePrefix: flags.ifacePrefix, ipForward: flags.ipForward, iptables: flags.iptables, dns: flags.dns, userlandProxy: flags.userlandProxy, mtu: flags.mtu, icc: flags.icc },
    log: { warn: (m: string) => deps.log('warn', m), info: (m: string) => deps.log('info', m) },
    // How long an ended exec stays known (default 5 min, as dockerd's exec GC); tests shorten it.
    ...(/^\d+$/.test(process.env.HAKOD_EXEC_RETENTION_MS ?? '') ? { execRetentionMs: Number(process.env.HAKOD_EXEC_RETENTION_MS) } : {}),
  });
}

/** Images with pulls unpacking into <root>/snapshots (where the engine's containers find them). */
async function makeImages(flags: DaemonFlags, onPulled: (() => void) | undefined): Promise<import('../image/images.js').ImageService> {
  const { ImageService } = await import('../image/images.js');
  const { SnapshotStore } = await import('../image/snapshot/index.js');
  const { snapshotUnpacker } = await import('../engine/snapshot-unpacker.js');
  const unpacker = snapshotUnpacker(new SnapshotStore(join(flags.dataRoot, 'snapshots')));
  // No `log`: every pull/push route hands the service its client's progress sink.
  return new ImageService({ root: flags.dataRoot, insecureRegistries: flags.insecureRegistries, unpacker, onPulled });
}

/**
 * The daemon's V8 code cache (bin/hakod.cjs, bin/bundle-loader.cjs): whether the bundle was
 * compiled from one, and a save() that writes what this process has compiled so far (nothing
 * when an accepted cache was loaded: it is kept as it is).
 */
export interface DaemonCodeCache {
  state: 'accepted' | 'rejected' | 'none';
  save(): void;
}

export interface DaemonOptions {
  codeCache?: DaemonCodeCache | undefined;
}

export interface RunningDaemon {
  servers: Server[];
  stop(): Promise<void>;
}

export async function runDaemon(argv: readonly string[], opts: DaemonOptions = {}): Promise<RunningDaemon | undefined> {
  const flags = parseFlags(argv);
  if (flags.help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  if (flags.version) {
    process.stdout.write(`hakod version ${HAKO_VERSION}, API 1.44\n`);
    return undefined;
  }
  checkTls(flags);
  const log = makeLogger(flags.logLevel);
  if (flags.userlandProxyPath !== undefined) log('info', `--userland-proxy-path ${flags.userlandProxyPath} is not used: hakod relays IPv6 published ports itself`);
  const listens: Listen[] = flags.hosts.map(parseHost);

  for (const l of listens) {
    if (l.kind !== 'unix' || !existsSync(l.path)) continue;
    if (await socketAnswers(l.path)) {
      throw new HakoError({ step: `another daemon is already listening on ${l.path}`, kind: 'conflict', hint: 'stop it first, or pass another -H unix://PATH' });
    }
    if (!lstatSync(l.path).isSocket()) throw new HakoError({ step: `${l.path} exists and is not a socket`, kind: 'conflict', hint: 'remove it or choose another path' });
    unlinkSync(l.path); // stale socket of a daemon that died
  }
  if (existsSync(flags.pidfile)) {
    const old = Number(readFileSync(flags.pidfile, 'utf8').trim());
    if (Number.isInteger(old) && old > 0 && old !== process.pid && pidAlive(old)) {
      throw new HakoError({ step: `pid file ${flags.pidfile} names a running process (${old})`, kind: 'conflict', hint: 'is another hakod running? stop it or pass --pidfile' });
    }
  }
  mkdirSync(flags.dataRoot, { recursive: true, mode: 0o711 });
  mkdirSync(flags.execRoot, { recursive: true, mode: 0o700 });
  mkdirSync(dirname(flags.pidfile), { recursive: true });
  writeFileSync(flags.pidfile, `${process.pid}`);

  // A fresh daemon's first pull spent ~10 ms of its main thread compiling hakod's own pull code
  // (registry client, ingest, tar reader, unpacker; ~460 functions): V8 compiles each function on
  // its first call. Without a code cache for the bundle, the daemon writes one once its first pull
  // has been answered (the bytecode of start-up, the API and the pull; ~0.65 MB), and later starts
  // compile the bundle from it. The idle daemon's RSS does not grow with it (49.1 → 49.0 MB,
  // bench/hakod-rss.mjs): what an idle daemon would not have compiled is ~0.2 MB of bytecode, and
  // it no longer compiles start-up's. A build removes the cache with the old bundle.
  const cache = opts.codeCache;
  let saveAfterPull: (() => void) | undefined;
  if (cache && cache.state !== 'accepted') {
    saveAfterPull = () => {
      saveAfterPull = undefined;
      // After the answer, which is written when the pull's promise settles.
      setImmediate(() => {
        const t0 = process.hrtime.bigint();
        cache.save();
        log('debug', `code cache written (${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms)`);
      });
    };
  }
  if (cache) log('debug', `code cache: ${cache.state}`);
  const images = await makeImages(flags, () => saveAfterPull?.());
  await images.content.init();
  await images.meta.init();
  // Blobs and layers a crash in a pull, rmi or prune left unnamed (nothing when none did).
  // Its marks (gc.*, snapshot.*) go to a trace of their own: the API's, which takes the image
  // store's marks afterwards, is made after it (tests crash here: HAKOD_CRASH_AT).
  const gcTrace = PhaseTrace.fromEnv();
  const gcMark = (phase: unknown): void => gcTrace.mark('gc', String(phase));
  if (gcTrace.enabled) dc.subscribe(PULL_TRACE_CHANNEL, gcMark);
  await images.recover().catch((err: Error) => log('warn', `image store recovery: ${err.message}`));
  if (gcTrace.enabled) dc.unsubscribe(PULL_TRACE_CHANNEL, gcMark);
  gcTrace.close();
  // What builds cut short by a crash left (contexts, staged files): no build runs yet.
  rmSync(buildWorkDir(flags.dataRoot), { recursive: true, force: true });
  const base: Omit<ApiDeps, 'engine'> = {
    images,
    log,
    // A cache written after builds holds the builder's bytecode too (1.35 MB instead of 0.69 after
    // a plain first pull), and every later daemon deserializes all of it: idle RSS 50.5 instead of
    // 49.6 MB (bench/hakod-rss.mjs; target 50). So a daemon that has built writes none; the first
    // plain pull of a later one does.
    onBuildStart: () => {
      saveAfterPull = undefined;
    },
    daemon: { version: HAKO_VERSION, root: flags.dataRoot, execRoot: flags.execRoot, startedAt: new Date(), debug: flags.logLevel === 'debug', insecureRegistries: flags.insecureRegistries },
  };
  let engine: ContainerEngine | undefined;
  try {
    engine = await loadEngine(flags, base);
  } catch (err) {
    unlinkQuiet(flags.pidfile);
    throw err;
  }
  const deps: ApiDeps = { ...base, engine };
  const { createApiHandlers, createApiServer } = await import('../api/server.js');
  const handlers = createApiHandlers(deps);
  const servers: Server[] = [];
  const sockets: string[] = [];
  const conns = new Set<import('node:net').Socket>();
  // Garbage a burst of work leaves (a session of commands) stays resident until V8's next full GC:
  // with --heap-growing-percent=300 the old generation grows to ~4× the live heap first, and V8's
  // memory reducer (the idle-time compaction) is armed only by a full GC, so a daemon that goes
  // quiet below that limit keeps it all. bench/soak.mjs: +1.45 MB of RSS per batch of ~30 commands
  // (62 → 84 MB over 14 batches) with the live heap flat (a forced full GC after 10, 20, 30
  // batches: 75.3, 75.9, 75.9 MB). So a quiet second (the trimmer's) after the heap grew by 4 MB
  // since the last collection runs the low-memory collection (as at start-up, ~20 ms of
  // main-thread CPU) before its trim. Never amid a burst (a request or a pull's progress line is
  // activity); back-to-back commands never wait on it.
  const heapGrowth = new HeapGrowth(4 << 20);
  const lowMemoryCollect = (): boolean => {
    try {
      return native().lowMemoryNotification();
    } catch {
      return false; // no addon (the engine is off)
    } finally {
      heapGrowth.mark();
    }
  };
  const trimmer = new IdleTrimmer(
    () => {
      try {
        native().mallocTrim();
      } catch {
        // no addon (the engine is off): nothing to trim for
      }
    },
    1000,
    {
      // HAKOD_IDLE_GC=off leaves it to V8 (for comparisons: bench/soak.mjs)
      grown: () => process.env.HAKOD_IDLE_GC !== 'off' && heapGrowth.grown(),
      collect: () => {
        const before = heapUsed();
        const t0 = process.hrtime.bigint();
        if (lowMemoryCollect()) log('debug', `idle: garbage collected (heap ${(before / 1048576).toFixed(1)} → ${(heapUsed() / 1048576).toFixed(1)} MB, ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms)`);
      },
    },
  );
  // A request beginning or its handler ending is activity, and so is a JSON stream's line (a pull's
  // or load's progress: a long pull is no quiet second, and a collection in its midst cost it
  // ~35 ms of main-thread CPU); a stream that stays open silent is not.
  handlers.onActivity = () => trimmer.activity();
  // Start-up leaves ~2.5 MB resident that V8 gives back only when its memory reducer runs, ~8 s
  // after start (busy or not): both 1 MB young-generation semi-spaces touched, old-space pages of
  // start-up's garbage, pages V8 keeps pooled (bench/hakod-rss.mjs: idle 49.8 MB a few seconds
  // after start, 47.3 after the reducer's two mark-compacts). So once start-up and the warm-ups are
  // done, the first quiet second (the trimmer's: no request began or ended for 1 s, so not amid a
  // burst; an autostarted daemon's first command is served first) runs V8's low-memory collection
  // (native/addon_mem.c), and the trim after it returns what it freed: idle 47.0 MB. Once per
  // daemon, ~20-25 ms of main-thread CPU (two memory-reducing mark-compacts). A plain gc()
  // (--expose-gc) would not do: it neither shrinks the young generation nor unmaps pages (RSS
  // +0.2 MB, measured). What it moves earlier: afterwards the daemon runs as one past its reducer's
  // passes (the old generation's limit sized from the small live heap, ~200 KB of code space
  // dropped), so a pull in the seconds after it costs what a pull on a daemon idle for 20 s costs
  // anyway (bench/pull-versus --warm: +3-6 ms main-thread CPU against a daemon still before its
  // reducer; after 20 s idle both the same). A fresh daemon's first request comes before it. The
  // reducer still runs ~8 s after this collection, with little left to do. HAKOD_STARTUP_GC=off
  // leaves it all to V8 (for comparisons).
  const collectStartupGarbage = (): void => {
    if (process.env.HAKOD_STARTUP_GC === 'off') return;
    trimmer.collectOnce(() => {
      const t0 = process.hrtime.bigint();
      const done = lowMemoryCollect();
      if (done) log('debug', `start-up garbage collected (${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms)`);
    });
  };
  const cleanup = (): void => {
    for (const s of sockets) unlinkQuiet(s);
    unlinkQuiet(flags.pidfile);
  };
  try {
    for (const l of listens) {
      let server: Server;
      if (l.kind === 'tcp') {
        const { createServer } = await import('node:https');
        server = createApiServer(handlers, createServer({ ca: readFileSync(flags.tlscacert!), cert: readFileSync(flags.tlscert!), key: readFileSync(flags.tlskey!), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }) as unknown as Server);
      } else {
        // api/server.js's own node:http server: an import() of a builtin here would load Node's
        // ESM loader (~0.5 MB of idle RSS) for a module that is loaded already.
        server = createApiServer(handlers);
      }
      server.on('connection', (c) => {
        conns.add(c);
        c.once('close', () => conns.delete(c));
      });
      server.on('upgrade', (_req, c) => conns.add(c as import('node:net').Socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        if (l.kind === 'unix') {
          const old = process.umask(0o177);
          server.listen(l.path, () => {
            process.umask(old);
            resolve();
          });
        } else server.listen(l.port, l.host, () => resolve());
      });
      server.on('error', (err) => log('error', `server: ${err.message}`));
      if (l.kind === 'unix') {
        sockets.push(l.path);
        const gid = groupId(flags.group ?? 'hako');
        if (gid !== undefined) {
          chownSync(l.path, 0, gid);
          chmodSync(l.path, 0o660);
        } else {
          if (flags.group) log('warn', `group ${flags.group} does not exist: ${l.path} is root-only`);
          chmodSync(l.path, 0o600);
        }
      }
      servers.push(server);
      log('info', `API listening on ${l.kind === 'unix' ? l.path : `${l.host}:${l.port}`}`);
    }
  } catch (err) {
    for (const s of servers) s.close();
    cleanup();
    await engine?.close().catch(() => undefined);
    images.close();
    throw err;
  }
  log('info', `hakod ${HAKO_VERSION} started (pid ${process.pid}, data-root ${flags.dataRoot}, engine ${engine ? 'on' : 'off'})`);
  // Node's HTTP client, zlib and stream code compiled now, not on the first pull's critical path
  // (see warmUpHttpClient and warmUpGunzip); HAKOD_WARMUP=off leaves it all to the first pull,
  // HAKOD_WARMUP=http warms the HTTP client only (for comparisons).
  const warmUp = process.env.HAKOD_WARMUP;
  if (sockets.length > 0 && warmUp !== 'off') {
    const { warmUpHttpClient } = await import('../image/registry/http.js');
    const { warmUpGunzip } = await import('../image/unpack/decompress.js');
    setImmediate(() => {
      const t0 = process.hrtime.bigint();
      void warmUpHttpClient(sockets[0]!)
        .then(() => (warmUp === 'http' ? undefined : warmUpGunzip().catch(() => undefined)))
        .then(() => {
          log('debug', `HTTP client${warmUp === 'http' ? '' : ', zlib and streams'} warmed up (${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms)`);
          collectStartupGarbage();
        });
    });
  } else collectStartupGarbage();
  trimmer.activity(); // start-up's parser and compiler memory

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log('info', 'shutting down: no new connections; containers keep running');
      trimmer.close();
      const closed = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
      for (const s of servers) s.closeIdleConnections?.();
      // Streams (events, logs -f, attach) would hold the servers open: end them.
      setTimeout(() => {
        for (const c of conns) c.destroy();
      }, 200).unref();
      await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 5000).unref())]);
      await engine?.close().catch((err: Error) => log('error', `closing the engine: ${err.message}`));
      images.close();
      cleanup();
    })();
    return stopping;
  };
  return { servers, stop };
}

function unlinkQuiet(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // already gone
  }
}

/** The process entry point (bin/hakod.cjs, which sets the daemon's V8 flags first). */
export async function main(argv: readonly string[], opts: DaemonOptions = {}): Promise<void> {
  let d: RunningDaemon | undefined;
  try {
    d = await runDaemon(argv, opts);
  } catch (err) {
    process.stderr.write(`hakod: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (!d) return;
  const daemon = d;
  const onSignal = (sig: string): void => {
    process.stderr.write(`time="${isoTime()}" level=info msg="received ${sig}"\n`);
    void daemon.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGPIPE', () => undefined);
  // Whoever reads our log may go away (a pipe to a process that died): writes then fail with
  // EPIPE, which a stream may report as an 'error' event; unhandled, that would reach the
  // uncaughtException handler, whose own log line can fail the same way. Logging is best
  // effort; serving is not.
  for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
  // A bug in a handler must not take every container's API down with it: log loudly, keep serving.
  process.on('uncaughtException', (err) => {
    process.stderr.write(`time="${isoTime()}" level=error msg=${JSON.stringify(`BUG: uncaught exception: ${err.stack ?? err}`)}\n`);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`time="${isoTime()}" level=error msg=${JSON.stringify(`BUG: unhandled rejection: ${(err as Error)?.stack ?? err}`)}\n`);
  });
}
