// Helpers shared by the command modules.
import type { Client } from '../client.js';
import type { CollectedResponse } from '../wire.js';
import type { ProgressRenderer } from '../progress.js';
import { pathEscape } from '../client.js';
import type { Ctx } from '../main.js';
import { ExitError } from '../main.js';
import { WholeLines } from '../whole-lines.js';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Splits `name[:tag|@digest]` into fromImage and tag like the docker CLI's pull query. */
export function splitReference(ref: string): { name: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { name: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: 'latest' };
}

/** `busybox` → `busybox:latest` (the form docker prints in "Unable to find image"). */
export function withDefaultTag(ref: string): string {
  const { name, tag } = splitReference(ref);
  return ref.includes('@') ? ref : `${name}:${tag}`;
}

/**
 * The X-Registry-Auth header for the image's registry, as the docker CLI sends it: the
 * credentials in $DOCKER_CONFIG/config.json (or ~/.docker/config.json) — its `auths` entry,
 * identity token included, or its credential helper — else `{}`.
 */
export async function registryAuthHeader(ctx: Ctx, ref: string): Promise<Record<string, string>> {
  const { lookupAuth } = await import('./auth.js');
  const server = registryOf(ref);
  const { encodeRegistryAuth } = await import('../../image/registry/auth-encode.js');
  return { 'X-Registry-Auth': encodeRegistryAuth(await lookupAuth(ctx, server), server) };
}

export function registryOf(ref: string): string {
  const first = ref.split('/')[0]!;
  if (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return first;
  return 'https://index.docker.io/v1/';
}

/**
 * Reads a JSON-lines progress answer (pull, push, load, import, build) as it comes, without
 * node:stream, and shows it on fd 1 (ctx.print) or 2 (ctx.printErr) as docker's CLI does: on a
 * terminal one line per layer, redrawn in place with a bar fitted to the terminal's width (asked
 * at each piece of the answer: a resize is followed), sizes and speed; plain status lines when
 * not a terminal; nothing when quiet (the messages are still read, an error among them fails).
 * The reading waits while stdout/stderr is over its high-water mark (a slow reader holds the
 * answer in the connection, not in the CLI); a reader that went away ends the command (Stdio's
 * `write /dev/stdout: broken pipe`, status 1). `send` makes the request with the onBody given
 * (client.collected). Resolves with the renderer (its aux payloads) at the answer's end; an
 * error message in it rejects with ProgressError.
 */
export async function readProgress(ctx: Ctx, send: (onBody: (b: Buffer) => Promise<void> | undefined) => Promise<CollectedResponse>, opts: { fd?: 1 | 2; quiet?: boolean } = {}): Promise<ProgressRenderer> {
  const { ProgressRenderer } = await import('../progress.js');
  const fd = opts.fd ?? 1;
  const print = fd === 1 ? ctx.print : ctx.printErr;
  let columns = opts.quiet ? null : ctx.terminalColumns(fd);
  const tty = columns !== null;
  let text = '';
  const r = new ProgressRenderer(opts.quiet ? () => {} : (t) => (text += t), tty, () => columns ?? 80);
  const lines = new WholeLines();
  // What a piece of the answer made goes out in one write (the lines before an error too).
  const show = (): void => {
    if (!text) return;
    const t = text;
    text = '';
    print(t);
  };
  const onBody = (b: Buffer): Promise<void> | undefined => {
    if (tty) columns = ctx.terminalColumns(fd) ?? columns;
    try {
      const whole = lines.take(b);
      if (whole) r.feed(whole);
    } finally {
      show();
    }
    return ctx.backlog() ?? undefined;
  };
  const res = await send(onBody);
  await res.body;
  try {
    r.feed(lines.rest());
    r.end();
  } finally {
    show();
  }
  return r;
}

/**
 * POST /images/create, its progress shown on fd 1 or 2 (readProgress; nothing when quiet).
 * Neither process.stdout nor node:stream is made for it (~5 ms of a short command for a pipe).
 */
export async function pullImage(ctx: Ctx, client: Client, ref: string, opts: { platform?: string | undefined; quiet?: boolean; fd: 1 | 2; all?: boolean }): Promise<void> {
  const { name, tag } = splitReference(ref);
  const query = { fromImage: name, tag: opts.all ? undefined : tag, platform: opts.platform };
  const headers = await registryAuthHeader(ctx, ref);
  await readProgress(ctx, (onBody) => client.collected('POST', '/images/create', { query, headers, onBody }), { fd: opts.fd, quiet: opts.quiet });
}

export async function inspectContainer(client: Client, id: string): Promise<Json> {
  return client.json<Json>('GET', `/containers/${pathEscape(id)}/json`);
}

/** Runs `fn` for each argument; errors are printed and make the exit code 1 (docker's loop). */
export async function forEach(ctx: Ctx, items: string[], fn: (item: string) => Promise<string | void>, opts: { summary?: (failed: string[]) => string } = {}): Promise<number> {
  const { ApiError } = await import('../client.js');
  let failed = false;
  const failedItems: string[] = [];
  for (const it of items) {
    try {
      const line = await fn(it);
      if (line !== undefined) ctx.print(`${line}\n`);
    } catch (e) {
      if (e instanceof ApiError) ctx.printErr(`Error response from daemon: ${e.message}\n`);
      else if (e instanceof Error && e.constructor.name !== 'ConnectError') ctx.printErr(`${e.message}\n`);
      else throw e;
      failed = true;
      failedItems.push(it);
    }
  }
  if (failed && opts.summary) ctx.printErr(`${opts.summary(failedItems)}\n`);
  return failed ? 1 : 0;
}

/** The "Deleted Images:" block of image and system prune ('' when none). */
export function deletedImagesText(deleted: Json[]): string {
  if (!deleted.length) return '';
  return `Deleted Images:\n${deleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted}\n`)).join('')}\n`;
}

/** docker's --filter values → the JSON `filters` query parameter. */
export function filtersQuery(list: string[]): string | undefined {
  if (!list.length) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const f of list) {
    const i = f.indexOf('=');
    if (i < 0) throw new ExitError(125, `invalid argument "${f}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const k = f.slice(0, i).trim().toLowerCase();
    (out[k] ??= {})[f.slice(i + 1)] = true;
  }
  return JSON.stringify(out);
}

