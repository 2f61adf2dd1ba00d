// Image routes, backed by ImageService: pull (with progress), list, inspect, history, tag,
// remove, push, prune, and save/load/import via src/image/archive.
import { HakoError, invalid } from '../../common/errors.js';
import type { ImageInspect } from '../../image/images.js';
import { dockerErrorName, parseReference, familiarString, formatReference, isValidTag } from '../../image/reference.js';
import { route, type ApiDeps, type Route } from '../deps.js';
import { decodeFilters, HttpError, qBool, qStr, sendJson, type Ctx } from '../http.js';
import { JsonStream, PROGRESS_LINE_END, progressEventMessage } from '../streams.js';
import { compareVersions } from '../version.js';
import { parseImagePruneFilters } from '../../image/prune-filters.js';
import { loadArchive, importImage, saveImages } from '../image-archive.js';
import { credentialsFromAuthConfig, decodeRegistryAuth } from '../../image/registry/auth-config.js';
import type { Credentials } from '../../image/registry/credentials.js';
import type { ProgressEvent } from '../../image/progress.js';
import { parsePlatform } from '../../image/platform.js';

const unix = (iso: string | undefined): number => (iso ? Math.floor(Date.parse(iso) / 1000) || 0 : 0);

/**
 * ImageService says `no such image: x`; clients match docker's `No such image: x`, where dockerd
 * names the reference as it parsed it (`nosuch` → `nosuch:latest`; IDs and digests as given).
 */
export function dockerImageError(err: unknown, name: string): unknown {
  if (err instanceof HakoError && err.kind === 'not-found' && /^no such image/i.test(err.message)) {
    return new HakoError({ step: `No such image: ${dockerErrorName(name)}`, kind: 'not-found' });
  }
  return err;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^$()|[\]\\{}]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
}

async function list(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const filters = decodeFilters(ctx.query.get('filters') ?? ctx.query.get('filter'));
  for (const k of Object.keys(filters)) {
    if (!['dangling', 'reference', 'label', 'before', 'since', 'until'].includes(k)) throw invalid(`invalid filter '${k}'`);
  }
  let dangling: boolean | undefined;
  if (filters.dangling?.length) {
    // dockerd's image list takes exactly "true" or "false" (ExactMatch: no 1/0, no TRUE; image
    // prune is laxer), its refusal showing the values as Go prints a list.
    const vals = filters.dangling;
    if (vals.includes('true')) dangling = true;
    else if (vals.includes('false')) dangling = false;
    else throw invalid(`invalid filter 'dangling=[${vals.join(' ')}]'`);
  }
  let images = await deps.images.list({ dangling });
  // dockerd hides intermediate images (untagged, with a child: a build's steps) unless all=1, and
  // counts only images without children as dangling.
  const parents = new Set((dangling === undefined ? images : await deps.images.list()).map((i) => i.parent).filter((p) => p !== undefined));
  if (!qBool(ctx, 'all') || dangling === true) images = images.filter((i) => i.repoTags.length > 0 || !parents.has(i.id));
  if (filters.reference?.length) {
    const res = filters.reference.map((r) => globToRegExp(r.includes(':') ? r : `${r}`));
    images = images
      .map((i) => ({
        ...i,
        repoTags: i.repoTags.filter((t) => res.some((re) => re.test(t) || re.test(t.replace(/:[^:/]+$/, '')))),
        repoDigests: i.repoDigests.filter((t) => res.some((re) => re.test(t) || re.test(t.replace(/@.*$/, '')))),
      }))
      .filter((i) => i.repoTags.length > 0);
  }
  const timeOf = async (ref: string): Promise<number> => unix((await deps.images.inspect(ref).catch((e) => { throw dockerImageError(e, ref); })).created);
  if (filters.before?.length) {
    const t = await timeOf(filters.before[0]!);
    images = images.filter((i) => unix(i.created) < t);
  }
  if (filters.since?.length) {
    const t = await timeOf(filters.since[0]!);
    images = images.filter((i) => unix(i.created) > t);
  }
  const labelsOf = new Map<string, Record<string, string>>();
  for (const i of images) {
    const insp = await deps.images.inspect(i.id).catch(() => undefined);
    labelsOf.set(i.id, ((insp?.config.config?.Labels as Record<string, string> | null | undefined) ?? {}) || {});
  }
  if (filters.label?.length) {
    images = images.filter((i) => {
      const labels = labelsOf.get(i.id) ?? {};
      return filters.label!.every((l) => {
        const eq = l.indexOf('=');
        return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
      });
    });
  }
  // `shared-size=1`: each image's SharedSize (layers it shares with other images), else -1.
  const shared = qBool(ctx, 'shared-size') ? new Map((await deps.images.diskUsage()).images.map((i) => [i.id, i.sharedSize])) : undefined;
  const old = compareVersions(ctx.version, '1.44') < 0;
  sendJson(
    ctx,
    200,
    images.map((i) => ({
      Id: i.id,
      ParentId: i.parent ?? '',
      RepoTags: i.repoTags,
      RepoDigests: i.repoDigests,
      Created: unix(i.created),
      Size: i.size,
      SharedSize: shared?.get(i.id) ?? -1,
      ...(old ? { VirtualSize: i.size } : {}),
      Labels: labelsOf.get(i.id) ?? {},
      Containers: -1,
    })),
  );
}

