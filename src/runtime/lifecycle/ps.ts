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
  let out: string;
  try {
    ({ stdout: out } = await promisify(execFile)('ps', psArgs.length > 0 ? psArgs : ['-ef']));
  } catch (err) {
    // As dockerd (and runc ps) put it: ps's first line of complaint, e.g. `ps: error: unsupported SysV option`.
    const first = String((err as { stderr?: unknown }).stderr ?? '').split('\n')[0]!.trim();
    if (first) throw new HakoError({ step: `ps: ${first}`, kind: 'invalid-argument' });
    throw fromSystemError('run ps', err);
  }
  const lines = out.split('\n');
  const header = lines[0] ?? '';
  const pidCol = header.trim().split(/\s+/).indexOf('PID');
  if (pidCol < 0) throw invalid("Couldn't find PID field in ps output"); // dockerd's words, exactly
  const set = new Set(pids);
  const rows = lines.slice(1).filter((l) => set.has(Number(l.trim().split(/\s+/)[pidCol])));
  return [header, ...rows].join('\n') + '\n';
}
