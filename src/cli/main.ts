// `hako`: docker's command line over the Docker Engine API. Parses the global options, finds the
// command (with docker's aliases: `container ls` = `ps`, `image rm` = `rmi`, …), parses its flags
// and loads only that command's module.
import { specs, type CommandSpec, type FlagRow } from './specs.js';
import { parseFlags, checkArgs, Flags, UsageError } from './flags.js';
import type { Client } from './client.js';
import type { UnixConnector } from './pipe-socket.js';
import { builtin } from './builtin.js';

export interface Ctx {
  /** Canonical command name: `run`, `volume ls`, … */
  name: string;
  spec: CommandSpec;
  flags: Flags;
  args: string[];
  client(): Promise<Client>;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
  /**
   * Writes `data` to stdout without making process.stdout while nothing made it yet (see
   * Stdio.print): a command's text and an attached container's output. Through ctx.stdout once
   * that exists, so everything keeps its order.
   */
  print(data: string | Uint8Array): void;
  /** The same for stderr (warnings, error messages, a container's stderr). */
  printErr(data: string | Uint8Array): void;
  /**
   * null while what print/printErr were given went out (write(2)) or waits in a stream below its
   * high-water mark; else a promise that resolves once the streams drained (or failed): a command
   * that prints a long answer as it comes stops reading it meanwhile (back-pressure).
   */
  backlog(): Promise<void> | null;
  /**
   * The width of the terminal that fd 1 (stdout) or 2 is, asked anew at each call (a resize is
   * followed, as docker's CLI asks at each progress message); null when it is not a terminal.
   * Through the launcher's ioctl (MainOptions.winsize): process.stdout is not made for it.
   */
  terminalColumns(fd: 1 | 2): number | null;
}

export type Handler = (ctx: Ctx) => Promise<number>;

/** Exit with a code and an optional message on stderr (the message is printed as is). */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    message = '',
  ) {
    super(message);
  }
}

const globalFlags: FlagRow[] = [
  ['config', '', 'string', 'Location of client config files', '"/root/.docker"'],
  ['context', 'c', 'string', 'Name of the context to use to connect to the daemon'],
  ['debug', 'D', 'bool', 'Enable debug mode'],
  ['host', 'H', 'list', 'Daemon socket to connect to'],
  ['log-level', 'l', 'string', 'Set the logging level ("debug", "info", "warn", "error", "fatal")', '"info"'],
  ['tls', '', 'bool', 'Use TLS; implied by --tlsverify'],
  ['tlscacert', '', 'string', 'Trust certs signed only by this CA', '"/root/.docker/ca.pem"'],
  ['tlscert', '', 'string', 'Path to TLS certificate file', '"/root/.docker/cert.pem"'],
  ['tlskey', '', 'string', 'Path to TLS key file', '"/root/.docker/key.pem"'],
  ['tlsverify', '', 'bool', 'Use TLS and verify the remote'],
  ['version', 'v', 'bool', 'Print version information and quit'],
];

/** Which module implements each command. */
const modules: Record<string, () => Promise<Record<string, Handler>>> = {
  container: () => import('./commands/container.js') as Promise<unknown> as Promise<Record<string, Handler>>,
  image: () => import('./commands/image.js') as Promise<unknown> as Promise<Record<string, Handler>>,
  system: () => import('./commands/system.js') as Promise<unknown> as Promise<Record<string, Handler>>,
  volume: () => import('./commands/volume.js') as Promise<unknown> as Promise<Record<string, Handler>>,
  network: () => import('./commands/network.js') as Promise<unknown> as Promise<Record<string, Handler>>,
  stream: () => import('./commands/stream.js') as Promise<unknown> as Promise<Record<string, Handler>>,
  build: () => import('./commands/build.js') as Promise<unknown> as Promise<Record<string, Handler>>,
};
const commandModule: Record<string, string> = {
  run: 'stream', create: 'stream', start: 'stream', stop: 'container', restart: 'container', kill: 'container', pause: 'container',
  unpause: 'container', rm: 'container', wait: 'container', ps: 'container', logs: 'stream', exec: 'stream', attach: 'stream',
  top: 'container', stats: 'container', cp: 'container', export: 'container', rename: 'container', update: 'container',
  port: 'container', diff: 'container', commit: 'container', 'container prune': 'container', 'container inspect': 'system',
  pull: 'image', push: 'image', images: 'image', rmi: 'image', tag: 'image', save: 'image', load: 'image', import: 'image',
  build: 'build', history: 'image', login: 'image', logout: 'image', 'image prune': 'image', 'image inspect': 'system',
  info: 'system', version: 'system', events: 'system', 'system df': 'system', 'system prune': 'system', inspect: 'system',
  'volume create': 'volume', 'volume ls': 'volume', 'volume inspect': 'volume', 'volume rm': 'volume', 'volume prune': 'volume',
  'network create': 'network', 'network ls': 'network', 'network inspect': 'network', 'network rm': 'network', 'network connect': 'network',
  'network disconnect': 'network', 'network prune': 'network',
};
/** Commands whose flags stop at the first argument (the rest is the container's command). */
// docker's SetInterspersed(false): what follows the first argument is the container's (top: ps options).
const notInterspersed = new Set(['run', 'create', 'exec', 'top']);
const management = new Set(['container', 'image', 'volume', 'system', 'network', 'builder', 'plugin', 'context', 'manifest', 'trust']);

