// `hako build` (docker's classic builder client): the context directory as a tar without what
// .dockerignore leaves out (the Dockerfile and .dockerignore always go), or a tar / a Dockerfile
// on stdin (`-`), or a URL / git repository the daemon fetches (`remote=`); POST /build with
// docker's query; the daemon's lines printed as they come; the exit code of a failed RUN (1 for
// other failures), as the docker CLI.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { ignoreMatcher, parseDockerignore } from '../../build/dockerignore.js';
import type { Ctx } from '../main.js';
import { ExitError } from '../main.js';
import { readProgress } from './common.js';
import { humanSize, parseBytes } from '../units.js';
import { parseUlimit } from '../run-config.js';

/** The context's files (relative, `/`-separated), .dockerignore applied; directories listed too. */
function contextFiles(dir: string, keep: string[]): string[] {
  let patterns: string[] = [];
  try {
    patterns = parseDockerignore(fs.readFileSync(join(dir, '.dockerignore'), 'utf8'));
  } catch {
    /* none */
  }
  const ignored = ignoreMatcher(patterns);
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const n of fs.readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(join(dir, r));
      const skip = ignored(r) && !keep.includes(r);
      if (st.isDirectory()) {
        // An excluded directory may still hold an exception (`!dir/keep`): look inside.
        if (!skip) out.push(r);
        if (!skip || patterns.some((p) => p.startsWith('!'))) walk(r);
      } else if (!skip) out.push(r);
    }
  };
  walk('');
  return out;
}

/** tar(1) of `names` in `dir` (plus `extra` files from another directory) into a file. */
function tarInto(file: string, dir: string, names: string[], extra?: { dir: string; name: string }): Promise<void> {
  return new Promise((res, rej) => {
    const list = join(tmpdir(), `hako-build-list-${randomBytes(6).toString('hex')}`);
    fs.writeFileSync(list, names.map((n) => `${n}\0`).join(''));
    const args = ['-c', '-f', file, '--no-recursion', '--null', '-C', dir, '-T', list, ...(extra ? ['-C', extra.dir, extra.name] : [])];
    const child = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => {
      fs.rmSync(list, { force: true });
      if (code === 0) res();
      else rej(new ExitError(1, `error creating the build context: ${err.trim() || `tar exited with ${code}`}`));
    });
  });
}

