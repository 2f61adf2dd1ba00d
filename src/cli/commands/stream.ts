// Commands that move a container's stdio: run, start -a, attach, exec, logs. Hijacked
// connections carry stdcopy frames (or raw bytes with a TTY); the local terminal goes raw and
// its size follows SIGWINCH through the resize endpoints.
import type { WireSocket } from '../pipe-socket.js';
import type { Ctx } from '../main.js';
import { ExitError } from '../main.js';
import { ApiError, Cancel, pathEscape, type Client } from '../client.js';
import { Demuxer } from '../stdcopy.js';
import { buildCreate, ConfigError } from '../run-config.js';
import { inspectContainer, pullImage, withDefaultTag, forEach, type Json } from './common.js';
import { timestampArg } from '../units.js';
import type { DetachScanner } from '../../engine/detach-keys.js';
import { readFileSync, writeFileSync } from 'node:fs';

interface AttachSession {
  /** Resolves when the output side ended (container exited or detached). */
  done: Promise<void>;
  /** The user typed the detach keys (the container keeps running). */
  readonly detached: boolean;
  close(): void;
}

/**
 * The detach-key scanner for a TTY session with stdin (docker's --detach-keys, default
 * ctrl-p,ctrl-q), else null. Its module is loaded only then (it brings common/errors.js and
 * node:os with it). Made before the hijack, so no output can arrive before the pump listens.
 */
async function detachScannerOf(spec: string | undefined, tty: boolean, stdin: boolean): Promise<DetachScanner | null> {
  if (!tty || !stdin) return null;
  const { parseDetachKeys, DetachScanner: Scanner } = await import('../../engine/detach-keys.js');
  try {
    return new Scanner(parseDetachKeys(spec));
  } catch (e) {
    throw new ExitError(1, `hako: ${(e as Error).message}`);
  }
}

/** Puts the local terminal in raw mode when asked; returns the restore function. */
function rawMode(ctx: Ctx, on: boolean): () => void {
  if (!on || !ctx.stdin.isTTY) return () => {};
  ctx.stdin.setRawMode(true);
  return () => {
    try {
      ctx.stdin.setRawMode(false);
    } catch {
      /* not a tty any more */
    }
  };
}

/** Wires a hijacked connection to the local stdio. */
function pump(ctx: Ctx, conn: { socket: WireSocket; head: Buffer }, opts: { tty: boolean; stdin: boolean; scanner: DetachScanner | null }): AttachSession {
  const { socket, head } = conn;
  // The output goes out with write(2) while process.stdout/stderr do not exist (ctx.print): a
  // pipe's stream loads node:net and node:stream (~5 ms), for a container's few bytes.
  const out = opts.tty ? null : new Demuxer({ write: (b) => ctx.print(b) }, { write: (b) => ctx.printErr(b) }, (m) => ctx.printErr(m));
  out?.on('error', (e) => {
    ctx.printErr(`${e.message}\n`);
    socket.destroy();
  });
  // Back-pressure: a blocking pipe or terminal holds the command in write(2) (ctx.print); once
  // print fell back to process.stdout/stderr (EAGAIN: a non-blocking pipe whose reader is slow,
  // or a stream made for a TTY's size), the socket is not read while either stream is over its
  // high-water mark, so the daemon's answer stays in the kernel's buffers and the daemon's and
  // the monitor's (bounded: the container then blocks on its pipe), not queued whole here. At
  // most a read of the socket (64 KiB) goes out past the mark. A failed stdout (EPIPE) settles
  // the backlog too: the command is ending.
  let waiting = false;
  const write = (b: Buffer) => {
    if (out) out.write(b);
    else ctx.print(b);
    const backlog = waiting ? null : ctx.backlog();
    if (!backlog) return;
    waiting = true;
    socket.pause();
    void backlog.then(() => {
      waiting = false;
      socket.resume();
    });
  };
  if (head.length) write(head);
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
    socket.on('data', (b: Buffer) => write(b));
    socket.on('end', () => resolve());
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
  let onData: ((b: Buffer) => void) | null = null;
  let detached = false;
  // Like docker's CLI, the detach keys are looked for here too (the daemon does the same), so
  // we stop at once whatever the daemon does with the bytes after them.
  const scanner = opts.scanner;
  if (opts.stdin) {
    // The other way too: stdin is not read while the connection has more than its high-water
    // mark unsent (a container that does not read its stdin, `hako run -i … cat < big`, held
    // it all here).
    let stdinWaits = false;
    const send = (b: Buffer) => {
      if (socket.write(b) || stdinWaits) return;
      stdinWaits = true;
      ctx.stdin.pause();
      socket.once('drain', () => {
        stdinWaits = false;
        if (onData) ctx.stdin.resume();
      });
    };
    onData = (b: Buffer) => {
      if (detached) return;
      if (!scanner) return send(b);
      const r = scanner.push(b);
      if (r.pass.length) send(r.pass);
      if (r.detach) {
        detached = true;
        socket.destroy();
        finish();
      }
    };
    ctx.stdin.on('data', onData);
    ctx.stdin.once('end', () => {
      // half-close: the container sees EOF on stdin, output keeps flowing
      socket.end();
    });
    ctx.stdin.resume();
  }
  return {
    done,
    get detached() {
      return detached;
    },
    close: () => {
      // Only a stdin we read (process.stdin is made on first use: ~2 ms for nothing otherwise).
      if (onData) {
        ctx.stdin.off('data', onData);
        ctx.stdin.pause();
        onData = null;
      }
      socket.destroy();
    },
  };
}

