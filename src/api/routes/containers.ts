// Container routes: a translation of HTTP onto ContainerEngine (src/engine/api-types.ts).
import { invalid } from '../../common/errors.js';
import { stringifyExactIntegers } from '../../common/json-ints.js';
import type { LogsOptions } from '../../engine/api-types.js';
import { engineOf, route, type ApiDeps, type Route } from '../deps.js';
import { decodeFilters, qBool, qInt, qStr, qTime, readJsonObject, sendJson, sendNoContent, type Ctx } from '../http.js';
import { withLegacyAliases } from '../legacy-aliases.js';
import { encodeFrame, STDERR, STDOUT } from '../stdcopy.js';
import { hijack, JsonStream, ENCODER_LINE_END, MULTIPLEXED_STREAM, pumpAttachment, RAW_STREAM, sendStream } from '../streams.js';
import { parsePlatform } from '../../image/platform.js';

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const MAX_TIMEOUT = 24 * 3600 * 365;

async function create(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const name = qStr(ctx, 'name');
  if (name !== undefined && !NAME_RE.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const body = await readJsonObject(ctx, { required: true });
  if (body.Image !== undefined && typeof body.Image !== 'string') throw invalid('bad parameter: Image must be a string');
  for (const k of ['HostConfig', 'NetworkingConfig']) {
    if (body[k] !== undefined && body[k] !== null && (typeof body[k] !== 'object' || Array.isArray(body[k]))) throw invalid(`bad parameter: ${k} must be an object`);
  }
  for (const k of ['Cmd', 'Entrypoint']) {
    const v = body[k];
    if (v !== undefined && v !== null && typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) throw invalid(`bad parameter: ${k} must be a list of strings`);
  }
  if (body.Env !== undefined && body.Env !== null && !(Array.isArray(body.Env) && body.Env.every((x) => typeof x === 'string'))) throw invalid('bad parameter: Env must be a list of strings');
  const platform = qStr(ctx, 'platform');
  // dockerd parses it first (containerd's platforms.Parse): a malformed one is a 400 in its words
  if (platform) parsePlatform(platform);
  const r = await engine.createContainer(name?.replace(/^\//, ''), body as never, platform ? { platform } : undefined);
  sendJson(ctx, 201, { Id: r.Id, Warnings: r.Warnings ?? [] });
}

async function list(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const filters = decodeFilters(ctx.query.get('filters'));
  const limit = qInt(ctx, 'limit', undefined, -1, 1e9);
  const all = qBool(ctx, 'all') || (limit !== undefined && limit > 0);
  sendJson(ctx, 200, await engine.listContainers({ all, limit: limit !== undefined && limit > 0 ? limit : undefined, size: qBool(ctx, 'size'), filters }));
}

async function inspect(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const j = await engineOf(deps).inspectContainer(ctx.params[0]!, { size: qBool(ctx, 'size') });
  sendJson(ctx, 200, withLegacyAliases(j, ctx.version));
}

async function start(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  if (qStr(ctx, 'checkpoint')) throw invalid('checkpoints are not supported');
  // Docker ≥ 1.24 ignores a HostConfig body on start; read and drop it.
  await readJsonObject(ctx).catch(() => ({}));
  // Not a full inspect first: the engine tells (under the container's lock) whether it was running.
  const r = await engine.startContainer(ctx.params[0]!);
  sendNoContent(ctx, r === 'already-running' ? 304 : 204);
}

function stopOpts(ctx: Ctx): { timeoutSeconds?: number; signal?: string } {
  const t = qInt(ctx, 't', undefined, -1, MAX_TIMEOUT);
  const signal = qStr(ctx, 'signal');
  return { ...(t !== undefined ? { timeoutSeconds: t } : {}), ...(signal ? { signal } : {}) };
}

async function stop(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const r = await engineOf(deps).stopContainer(ctx.params[0]!, stopOpts(ctx));
  sendNoContent(ctx, r === 'already-stopped' ? 304 : 204);
}

async function restart(ctx: Ctx, deps: ApiDeps): Promise<void> {
  await engineOf(deps).restartContainer(ctx.params[0]!, stopOpts(ctx));
  sendNoContent(ctx);
}

async function kill(ctx: Ctx, deps: ApiDeps): Promise<void> {
  await engineOf(deps).killContainer(ctx.params[0]!, qStr(ctx, 'signal'));
  sendNoContent(ctx);
}

async function wait(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const cond = qStr(ctx, 'condition') ?? 'not-running';
  if (cond !== 'not-running' && cond !== 'next-exit' && cond !== 'removed') throw invalid(`invalid condition: "${cond}"`);
  // Errors (no such container) are answered normally; then the headers go out at once (the
  // docker CLI waits for them before it starts the container) and the body when it exits.
  await engine.containerId(ctx.params[0]!);
  const res = ctx.res!;
  const done = engine.waitContainer(ctx.params[0]!, cond, ctx.signal);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  try {
    const r = await done;
    res.end(JSON.stringify({ StatusCode: r.StatusCode, ...(r.Error ? { Error: r.Error } : {}) }) + '\n');
  } catch (err) {
    if (ctx.signal.aborted) return;
    res.end(JSON.stringify({ StatusCode: -1, Error: { Message: (err as Error).message } }) + '\n');
  }
}

async function attach(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const detachKeys = qStr(ctx, 'detachKeys');
  const opts = {
    stdin: qBool(ctx, 'stdin'),
    stdout: qBool(ctx, 'stdout'),
    stderr: qBool(ctx, 'stderr'),
    stream: qBool(ctx, 'stream'),
    logs: qBool(ctx, 'logs'),
    ...(detachKeys ? { detachKeys } : {}),
  };
  if (!opts.stream && !opts.logs) throw invalid('Bad parameters: you must choose at least one stream');
  // The engine attaches first (errors are normal HTTP answers; a container that is not running
  // yet gets this attachment connected at its next start, from the first byte: `docker run` and
  // `start -a` attach, wait for our upgrade answer, then start).
  const att = await engine.attachContainer(ctx.params[0]!, opts);
  await pumpAttachment(hijack(ctx, att.tty ? RAW_STREAM : MULTIPLEXED_STREAM), att, { stdin: opts.stdin });
}

async function logs(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const tailRaw = qStr(ctx, 'tail') ?? 'all';
  let tail: number | 'all' = 'all';
  if (tailRaw !== 'all') {
    const n = Number(tailRaw);
    tail = Number.isSafeInteger(n) && n >= 0 ? n : 'all';
  }
  const opts: LogsOptions = {
    follow: qBool(ctx, 'follow'),
    stdout: qBool(ctx, 'stdout'),
    stderr: qBool(ctx, 'stderr'),
    since: qTime(ctx, 'since') ?? 0,
    until: qTime(ctx, 'until') ?? 0,
    timestamps: qBool(ctx, 'timestamps'),
    tail,
  };
  if (!opts.stdout && !opts.stderr) throw invalid('Bad parameters: you must choose at least one stream');
  const { tty, entries, details } = await engine.containerLogs(ctx.params[0]!, opts, ctx.signal);
  // dockerd: with details each line starts with its attributes and a space (the timestamp goes before both).
  const prefix = qBool(ctx, 'details') ? Buffer.from(details) : null;
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': tty ? RAW_STREAM : MULTIPLEXED_STREAM });
  res.flushHeaders();
  try {
    for await (const e of entries) {
      if (res.destroyed) break;
      let data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
      if (prefix) data = Buffer.concat([prefix, data]);
      if (opts.timestamps) data = Buffer.concat([Buffer.from(e.time + ' '), data]);
      const out = tty ? data : encodeFrame(e.stream === 'stderr' ? STDERR : STDOUT, data);
      if (!res.write(out)) await new Promise<void>((r) => { res.once('drain', r); res.once('close', r); });
    }
  } catch (err) {
    if (!ctx.signal.aborted) deps.log('warn', `logs ${ctx.params[0]}: ${(err as Error).message}`);
  }
  res.end();
}

async function top(ctx: Ctx, deps: ApiDeps): Promise<void> {
  sendJson(ctx, 200, await engineOf(deps).topContainer(ctx.params[0]!, qStr(ctx, 'ps_args')));
}

async function stats(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const stream = qBool(ctx, 'stream', true);
  const oneShot = qBool(ctx, 'one-shot');
  await engine.containerId(ctx.params[0]!);
  const out = new JsonStream(ctx, ENCODER_LINE_END);
  try {
    for await (const s of engine.containerStats(ctx.params[0]!, { stream, oneShot, signal: ctx.signal })) {
      if (ctx.signal.aborted) break;
      // cgroup v1's hierarchical limits are uint64s past 2^53: written with Go's digits.
      await out.write(s, stringifyExactIntegers);
      if (!stream) break;
    }
    out.end();
  } catch (err) {
    if (!ctx.signal.aborted) out.fail(err);
  }
}

async function changes(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const c = await engineOf(deps).containerChanges(ctx.params[0]!);
  sendJson(ctx, 200, c.length ? c : null);
}

async function exportFs(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const tar = await engineOf(deps).exportContainer(ctx.params[0]!);
  await sendStream(ctx, 'application/x-tar', tar);
}

function archivePath(ctx: Ctx): string {
  const p = ctx.query.get('path');
  if (!p) throw invalid('bad parameter: path is required');
  return p;
}

async function getArchive(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const path = archivePath(ctx);
  if (ctx.method === 'HEAD') {
    const stat = await engine.statPath(ctx.params[0]!, path);
    // No Content-Type (dockerd sends none with the stat).
    ctx.res!.writeHead(200, { 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64') });
    ctx.res!.end();
    return;
  }
  const { stat, tar } = await engine.getArchive(ctx.params[0]!, path);
  await sendStream(ctx, 'application/x-tar', tar, { 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64') });
}

async function putArchive(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const path = archivePath(ctx);
  await engine.putArchive(ctx.params[0]!, path, ctx.req, { noOverwriteDirNonDir: qBool(ctx, 'noOverwriteDirNonDir'), copyUIDGID: qBool(ctx, 'copyUIDGID') });
  sendJson(ctx, 200, undefined);
}

async function resize(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const h = qInt(ctx, 'h', 0, 0, 65535)!;
  const w = qInt(ctx, 'w', 0, 0, 65535)!;
  await engineOf(deps).resizeContainer(ctx.params[0]!, h, w);
  sendJson(ctx, 200, undefined);
}

async function pause(ctx: Ctx, deps: ApiDeps): Promise<void> {
  await engineOf(deps).pauseContainer(ctx.params[0]!);
  sendNoContent(ctx);
}

async function unpause(ctx: Ctx, deps: ApiDeps): Promise<void> {
  await engineOf(deps).unpauseContainer(ctx.params[0]!);
  sendNoContent(ctx);
}

async function update(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const body = await readJsonObject(ctx, { required: true });
  const r = await engineOf(deps).updateContainer(ctx.params[0]!, body);
  sendJson(ctx, 200, { Warnings: r.Warnings ?? [] });
}

async function rename(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const name = qStr(ctx, 'name');
  if (!name) throw invalid('Neither old nor new names may be empty');
  await engineOf(deps).renameContainer(ctx.params[0]!, name);
  sendNoContent(ctx);
}

async function remove(ctx: Ctx, deps: ApiDeps): Promise<void> {
  // ?link=1: remove the legacy link the name gives (/<linker>/<alias>), not a container.
  if (qBool(ctx, 'link')) await engineOf(deps).removeLink(ctx.params[0]!);
  else await engineOf(deps).removeContainer(ctx.params[0]!, { force: qBool(ctx, 'force'), volumes: qBool(ctx, 'v') });
  sendNoContent(ctx);
}

async function prune(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const r = await engineOf(deps).pruneContainers(decodeFilters(ctx.query.get('filters')));
  sendJson(ctx, 200, { ContainersDeleted: r.ContainersDeleted.length ? r.ContainersDeleted : null, SpaceReclaimed: r.SpaceReclaimed });
}

async function commit(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const container = qStr(ctx, 'container');
  if (!container) throw invalid('bad parameter: container is required');
  const config = await readJsonObject(ctx);
  const changes = ctx.query.getAll('changes').flatMap((c) => c.split('\n')).filter((c) => c.trim() !== '');
  const r = await engine.commitContainer(container, {
    repo: qStr(ctx, 'repo'),
    tag: qStr(ctx, 'tag'),
    comment: qStr(ctx, 'comment'),
    author: qStr(ctx, 'author'),
    pause: qBool(ctx, 'pause', true),
    changes,
    config: Object.keys(config).length ? config : undefined,
  });
  sendJson(ctx, 201, { Id: r.Id });
}

export const containerRoutes: Route[] = [
  route('POST', '/containers/create', create, { lean: true }),
  route('GET', '/containers/json', list, { lean: true }),
  route('POST', '/containers/prune', prune),
  route('POST', '/commit', commit),
  route('GET', '/containers/{id*}/json', inspect, { lean: true }),
  route('POST', '/containers/{id*}/start', start, { lean: true }),
  route('POST', '/containers/{id*}/stop', stop, { lean: true }),
  route('POST', '/containers/{id*}/restart', restart),
  route('POST', '/containers/{id*}/kill', kill, { lean: true }),
  route('POST', '/containers/{id*}/wait', wait, { lean: true }),
  route('POST', '/containers/{id*}/attach', attach, { hijack: true, lean: true }),
  route('GET', '/containers/{id*}/logs', logs),
  route('GET', '/containers/{id*}/top', top),
  route('GET', '/containers/{id*}/stats', stats),
  route('GET', '/containers/{id*}/changes', changes),
  route('GET', '/containers/{id*}/export', exportFs),
  route('GET', '/containers/{id*}/archive', getArchive),
  route('HEAD', '/containers/{id*}/archive', getArchive),
  route('PUT', '/containers/{id*}/archive', putArchive),
  route('POST', '/containers/{id*}/resize', resize),
  route('POST', '/containers/{id*}/pause', pause),
  route('POST', '/containers/{id*}/unpause', unpause),
  route('POST', '/containers/{id*}/update', update),
  route('POST', '/containers/{id*}/rename', rename),
  route('DELETE', '/containers/{id*?}', remove, { lean: true }), // moby's {name:.*}
];
