// System commands: version, info, events, system df, system prune, and inspect (any object).
import type { Ctx } from '../main.js';
import { ExitError } from '../main.js';
import { ApiError, CLIENT_MAX_API, pathEscape, type Client } from '../client.js';
import { parseTemplate, renderList, shortId } from '../format.js';
import { containerContext } from './container.js';
import { TemplateError } from '../template.js';
import { ago, bytesSize, humanSize, timestampArg } from '../units.js';
import { filtersQuery, confirm, deletedImagesText, type Json } from './common.js';
import { WholeLines } from '../whole-lines.js';

/** docker inspect's output: a 4-space indented JSON array, or a template per object. */
export async function inspectObjects(ctx: Ctx, names: string[], get: (c: Client, name: string) => Promise<Json>, kind: string): Promise<number> {
  const client = await ctx.client();
  const format = ctx.flags.str('format');
  let tpl = null;
  if (format && format !== 'json') {
    try {
      tpl = parseTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
    } catch (e) {
      throw new ExitError(64, `template parsing error: ${(e as Error).message.replace(/^failed to parse template: /, '')}`);
    }
  }
  const found: Json[] = [];
  let failed = false;
  for (const n of names) {
    try {
      found.push(await get(client, n));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        ctx.printErr(kind === 'object' ? `Error: No such object: ${n}\n` : `Error response from daemon: ${e.message}\n`);
        failed = true;
      } else throw e;
    }
  }
  if (tpl) {
    for (const o of found) {
      try {
        ctx.print(`${tpl.execute(o)}\n`);
      } catch (e) {
        if (e instanceof TemplateError) throw new ExitError(1, `template: ${e.message.replace(/^template: /, '')}`);
        throw e;
      }
    }
  } else {
    ctx.print(found.length ? `${JSON.stringify(found, null, 4)}\n` : '[]\n');
  }
  return failed ? 1 : 0;
}

export function inspect(ctx: Ctx): Promise<number> {
  const type = ctx.flags.str('type') ?? '';
  const size = ctx.flags.bool('size');
  const getters: Record<string, (c: Client, n: string) => Promise<Json>> = {
    container: (c, n) => c.json<Json>('GET', `/containers/${pathEscape(n)}/json`, { query: { size: size || undefined } }),
    image: (c, n) => c.json<Json>('GET', `/images/${pathEscape(n)}/json`),
    volume: (c, n) => c.json<Json>('GET', `/volumes/${pathEscape(n)}`),
    network: (c, n) => c.json<Json>('GET', `/networks/${pathEscape(n)}`),
  };
  if (type && !getters[type]) throw new ExitError(1, `"${type}" is not a valid value for --type`);
  const order = type ? [type] : ['container', 'image', 'volume', 'network'];
  return inspectObjects(
    ctx,
    ctx.args,
    async (c, n) => {
      for (const t of order) {
        try {
          return await getters[t]!(c, n);
        } catch (e) {
          if (!(e instanceof ApiError) || ![400, 404, 501].includes(e.status)) throw e;
        }
      }
      throw new ApiError(404, `No such object: ${n}`);
    },
    type ? type : 'object',
  );
}

export function containerInspect(ctx: Ctx): Promise<number> {
  const size = ctx.flags.bool('size');
  return inspectObjects(ctx, ctx.args, (c, n) => c.json<Json>('GET', `/containers/${pathEscape(n)}/json`, { query: { size: size || undefined } }), 'container');
}

export function imageInspect(ctx: Ctx): Promise<number> {
  return inspectObjects(ctx, ctx.args, (c, n) => c.json<Json>('GET', `/images/${pathEscape(n)}/json`), 'image');
}