async function attachContainer(ctx: Ctx, client: Client, id: string, o: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean; detachKeys?: string | undefined; logs?: boolean }): Promise<AttachSession> {
  const scanner = await detachScannerOf(o.detachKeys, o.tty, o.stdin);
  const conn = await client.hijack('POST', `/containers/${pathEscape(id)}/attach`, {
    query: { stream: true, stdin: o.stdin || undefined, stdout: o.stdout || undefined, stderr: o.stderr || undefined, detachKeys: o.detachKeys, logs: o.logs || undefined },
  });
  return pump(ctx, conn, { tty: o.tty, stdin: o.stdin, scanner });
}

/** Keeps the container's TTY the size of ours. */
function followResize(ctx: Ctx, client: Client, path: string): () => void {
  if (!ctx.stdout.isTTY) return () => {};
  const resize = () => {
    const h = ctx.stdout.rows;
    const w = ctx.stdout.columns;
    if (!h || !w) return;
    client.json('POST', `${path}/resize`, { query: { h, w } }).catch(() => {});
  };
  resize();
  process.on('SIGWINCH', resize);
  return () => process.off('SIGWINCH', resize);
}

/** Forwards SIGINT/SIGTERM/… to the container (docker's --sig-proxy). */
function proxySignals(client: Client, id: string): () => void {
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  const handlers = sigs.map((s) => {
    const h = () => {
      client.json('POST', `/containers/${pathEscape(id)}/kill`, { query: { signal: s } }).catch(() => {});
    };
    process.on(s, h);
    return [s, h] as const;
  });
  return () => handlers.forEach(([s, h]) => process.off(s, h));
}

/** docker's exit codes for start failures: 127 not found, 126 cannot execute, 125 otherwise. */
function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory|not found/i.test(message)) return 127;
  if (/permission denied|cannot execute/i.test(message)) return 126;
  return 125;
}

async function createContainer(ctx: Ctx, client: Client, detach: boolean): Promise<{ id: string; req: ReturnType<typeof buildCreate> }> {
  let req;
  try {
    req = buildCreate(ctx.flags, ctx.args, detach, ctx.env);
  } catch (e) {
    if (e instanceof ConfigError) throw new ExitError(125, `hako: ${e.message}\n\nRun 'hako ${ctx.name} --help' for more information`);
    throw e;
  }
  if (req.body.Tty && ctx.stdout.isTTY && ctx.stdout.rows) {
    (req.body.HostConfig as Json).ConsoleSize = [ctx.stdout.rows, ctx.stdout.columns];
  }
  const image = ctx.args[0]!;
  const quietPull = ctx.flags.bool('quiet');
  if (req.pull === 'always') await pullImage(ctx, client, image, { platform: req.platform, quiet: quietPull, fd: 2 });
  const create = () => client.json<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', { query: { name: req.name, platform: req.platform }, body: req.body });
  let res;
  try {
    res = await create();
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404 || !/image/i.test(e.message) || req.pull !== 'missing') throw e;
    ctx.printErr(`Unable to find image '${withDefaultTag(image)}' locally\n`);
    await pullImage(ctx, client, image, { platform: req.platform, quiet: quietPull, fd: 2 });
    res = await create();
  }
  for (const w of res.Warnings ?? []) ctx.printErr(`WARNING: ${w}\n`);
  const cidfile = ctx.flags.str('cidfile');
  if (cidfile) {
    writeFileSync(cidfile, res.Id, { flag: 'wx' });
  }
  return { id: res.Id, req };
}