function aliasMap(): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    for (const a of spec.aliases ?? []) if (a !== name) m.set(a, name);
  }
  return m;
}

function formatFlags(rows: FlagRow[]): string {
  const left = rows.map((r) => `${r[1] ? `-${r[1]}, ` : '    '}--${r[0]}${r[2] === 'bool' ? '' : ` ${r[2]}`}`);
  const w = Math.max(...left.map((l) => l.length)) + 3;
  return rows
    .map((r, i) => {
      const desc = (r[3] + (r[4] !== undefined ? ` (default ${r[4]})` : '')).split('\n');
      return `  ${left[i]!.padEnd(w)}${desc.join(`\n  ${' '.repeat(w)}`)}`;
    })
    .join('\n');
}

export function helpText(name: string, spec: CommandSpec): string {
  let s = `\nUsage:  hako ${spec.usage}\n\n${spec.desc}\n`;
  if (spec.aliases?.length) s += `\nAliases:\n  ${spec.aliases.map((a) => `hako ${a}`).join(', ')}\n`;
  if (spec.sub?.length) {
    const subs = spec.sub.filter(([n]) => commandModule[`${name} ${n}`] || aliasMap().has(`${name} ${n}`));
    const w = Math.max(...subs.map(([n]) => n.length)) + 2;
    s += `\nCommands:\n${subs.map(([n, d]) => `  ${n.padEnd(w)}${d}`).join('\n')}\n`;
  }
  if (spec.flags.length) s += `\nOptions:\n${formatFlags(spec.flags)}\n`;
  if (spec.sub?.length) s += `\nRun 'hako ${name} COMMAND --help' for more information on a command.\n`;
  return s;
}

function topHelp(): string {
  const list = (names: string[]) => names.map((n) => `  ${n.padEnd(12)}${specs[n]?.desc ?? ''}`).join('\n');
  return (
    `\nUsage:  hako [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\nCommon Commands:\n` +
    list(['run', 'exec', 'ps', 'build', 'pull', 'push', 'images', 'login', 'logout', 'version', 'info']) +
    `\n\nManagement Commands:\n` +
    list(['container', 'image', 'network', 'system', 'volume']) +
    `\n\nCommands:\n` +
    list(['attach', 'commit', 'cp', 'create', 'diff', 'events', 'export', 'history', 'import', 'inspect', 'kill', 'load', 'logs', 'pause', 'port', 'rename', 'restart', 'rm', 'rmi', 'save', 'start', 'stats', 'stop', 'tag', 'top', 'unpause', 'update', 'wait']) +
    `\n\nGlobal Options:\n${formatFlags(globalFlags)}\n\nRun 'hako COMMAND --help' for more information on a command.\n`
  );
}

function usageFooter(name: string, spec: CommandSpec, hint: 'See' | 'Run'): string {
  return `\n\nUsage:  hako ${spec.usage}\n\n${hint} 'hako ${name} --help' for more information\n`;
}

export interface MainOptions {
  /** Profiling: called at each phase (bin/hako.cjs's HAKO_CLI_TRACE). */
  mark?: ((phase: string) => void) | undefined;
  /** Called when the daemon answered a request (bin/hako.cjs: the run was a full one, for its code cache). */
  answered?: (() => void) | undefined;
  /**
   * A synchronous connect(2) to the daemon's unix socket (bin/hako.cjs passes the addon's
   * unixConnect): the first request then reaches the daemon when it is written.
   */
  unixConnector?: UnixConnector | undefined;
  /**
   * TIOCGWINSZ on an fd (bin/hako.cjs passes the addon's getWinsize): throws ENOTTY when it is no
   * terminal. Without it, fstat tells a pipe, socket or file; a character device is asked of
   * process.stdout/stderr (made for it: node:tty or node:net).
   */
  winsize?: ((fd: number) => { rows: number; cols: number }) | undefined;
}