export async function version(ctx: Ctx): Promise<number> {
  const clientInfo: Json = {
    Version: '0.1.0',
    ApiVersion: CLIENT_MAX_API,
    DefaultAPIVersion: CLIENT_MAX_API,
    GoVersion: `node${process.versions.node}`,
    GitCommit: '',
    Os: process.platform,
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    BuildTime: '',
    Context: 'default',
  };
  const client = await ctx.client();
  let server: Json | null = null;
  let err: Error | null = null;
  try {
    server = await client.json<Json>('GET', '/version');
    clientInfo.ApiVersion = client.version;
  } catch (e) {
    err = e as Error;
  }
  const format = ctx.flags.str('format');
  if (format) {
    const tpl = parseTemplate(format);
    ctx.print(`${tpl.execute({ Client: clientInfo, Server: server })}\n`);
    if (err) throw err;
    return 0;
  }
  const apiLine = clientInfo.ApiVersion === CLIENT_MAX_API ? CLIENT_MAX_API : `${clientInfo.ApiVersion} (downgraded from ${CLIENT_MAX_API})`;
  let out = `Client:\n Version:           ${clientInfo.Version}\n API version:       ${apiLine}\n Node version:      ${process.versions.node}\n OS/Arch:           ${clientInfo.Os}/${clientInfo.Arch}\n Context:           default\n`;
  if (server) {
    out += `\nServer:\n Engine:\n  Version:          ${server.Version}\n  API version:      ${server.ApiVersion} (minimum version ${server.MinAPIVersion})\n`;
    if (server.GoVersion) out += `  Go version:       ${server.GoVersion}\n`;
    if (server.GitCommit) out += `  Git commit:       ${server.GitCommit}\n`;
    if (server.BuildTime) out += `  Built:            ${server.BuildTime}\n`;
    out += `  OS/Arch:          ${server.Os}/${server.Arch}\n  Experimental:     ${server.Experimental ?? false}\n`;
    for (const c of (server.Components as Json[] | null) ?? []) {
      if (c.Name === 'Engine') continue;
      out += ` ${c.Name}:\n  Version:          ${c.Version}\n`;
      for (const [k, v] of Object.entries((c.Details as Json | null) ?? {})) out += `  ${`${k}:`.padEnd(18)}${v}\n`;
    }
  }
  ctx.print(out);
  if (err) throw err;
  return 0;
}

/** docker's Security Options block: `name=seccomp,profile=builtin` → seccomp / Profile: builtin. */
function securityOptionLines(opts: string[]): string[] {
  if (!opts.length) return [];
  const out = [' Security Options:'];
  for (const o of opts) {
    const kv = new Map(o.split(',').map((p) => { const i = p.indexOf('='); return i < 0 ? [p, ''] as [string, string] : [p.slice(0, i), p.slice(i + 1)] as [string, string]; }));
    out.push(`  ${kv.get('name') ?? o}`);
    if (kv.has('profile')) out.push(`   Profile: ${kv.get('profile')}`);
  }
  return out;
}

/** docker's Insecure Registries block: the insecure index names, then the CIDRs. */
function insecureRegistryLines(rc: Json | undefined): string[] {
  const cidrs = (rc?.InsecureRegistryCIDRs as string[] | null) ?? [];
  const idx = Object.values((rc?.IndexConfigs as Record<string, Json> | null) ?? {});
  if (!cidrs.length && !idx.length) return [];
  return [' Insecure Registries:', ...idx.filter((x) => x.Secure === false).map((x) => `  ${x.Name}`), ...cidrs.map((c) => `  ${c}`)];
}