export async function create(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const { id } = await createContainer(ctx, client, true);
  ctx.print(`${id}\n`);
  return 0;
}

export async function run(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const detach = ctx.flags.bool('detach');
  // create, wait (on create's connection once its answer is in), attach and start each on a
  // connection of its own (detached: no attach), all opened first: the daemon accepts them while
  // this builds the create request, rather than while it creates the container or before it reads
  // the create (a connection is made by the time prewarm returns, and the create goes out when
  // written: pipe-socket.ts). No spare: one more was opened before and never used.
  client.prewarm(detach ? 2 : 3);
  const { id, req } = await createContainer(ctx, client, detach);
  const tty = !!req.body.Tty;
  const autoRemove = ctx.flags.bool('rm');
  const enc = pathEscape(id);
  let session: AttachSession | null = null;
  let restore = () => {};
  const attaching = !detach && (req.attach.stdin || req.attach.stdout || req.attach.stderr);
  if (attaching && tty && req.attach.stdin && !ctx.stdin.isTTY) {
    throw new ExitError(1, 'the input device is not a TTY');
  }
  // The wait goes out with the attach (each on a connection of its own), and the start only once
  // the daemon answered both (so a fast exit is not missed): next-exit, or removed with --rm.
  const waitAbort = new Cancel();
  const waitHead = client.collected('POST', `/containers/${enc}/wait`, { query: { condition: autoRemove ? 'removed' : 'next-exit' }, cancel: waitAbort });
  const waitP = waitHead
    .then(async (res) => JSON.parse((await res.body).toString('utf8')) as { StatusCode: number; Error?: { Message?: string } | null })
    .catch((e: unknown) => e as Error);
  if (attaching) {
    try {
      session = await attachContainer(ctx, client, id, { ...req.attach, tty, detachKeys: ctx.flags.str('detach-keys') });
    } catch (e) {
      waitAbort.cancel();
      throw e;
    }
  }
  await waitHead.catch(() => undefined);
  // docker's CLI installs its signal proxy before the start (a signal in between goes to the
  // container as a kill, which fails while it is not running, and the command goes on); here it
  // is installed once the start is written (the request goes out a few microtasks after the call,
  // so on the next setImmediate), while the daemon starts the container: its six handlers
  // (~0.3 ms) are then off the command's path. Before, they came after start's answer.
  const sigProxy = !detach && !tty && ctx.flags.bool('sig-proxy') !== false && ctx.flags.str('sig-proxy') !== 'false';
  let stopSignals = () => {};
  let proxyLater: NodeJS.Immediate | undefined;
  if (sigProxy) {
    proxyLater = setImmediate(() => {
      proxyLater = undefined;
      stopSignals = proxySignals(client, id);
    });
  }
  const dropProxy = () => {
    if (proxyLater) clearImmediate(proxyLater);
    stopSignals();
  };
  try {
    restore = rawMode(ctx, tty && req.attach.stdin);
    await client.json('POST', `/containers/${enc}/start`);
  } catch (e) {
    dropProxy();
    restore();
    session?.close();
    waitAbort.cancel();
    if (e instanceof ApiError) {
      if (autoRemove) await client.json('DELETE', `/containers/${enc}`, { query: { force: true } }).catch(() => {});
      throw new ExitError(startFailureCode(e.message), `hako: Error response from daemon: ${e.message}\n\nRun 'hako run --help' for more information`);
    }
    throw e;
  }
  if (detach) {
    waitAbort.cancel();
    ctx.print(`${id}\n`);
    return 0;
  }
  const stopResize = tty ? followResize(ctx, client, `/containers/${enc}`) : () => {};
  try {
    if (session) await session.done;
    if (session?.detached) {
      waitAbort.cancel();
      return 0;
    }
    const result = await waitP;
    if (result instanceof Error) {
      if (result instanceof ApiError && autoRemove && result.status === 404) return 0;
      throw result;
    }
    if (result.Error?.Message) ctx.printErr(`hako: ${result.Error.Message}\n`);
    return result.StatusCode;
  } finally {
    stopResize();
    dropProxy();
    restore();
    session?.close();
  }
}