/** Reads all of stdin (for --password-stdin and friends). */
export async function readStdin(ctx: Ctx): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of ctx.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** docker's refusal to write an archive (save, export) into a terminal. */
export function refuseTerminal(ctx: Ctx): void {
  if (ctx.terminalColumns(1) !== null) throw new ExitError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
}

/**
 * GET `path` and its answer (a tar: save, export, cp to `-`) on stdout through ctx.print, read
 * only as stdout takes it (ctx.backlog): an archive into a slow reader is not queued whole in
 * memory. A reader that goes away ends the command as docker's (`write /dev/stdout: broken pipe`,
 * status 1, through main's Stdio).
 */
export async function printAnswer(ctx: Ctx, client: Client, path: string, query?: Record<string, string | string[] | undefined>): Promise<void> {
  const res = await client.collected('GET', path, {
    query,
    onBody: (b) => {
      ctx.print(b);
      return ctx.backlog() ?? undefined;
    },
  });
  await res.body;
}

/** Prompts "Are you sure…? [y/N]" unless forced; true when confirmed. */
export async function confirm(ctx: Ctx, warning: string): Promise<boolean> {
  // On stdout, as docker's CLI asks (through ctx.print: no process.stdout made for one line).
  ctx.print(`${warning}\nAre you sure you want to continue? [y/N] `);
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) done();
    };
    const done = () => {
      ctx.stdin.off('data', onData);
      ctx.stdin.pause();
      resolve(buf);
    };
    ctx.stdin.on('data', onData);
    ctx.stdin.once('end', done);
  });
  return /^\s*y(es)?\s*$/i.test(line.split('\n')[0] ?? '');
}