/**
 * write(2)s `data` on `fd` (1 or 2) until all of it went out. Returns null then; EPIPE when the
 * pipe's reader is gone; else what the first write that failed did not take (EAGAIN from a
 * non-blocking pipe or terminal whose reader is behind, after a partial write or none; EBADF…),
 * for the fd's stream to write or report as it always did.
 */
function writeDirect(fd: 1 | 2, data: string | Uint8Array): Uint8Array | NodeJS.ErrnoException | null {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let done = 0;
  try {
    const fs = builtin('node:fs') as typeof import('node:fs');
    while (done < buf.length) {
      const n = fs.writeSync(fd, buf, done, buf.length - done);
      if (n <= 0) break;
      done += n;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return e as NodeJS.ErrnoException;
    /* the rest goes to the stream */
  }
  return done < buf.length ? buf.subarray(done) : null;
}

/**
 * process.stdout/stderr as a command uses them: made on first use (a tty or pipe stream each,
 * ~1–4 ms of a short command's start-up), so only what a command uses is made; and flushed
 * before main returns.
 */
class Stdio {
  private out: NodeJS.WriteStream | null = null;
  private err: NodeJS.WriteStream | null = null;
  private failed: ((code: number) => void) | null = null;
  /** Writing stdout or stderr failed. */
  broken = false;
  /**
   * Resolves with 1 when writing stdout or stderr failed (the reader of a pipe went away): the
   * command stops there, as docker's CLI does (`write /dev/stdout: broken pipe`, status 1),
   * instead of an unhandled 'error' event.
   */
  readonly failure = new Promise<number>((resolve) => (this.failed = resolve));

  constructor(private readonly winsize?: MainOptions['winsize']) {}

  /** See Ctx.terminalColumns. A terminal of 0 columns (never sized) counts as 80. */
  terminalColumns(fd: 1 | 2): number | null {
    const made = fd === 1 ? this.out : this.err;
    if (!made && this.winsize) {
      try {
        return this.winsize(fd).cols || 80;
      } catch {
        return null; // ENOTTY (a pipe, a file), EBADF (closed)
      }
    }
    if (!made) {
      // Without the addon: only a character device can be a terminal (one fstat: a pipe, a
      // socket or a file is not); for one, the stream is made and asked.
      try {
        if (!(builtin('node:fs') as typeof import('node:fs')).fstatSync(fd).isCharacterDevice()) return null;
      } catch {
        return null;
      }
    }
    const s = made ?? (fd === 1 ? this.stdout : this.stderr);
    return s.isTTY ? s.columns || 80 : null;
  }

  get stdout(): NodeJS.WriteStream {
    if (!this.out) {
      this.out = process.stdout;
      this.out.on('error', (e: NodeJS.ErrnoException) => this.fail('/dev/stdout', e));
    }
    return this.out;
  }

  get stderr(): NodeJS.WriteStream {
    if (!this.err) {
      this.err = process.stderr;
      this.err.on('error', (e: NodeJS.ErrnoException) => this.fail('/dev/stderr', e));
    }
    return this.err;
  }

  /**
   * `data` on stdout. Once process.stdout exists, through it; before, with write(2) on fd 1:
   * making process.stdout for a pipe loads node:net and node:stream (~5 ms of a short command's
   * CPU, measured with `hako pull -q` and `hako run -d` into a pipe), a terminal's node:tty too,
   * for a line or a container's few bytes. Node writes files and terminals synchronously, and a
   * pipe's stream writes at once what the pipe takes, so a write(2) before the stream exists keeps
   * the order of everything written; after it exists, everything goes through it. What write(2)
   * did not take goes to process.stdout, made then: EAGAIN on a non-blocking pipe or terminal
   * whose reader is slow (the stream queues it and flush() waits for it, as before), EPIPE,
   * EBADF… (the stream reports the failure as before: `write /dev/stdout: broken pipe`,
   * status 1). A blocking pipe or terminal whose reader is slow holds the command in write(2),
   * as docker's CLI is held in its copy (a signal for --sig-proxy is passed on once it returns).
   */
  print(data: string | Uint8Array): void {
    if (this.broken) return; // the command is ending (docker's CLI dies of the SIGPIPE)
    if (this.out) {
      this.stdout.write(data);
      return;
    }
    const rest = writeDirect(1, data);
    if (rest instanceof Error) this.fail('/dev/stdout', rest);
    else if (rest) this.stdout.write(rest);
  }

  /** `data` on stderr, as print on stdout. */
  printErr(data: string | Uint8Array): void {
    if (this.broken) return;
    if (this.err) {
      this.stderr.write(data);
      return;
    }
    const rest = writeDirect(2, data);
    if (rest instanceof Error) this.fail('/dev/stderr', rest);
    else if (rest) this.stderr.write(rest);
  }

  /** See Ctx.backlog. */
  backlog(): Promise<void> | null {
    if (this.broken) return null;
    const full = [this.out, this.err].filter((s): s is NodeJS.WriteStream => !!s && s.writableNeedDrain && !s.destroyed);
    if (!full.length) return null;
    return Promise.race([this.failure.then(() => undefined), Promise.all(full.map((s) => new Promise<void>((resolve) => s.once('drain', () => resolve()))))]).then(() => undefined);
  }

  private fail(file: string, e: NodeJS.ErrnoException): void {
    if (this.broken) return;
    this.broken = true;
    if (file !== '/dev/stderr') {
      try {
        this.stderr.write(`write ${file}: ${e.code === 'EPIPE' ? 'broken pipe' : e.message}\n`);
      } catch {
        /* stderr is gone too */
      }
    }
    this.failed!(1);
  }

  /**
   * Resolves once everything written went out. A pipe whose reader is slower than the
   * container takes writes asynchronously, and the process exits as soon as main returns:
   * process.exit would drop what is still queued (`hako run … | slow-reader` lost all but the
   * first 64 KiB). docker's CLI writes everything before it exits.
   */
  async flush(): Promise<void> {
    // A stream's failed write is known at once (its `errored`), its 'error' event only on a
    // later tick: a command that printed its last line into a pipe without reader returned
    // before it, and exited 0 without a word.
    const errored = (s: NodeJS.WriteStream | null) => (s as { errored?: NodeJS.ErrnoException | null } | null)?.errored;
    if (errored(this.out)) this.fail('/dev/stdout', errored(this.out)!);
    if (errored(this.err)) this.fail('/dev/stderr', errored(this.err)!);
    if (this.broken) return;
    const pending = [this.out, this.err].filter((s): s is NodeJS.WriteStream => !!s && s.writableLength > 0 && !s.destroyed);
    await Promise.all(pending.map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))));
  }
}

