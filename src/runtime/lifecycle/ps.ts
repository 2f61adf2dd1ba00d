// ps: the container's processes are the pids in its cgroup; the table comes from the host's
// `ps` filtered to them, like runc does.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { HakoError, conflict, invalid, fromSystemError } from '../../common/errors.js';
import type { RuntimeContext } from './context.js';
import { cgroupsOf } from './context.js';
import { statusOf } from './status.js';

export async function psContainer(ctx: RuntimeContext, id: string, format: string, psArgs: string[]): Promise<string> {
  const rec = ctx.store.load(id);
  if (statusOf(ctx, rec) === 'stopped') throw conflict(`container "${id}" is not running`);
  const pids = cgroupsOf(rec).pids();
  if (format === 'json') return JSON.stringify(pids) + '\n';
  if (format !== 'table') throw invalid(`ps: unknown format "${format}"`, 'use table or json');
  const args = psArgs.length > 0 ? psArgs : ['-ef'];
  let out: string;
  try {
    // As dockerd: the container's pids selected with -q first (BSD-style arguments such as `m`
    // or `o comm,pid` select nothing of a daemon without a terminal otherwise), then, for
    // options ps refuses with -q (`f`), every process filtered below.
    ({ stdout: out } = await runPs([...args, `-q${pids.join(',')}`]));
  } catch {
    try {
      ({ stdout: out } = await runPs(args));
    } catch (err) {
      // dockerd's words (a 500): "ps: " and ps's first line of complaint, e.g. `ps: error:
      // unsupported SysV option`, or Go's "exit status N" when it said nothing.
      const first = String((err as { stderr?: unknown }).stderr ?? '').split('\n')[0]!;
      const code = (err as { code?: unknown }).code;
      if (first) throw new HakoError({ step: `ps: ${first}`, kind: 'internal' });
      if (typeof code === 'number') throw new HakoError({ step: `ps: exit status ${code}`, kind: 'internal' });
      throw fromSystemError('run ps', err);
    }
  }
  return filterPsOutput(out, pids);
}

function runPs(args: string[]): Promise<{ stdout: string }> {
  return promisify(execFile)('ps', args, { maxBuffer: 64 << 20 });
}

/**
 * ps's header and the rows of `pids` (dockerd's parsePSOutput): a row whose PID is `-` (a thread
 * of `ps m`/`-L`) is kept when the process row before it was. A PID that is not a number is
 * dockerd's "Unexpected pid" error.
 */
export function filterPsOutput(out: string, pids: number[]): string {
  const lines = out.split('\n');
  const header = lines[0] ?? '';
  const pidCol = header.trim().split(/\s+/).indexOf('PID');
  if (pidCol < 0) throw new HakoError({ step: "Couldn't find PID field in ps output", kind: 'internal' }); // dockerd's words, exactly
  const set = new Set(pids);
  const rows: string[] = [];
  let inside = false;
  for (const l of lines.slice(1)) {
    if (!l) continue;
    const field = l.trim().split(/\s+/)[pidCol] ?? '';
    if (field === '-') {
      if (inside) rows.push(l);
      continue;
    }
    if (!/^[+-]?\d+$/.test(field)) throw new HakoError({ step: `Unexpected pid '${field}': strconv.Atoi: parsing ${JSON.stringify(field)}: invalid syntax`, kind: 'internal' });
    inside = set.has(Number(field));
    if (inside) rows.push(l);
  }
  return [header, ...rows].join('\n') + '\n';
}
