// events: container stats as JSON lines, once (--stats) or every --interval; an "oom" event
// whenever the memory cgroup's OOM kill count grows. Stops when the container stops.
import { invalid } from '../../common/errors.js';
import { parseArgs } from '../cli-args.js';
import type { RuntimeContext } from './context.js';
import { cgroupsOf } from './context.js';
import { statusOf } from './status.js';

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw invalid(`invalid duration "${text}"`, 'use e.g. 500ms, 5s or 1m');
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  return Number(m[1]) * mult;
}

export async function eventsCommand(ctx: RuntimeContext, argv: string[]): Promise<void> {
  const { flags, args } = parseArgs(argv, [{ name: 'stats', type: 'bool' }, { name: 'interval', type: 'string' }], 'events');
  const id = args[0];
  if (!id) throw invalid('events: a container id is required');
  const rec = ctx.store.load(id);
  const cg = cgroupsOf(rec);
  const emit = (type: string, data?: unknown) => process.stdout.write(JSON.stringify({ type, id, ...(data === undefined ? {} : { data }) }) + '\n');
  if (flags.stats) {
    emit('stats', cg.stats());
    return;
  }
  const interval = parseDuration((flags.interval as string | undefined) ?? '5s');
  let oomKills = cg.stats().memory?.oomKills ?? 0;
  while (statusOf(ctx, rec) !== 'stopped') {
    const s = cg.stats();
    const now = s.memory?.oomKills ?? 0;
    if (now > oomKills) emit('oom');
    oomKills = now;
    emit('stats', s);
    await new Promise((r) => setTimeout(r, interval));
  }
}
