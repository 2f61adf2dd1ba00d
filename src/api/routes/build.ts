// POST /build: the classic builder (src/engine/build.ts) fed the request body (a tar, plain or
// compressed, of the context) or `remote=` (a URL or git repository it fetches), answering docker's JSON lines: {"stream":…} for the build's text (stderr
// in red, as dockerd's StderrFormatter), {"aux":{"ID":…}} per stage (API ≥ 1.30), pull progress,
// and a failure as {"errorDetail":{"code"?,"message"},"error"}. With q=1 only the image ID (or,
// on failure, everything kept back and the error), as dockerd.
import { engineOf, route, type ApiDeps, type Route } from '../deps.js';
import { HttpError, errorStatus, qBool, qInt, qStr, type Ctx } from '../http.js';
import { credentialsFromAuthConfig, decodeRegistryConfig } from '../../image/registry/auth-config.js';
import { registryDomainOfKey } from '../../image/registry/credentials.js';
import { JsonStream, PROGRESS_LINE_END, progressEventMessage } from '../streams.js';
import type { BuildOutput } from '../../engine/build.js';
import { buildWorkDir } from '../../engine/build-dir.js';
import { API_VERSION, compareVersions } from '../version.js';

function jsonParam<T>(ctx: Ctx, name: string): T | undefined {
  const raw = qStr(ctx, name);
  if (raw === undefined || raw === '') return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch (e) {
    throw new HttpError(400, `invalid ${name} parameter: ${(e as Error).message}`);
  }
}

async function build(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  // remote=<url>: the context comes from there (the body, if any, is not read, as dockerd).
  const remote = qStr(ctx, 'remote') || undefined;
  if (remote !== undefined) ctx.req.resume();
  if (qBool(ctx, 'squash')) {
    ctx.req.resume();
    throw new HttpError(400, 'squash is only supported with experimental mode');
  }
  const buildArgs = jsonParam<Record<string, string | null>>(ctx, 'buildargs') ?? {};
  // The RUN containers' limits and hosts, as dockerd's hostConfigFromOptions.
  const int = (name: string): number | undefined => qInt(ctx, name, undefined);
  const hostConfig = {
    Memory: int('memory'),
    MemorySwap: int('memswap'),
    CpuShares: int('cpushares'),
    CpusetCpus: qStr(ctx, 'cpusetcpus') || undefined,
    CpusetMems: qStr(ctx, 'cpusetmems') || undefined,
    CpuPeriod: int('cpuperiod'),
    CpuQuota: int('cpuquota'),
    ShmSize: int('shmsize'),
    CgroupParent: qStr(ctx, 'cgroupparent') || undefined,
    ExtraHosts: ctx.query.getAll('extrahosts').flatMap((h) => h.split(',')).filter((h) => h !== ''),
    Ulimits: jsonParam<unknown[]>(ctx, 'ulimits'),
  };
  // X-Registry-Config: credentials by registry for the FROM images a build pulls.
  const regHeader = ctx.req.headers['x-registry-config'];
  const registryConfig = decodeRegistryConfig(Array.isArray(regHeader) ? regHeader[0] : regHeader);
  const labels = jsonParam<Record<string, string>>(ctx, 'labels') ?? {};
  const quiet = qBool(ctx, 'q');
  const stream = new JsonStream(ctx, PROGRESS_LINE_END);
  const held: unknown[] = [];
  const emit = (obj: unknown): void => {
    if (quiet) held.push(obj);
    else stream.push(obj);
  };
  const wantAux = compareVersions(ctx.version || API_VERSION, '1.30') >= 0;
  const out: BuildOutput = {
    stdout: (text) => emit({ stream: text }),
    stderr: (text) => emit({ stream: `\u001b[91m${text}\u001b[0m` }),
    aux: (msg) => {
      if (wantAux) emit({ aux: msg });
    },
    progress: (ev) => emit(progressEventMessage(ev)),
  };
  deps.onBuildStart?.();
  // The builder loads with the first build (hakod's start does not pay for it).
  const { Builder, BuildStepError } = await import('../../engine/build.js');
  const builder = new Builder(engine, deps.images, out, {
    ...(qStr(ctx, 'dockerfile') ? { dockerfile: qStr(ctx, 'dockerfile')! } : {}),
    tags: ctx.query.getAll('t').filter((t) => t !== ''),
    buildArgs,
    noCache: qBool(ctx, 'nocache'),
    rm: qBool(ctx, 'rm', true),
    forceRm: qBool(ctx, 'forcerm'),
    labels,
    ...(qStr(ctx, 'target') ? { target: qStr(ctx, 'target')! } : {}),
    pull: qBool(ctx, 'pull'),
    ...(qStr(ctx, 'networkmode') ? { networkMode: qStr(ctx, 'networkmode')! } : {}),
    ...(qStr(ctx, 'platform') ? { platform: qStr(ctx, 'platform')! } : {}),
    workDir: buildWorkDir(deps.daemon.root),
    hostConfig,
    credentials: (domain) => credentialsFromAuthConfig(registryConfig.get(registryDomainOfKey(domain))),
    signal: ctx.signal,
    ...(remote !== undefined ? { remote } : {}),
    cacheFrom: jsonParam<string[]>(ctx, 'cachefrom') ?? [],
  });
  try {
    const id = await builder.build(ctx.req);
    if (quiet) stream.push({ stream: `${id}\n` });
    stream.end();
  } catch (err) {
    ctx.req.resume();
    // Nothing written yet (a Dockerfile that does not parse, a missing target): an HTTP error, as dockerd.
    if (!stream.isStarted && held.length === 0) throw err;
    for (const h of held) stream.push(h);
    const { message } = errorStatus(err);
    const code = err instanceof BuildStepError ? err.exitCode : undefined;
    stream.push({ errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message });
    stream.end();
  }
}

export const buildRoutes: Route[] = [route('POST', '/build', build)];