export async function info(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const i = await client.json<Json>('GET', '/info');
  const format = ctx.flags.str('format');
  if (format) {
    ctx.print(`${parseTemplate(format === 'json' ? '{{json .}}' : format).execute(i)}\n`);
    return 0;
  }
  const lines = [
    'Client:',
    ' Version:    0.1.0',
    ' Context:    default',
    ' Debug Mode: false',
    '',
    'Server:',
    ` Containers: ${i.Containers ?? 0}`,
    `  Running: ${i.ContainersRunning ?? 0}`,
    `  Paused: ${i.ContainersPaused ?? 0}`,
    `  Stopped: ${i.ContainersStopped ?? 0}`,
    ` Images: ${i.Images ?? 0}`,
    ` Server Version: ${i.ServerVersion ?? ''}`,
    ` Storage Driver: ${i.Driver ?? ''}`,
    ...((i.DriverStatus as string[][] | null) ?? []).map(([k, v]) => `  ${k}: ${v}`),
    ` Logging Driver: ${i.LoggingDriver ?? ''}`,
    ` Cgroup Driver: ${i.CgroupDriver ?? ''}`,
    ` Cgroup Version: ${i.CgroupVersion ?? ''}`,
    ' Plugins:',
    `  Volume: ${((i.Plugins?.Volume as string[] | null) ?? []).join(' ')}`,
    `  Network: ${((i.Plugins?.Network as string[] | null) ?? []).join(' ')}`,
    ...(i.Plugins?.Authorization?.length ? [`  Authorization: ${(i.Plugins.Authorization as string[]).join(' ')}`] : []),
    `  Log: ${((i.Plugins?.Log as string[] | null) ?? []).join(' ')}`,
    ` Swarm: ${i.Swarm?.LocalNodeState ?? 'inactive'}`,
    ` Runtimes: ${Object.keys((i.Runtimes as Json | null) ?? {}).sort().join(' ')}`,
    ` Default Runtime: ${i.DefaultRuntime ?? ''}`,
    ` Init Binary: ${i.InitBinary ?? ''}`,
    ` containerd version: ${i.ContainerdCommit?.ID ?? ''}`,
    ` runc version: ${i.RuncCommit?.ID ?? ''}`,
    ` init version: ${i.InitCommit?.ID ?? ''}`,
    ...securityOptionLines((i.SecurityOptions as string[] | null) ?? []),
    ` Kernel Version: ${i.KernelVersion ?? ''}`,
    ` Operating System: ${i.OperatingSystem ?? ''}`,
    ` OSType: ${i.OSType ?? ''}`,
    ` Architecture: ${i.Architecture ?? ''}`,
    ` CPUs: ${i.NCPU ?? ''}`,
    // go-units BytesSize as the docker CLI: 4 significant digits (1.919GiB; toFixed(2) gave 1.92GiB).
    ` Total Memory: ${bytesSize(Number(i.MemTotal ?? 0))}`,
    ` Name: ${i.Name ?? ''}`,
    ` ID: ${i.ID ?? ''}`,
    ` Docker Root Dir: ${i.DockerRootDir ?? ''}`,
    ` Debug Mode: ${i.Debug ?? false}`,
    ` Experimental: ${i.ExperimentalBuild ?? false}`,
    ...insecureRegistryLines(i.RegistryConfig as Json | undefined),
    ` Live Restore Enabled: ${i.LiveRestoreEnabled ?? false}`,
    '',
    // docker ends the server block with an empty line
    '',
  ];
  ctx.print(lines.join('\n'));
  for (const w of (i.Warnings as string[] | null) ?? []) ctx.printErr(`${w}\n`);
  return 0;
}

export async function events(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const format = f.str('format');
  const tpl = format ? parseTemplate(format === 'json' ? '{{json .}}' : format) : null;
  const line = (p: string): string => {
    const e = JSON.parse(p) as Json;
    if (tpl) return `${tpl.execute(e)}\n`;
    // timeNano exceeds 2^53: taken from the text, not the parsed (rounded) number.
    const nanoText = /"timeNano":\s*(\d+)/.exec(p)?.[1];
    const ns = nanoText ? BigInt(nanoText) : BigInt(Number(e.time ?? 0)) * 1000000000n;
    const d = new Date(Number(ns / 1000000n));
    const frac = String(ns % 1000000000n).padStart(9, '0');
    const ts = `${d.toISOString().slice(0, 19)}.${frac}Z`;
    const attrs = (e.Actor?.Attributes ?? {}) as Record<string, string>;
    const attrText = Object.keys(attrs)
      .sort()
      .map((k) => `${k}=${attrs[k]}`)
      .join(', ');
    return `${ts} ${e.Type} ${e.Action} ${e.Actor?.ID ?? ''}${attrText ? ` (${attrText})` : ''}\n`;
  };
  // The answer is read as it comes without node:stream and printed with ctx.print (as logs):
  // whole lines only are decoded (a newline byte never sits inside a UTF-8 sequence), and the
  // reading waits while process.stdout is over its high-water mark (a reader behind a long
  // --since replay).
  const lines = new WholeLines();
  const res = await client.collected('GET', '/events', {
    query: {
      since: f.has('since') ? timestampArg(f.str('since')!) : undefined,
      until: f.has('until') ? timestampArg(f.str('until')!) : undefined,
      filters: filtersQuery(f.list('filter')),
    },
    onBody: (b) => {
      let text = '';
      try {
        for (const p of lines.take(b).split('\n')) if (p.trim()) text += line(p);
      } finally {
        // (the lines before one that fails are printed, as when each was written alone)
        if (text) ctx.print(text);
      }
      return ctx.backlog() ?? undefined;
    },
  });
  await res.body;
  return 0;
}