export async function build(ctx: Ctx): Promise<number> {
  const where = ctx.args[0]!;
  // A URL or git repository: the daemon fetches it (POST /build?remote=, as docker-py sends it).
  const remote = /^(https?|git):\/\//.test(where) || where.startsWith('git@') || where.startsWith('github.com/') ? where : undefined;
  const work = fs.mkdtempSync(join(tmpdir(), 'hako-build-'));
  try {
    const tarFile = join(work, 'context.tar');
    let dockerfile = ctx.flags.str('file') || undefined;
    if (remote !== undefined) {
      fs.writeFileSync(tarFile, '');
    } else if (where === '-') {
      // A tar (plain or compressed) is the context; anything else is a Dockerfile with an empty context.
      const chunks: Buffer[] = [];
      for await (const c of ctx.stdin) chunks.push(c as Buffer);
      const input = Buffer.concat(chunks);
      const isTar = (input.length > 2 && input[0] === 0x1f && input[1] === 0x8b) || input.subarray(257, 262).toString('latin1') === 'ustar';
      if (isTar) fs.writeFileSync(tarFile, input);
      else {
        fs.mkdirSync(join(work, 'ctx'));
        fs.writeFileSync(join(work, 'ctx', 'Dockerfile'), input);
        await tarInto(tarFile, join(work, 'ctx'), ['Dockerfile']);
        dockerfile = undefined;
      }
    } else {
      const dir = resolve(where);
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new ExitError(1, `unable to prepare context: path "${where}" not found`);
      // -f is relative to the working directory; one outside the context goes in under a random name.
      let extra: { dir: string; name: string } | undefined;
      if (dockerfile) {
        const abs = resolve(dockerfile);
        const rel = relative(dir, abs);
        if (rel.startsWith('..') || rel.startsWith(sep)) {
          const name = `.dockerfile.${randomBytes(10).toString('hex')}`;
          fs.mkdirSync(join(work, 'df'));
          fs.copyFileSync(abs, join(work, 'df', name));
          extra = { dir: join(work, 'df'), name };
          dockerfile = name;
        } else dockerfile = rel.split(sep).join('/');
      }
      const keep = [dockerfile ?? 'Dockerfile', '.dockerignore'];
      await tarInto(tarFile, dir, contextFiles(dir, keep), extra);
    }
    const quiet = ctx.flags.bool('quiet');
    if (!quiet && remote === undefined) ctx.print(`Sending build context to Docker daemon  ${humanSize(fs.statSync(tarFile).size)}\r\r\n`);
    const buildArgs: Record<string, string | null> = {};
    for (const a of ctx.flags.list('build-arg')) {
      const eq = a.indexOf('=');
      // `--build-arg NAME` takes NAME from the environment (docker sends null when unset).
      if (eq < 0) buildArgs[a] = process.env[a] ?? null;
      else buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
    }
    const labels: Record<string, string> = {};
    for (const l of ctx.flags.list('label')) {
      const eq = l.indexOf('=');
      labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
    }
    const bytes = (flag: string): number | undefined => {
      const v = ctx.flags.str(flag);
      if (!v) return undefined;
      // --memory-swap -1: unlimited swap.
      if (v === '-1') return -1;
      const n = parseBytes(v);
      if (n === null) throw new ExitError(125, `invalid argument "${v}" for "--${flag}" flag: invalid size: '${v}'`);
      return n;
    };
    const num = (flag: string): number | undefined => {
      const v = ctx.flags.str(flag);
      return v && v !== '0' ? Number(v) : undefined;
    };
    const ulimits = ctx.flags.list('ulimit').map(parseUlimit);
    const iidfile = ctx.flags.str('iidfile') || undefined;
    if (iidfile) fs.rmSync(iidfile, { force: true });
    const client = await ctx.client();
    const query = {
      t: ctx.flags.list('tag'),
      remote,
      cachefrom: ctx.flags.list('cache-from').length ? JSON.stringify(ctx.flags.list('cache-from')) : undefined,
      dockerfile,
      buildargs: JSON.stringify(buildArgs),
      labels: JSON.stringify(labels),
      nocache: ctx.flags.bool('no-cache') ? '1' : undefined,
      rm: ctx.flags.bool('rm') ? '1' : '0',
      forcerm: ctx.flags.bool('force-rm') ? '1' : undefined,
      q: quiet ? '1' : undefined,
      target: ctx.flags.str('target') || undefined,
      pull: ctx.flags.bool('pull') ? '1' : undefined,
      networkmode: ctx.flags.str('network') || undefined,
      platform: ctx.flags.str('platform') || undefined,
      memory: bytes('memory'),
      memswap: bytes('memory-swap'),
      shmsize: bytes('shm-size'),
      cpushares: num('cpu-shares'),
      cpuperiod: num('cpu-period'),
      cpuquota: num('cpu-quota'),
      cpusetcpus: ctx.flags.str('cpuset-cpus') || undefined,
      cpusetmems: ctx.flags.str('cpuset-mems') || undefined,
      cgroupparent: ctx.flags.str('cgroup-parent') || undefined,
      extrahosts: ctx.flags.list('add-host'),
      ulimits: ulimits.length ? JSON.stringify(ulimits) : undefined,
      squash: ctx.flags.bool('squash') ? '1' : undefined,
    };
    const headers = { 'Content-Type': 'application/x-tar', ...(await registryConfigHeader(ctx)) };
    const id = await printBuild(ctx, (onBody) => client.collected('POST', '/build', { query, stream: fs.createReadStream(tarFile), headers, onBody }));
    // --iidfile: the image ID the daemon sent (its last aux ID), as the docker CLI writes it.
    if (iidfile && id) fs.writeFileSync(iidfile, id);
    return 0;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** X-Registry-Config: every registry's credentials from the config, for the FROM images the daemon pulls. */
async function registryConfigHeader(ctx: Ctx): Promise<Record<string, string>> {
  const { allAuths } = await import('./auth.js');
  const auths = await allAuths(ctx);
  if (Object.keys(auths).length === 0) return {};
  const { encodeRegistryAuth } = await import('../../image/registry/auth-encode.js');
  const config: Record<string, unknown> = {};
  for (const [registry, c] of Object.entries(auths)) config[registry] = JSON.parse(Buffer.from(encodeRegistryAuth(c, registry), 'base64url').toString('utf8'));
  return { 'X-Registry-Config': Buffer.from(JSON.stringify(config)).toString('base64url') };
}

/**
 * Shows the build's messages as docker's CLI does (readProgress: a FROM image's pull with bars
 * on a terminal); an error message ends it with the step's exit code (docker's JSONError code) or
 * 1. Resolves with the last aux image ID (or, with -q, the ID the output is).
 */
async function printBuild(ctx: Ctx, send: Parameters<typeof readProgress>[1]): Promise<string | undefined> {
  const { ProgressError } = await import('../progress.js');
  let r;
  try {
    r = await readProgress(ctx, send);
  } catch (e) {
    if (e instanceof ProgressError) throw new ExitError(e.code || 1, e.message);
    throw e;
  }
  let id: string | undefined;
  for (const a of r.aux) if (typeof (a as { ID?: unknown })?.ID === 'string') id = (a as { ID: string }).ID;
  return id ?? (r.lastStream && /^sha256:[0-9a-f]{64}\n$/.test(r.lastStream) ? r.lastStream.trim() : undefined);
}
