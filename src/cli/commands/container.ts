// Container commands that are plain request/response: ps, stop, kill, rm, wait, top, stats, cp,
// export, rename, update, port, diff, commit, pause/unpause, restart, container prune.
import type { Ctx } from '../main.js';
import { ExitError } from '../main.js';
import { ApiError, pathEscape, type Client } from '../client.js';
import { renderList, ellipsis, goQuote, shortId, tabwrite } from '../format.js';
import { ago, goTimeString, humanSize, bytesSize } from '../units.js';
import { forEach, filtersQuery, inspectContainer, confirm, refuseTerminal, printAnswer, type Json } from './common.js';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { builtin, pipeline } from '../builtin.js';

const enc = pathEscape;

export function stop(ctx: Ctx): Promise<number> {
  return simple(ctx, (c, id) =>
    c.json('POST', `/containers/${enc(id)}/stop`, { query: { signal: ctx.flags.str('signal') || undefined, t: ctx.flags.has('timeout') ? ctx.flags.num('timeout') : undefined } }),
  );
}
export function restart(ctx: Ctx): Promise<number> {
  return simple(ctx, (c, id) =>
    c.json('POST', `/containers/${enc(id)}/restart`, { query: { signal: ctx.flags.str('signal') || undefined, t: ctx.flags.has('timeout') ? ctx.flags.num('timeout') : undefined } }),
  );
}
export function kill(ctx: Ctx): Promise<number> {
  return simple(ctx, (c, id) => c.json('POST', `/containers/${enc(id)}/kill`, { query: { signal: ctx.flags.str('signal') || undefined } }));
}
export function pause(ctx: Ctx): Promise<number> {
  return simple(ctx, (c, id) => c.json('POST', `/containers/${enc(id)}/pause`));
}
export function unpause(ctx: Ctx): Promise<number> {
  return simple(ctx, (c, id) => c.json('POST', `/containers/${enc(id)}/unpause`));
}
export function rm(ctx: Ctx): Promise<number> {
  return simple(ctx, (c, id) => {
    // The docker CLI's trim: `rm --link /web/db` names /containers/web/db (a "//" path is unclean).
    const name = id.replace(/^\/+|\/+$/g, '');
    if (!name) throw new Error('container name cannot be empty'); // (docker CLI 28's words)
    return c.json('DELETE', `/containers/${enc(name)}`, { query: { force: ctx.flags.bool('force') || undefined, v: ctx.flags.bool('volumes') || undefined, link: ctx.flags.bool('link') || undefined } });
  });
}

async function simple(ctx: Ctx, fn: (c: Client, id: string) => Promise<unknown>): Promise<number> {
  const client = await ctx.client();
  return forEach(ctx, ctx.args, async (id) => {
    await fn(client, id);
    return id;
  });
}

export async function wait(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  return forEach(ctx, ctx.args, async (id) => {
    const r = await client.json<{ StatusCode: number }>('POST', `/containers/${enc(id)}/wait`);
    return String(r.StatusCode);
  });
}

export async function rename(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const [oldName, newName] = ctx.args as [string, string];
  if (!newName.trim()) throw new ExitError(1, 'Error: Neither old nor new names may be empty');
  try {
    await client.json('POST', `/containers/${enc(oldName)}/rename`, { query: { name: newName } });
  } catch (e) {
    // docker prints the daemon's error, then its own line.
    if (!(e instanceof ApiError)) throw e;
    ctx.printErr(`Error response from daemon: ${e.message}\n`);
    throw new ExitError(1, `Error: failed to rename container named ${oldName}`);
  }
  return 0;
}