export async function systemDf(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const df = await client.json<Json>('GET', '/system/df');
  const images = (df.Images as Json[] | null) ?? [];
  const containers = (df.Containers as Json[] | null) ?? [];
  const volumes = (df.Volumes as Json[] | null) ?? [];
  // docker's: the total is the daemon's LayersSize (shared layers once); reclaimable is what the
  // images in use do not hold on their own (their size minus what they share).
  const imgSize = df.LayersSize !== undefined ? Number(df.LayersSize) : images.reduce((a, i) => a + Number(i.Size ?? 0), 0);
  const imgActive = images.filter((i) => Number(i.Containers ?? 0) > 0);
  const imgUsed = imgActive.filter((i) => Number(i.Size ?? -1) !== -1 && Number(i.SharedSize ?? -1) !== -1).reduce((a, i) => a + Number(i.Size) - Number(i.SharedSize), 0);
  const imgReclaim = imgSize - imgUsed;
  const cSize = containers.reduce((a, c) => a + Number(c.SizeRw ?? 0), 0);
  const cActive = containers.filter((c) => c.State === 'running');
  const cReclaim = containers.filter((c) => c.State !== 'running').reduce((a, c) => a + Number(c.SizeRw ?? 0), 0);
  const vSize = volumes.reduce((a, v) => a + Math.max(0, Number(v.UsageData?.Size ?? 0)), 0);
  const vActive = volumes.filter((v) => Number(v.UsageData?.RefCount ?? 0) > 0);
  const vReclaim = volumes.filter((v) => !Number(v.UsageData?.RefCount ?? 0)).reduce((a, v) => a + Math.max(0, Number(v.UsageData?.Size ?? 0)), 0);
  const pct = (r: number, t: number) => (t > 0 ? ` (${Math.trunc((r / t) * 100)}%)` : '');
  // docker's system df sizes: units.HumanSize (4 significant digits; `docker images` uses 3).
  const rows = [
    { Type: 'Images', TotalCount: String(images.length), Active: String(imgActive.length), Size: humanSize(imgSize, 4), Reclaimable: `${humanSize(imgReclaim, 4)}${pct(imgReclaim, imgSize)}` },
    { Type: 'Containers', TotalCount: String(containers.length), Active: String(cActive.length), Size: humanSize(cSize, 4), Reclaimable: `${humanSize(cReclaim, 4)}${pct(cReclaim, cSize)}` },
    { Type: 'Local Volumes', TotalCount: String(volumes.length), Active: String(vActive.length), Size: humanSize(vSize, 4), Reclaimable: `${humanSize(vReclaim, 4)}${pct(vReclaim, vSize)}` },
    { Type: 'Build Cache', TotalCount: String(((df.BuildCache as Json[] | null) ?? []).length), Active: '0', Size: '0B', Reclaimable: '0B' },
  ];
  if (ctx.flags.bool('verbose') && !ctx.flags.str('format')) {
    ctx.print(verboseDf(images, containers, volumes));
    return 0;
  }
  const header = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
  ctx.print(renderList(ctx.flags.str('format'), '{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}', rows, header));
  return 0;
}