const CONFIG_DEFAULTS = { Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null };

function objectOr(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function inspectJson(i: ImageInspect, version: string): Record<string, unknown> {
  const c = i.config;
  return {
    Id: i.id,
    RepoTags: i.repoTags,
    RepoDigests: i.repoDigests,
    Parent: i.parent ?? '',
    Comment: c.history?.[c.history.length - 1]?.comment ?? '',
    Created: i.created ?? '',
    // Container and ContainerConfig are deprecated but still sent up to API 1.44 (removed in 1.45):
    // docker-compose 1.29 reads ContainerConfig.Volumes when it recreates a container (KeyError without it).
    ...(compareVersions(version, '1.45') < 0 ? { Container: typeof c.container === 'string' ? c.container : '', ContainerConfig: { ...CONFIG_DEFAULTS, ...objectOr(c.container_config) } } : {}),
    ...(compareVersions(version, '1.44') < 0 ? { VirtualSize: i.size } : {}),
    DockerVersion: typeof c.docker_version === 'string' ? c.docker_version : '',
    Author: c.author ?? '',
    Config: { ...CONFIG_DEFAULTS, ...(c.config ?? {}) },
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    Size: i.size,
    GraphDriver: { Data: i.graphDriverData, Name: 'overlay2' },
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: i.record.lastTagTime ?? '0001-01-01T00:00:00Z' },
  };
}

async function inspect(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const name = ctx.params[0]!;
  const i = await deps.images.inspect(name).catch((e) => {
    throw dockerImageError(e, name);
  });
  sendJson(ctx, 200, inspectJson(i, ctx.version));
}

async function history(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const name = ctx.params[0]!;
  const items = await deps.images.history(name).catch((e) => {
    throw dockerImageError(e, name);
  });
  sendJson(
    ctx,
    200,
    // image.HistoryResponseItem's field order (the swagger-made struct's: alphabetical), as dockerd writes it.
    items.map((h) => ({ Comment: h.comment, Created: unix(h.created), CreatedBy: h.createdBy, Id: h.id, Size: h.size, Tags: h.repoTags.length ? h.repoTags : null })),
  );
}

async function tag(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const name = ctx.params[0]!;
  const repo = qStr(ctx, 'repo');
  if (!repo) throw invalid('repository name must have at least one component');
  const t = qStr(ctx, 'tag') ?? 'latest';
  await deps.images.tag(name, `${repo}:${t}`).catch((e) => {
    throw dockerImageError(e, name);
  });
  sendJson(ctx, 201, undefined);
}

/** Whether a container (an image lease's owner) runs: it holds its image beyond force (dockerd's hard conflict). */
function containerRunning(deps: ApiDeps): ((owner: string) => Promise<boolean>) | undefined {
  const engine = deps.engine;
  return engine ? (owner) => engine.inspectContainer(owner).then((c) => (c.State as { Running?: boolean } | undefined)?.Running === true, () => false) : undefined;
}

/** How dockerd's rmi names an image it does not have: a full hex ID with sha256:, else the reference with its default tag. */
async function remove(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const name = ctx.params[0]!;
  if (name.trim() === '') throw invalid('image name cannot be blank');
  const r = await deps.images.remove(name, { force: qBool(ctx, 'force'), prune: !qBool(ctx, 'noprune'), running: containerRunning(deps) }).catch((e) => {
    throw dockerImageError(e, name);
  });
  sendJson(ctx, 200, r.items);
}

async function prune(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const filters = parseImagePruneFilters(decodeFilters(ctx.query.get('filters')));
  const r = await deps.images.prune({ filters, running: containerRunning(deps) });
  sendJson(ctx, 200, { ImagesDeleted: r.items.length ? r.items : null, SpaceReclaimed: r.reclaimed });
}

/**
 * The credentials of X-Registry-Auth (base64url JSON, docker's AuthConfig); none → undefined and
 * the daemon's own docker config is used. Malformed → 400.
 */
export function registryAuth(ctx: Ctx): Credentials | undefined {
  const h = ctx.req.headers['x-registry-auth'];
  return credentialsFromAuthConfig(decodeRegistryAuth(Array.isArray(h) ? h[0] : h));
}