export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  const stdio = new Stdio(opts.winsize);
  let code: number;
  try {
    code = await Promise.race([command(argv, opts, stdio), stdio.failure]);
  } finally {
    await stdio.flush();
  }
  return stdio.broken ? 1 : code;
}

async function command(argv: string[], opts: MainOptions, out: Stdio): Promise<number> {
  // Global options stop at the first non-flag word (the command).
  let global;
  try {
    global = parseFlags({ flags: globalFlags }, argv, false);
  } catch (e) {
    if (e instanceof UsageError) {
      out.printErr(`${e.message}\nSee 'hako --help'.\n`);
      return 125;
    }
    throw e;
  }
  const g = new Flags(global, globalFlags);
  if (g.bool('version')) {
    out.print('hako version 0.1.0\n');
    return 0;
  }
  let rest = global.args;
  if (rest.length === 0) {
    out.print(topHelp());
    return global.help ? 0 : 0;
  }
  let name = rest[0]!;
  rest = rest.slice(1);
  if (management.has(name)) {
    const sub = rest[0];
    if (sub === undefined || sub.startsWith('-')) {
      const spec = specs[name];
      if (!spec) {
        out.printErr(`hako: unknown command: hako ${name}\n\nRun 'hako --help' for more information\n`);
        return 1;
      }
      out.print(helpText(name, spec));
      return 0;
    }
    name = `${name} ${sub}`;
    rest = rest.slice(1);
  }
  // (the alias table walks every command's spec: only for a name that is not a command's own)
  const canonical = commandModule[name] ? name : aliasMap().get(name);
  const spec = canonical ? specs[canonical] : undefined;
  if (!canonical || !spec || !commandModule[canonical]) {
    out.printErr(`hako: unknown command: hako ${name}\n\nRun 'hako --help' for more information\n`);
    return 1;
  }
  let parsed;
  try {
    parsed = parseFlags(spec, rest, !notInterspersed.has(canonical));
  } catch (e) {
    if (e instanceof UsageError) {
      out.printErr(e.message + usageFooter(name, spec, 'Run'));
      return e.exitCode;
    }
    throw e;
  }
  if (parsed.help) {
    out.print(helpText(name, spec));
    return 0;
  }
  const argErr = checkArgs(name, spec.args, parsed.args.length);
  if (argErr) {
    out.printErr(`hako: ${argErr.message}${usageFooter(name, spec, argErr.hint)}`);
    return argErr.exitCode;
  }

  opts.mark?.('cli.parsed');
  let client: Client | undefined;
  const ctx: Ctx = {
    name: canonical,
    spec,
    flags: new Flags(parsed, spec.flags),
    args: parsed.args,
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    print: (data) => out.print(data),
    printErr: (data) => out.printErr(data),
    backlog: () => out.backlog(),
    terminalColumns: (fd) => out.terminalColumns(fd),
    client: async () => {
      if (client) return client;
      const { Client: C, resolveHost } = await import('./client.js');
      const host = resolveHost({
        hosts: g.list('host'),
        tls: g.bool('tls'),
        tlsverify: g.bool('tlsverify'),
        tlscacert: global.values.get('tlscacert') as string | undefined,
        tlscert: global.values.get('tlscert') as string | undefined,
        tlskey: global.values.get('tlskey') as string | undefined,
      });
      client = new C(host, opts.unixConnector);
      client.mark = opts.mark;
      client.onAnswer = opts.answered;
      if (!host.explicit) {
        client.onUnreachable = async () => (await import('./autostart.js')).startDaemon(host.host, out.stderr);
      }
      return client;
    },
  };
  const runLike = canonical === 'run' || canonical === 'create';
  try {
    const mod = await modules[commandModule[canonical]!]!();
    const key = canonical.replace(/ (\w)/g, (_m, c: string) => c.toUpperCase());
    const handler = mod[key];
    if (!handler) throw new Error(`hako: ${canonical} is not implemented yet`);
    return await handler(ctx);
  } catch (e) {
    return reportError(e, ctx, runLike);
  } finally {
    client?.close();
  }
}

