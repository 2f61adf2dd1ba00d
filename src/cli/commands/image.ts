// Image commands: pull, push, images, rmi, tag, save, load, import, history, login, logout, image prune.
import type { Ctx } from '../main.js';
import { ExitError } from '../main.js';
import { pathEscape } from '../client.js';
import { renderList, shortId, ellipsis, goQuote } from '../format.js';
import { ago, goTimeString, humanDuration, humanSize } from '../units.js';
import { forEach, filtersQuery, pullImage, readProgress, registryAuthHeader, splitReference, confirm, readStdin, refuseTerminal, printAnswer, deletedImagesText, type Json } from './common.js';
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pipeline } from '../builtin.js';

export async function pull(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const ref = ctx.args[0]!;
  const all = ctx.flags.bool('all-tags');
  const quiet = ctx.flags.bool('quiet');
  const { withDefaultTag } = await import('./common.js');
  const full = withDefaultTag(ref);
  // docker's CLI: -a pulls every tag of a repository, so the reference names none.
  if (all && full === ref) throw new ExitError(1, "tag can't be used with --all-tags/-a");
  // docker's CLI says so before the request (on stdout, not with -q or -a).
  if (!all && !quiet && full !== ref) ctx.print(`Using default tag: ${splitReference(full).tag}\n`);
  try {
    await pullImage(ctx, client, ref, { platform: ctx.flags.str('platform') || undefined, quiet, fd: 1, all });
  } catch (e) {
    const { ProgressError } = await import('../progress.js');
    if (e instanceof ProgressError) throw new ExitError(1, e.message);
    throw e;
  }
  // The reference pulled, normalized (with -a the repository, no tag), as the docker CLI ends.
  const shown = all ? ref : full;
  ctx.print(`${shown.includes('/') && shown.split('/')[0]!.match(/[.:]|localhost/) ? shown : `docker.io/${shown.includes('/') ? '' : 'library/'}${shown}`}\n`);
  return 0;
}

/** readProgress of a request, its error message (ProgressError) the command's, status 1. */
async function progressOf(ctx: Ctx, send: Parameters<typeof readProgress>[1], opts: { quiet?: boolean } = {}): Promise<void> {
  try {
    await readProgress(ctx, send, opts);
  } catch (e) {
    const { ProgressError } = await import('../progress.js');
    if (e instanceof ProgressError) throw new ExitError(1, e.message);
    throw e;
  }
}

export async function push(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const ref = ctx.args[0]!;
  const { name, tag } = splitReference(ref);
  const hasTag = ref.slice(name.length).length > 0;
  const query = { tag: ctx.flags.bool('all-tags') ? undefined : hasTag ? tag : undefined, platform: ctx.flags.str('platform') || undefined };
  const headers = await registryAuthHeader(ctx, ref);
  const quiet = ctx.flags.bool('quiet');
  await progressOf(ctx, (onBody) => client.collected('POST', `/images/${pathEscape(name)}/push`, { query, headers, onBody }), { quiet });
  if (quiet) ctx.print(`${ref}\n`);
  return 0;
}

