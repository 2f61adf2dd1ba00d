// Volume commands: create, ls, inspect, rm, prune.
import type { Ctx } from '../main.js';
import { pathEscape } from '../client.js';
import { renderList } from '../format.js';
import { humanSize } from '../units.js';
import { forEach, filtersQuery, confirm, type Json } from './common.js';

export async function volumeCreate(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  if (ctx.args[0] && f.has('name') && ctx.args[0] !== f.str('name')) {
    const { ExitError } = await import('../main.js');
    throw new ExitError(1, `conflicting options: cannot specify a volume-name through both --name and as a positional arg`);
  }
  const kv = (list: string[]) => Object.fromEntries(list.map((x) => { const i = x.indexOf('='); return i < 0 ? [x, ''] : [x.slice(0, i), x.slice(i + 1)]; }));
  const v = await client.json<Json>('POST', '/volumes/create', {
    body: { Name: ctx.args[0] ?? f.str('name') ?? '', Driver: f.str('driver') ?? 'local', DriverOpts: kv(f.list('opt')), Labels: kv(f.list('label')) },
  });
  ctx.print(`${v.Name}\n`);
  return 0;
}

export async function volumeLs(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const r = await client.json<Json>('GET', '/volumes', { query: { filters: filtersQuery(f.list('filter')) } });
  const vols = ((r.Volumes as Json[] | null) ?? []).sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
  for (const w of (r.Warnings as string[] | null) ?? []) ctx.printErr(`${w}\n`);
  if (f.bool('quiet') && !f.has('format')) {
    ctx.print(vols.map((v) => `${v.Name}\n`).join(''));
    return 0;
  }
  const rows = vols.map((v) => {
    const labels: Record<string, string> = v.Labels ?? {};
    const o: Json = {
      Name: v.Name, Driver: v.Driver, Scope: v.Scope ?? 'local', Mountpoint: v.Mountpoint ?? '',
      Labels: Object.keys(labels).map((k) => `${k}=${labels[k]}`).join(','),
      Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
      Size: v.UsageData && v.UsageData.Size >= 0 ? humanSize(v.UsageData.Size, 3) : 'N/A',
      Availability: 'N/A', Group: 'N/A', Status: 'N/A',
    };
    Object.defineProperty(o, 'Label', { value: (k: string) => labels[k] ?? '', enumerable: false });
    return o;
  });
  const header = { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE', Availability: 'AVAILABILITY', Group: 'GROUP', Status: 'STATUS' };
  ctx.print(renderList(f.str('format'), '{{.Driver}}\t{{.Name}}', rows, header));
  return 0;
}

export async function volumeInspect(ctx: Ctx): Promise<number> {
  const { inspectObjects } = await import('./system.js');
  return inspectObjects(ctx, ctx.args, async (c, name) => c.json<Json>('GET', `/volumes/${pathEscape(name)}`), 'volume');
}

export async function volumeRm(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  return forEach(ctx, ctx.args, async (name) => {
    await client.json('DELETE', `/volumes/${pathEscape(name)}`, { query: { force: ctx.flags.bool('force') || undefined } });
    return name;
  });
}

export async function volumePrune(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const all = ctx.flags.bool('all');
  const warning = all ? 'WARNING! This will remove all local volumes not used by at least one container.' : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
  if (!ctx.flags.bool('force') && !(await confirm(ctx, warning))) return 0;
  const filters = ctx.flags.list('filter');
  if (all) filters.push('all=true');
  const r = await client.json<Json>('POST', '/volumes/prune', { query: { filters: filtersQuery(filters) } });
  const deleted = (r.VolumesDeleted as string[] | null) ?? [];
  ctx.print(`${deleted.length ? `Deleted Volumes:\n${deleted.join('\n')}\n\n` : ''}Total reclaimed space: ${humanSize(Number(r.SpaceReclaimed ?? 0))}\n`);
  return 0;
}