/**
 * A registry's refusal of the credentials (none sent, or wrong) comes from hakod in dockerd's
 * words, which the docker CLI prints bare: `no basic auth credentials`, `unauthorized: …`,
 * `pull access denied for …`. hako's CLI names the fix after it: `(run hako login <registry>)`,
 * the registry taken from the request or the repository the message names (none: Docker Hub).
 */
export function withLoginHint(msg: string): string {
  if (!/no basic auth credentials|unauthorized: |pull access denied for |denied: requested access to the resource is denied/.test(msg)) return msg;
  const host = /"https?:\/\/([^/"]+)\//.exec(msg)?.[1] ?? registryOfRepository(/pull access denied for ([^,\s]+),/.exec(msg)?.[1]);
  return `${msg} (run hako login${host ? ` ${host}` : ''})`;
}

/** The registry a repository name names (`127.0.0.1:5000/x`), undefined for Docker Hub's (`busybox`, `library/x`). */
function registryOfRepository(name: string | undefined): string | undefined {
  const first = name?.split('/')[0];
  return first && name!.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') && first !== 'docker.io' ? first : undefined;
}

async function reportError(e: unknown, ctx: Ctx, runLike: boolean): Promise<number> {
  const { ApiError, ConnectError } = await import('./client.js');
  const { FormatError } = await import('./format.js');
  let msg: string;
  let code = runLike ? 125 : 1;
  const hinted = (m: string): string => (ctx.name !== 'login' && ctx.name !== 'logout' ? withLoginHint(m) : m);
  if (e instanceof ExitError) {
    // (a stream's error, as a push's or a build's: the message's own line, hinted)
    const m = e.message.endsWith('\n') ? `${hinted(e.message.slice(0, -1))}\n` : e.message ? `${hinted(e.message)}\n` : '';
    if (m) ctx.printErr(m);
    return e.code;
  } else if (e instanceof UsageError) {
    ctx.printErr(e.message + usageFooter(ctx.name, ctx.spec, e.hint));
    return e.exitCode;
  } else if (e instanceof ApiError) msg = `Error response from daemon: ${e.message}`;
  else if (e instanceof ConnectError || e instanceof FormatError) msg = e.message;
  else if (e instanceof Error) {
    msg = e.message;
    if (ctx.env.HAKO_DEBUG) msg = e.stack ?? msg;
  } else msg = String(e);
  msg = hinted(msg);
  if (runLike) {
    ctx.printErr(`hako: ${msg}\n\nRun 'hako ${ctx.name} --help' for more information\n`);
    code = 125;
  } else ctx.printErr(`${msg}\n`);
  return code;
}
