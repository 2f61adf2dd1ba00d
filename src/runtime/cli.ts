// hako-runtime: a runc-compatible command line over the lifecycle verbs, so that other engines
// (dockerd --add-runtime, podman --runtime, containerd) can use hako as their OCI runtime.
// Each command imports only what it needs: Node start-up is most of a short command's cost.
import { appendFileSync, writeSync } from 'node:fs';
import { parseArgs, type FlagSpec } from './cli-args.js';
import { HakoError, invalid } from '../common/errors.js';
import { OCI_VERSION } from './spec/types.js';
import { isoTime } from '../common/time.js';

const VERSION = '0.1.0';

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'root', type: 'string' },
  { name: 'log', type: 'string' },
  { name: 'log-format', type: 'string' },
  { name: 'debug', type: 'bool' },
  { name: 'systemd-cgroup', type: 'bool' },
  { name: 'rootless', type: 'string' },
  { name: 'criu', type: 'string' },
  { name: 'help', alias: 'h', type: 'bool' },
  { name: 'version', alias: 'v', type: 'bool' },
];

const USAGE = `hako-runtime — an OCI container runtime (runc-compatible command line)

Usage: hako-runtime [global options] COMMAND [options] [arguments]

Commands:
  create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID
  start ID                 start a created container
  run [--bundle DIR] [--detach] [--keep] [--pid-file F] ID   create, start and wait
  state ID                 print the container's state as JSON
  kill [--all] ID [SIGNAL] send a signal (default TERM)
  delete [--force] ID      remove a stopped container (--force: kill it first)
  exec [--tty] [--process F] [--env K=V] [--cwd D] [--user U[:G]] [--detach] ID [ARGS...]
  pause ID / resume ID     freeze / thaw every process of the container
  ps [--format table|json] ID
  list [--format table|json] [--quiet]
  spec [--bundle DIR] [--rootless]   write a default config.json
  features                 print the features this runtime supports (JSON)
  update [--memory N] [--pids-limit N] [--cpu-quota N] ... [--resources F] ID
  events [--stats] [--interval 5s] ID

Global options:
  --root DIR               state directory (default /run/hako/runtime)
  --log FILE, --log-format text|json   where errors are also written
`;

interface Globals {
  root: string;
  logFile?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
}

function splitGlobals(argv: string[]): { globals: Globals; command: string | undefined; rest: string[] } {
  // Global flags come before the command.
  let i = 0;
  const g: string[] = [];
  while (i < argv.length && (argv[i] as string).startsWith('-')) {
    const a = argv[i] as string;
    g.push(a);
    const name = a.replace(/^--?/, '').split('=')[0] as string;
    const spec = GLOBAL_FLAGS.find((f) => f.name === name || f.alias === name);
    if (spec && spec.type !== 'bool' && !a.includes('=')) g.push(argv[++i] as string);
    i++;
  }
  const { flags } = parseArgs(g, GLOBAL_FLAGS, 'hako-runtime');
  if (flags.help) {
    writeOut(1, USAGE);
    process.exit(0);
  }
  if (flags.version) {
    writeOut(1, `hako-runtime version ${VERSION}\nspec: ${OCI_VERSION}\n`);
    process.exit(0);
  }
  const logFormat = (flags['log-format'] as string | undefined) ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw invalid(`--log-format must be text or json, not "${logFormat}"`);
  return {
    globals: {
      root: (flags.root as string | undefined) ?? process.env.HAKO_RUNTIME_ROOT ?? '/run/hako/runtime',
      logFile: flags.log as string | undefined,
      logFormat,
      debug: Boolean(flags.debug),
    },
    command: argv[i],
    rest: argv.slice(i + 1),
  };
}

/**
 * Writes to our stdout/stderr with write(2) rather than through process.stdout/stderr, whose
 * first use loads Node's stream machinery (~2 ms of a short command's start-up). A non-blocking
 * fd that is full (EAGAIN) gets the rest through the stream; EPIPE and the like are ignored.
 */
