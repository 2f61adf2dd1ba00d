// update: change a running container's cgroup limits (runc's flags, or -r with a JSON file of
// linux.resources; "-" reads it from stdin).
import { readFileSync } from 'node:fs';
import { conflict, invalid, fromSystemError } from '../../common/errors.js';
import { parseArgs } from '../cli-args.js';
import type { RuntimeContext } from './context.js';
import { cgroupsOf } from './context.js';
import { statusOf } from './status.js';

const INT_FLAGS: Array<[string, (r: Res, v: number) => void]> = [
  ['memory', (r, v) => ((r.memory ??= {}).limit = v)],
  ['memory-reservation', (r, v) => ((r.memory ??= {}).reservation = v)],
  ['memory-swap', (r, v) => ((r.memory ??= {}).swap = v)],
  ['kernel-memory', (r, v) => ((r.memory ??= {}).kernel = v)],
  ['cpu-shares', (r, v) => ((r.cpu ??= {}).shares = v)],
  ['cpu-quota', (r, v) => ((r.cpu ??= {}).quota = v)],
  ['cpu-period', (r, v) => ((r.cpu ??= {}).period = v)],
  ['cpu-rt-period', (r, v) => ((r.cpu ??= {}).realtimePeriod = v)],
  ['cpu-rt-runtime', (r, v) => ((r.cpu ??= {}).realtimeRuntime = v)],
  ['pids-limit', (r, v) => ((r.pids ??= {}).limit = v)],
  ['blkio-weight', (r, v) => ((r.blockIO ??= {}).weight = v)],
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Res = Record<string, any>;

/** Sizes like runc/docker accept: 512, 64k, 256m, 1g (binary units); -1 is unlimited. */
export function parseSize(text: string, flag: string): number {
  const m = /^(-1|\d+)([kmgt]?)b?$/i.exec(text.trim());
  if (!m) throw invalid(`invalid value for --${flag}: "${text}"`, 'use a number of bytes, optionally with k, m, g or t');
  const n = Number(m[1]);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return n === -1 ? -1 : n * mult;
}

export async function updateCommand(ctx: RuntimeContext, argv: string[]): Promise<void> {
  const { flags, args } = parseArgs(
    argv,
    [
      { name: 'resources', alias: 'r', type: 'string' },
      ...INT_FLAGS.map(([name]) => ({ name, type: 'string' as const })),
      { name: 'cpuset-cpus', type: 'string' },
      { name: 'cpuset-mems', type: 'string' },
    ],
    'update',
  );
  const id = args[0];
  if (!id) throw invalid('update: a container id is required');
  let res: Res = {};
  if (flags.resources) {
    const file = flags.resources as string;
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw fromSystemError(`read resources file ${file}`, err, file);
    }
    try {
      res = JSON.parse(text) as Res;
    } catch (err) {
      throw invalid(`resources file ${file} is not valid JSON`, (err as Error).message);
    }
  }
  for (const [name, set] of INT_FLAGS) {
    const v = flags[name];
    if (typeof v === 'string') set(res, name.startsWith('memory') || name === 'kernel-memory' ? parseSize(v, name) : parseSize(v, name));
  }
  if (flags['cpuset-cpus']) (res.cpu ??= {}).cpus = flags['cpuset-cpus'];
  if (flags['cpuset-mems']) (res.cpu ??= {}).mems = flags['cpuset-mems'];
  const lock = await ctx.store.lock(id);
  try {
    const rec = ctx.store.load(id);
    if (statusOf(ctx, rec) === 'stopped') throw conflict(`cannot update container "${id}": it is stopped`);
    cgroupsOf(rec).update(res as never);
    const linux = (rec.config.linux ??= {});
    linux.resources = mergeResources((linux.resources ?? {}) as Res, res) as never;
    ctx.store.save(rec);
  } finally {
    lock.release();
  }
}

function mergeResources(a: Res, b: Res): Res {
  const out: Res = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? mergeResources(a[k] as Res, v as Res) : v;
  }
  return out;
}