export async function start(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const attach = ctx.flags.bool('attach');
  const interactive = ctx.flags.bool('interactive');
  if (!attach && !interactive) {
    return forEach(ctx, ctx.args, async (c) => {
      await client.json('POST', `/containers/${pathEscape(c)}/start`, { query: { checkpoint: ctx.flags.str('checkpoint') } });
      return c;
    }, { summary: (failed) => `Error: failed to start containers: ${failed.join(', ')}` });
  }
  if (ctx.args.length > 1) throw new ExitError(1, 'you cannot start and attach multiple containers at once');
  const info = await inspectContainer(client, ctx.args[0]!);
  const id = info.Id as string;
  const tty = !!info.Config?.Tty;
  const stdin = interactive && !!info.Config?.OpenStdin;
  const session = await attachContainer(ctx, client, id, { stdin, stdout: true, stderr: true, tty, detachKeys: ctx.flags.str('detach-keys') });
  const waitP = client.json<{ StatusCode: number }>('POST', `/containers/${pathEscape(id)}/wait`, { query: { condition: 'next-exit' } }).catch((e: unknown) => e as Error);
  const restore = rawMode(ctx, tty && stdin);
  try {
    await client.json('POST', `/containers/${pathEscape(id)}/start`);
    const stopResize = tty ? followResize(ctx, client, `/containers/${pathEscape(id)}`) : () => {};
    await session.done;
    stopResize();
    if (session.detached) return 0;
    const r = await waitP;
    if (r instanceof Error) throw r;
    return r.StatusCode;
  } finally {
    restore();
    session.close();
  }
}

export async function attach(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const info = await inspectContainer(client, ctx.args[0]!);
  if (!info.State?.Running) throw new ExitError(1, 'You cannot attach to a stopped container, start it first');
  if (info.State?.Paused) throw new ExitError(1, 'You cannot attach to a paused container, unpause it first');
  const id = info.Id as string;
  const tty = !!info.Config?.Tty;
  const stdin = !ctx.flags.bool('no-stdin') && !!info.Config?.OpenStdin;
  // As docker's CLI: a wait for the container to stop goes out before the attach, and its answer
  // is the exit code once the output ended. (An inspect after the output's end raced the daemon's
  // recording of the exit: the output's last frame is sent before it; a container still shown
  // running made it 0.) The output can also end with the container running on (it closed its
  // stdout and stderr): the wait then holds, as docker's does.
  const waitAbort = new Cancel();
  const waitP = client
    .collected('POST', `/containers/${pathEscape(id)}/wait`, { query: { condition: 'not-running' }, cancel: waitAbort })
    .then(async (res) => JSON.parse((await res.body).toString('utf8')) as { StatusCode: number; Error?: { Message?: string } | null })
    .catch((e: unknown) => e as Error);
  const restore = rawMode(ctx, tty && stdin);
  let session: AttachSession;
  try {
    session = await attachContainer(ctx, client, id, { stdin, stdout: true, stderr: true, tty, detachKeys: ctx.flags.str('detach-keys') });
  } catch (e) {
    restore();
    waitAbort.cancel();
    throw e;
  }
  const stopResize = tty ? followResize(ctx, client, `/containers/${pathEscape(id)}`) : () => {};
  const stopSignals = !tty && ctx.flags.str('sig-proxy') !== 'false' ? proxySignals(client, id) : () => {};
  try {
    try {
      await session.done;
    } finally {
      stopResize();
      restore();
      session.close();
    }
    if (session.detached) {
      waitAbort.cancel();
      return 0;
    }
    // (the signals go on being passed on meanwhile)
    const result = await waitP;
    if (result instanceof Error) throw result;
    if (result.Error?.Message) throw new ExitError(1, result.Error.Message);
    return result.StatusCode;
  } finally {
    stopSignals();
  }
}