function writeOut(fd: 1 | 2, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(fd, buf, off);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') (fd === 1 ? process.stdout : process.stderr).write(buf.subarray(off));
  }
}

function logLine(g: Globals | undefined, level: 'error' | 'warning' | 'debug', msg: string): void {
  if (!g?.logFile) return;
  const line = g.logFormat === 'json' ? JSON.stringify({ level, msg, time: isoTime() }) : `time="${isoTime()}" level=${level} msg="${msg.replace(/"/g, '\\"')}"`;
  try {
    appendFileSync(g.logFile, line + '\n');
  } catch {
    /* the log is best effort; stderr has the message */
  }
}

function requireId(args: string[], command: string): string {
  const id = args[0];
  if (!id) throw invalid(`${command}: a container id is required`, `usage: hako-runtime ${command} ID`);
  return id;
}

function expectArgs(args: string[], max: number, command: string): void {
  if (args.length > max) throw invalid(`${command}: unexpected argument "${args[max]}"`);
}

export async function main(argv: string[]): Promise<number> {
  let globals: Globals | undefined;
  try {
    const split = splitGlobals(argv);
    globals = split.globals;
    const g = globals;
    const { command, rest } = split;
    if (!command) {
      writeOut(2, USAGE);
      return 1;
    }
    const { makeContext } = await import('./lifecycle/context.js');
    const ctx = makeContext(g.root, {
      // With --log (how containerd's shim and podman's conmon call us) warnings go only to the
      // log, like runc's: our stderr is then often the container's own stderr (create inherits
      // the container's stdio), and a warning there would show up as the container's output.
      warn: (m) => {
        if (!g.logFile) writeOut(2, `hako-runtime: warning: ${m}\n`);
        logLine(g, 'warning', m);
      },
      debug: (m) => {
        if (g.debug && !g.logFile) writeOut(2, `hako-runtime: ${m}\n`);
        if (g.debug) logLine(g, 'debug', m);
      },
    });
    switch (command) {
      case 'create':
      case 'run': {
        const { flags, args } = parseArgs(
          rest,
          [
            { name: 'bundle', alias: 'b', type: 'string' },
            { name: 'pid-file', type: 'string' },
            { name: 'console-socket', type: 'string' },
            { name: 'preserve-fds', type: 'int' },
            { name: 'detach', alias: 'd', type: 'bool' },
            { name: 'keep', type: 'bool' },
            { name: 'no-pivot', type: 'bool' },
            { name: 'no-new-keyring', type: 'bool' },
            { name: 'no-subreaper', type: 'bool' },
            { name: 'notify-socket', type: 'string' },
          ],
          command,
        );
        const id = requireId(args, command);
        expectArgs(args, 1, command);
        const common = {
          id,
          bundle: (flags.bundle as string | undefined) ?? process.cwd(),
          stdio: [0, 1, 2] as [number, number, number],
          preserveFds: (flags['preserve-fds'] as number | undefined) ?? 0,
          ...(flags['console-socket'] ? { consoleSocket: flags['console-socket'] as string } : {}),
          ...(flags['pid-file'] ? { pidFile: flags['pid-file'] as string } : {}),
        };
        if (command === 'create') {
          const { launch } = await import('./lifecycle/launch.js');
          await launch(ctx, { ...common, mode: 'create' });
          return 0;
        }
        const { runContainer } = await import('./lifecycle/run.js');
        return await runContainer(ctx, { ...common, detach: Boolean(flags.detach), keep: Boolean(flags.keep) });
      }
      case 'start': {
        const { args } = parseArgs(rest, [], command);
        const id = requireId(args, command);
        expectArgs(args, 1, command);
        const { startContainer } = await import('./lifecycle/start.js');
        await startContainer(ctx, id);
        return 0;
      }
      case 'state': {
        const { args } = parseArgs(rest, [], command);
        const id = requireId(args, command);
        expectArgs(args, 1, command);
        const { ociState } = await import('./lifecycle/status.js');
        writeOut(1, JSON.stringify(ociState(ctx, ctx.store.load(id)), null, 2) + '\n');
        return 0;
      }
      case 'kill': {
        const { flags, args } = parseArgs(rest, [{ name: 'all', alias: 'a', type: 'bool' }], command);
        const id = requireId(args, command);
        expectArgs(args, 2, command);
        const { killContainer, parseSignal } = await import('./lifecycle/kill.js');
        await killContainer(ctx, id, parseSignal(args[1]), { all: Boolean(flags.all) });
        return 0;
      }
      case 'delete': {
        const { flags, args } = parseArgs(rest, [{ name: 'force', alias: 'f', type: 'bool' }], command);
        const id = requireId(args, command);
        expectArgs(args, 1, command);
        const { deleteContainer } = await import('./lifecycle/delete.js');
        await deleteContainer(ctx, id, { force: Boolean(flags.force) });
        return 0;
      }
      case 'pause':
      case 'resume': {
        const { args } = parseArgs(rest, [], command);
        const id = requireId(args, command);
        expectArgs(args, 1, command);
        const { pauseContainer, resumeContainer } = await import('./lifecycle/pause.js');
        await (command === 'pause' ? pauseContainer(ctx, id) : resumeContainer(ctx, id));
        return 0;
      }
      case 'ps': {
        const { flags, args } = parseArgs(rest, [{ name: 'format', alias: 'f', type: 'string' }], command);
        const id = requireId(args, command);
        const { psContainer } = await import('./lifecycle/ps.js');
        writeOut(1, await psContainer(ctx, id, (flags.format as string | undefined) ?? 'table', args.slice(1)));
        return 0;
      }
      case 'list': {
        const { flags, args } = parseArgs(rest, [{ name: 'format', alias: 'f', type: 'string' }, { name: 'quiet', alias: 'q', type: 'bool' }], command);
        expectArgs(args, 0, command);
        const { listContainers } = await import('./lifecycle/list.js');
        writeOut(1, listContainers(ctx, (flags.format as string | undefined) ?? 'table', Boolean(flags.quiet)));
        return 0;
      }
      case 'spec': {
        const { flags, args } = parseArgs(rest, [{ name: 'bundle', alias: 'b', type: 'string' }, { name: 'rootless', type: 'bool' }], command);
        expectArgs(args, 0, command);
        const { writeDefaultSpec } = await import('./lifecycle/spec-file.js');
        writeDefaultSpec((flags.bundle as string | undefined) ?? process.cwd(), Boolean(flags.rootless));
        return 0;
      }
      case 'features': {
        const { features } = await import('./spec/features.js');
        writeOut(1, JSON.stringify(features(), null, 2) + '\n');
        return 0;
      }
      case 'exec': {
        const { execCommand } = await import('./lifecycle/exec-cli.js');
        return await execCommand(ctx, rest);
      }
      case 'update': {
        const { updateCommand } = await import('./lifecycle/update.js');
        await updateCommand(ctx, rest);
        return 0;
      }
      case 'events': {
        const { eventsCommand } = await import('./lifecycle/events.js');
        await eventsCommand(ctx, rest);
        return 0;
      }
      case 'checkpoint':
      case 'restore':
        throw invalid(`${command} is not supported by hako-runtime`, 'CRIU checkpoint/restore is not implemented');
      case 'help':
        writeOut(1, USAGE);
        return 0;
      default:
        throw invalid(`unknown command "${command}"`, 'run hako-runtime --help');
    }
  } catch (err) {
    const msg = err instanceof HakoError ? err.message : `internal error: ${(err as Error).stack ?? String(err)}`;
    writeOut(2, `hako-runtime: ${msg}\n`);
    logLine(globals, 'error', msg);
    return 1;
  }
}