/** docker's port list formatting: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 443/tcp`. */
export function formatPorts(ports: Json[] | null | undefined): string {
  if (!ports?.length) return '';
  // The docker CLI's comparePorts: private port, then IP, public port, type, as Go compares
  // strings (bytes: 0.0.0.0 < 127.0.0.1 < ::, where localeCompare puts "::" first).
  const byte = (x: unknown, y: unknown) => (String(x ?? '') < String(y ?? '') ? -1 : String(x ?? '') > String(y ?? '') ? 1 : 0);
  const sorted = [...ports].sort((a, b) => (a.PrivatePort - b.PrivatePort) || byte(a.IP, b.IP) || (Number(a.PublicPort ?? 0) - Number(b.PublicPort ?? 0)) || byte(a.Type, b.Type));
  const out: string[] = [];
  for (const p of sorted) {
    let s: string;
    if (p.IP !== undefined && p.PublicPort) {
      const host = String(p.IP).includes(':') ? `[${p.IP}]` : p.IP;
      s = `${host}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`;
    } else s = `${p.PrivatePort}/${p.Type}`;
    if (!out.includes(s)) out.push(s);
  }
  return out.join(', ');
}

/** The fields `hako ps --format` templates see (docker's ContainerContext). */
export function containerContext(c: Json, trunc: boolean, now = Date.now()): Json {
  const labels: Record<string, string> = c.Labels ?? {};
  const names = ((c.Names as string[] | null) ?? []).map((n) => n.replace(/^\//, '')).filter((n) => !trunc || !n.includes('/'));
  let image = String(c.Image ?? '');
  if (trunc && /^sha256:[0-9a-f]{64}$/.test(image)) image = shortId(image);
  else if (trunc && image.includes('@sha256:')) image = image.split('@')[0]!;
  const ctxObj: Json = {
    ID: trunc ? shortId(String(c.Id)) : String(c.Id),
    Image: image,
    Command: goQuote(trunc ? ellipsis(String(c.Command ?? ''), 20) : String(c.Command ?? '')),
    CreatedAt: goTimeString(Number(c.Created ?? 0)),
    RunningFor: ago(Number(c.Created ?? 0), now),
    Ports: formatPorts(c.Ports),
    State: String(c.State ?? ''),
    Status: String(c.Status ?? ''),
    Size: c.SizeRw === undefined && c.SizeRootFs === undefined ? '0B' : `${humanSize(Number(c.SizeRw ?? 0), 3)} (virtual ${humanSize(Number(c.SizeRootFs ?? 0), 3)})`,
    Names: names.join(','),
    Labels: Object.keys(labels)
      .map((k) => `${k}=${labels[k]}`)
      .join(','),
    LocalVolumes: String(((c.Mounts as Json[] | null) ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: ((c.Mounts as Json[] | null) ?? []).map((m) => (m.Name ? (trunc ? ellipsis(m.Name, 15) : m.Name) : m.Source)).join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(','),
  };
  Object.defineProperty(ctxObj, 'Label', { value: (k: string) => labels[k] ?? '', enumerable: false });
  return ctxObj;
}

const psHeader = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE',
  Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Label: () => 'LABEL', LocalVolumes: 'LOCAL VOLUMES', Mounts: 'MOUNTS', Networks: 'NETWORKS',
};

export async function ps(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const last = f.num('last') ?? -1;
  const latest = f.bool('latest');
  const limit = latest ? 1 : last;
  const list = await client.json<Json[]>('GET', '/containers/json', {
    query: {
      all: f.bool('all') || limit > 0 || undefined,
      limit: limit > 0 ? limit : undefined,
      size: f.bool('size') || undefined,
      filters: filtersQuery(f.list('filter')),
    },
  });
  const trunc = !f.bool('no-trunc');
  if (f.bool('quiet') && !f.has('format')) {
    let ids = '';
    for (const c of list) ids += `${trunc ? shortId(c.Id) : c.Id}\n`;
    ctx.print(ids);
    return 0;
  }
  const now = Date.now();
  let def = '{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
  if (f.bool('size')) def += '\t{{.Size}}';
  ctx.print(renderList(f.str('format'), def, list.map((c) => containerContext(c, trunc, now)), psHeader));
  return 0;
}

export async function top(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const [id, ...psArgs] = ctx.args as [string, ...string[]];
  const r = await client.json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${enc(id)}/top`, { query: { ps_args: psArgs.length ? psArgs.join(' ') : undefined } });
  let text = `${r.Titles.join('\t')}\n`;
  for (const p of r.Processes ?? []) text += `${p.join('\t')}\n`;
  ctx.print(tabwrite(text, 20, 3));
  return 0;
}

export async function port(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const info = await inspectContainer(client, ctx.args[0]!);
  const ports: Record<string, Json[] | null> = info.NetworkSettings?.Ports ?? {};
  const fmt = (b: Json) => `${String(b.HostIp).includes(':') ? `[${b.HostIp}]` : b.HostIp || '0.0.0.0'}:${b.HostPort}`;
  if (ctx.args[1]) {
    let key = ctx.args[1];
    if (!key.includes('/')) key += '/tcp';
    const b = ports[key];
    if (!b?.length) throw new ExitError(1, `Error: No public port '${ctx.args[1]}' published for ${ctx.args[0]}`);
    ctx.print(b.map((x) => `${fmt(x)}\n`).join(''));
    return 0;
  }
  const keys = Object.keys(ports).sort((a, b) => parseInt(a) - parseInt(b));
  let text = '';
  for (const k of keys) for (const b of ports[k] ?? []) text += `${k} -> ${fmt(b)}\n`;
  if (text) ctx.print(text);
  return 0;
}

export async function diff(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const changes = (await client.json<Json[] | null>('GET', `/containers/${enc(ctx.args[0]!)}/changes`)) ?? [];
  if (changes.length) ctx.print(changes.map((c) => `${['C', 'A', 'D'][c.Kind as number] ?? '?'} ${c.Path}\n`).join(''));
  return 0;
}

export async function commit(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const [container, ref] = ctx.args as [string, string | undefined];
  let repo: string | undefined;
  let tag: string | undefined;
  if (ref) {
    const { splitReference } = await import('./common.js');
    const r = splitReference(ref);
    repo = r.name;
    tag = ref.slice(repo.length).startsWith(':') ? r.tag : undefined;
  }
  const r = await client.json<{ Id: string }>('POST', '/commit', {
    query: { container, repo, tag, comment: f.str('message') || undefined, author: f.str('author') || undefined, pause: f.bool('pause'), changes: f.list('change').length ? f.list('change') : undefined },
    body: {},
  });
  ctx.print(`${r.Id}\n`);
  return 0;
}

export async function update(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const body: Json = {};
  const num = (flag: string, key: string) => {
    if (f.has(flag)) body[key] = f.num(flag);
  };
  num('blkio-weight', 'BlkioWeight');
  num('cpu-period', 'CpuPeriod');
  num('cpu-quota', 'CpuQuota');
  num('cpu-rt-period', 'CpuRealtimePeriod');
  num('cpu-rt-runtime', 'CpuRealtimeRuntime');
  num('cpu-shares', 'CpuShares');
  num('memory', 'Memory');
  num('memory-reservation', 'MemoryReservation');
  num('memory-swap', 'MemorySwap');
  num('kernel-memory', 'KernelMemory');
  num('pids-limit', 'PidsLimit');
  if (f.has('cpus')) body.NanoCpus = Math.round(f.num('cpus')! * 1e9);
  if (f.has('cpuset-cpus')) body.CpusetCpus = f.str('cpuset-cpus');
  if (f.has('cpuset-mems')) body.CpusetMems = f.str('cpuset-mems');
  if (f.has('restart')) {
    const { parseRestart } = await import('../run-config.js');
    body.RestartPolicy = parseRestart(f.str('restart')!);
  }
  if (!Object.keys(body).length) throw new ExitError(1, 'you must provide one or more flags when using this command');
  let warnings: string[] = [];
  const code = await forEach(ctx, ctx.args, async (id) => {
    const r = await client.json<{ Warnings?: string[] | null }>('POST', `/containers/${enc(id)}/update`, { body });
    warnings = warnings.concat(r?.Warnings ?? []);
    return id;
  });
  for (const w of warnings) ctx.printErr(`${w}\n`);
  return code;
}

export async function export_(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const output = ctx.flags.str('output');
  if (!output) {
    refuseTerminal(ctx);
    await printAnswer(ctx, client, `/containers/${enc(ctx.args[0]!)}/export`);
    return 0;
  }
  const res = await client.raw('GET', `/containers/${enc(ctx.args[0]!)}/export`);
  await pipeline(res, createWriteStream(output));
  return 0;
}
export { export_ as export };

/** CONTAINER:PATH → [container, path]; a local path → null. */
function splitCpArg(arg: string): [string, string] | null {
  if (arg.startsWith('/') || arg.startsWith('.')) return null;
  const i = arg.indexOf(':');
  if (i <= 0) return null;
  return [arg.slice(0, i), arg.slice(i + 1)];
}

export async function cp(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const [src, dst] = ctx.args as [string, string];
  const s = splitCpArg(src);
  const d = splitCpArg(dst);
  if (s && d) throw new ExitError(1, 'copying between containers is not supported');
  if (!s && !d) throw new ExitError(1, 'must specify at least one container source');
  if (s && dst === '-') {
    // The tar as it comes, a terminal too (docker's cp refuses none; save and export do).
    await printAnswer(ctx, client, `/containers/${enc(s[0])}/archive`, { path: s[1] });
    return 0;
  }
  const { spawn } = await import('../lazy/child-process.js');
  if (s) {
    const [container, cpath] = s;
    const res = await client.raw('GET', `/containers/${enc(container)}/archive`, { query: { path: cpath } });
    const stat = JSON.parse(Buffer.from(String(res.headers['x-docker-container-path-stat'] ?? 'e30='), 'base64').toString('utf8')) as Json;
    const srcBase = String(stat.name ?? path.basename(cpath));
    let dir: string;
    const tarArgs = ['-x', '-f', '-', '--no-same-owner'];
    if (existsSync(dst) && statSync(dst).isDirectory()) dir = dst;
    else {
      if (dst.endsWith('/')) throw new ExitError(1, `destination directory "${dst}" must exist`);
      dir = path.dirname(dst);
      if (!existsSync(dir)) throw new ExitError(1, `lstat ${dir}: no such file or directory`);
      // The pattern escapes regex characters; the replacement only \ , & (tar would keep a `\.`).
      const escRepl = (x: string) => x.replace(/[\\,&]/g, '\\$&');
      const esc = (x: string) => escRepl(x).replace(/[.*[\]^$]/g, '\\$&');
      tarArgs.push(`--transform=s,^${esc(srcBase)}\\(/\\|$\\),${escRepl(path.basename(dst))}\\1,`);
    }
    const child = spawn('tar', [...tarArgs, '-C', dir], { stdio: ['pipe', 'inherit', 'inherit'] });
    res.pipe(child.stdin);
    const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
    if (code !== 0) throw new ExitError(1, 'failed to extract the copied archive');
    return 0;
  }
  const [container, cpath] = d!;
  if (src === '-') {
    await client.json('PUT', `/containers/${enc(container)}/archive`, { query: { path: cpath, noOverwriteDirNonDir: true }, stream: ctx.stdin, headers: { 'Content-Type': 'application/x-tar' } });
    return 0;
  }
  if (!existsSync(src)) throw new ExitError(1, `lstat ${path.resolve(src)}: no such file or directory`);
  // Where does it go: into an existing directory, or renamed to the destination's name.
  let targetDir = cpath;
  let rename: string | null = null;
  try {
    const head = await client.raw('HEAD', `/containers/${enc(container)}/archive`, { query: { path: cpath } });
    head.resume();
    const st = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat'] ?? 'e30='), 'base64').toString('utf8')) as Json;
    const isDir = (Number(st.mode ?? 0) & 0x80000000) !== 0 || (Number(st.mode ?? 0) & 0o170000) === 0o040000;
    if (!isDir) {
      targetDir = path.posix.dirname(cpath);
      rename = path.posix.basename(cpath);
    }
  } catch {
    targetDir = path.posix.dirname(cpath);
    rename = path.posix.basename(cpath);
  }
  const base = path.basename(path.resolve(src));
  const args = ['-c', '-f', '-', '-C', path.dirname(path.resolve(src))];
  if (rename && rename !== base) args.push(`--transform=s,^${base.replace(/[.*[\]^$\\,&]/g, '\\$&')},${rename.replace(/[\\,&]/g, '\\$&')},`);
  args.push(base);
  const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // Piped at once: Node drops a child's unread stdout when the child exits, and a small file's
  // tar is done before the request is connected.
  const { PassThrough } = builtin('node:stream') as typeof import('node:stream');
  const body = child.stdout!.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
  await client.json('PUT', `/containers/${enc(container)}/archive`, { query: { path: targetDir, noOverwriteDirNonDir: true }, stream: body, headers: { 'Content-Type': 'application/x-tar' } });
  return 0;
}

function statsRow(s: Json, name: string, id: string, trunc: boolean): Json {
  const cpuDelta = Number(s.cpu_stats?.cpu_usage?.total_usage ?? 0) - Number(s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = Number(s.cpu_stats?.system_cpu_usage ?? 0) - Number(s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = Number(s.cpu_stats?.online_cpus ?? s.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 1);
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const mstats = s.memory_stats ?? {};
  const cache = Number(mstats.stats?.total_inactive_file ?? mstats.stats?.inactive_file ?? 0);
  const usage = Math.max(0, Number(mstats.usage ?? 0) - cache);
  const limit = Number(mstats.limit ?? 0);
  let rx = 0;
  let tx = 0;
  for (const n of Object.values((s.networks ?? {}) as Record<string, Json>)) {
    rx += Number(n.rx_bytes ?? 0);
    tx += Number(n.tx_bytes ?? 0);
  }
  let blkR = 0;
  let blkW = 0;
  for (const e of (s.blkio_stats?.io_service_bytes_recursive ?? []) as Json[]) {
    if (String(e.op).toLowerCase() === 'read') blkR += Number(e.value);
    if (String(e.op).toLowerCase() === 'write') blkW += Number(e.value);
  }
  const pct = (n: number) => `${n.toFixed(2)}%`;
  return {
    Container: name,
    ID: trunc ? shortId(id) : id,
    Name: String(s.name ?? name).replace(/^\//, ''),
    CPUPerc: pct(cpu),
    MemUsage: `${bytesSize(usage)} / ${bytesSize(limit)}`,
    MemPerc: pct(limit ? (usage / limit) * 100 : 0),
    NetIO: `${humanSize(rx, 3)} / ${humanSize(tx, 3)}`,
    BlockIO: `${humanSize(blkR, 3)} / ${humanSize(blkW, 3)}`,
    PIDs: String(s.pids_stats?.current ?? 0),
  };
}

export async function stats(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const trunc = !f.bool('no-trunc');
  const header = { Container: 'CONTAINER', ID: 'CONTAINER ID', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' };
  const def = '{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
  const once = async (): Promise<string> => {
    let targets = ctx.args;
    if (!targets.length) {
      const list = await client.json<Json[]>('GET', '/containers/json', { query: { all: f.bool('all') || undefined } });
      targets = list.map((c) => c.Id as string);
    }
    const rows = await Promise.all(
      targets.map(async (t) => {
        const s = await client.json<Json>('GET', `/containers/${enc(t)}/stats`, { query: { stream: false } });
        return statsRow(s, t, String(s.id ?? t), trunc);
      }),
    );
    return renderList(f.str('format'), def, rows, header);
  };
  if (f.bool('no-stream')) {
    ctx.print(await once());
    return 0;
  }
  for (;;) {
    const text = await once();
    // Through ctx.print (no process.stdout made); a slow reader holds the next round.
    ctx.print(ctx.terminalColumns(1) !== null ? `\x1b[2J\x1b[H${text}` : text);
    await ctx.backlog();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function containerPrune(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  if (!ctx.flags.bool('force') && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.'))) return 0;
  const r = await client.json<Json>('POST', '/containers/prune', { query: { filters: filtersQuery(ctx.flags.list('filter')) } });
  const deleted = (r.ContainersDeleted as string[] | null) ?? [];
  ctx.print(`${deleted.length ? `Deleted Containers:\n${deleted.join('\n')}\n\n` : ''}Total reclaimed space: ${humanSize(Number(r.SpaceReclaimed ?? 0))}\n`);
  return 0;
}