const imageHeader = { Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE' };

/** One row per repo:tag (or `<none>`), like docker's image formatter. */
export function imageRows(images: Json[], opts: { trunc: boolean; digests: boolean; all?: boolean }, now = Date.now()): Json[] {
  const rows: Json[] = [];
  for (const im of images) {
    const tags = ((im.RepoTags as string[] | null) ?? []).filter((t) => t !== '<none>:<none>');
    const digests = ((im.RepoDigests as string[] | null) ?? []).filter((d) => d !== '<none>@<none>');
    const base = {
      ID: opts.trunc ? shortId(String(im.Id)) : String(im.Id),
      // docker's image table: always `… ago`, even for the epoch (`56 years ago`), unlike containers.
      CreatedSince: `${humanDuration(now - Number(im.Created ?? 0) * 1000)} ago`,
      CreatedAt: goTimeString(Number(im.Created ?? 0)),
      Size: humanSize(Number(im.Size ?? 0), 3),
      VirtualSize: humanSize(Number(im.VirtualSize ?? im.Size ?? 0), 3),
      SharedSize: Number(im.SharedSize ?? -1) >= 0 ? humanSize(Number(im.SharedSize), 3) : 'N/A',
      UniqueSize: 'N/A',
      Containers: Number(im.Containers ?? -1) >= 0 ? String(im.Containers) : 'N/A',
    };
    const digestFor = (repo: string) => digests.find((d) => d.startsWith(`${repo}@`))?.split('@')[1] ?? '<none>';
    if (!tags.length) {
      if (digests.length) {
        for (const d of digests) {
          const [repo, dg] = d.split('@') as [string, string];
          rows.push({ ...base, Repository: repo, Tag: '<none>', Digest: dg });
        }
      } else rows.push({ ...base, Repository: '<none>', Tag: '<none>', Digest: '<none>' });
      continue;
    }
    for (const t of tags) {
      const i = t.lastIndexOf(':');
      const repo = t.slice(0, i);
      rows.push({ ...base, Repository: repo, Tag: t.slice(i + 1), Digest: digestFor(repo) });
    }
  }
  return rows;
}

export async function images(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const filters = f.list('filter');
  if (ctx.args[0]) filters.push(`reference=${ctx.args[0]}`);
  const list = await client.json<Json[]>('GET', '/images/json', { query: { all: f.bool('all') || undefined, filters: filtersQuery(filters) } });
  const trunc = !f.bool('no-trunc');
  if (f.bool('quiet') && !f.has('format')) {
    const seen = new Set<string>();
    let text = '';
    for (const im of list) {
      const id = trunc ? shortId(im.Id) : im.Id;
      if (!seen.has(id)) text += `${id}\n`;
      seen.add(id);
    }
    if (text) ctx.print(text);
    return 0;
  }
  const digests = f.bool('digests');
  const def = `{{.Repository}}\t{{.Tag}}\t${digests ? '{{.Digest}}\t' : ''}{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`;
  ctx.print(renderList(f.str('format'), def, imageRows(list, { trunc, digests }), imageHeader));
  return 0;
}

export async function rmi(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  return forEach(ctx, ctx.args, async (img) => {
    const r = await client.json<Json[]>('DELETE', `/images/${pathEscape(img)}`, { query: { force: ctx.flags.bool('force') || undefined, noprune: ctx.flags.bool('no-prune') || undefined } });
    const lines: string[] = [];
    for (const e of r ?? []) {
      if (e.Untagged) lines.push(`Untagged: ${e.Untagged}`);
      if (e.Deleted) lines.push(`Deleted: ${e.Deleted}`);
    }
    return lines.length ? lines.join('\n') : undefined;
  });
}

export async function tag(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const [src, target] = ctx.args as [string, string];
  const { name, tag: t } = splitReference(target);
  await client.json('POST', `/images/${pathEscape(src)}/tag`, { query: { repo: name, tag: t } });
  return 0;
}

export async function save(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const output = ctx.flags.str('output');
  const query = { names: ctx.args, platform: ctx.flags.str('platform') || undefined };
  if (!output) {
    refuseTerminal(ctx);
    await printAnswer(ctx, client, '/images/get', query);
    return 0;
  }
  const res = await client.raw('GET', '/images/get', { query });
  // Like docker: into a temp file beside the target, renamed when complete, so a failed save
  // leaves no partial archive (and does not clobber an existing file).
  const tmp = join(dirname(output), `.${basename(output)}.hako-save-${process.pid}-${Date.now()}`);
  try {
    await pipeline(res, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    fs.renameSync(tmp, output);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return 0;
}

export async function load(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const input = ctx.flags.str('input');
  if (!input && ctx.stdin.isTTY) throw new ExitError(1, 'requested load from stdin, but stdin is empty');
  const stream = input ? fs.createReadStream(input) : ctx.stdin;
  const quiet = ctx.flags.bool('quiet');
  // Progress bars only on a terminal (docker asks the daemon for quiet output otherwise).
  const tty = ctx.terminalColumns(1) !== null;
  await progressOf(ctx, (onBody) => client.collected('POST', '/images/load', { query: { quiet: quiet || !tty ? '1' : '0' }, stream, headers: { 'Content-Type': 'application/x-tar' }, onBody }));
  return 0;
}

export async function import_(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const [source, ref] = ctx.args as [string, string | undefined];
  const query: Json = { message: ctx.flags.str('message') || undefined, changes: ctx.flags.list('change').length ? ctx.flags.list('change') : undefined, platform: ctx.flags.str('platform') || undefined };
  if (ref) {
    const r = splitReference(ref);
    query.repo = r.name;
    query.tag = r.tag;
  }
  let stream: NodeJS.ReadableStream | undefined;
  if (source === '-') {
    query.fromSrc = '-';
    stream = ctx.stdin;
  } else if (/^https?:\/\//.test(source)) query.fromSrc = source;
  else {
    query.fromSrc = '-';
    stream = fs.createReadStream(source);
  }
  // Like docker: every message is shown (`Downloading from <url>`, the `Importing` bar on a
  // terminal), the last one being the new image's ID.
  await progressOf(ctx, (onBody) => client.collected('POST', '/images/create', { query, stream: stream as never, headers: { 'Content-Type': 'application/x-tar' }, onBody }));
  return 0;
}
export { import_ as import };

export async function history(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const list = await client.json<Json[]>('GET', `/images/${pathEscape(ctx.args[0]!)}/history`, { query: { platform: f.str('platform') || undefined } });
  const trunc = !f.bool('no-trunc');
  const human = f.str('human') !== 'false';
  if (f.bool('quiet') && !f.has('format')) {
    ctx.print(list.map((h) => `${trunc ? (h.Id === '<missing>' ? h.Id : shortId(h.Id)) : h.Id}\n`).join(''));
    return 0;
  }
  const now = Date.now();
  const rows = list.map((h) => {
    const createdBy = String(h.CreatedBy ?? '').replace(/\s+/g, ' ');
    return {
      ID: h.Id === '<missing>' || !trunc ? h.Id : shortId(h.Id),
      CreatedSince: human ? ago(Number(h.Created ?? 0), now) : new Date(Number(h.Created) * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
      CreatedAt: new Date(Number(h.Created) * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
      CreatedBy: trunc ? ellipsis(createdBy, 45) : createdBy,
      Size: human ? humanSize(Number(h.Size ?? 0), 3) : String(h.Size ?? 0),
      Comment: String(h.Comment ?? ''),
    };
  });
  const header = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };
  void goQuote;
  ctx.print(renderList(f.str('format'), '{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', rows, header));
  return 0;
}

export async function login(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const server = ctx.args[0] ?? 'https://index.docker.io/v1/';
  let username = f.str('username') ?? '';
  let password = f.str('password') ?? '';
  if (f.bool('password-stdin')) {
    if (f.has('password')) throw new ExitError(1, '--password and --password-stdin are mutually exclusive');
    if (!username) throw new ExitError(1, 'Must provide --username with --password-stdin');
    password = (await readStdin(ctx)).replace(/\r?\n$/, '');
  } else if (f.has('password')) {
    ctx.printErr('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  }
  if (!username || !password) throw new ExitError(1, 'Error: Cannot perform an interactive login from a non TTY device');
  const r = await client.json<Json>('POST', '/auth', { body: { username, password, serveraddress: server } });
  const { saveAuth, configPath } = await import('./auth.js');
  const identityToken = typeof r?.IdentityToken === 'string' && r.IdentityToken !== '' ? r.IdentityToken : undefined;
  // The docker CLI 28's warning, word for word, when it wrote them into the file.
  if ((await saveAuth(ctx, server, username, password, identityToken)) === 'file') {
    ctx.printErr(`\nWARNING! Your credentials are stored unencrypted in '${configPath(ctx)}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
  }
  ctx.print(`${r?.Status ?? 'Login Succeeded'}\n`);
  return 0;
}

export async function logout(ctx: Ctx): Promise<number> {
  const server = ctx.args[0] ?? 'https://index.docker.io/v1/';
  const { forgetAuth } = await import('./auth.js');
  ctx.print((await forgetAuth(ctx, server)) ? `Removing login credentials for ${server}\n` : `Not logged in to ${server}\n`);
  return 0;
}

export async function imagePrune(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const all = ctx.flags.bool('all');
  const warning = all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.';
  if (!ctx.flags.bool('force') && !(await confirm(ctx, warning))) return 0;
  const filters = ctx.flags.list('filter');
  filters.push(`dangling=${all ? 'false' : 'true'}`);
  const r = await client.json<Json>('POST', '/images/prune', { query: { filters: filtersQuery(filters) } });
  ctx.print(`${deletedImagesText((r.ImagesDeleted as Json[] | null) ?? [])}Total reclaimed space: ${humanSize(Number(r.SpaceReclaimed ?? 0))}\n`);
  return 0;
}
