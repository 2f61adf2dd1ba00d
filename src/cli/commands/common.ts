// Helpers shared by the command modules.
import type { Client } from '../client.js';
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
 * POST /images/create with progress rendering on `out()`. The stream is asked for once the
 * request is on its way: making process.stdout/stderr costs 1–4 ms, which then overlaps with the
 * daemon's work instead of delaying the request.
 * Quiet, nothing is shown: the output stream is not made (~5 ms for a pipe: node:net, see
 * Stdio.print), and the answer is read as it comes without node:stream (~1.2 ms to load, and a
 * Readable's async iterator to set up), its messages only checked for an error.
 */
export async function pullImage(ctx: Ctx, client: Client, ref: string, opts: { platform?: string | undefined; quiet?: boolean; out: () => NodeJS.WriteStream; all?: boolean }): Promise<void> {
  const { name, tag } = splitReference(ref);
  const query = { fromImage: name, tag: opts.all ? undefined : tag, platform: opts.platform };
  const headers = await registryAuthHeader(ctx, ref);
  if (opts.quiet) {
    const { ProgressRenderer } = await import('../progress.js');
    const r = new ProgressRenderer({ write: () => true } as unknown as NodeJS.WritableStream, false);
    const lines = new WholeLines();
    const onBody = (b: Buffer): void => {
      const text = lines.take(b);
      if (text) r.feed(text);
    };
    const res = await client.collected('POST', '/images/create', { query, headers, onBody });
    await res.body;
    r.feed(lines.rest());
    r.end();
    return;
  }
  const res = await client.raw('POST', '/images/create', { query, headers });
  const { renderStream } = await import('../progress.js');
  const out = opts.out();
  await renderStream(res, out, { tty: !!out.isTTY, quiet: opts.quiet, width: out.columns ?? 80 });
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

/** Prompts "Are you sure…? [y/N]" unless forced; true when confirmed. */
export async function confirm(ctx: Ctx, warning: string): Promise<boolean> {
  ctx.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
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