async function create(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const fromImage = qStr(ctx, 'fromImage');
  const fromSrc = qStr(ctx, 'fromSrc');
  if (fromSrc !== undefined) {
    await importImage(ctx, deps, fromSrc);
    return;
  }
  if (!fromImage) throw invalid('bad parameter: fromImage or fromSrc is required');
  const credentials = registryAuth(ctx);
  const tag = qStr(ctx, 'tag');
  let refString = fromImage;
  const digestTag = tag !== undefined && /^[a-z0-9]+:[a-f0-9]{32,}$/.test(tag);
  if (tag && !digestTag && !isValidTag(tag)) {
    // dockerd checks fromImage first, then says `invalid tag format` (400).
    parseReference(fromImage, { defaultTag: false });
    throw invalid('invalid tag format');
  }
  if (tag) refString = digestTag ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
  const ref = parseReference(refString, { defaultTag: false });
  const platform = qStr(ctx, 'platform');
  // dockerd parses it before any pull (containerd's platforms.Parse): a 400 in its words
  if (platform) parsePlatform(platform);
  const out = new JsonStream(ctx, PROGRESS_LINE_END);
  // Like dockerd, `Pulling from` (and so the 200) comes once the manifest is in: a failure before
  // it (no such image, authentication) is an error answer, which clients print as
  // `Error response from daemon: …`; later ones are the stream's last message.
  const pullOne = (tagged: string, id: string, statusLine: boolean, event = true) => {
    let started = false;
    const progress = (ev: ProgressEvent): void => {
      if (!started) {
        started = true;
        // dockerd names the repository without its registry: `Pulling from library/busybox`.
        out.push({ status: `Pulling from ${ref.path}`, id });
      }
      out.push(progressEventMessage(ev));
    };
    return deps.images.pull(tagged, { platform, signal: ctx.signal, credentials, progress, statusLine, event });
  };
  try {
    if (ref.tag === undefined && ref.digest === undefined) {
      // No tag nor digest (fromImage without one, an empty tag): every tag of the repository,
      // as dockerd's pullRepository — what `docker pull -a` sends (its plain pull sends
      // tag=latest, as docker-py's pull does unless all_tags). One by one, in the registry's
      // order, each with its lines and `Digest:`; one `Status:` for the repository at the end.
      // A tag that fails ends the request (tags pulled before it stay, as with dockerd); what
      // that tag's pull stored is removed (ImageService.pull).
      const tags = await deps.images.listTags(refString, { credentials, signal: ctx.signal });
      let newer = false;
      for (const t of tags) {
        const r = await pullOne(formatReference({ ...ref, tag: t }), t, false, false);
        if (r.status === 'downloaded') newer = true;
      }
      // dockerd logs one pull event, for the repository, once every tag is in.
      await deps.images.pullEvent(refString);
      const name = familiarString(ref);
      out.push({ status: newer ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` });
    } else {
      await pullOne(refString, ref.tag ?? ref.digest!, true);
    }
    out.end();
  } catch (err) {
    if (!ctx.signal.aborted) deps.log('info', `pull ${refString}: ${(err as Error).message}`);
    // Not a 401: on a 401 the docker CLI asks for a login on the terminal and pulls again (a hang
    // without one). dockerd answers a registry's refusal with a 500 too.
    out.fail(err instanceof HakoError && err.kind === 'unauthorized' ? new HttpError(500, err.message) : err);
  }
}

async function push(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const name = ctx.params[0]!;
  const credentials = registryAuth(ctx);
  const tag = qStr(ctx, 'tag');
  const refString = tag ? `${name}:${tag}` : name;
  const ref = parseReference(refString);
  const out = new JsonStream(ctx, PROGRESS_LINE_END);
  try {
    // dockerd answers 200 with `The push refers to …` first, then the stream's error for an
    // image it does not have (the docker CLI prints it without `Error response from daemon:`).
    out.push({ status: `The push refers to repository [${ref.domain}/${ref.path}]` });
    await deps.images.resolve(refString).catch((e) => {
      throw new HakoError({ step: `An image does not exist locally with the tag: ${familiarString({ domain: ref.domain, path: ref.path })}`, kind: 'not-found', cause: e });
    });
    const r = await deps.images.push(refString, { signal: ctx.signal, credentials, progress: (ev) => out.push(progressEventMessage(ev)) });
    out.push({ status: r.message });
    out.push({ progressDetail: {}, aux: { Tag: ref.tag ?? 'latest', Digest: r.digest, Size: r.size } });
    out.end();
  } catch (err) {
    out.fail(err);
  }
}

async function save(ctx: Ctx, deps: ApiDeps, names: string[]): Promise<void> {
  if (names.length === 0) throw invalid('bad parameter: no image names given');
  await saveImages(ctx, deps, names);
}

export const imageRoutes: Route[] = [
  route('GET', '/images/json', list),
  route('POST', '/images/create', create),
  route('POST', '/images/load', (ctx, deps) => loadArchive(ctx, deps)),
  route('GET', '/images/get', (ctx, deps) => save(ctx, deps, ctx.query.getAll('names'))),
  route('POST', '/images/prune', prune),
  route('GET', '/images/search', async () => {
    throw new HttpError(501, 'image search is not implemented yet');
  }),
  route('GET', '/images/{name*}/json', inspect),
  route('GET', '/distribution/{name*}/json', async (ctx, deps) => sendJson(ctx, 200, await deps.images.distributionInspect(ctx.params[0]!, registryAuth(ctx)))),
  route('GET', '/images/{name*}/history', history),
  route('GET', '/images/{name*}/get', (ctx, deps) => save(ctx, deps, [ctx.params[0]!])),
  route('POST', '/images/{name*}/tag', tag),
  route('POST', '/images/{name*}/push', push),
  route('DELETE', '/images/{name*?}', remove),
];
