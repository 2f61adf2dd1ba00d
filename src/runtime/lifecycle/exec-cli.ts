// `hako-runtime exec` flags (runc's): the process is the container's configured process with
// the given args, env added, cwd/user/tty/caps overridden — or a whole process.json.
import { readFileSync } from 'node:fs';
import { invalid, fromSystemError } from '../../common/errors.js';
import { parseArgs } from '../cli-args.js';
import type { SpecProcess } from '../spec/types.js';
import type { RuntimeContext } from './context.js';
import { execInContainer } from './exec.js';

export async function execCommand(ctx: RuntimeContext, argv: string[]): Promise<number> {
  const { flags, args } = parseArgs(
    argv,
    [
      { name: 'console-socket', type: 'string' },
      { name: 'cwd', type: 'string' },
      { name: 'env', alias: 'e', type: 'list' },
      { name: 'tty', alias: 't', type: 'bool' },
      { name: 'user', alias: 'u', type: 'string' },
      { name: 'additional-gids', alias: 'g', type: 'list' },
      { name: 'process', alias: 'p', type: 'string' },
      { name: 'detach', alias: 'd', type: 'bool' },
      { name: 'pid-file', type: 'string' },
      { name: 'process-label', type: 'string' },
      { name: 'apparmor', type: 'string' },
      { name: 'no-new-privs', type: 'bool' },
      { name: 'cap', alias: 'c', type: 'list' },
      { name: 'preserve-fds', type: 'int' },
      { name: 'cgroup', type: 'list' },
      { name: 'ignore-paused', type: 'bool' },
    ],
    'exec',
    { stopAtFirstArg: true },
  );
  const id = args[0];
  if (!id) throw invalid('exec: a container id is required', 'usage: hako-runtime exec [options] ID COMMAND [ARGS...]');
  let proc: SpecProcess;
  if (flags.process) {
    const file = flags.process as string;
    try {
      proc = JSON.parse(readFileSync(file, 'utf8')) as SpecProcess;
    } catch (err) {
      if (err instanceof SyntaxError) throw invalid(`exec: ${file} is not valid JSON`, err.message);
      throw fromSystemError(`read process file ${file}`, err, file);
    }
  } else {
    const rec = ctx.store.load(id);
    const base = rec.config.process;
    if (args.length < 2) throw invalid('exec: a command is required', 'usage: hako-runtime exec [options] ID COMMAND [ARGS...]');
    proc = structuredClone(base ?? ({ cwd: '/', user: { uid: 0, gid: 0 }, args: [] } as unknown as SpecProcess));
    proc.args = args.slice(1);
    proc.terminal = Boolean(flags.tty);
    if (flags.env) proc.env = [...(proc.env ?? []), ...(flags.env as string[])];
    if (flags.cwd) proc.cwd = flags.cwd as string;
    if (flags['no-new-privs']) proc.noNewPrivileges = true;
    if (flags.user) {
      const m = /^(\d+)(?::(\d+))?$/.exec(flags.user as string);
      if (!m) throw invalid(`exec: invalid --user "${flags.user}"`, 'use UID or UID:GID (numbers)');
      proc.user = { ...(proc.user ?? { uid: 0, gid: 0 }), uid: Number(m[1]), gid: m[2] === undefined ? 0 : Number(m[2]) };
    }
    if (flags['additional-gids']) proc.user = { ...(proc.user ?? { uid: 0, gid: 0 }), additionalGids: (flags['additional-gids'] as string[]).map(Number) };
    if (flags.cap) {
      const caps = (flags.cap as string[]).map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`));
      const c = (proc.capabilities ??= {});
      for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
        if (set === 'ambient' || set === 'inheritable') continue;
        c[set] = [...new Set([...(c[set] ?? []), ...caps])];
      }
    }
  }
  return await execInContainer(ctx, id, {
    process: proc,
    stdio: [0, 1, 2],
    preserveFds: (flags['preserve-fds'] as number | undefined) ?? 0,
    detach: Boolean(flags.detach),
    ...(flags['console-socket'] ? { consoleSocket: flags['console-socket'] as string } : {}),
    ...(flags['pid-file'] ? { pidFile: flags['pid-file'] as string } : {}),
  });
}