export async function exec(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const container = ctx.args[0]!;
  const detach = f.bool('detach');
  // inspect, exec create and start (hijacked) share one connection; the exit code's look-up gets
  // one opened while the exec runs.
  if (!detach) client.prewarm(2);
  await inspectContainer(client, container);
  const tty = f.bool('tty');
  const interactive = f.bool('interactive');
  const { parseEnvFile, expandEnv } = await import('../run-config.js');
  const env: string[] = [];
  for (const file of f.list('env-file')) env.push(...parseEnvFile(readFileSync(file, 'utf8'), ctx.env, file));
  env.push(...expandEnv(f.list('env'), ctx.env));
  if (tty && interactive && !ctx.stdin.isTTY) throw new ExitError(1, 'the input device is not a TTY');
  const consoleSize = tty && ctx.stdout.isTTY && ctx.stdout.rows ? ([ctx.stdout.rows, ctx.stdout.columns] as [number, number]) : null;
  const body: Json = {
    User: f.str('user') ?? '',
    Privileged: f.bool('privileged'),
    Tty: tty,
    ConsoleSize: consoleSize,
    AttachStdin: interactive && !detach,
    AttachStderr: !detach,
    AttachStdout: !detach,
    DetachKeys: f.str('detach-keys') ?? '',
    Env: env.length ? env : null,
    WorkingDir: f.str('workdir') ?? '',
    Cmd: ctx.args.slice(1),
  };
  const { Id } = await client.json<{ Id: string }>('POST', `/containers/${pathEscape(container)}/exec`, { body });
  if (detach) {
    await client.json('POST', `/exec/${Id}/start`, { body: { Detach: true, Tty: tty, ConsoleSize: consoleSize } });
    return 0;
  }
  const scanner = await detachScannerOf(f.str('detach-keys'), tty, interactive);
  const conn = await client.hijack('POST', `/exec/${Id}/start`, { body: { Detach: false, Tty: tty, ConsoleSize: consoleSize } });
  const restore = rawMode(ctx, tty && interactive);
  const session = pump(ctx, conn, { tty, stdin: interactive, scanner });
  const stopResize = tty ? followResize(ctx, client, `/exec/${Id}`) : () => {};
  try {
    await session.done;
  } finally {
    stopResize();
    restore();
    session.close();
  }
  if (session.detached) return 0;
  const info = await client.json<Json>('GET', `/exec/${Id}/json`);
  return Number(info.ExitCode ?? 0);
}

export async function logs(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const info = await inspectContainer(client, ctx.args[0]!);
  const tail = f.str('tail') ?? 'all';
  // The answer goes out with write(2) as it comes (ctx.print; no node:net, no node:stream for
  // it): a blocking pipe or terminal holds the reading in write(2); when print fell back to a
  // stream (EAGAIN), the reading waits while the stream is over its high-water mark, so a long
  // log into a slow reader is not queued whole in memory. A bad frame ends the command.
  const out = info.Config?.Tty ? null : new Demuxer({ write: (b) => ctx.print(b) }, { write: (b) => ctx.printErr(b) });
  out?.on('error', () => undefined); // thrown from onBody below
  const res = await client.collected('GET', `/containers/${pathEscape(info.Id as string)}/logs`, {
    onBody: (b) => {
      if (out && !out.write(b)) throw out.error!;
      if (!out) ctx.print(b);
      return ctx.backlog() ?? undefined;
    },
    query: {
      stdout: true,
      stderr: true,
      since: f.has('since') ? timestampArg(f.str('since')!) : undefined,
      until: f.has('until') ? timestampArg(f.str('until')!) : undefined,
      timestamps: f.bool('timestamps') || undefined,
      follow: f.bool('follow') || undefined,
      tail,
      details: f.bool('details') || undefined,
    },
  });
  await res.body;
  return 0;
}