/** docker system df -v: one table per kind (images, containers, volumes, build cache). */
function verboseDf(images: Json[], containers: Json[], volumes: Json[]): string {
  const now = Date.now();
  const imageRows: Json[] = [];
  for (const im of images) {
    const tags = ((im.RepoTags as string[] | null) ?? []).filter((t) => t !== '<none>:<none>');
    const size = Number(im.Size ?? 0);
    const shared = Number(im.SharedSize ?? -1);
    const base = {
      ID: shortId(String(im.Id)),
      CreatedSince: ago(Number(im.Created ?? 0), now),
      Size: humanSize(size, 3),
      SharedSize: shared >= 0 ? humanSize(shared, 4) : 'N/A',
      UniqueSize: shared >= 0 ? humanSize(size - shared, 4) : 'N/A',
      Containers: String(im.Containers ?? 0),
    };
    if (!tags.length) imageRows.push({ ...base, Repository: '<none>', Tag: '<none>' });
    for (const t of tags) {
      const i = t.lastIndexOf(':');
      imageRows.push({ ...base, Repository: t.slice(0, i), Tag: t.slice(i + 1) });
    }
  }
  let out = 'Images space usage:\n\n';
  out += renderList(undefined, '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}', imageRows, { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' });
  out += '\nContainers space usage:\n\n';
  const cRows = containers.map((c) => {
    const x = containerContext(c, true, now);
    return { ...x, Size: humanSize(Number(c.SizeRw ?? 0), 3) };
  });
  out += renderList(undefined, '{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}', cRows, { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', RunningFor: 'CREATED', Status: 'STATUS', Names: 'NAMES' });
  out += '\nLocal Volumes space usage:\n\n';
  const vRows = volumes.map((v) => ({ Name: String(v.Name), Links: String(v.UsageData?.RefCount ?? 0), Size: humanSize(Math.max(0, Number(v.UsageData?.Size ?? 0)), 4) }));
  out += renderList(undefined, '{{.Name}}\t{{.Links}}\t{{.Size}}', vRows, { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' });
  out += '\nBuild cache usage: 0B\n\n';
  out += renderList(undefined, '{{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}', [], { ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED' });
  return out;
}

export async function systemPrune(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const all = f.bool('all');
  const vols = f.bool('volumes');
  const warning = [
    'WARNING! This will remove:',
    '  - all stopped containers',
    ...(vols ? ['  - all anonymous volumes not used by at least one container'] : []),
    ...(all ? ['  - all images without at least one container associated to them'] : ['  - all dangling images']),
  ].join('\n');
  if (!f.bool('force') && !(await confirm(ctx, warning))) return 0;
  const filters = f.list('filter');
  let total = 0;
  const c = await client.json<Json>('POST', '/containers/prune', { query: { filters: filtersQuery(filters) } });
  total += Number(c.SpaceReclaimed ?? 0);
  if ((c.ContainersDeleted as string[] | null)?.length) ctx.print(`Deleted Containers:\n${(c.ContainersDeleted as string[]).join('\n')}\n\n`);
  if (vols) {
    const v = await client.json<Json>('POST', '/volumes/prune', { query: { filters: filtersQuery(filters) } });
    total += Number(v.SpaceReclaimed ?? 0);
    if ((v.VolumesDeleted as string[] | null)?.length) ctx.print(`Deleted Volumes:\n${(v.VolumesDeleted as string[]).join('\n')}\n\n`);
  }
  const i = await client.json<Json>('POST', '/images/prune', { query: { filters: filtersQuery([...filters, `dangling=${all ? 'false' : 'true'}`]) } });
  total += Number(i.SpaceReclaimed ?? 0);
  ctx.print(`${deletedImagesText((i.ImagesDeleted as Json[] | null) ?? [])}Total reclaimed space: ${humanSize(total)}\n`);
  return 0;
}
