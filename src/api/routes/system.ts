// /_ping, /version, /info, /events, /system/df, /auth.
import { arch, cpus, hostname, release, totalmem, type as osType } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { stringifyExactIntegers } from '../../common/json-ints.js';
import { join } from 'node:path';
import { HakoError, invalid } from '../../common/errors.js';
import { dockerWordsOf } from '../../image/registry/errcode.js';
import type { DiskUsageKinds, Json } from '../../engine/api-types.js';
import { route, type ApiDeps, type Route } from '../deps.js';
import { decodeFilters, qTime, readJsonObject, sendJson, type Ctx } from '../http.js';
import { JsonStream, ENCODER_LINE_END } from '../streams.js';
import { API_VERSION, MIN_API_VERSION, compareVersions } from '../version.js';
import { nowRfc3339Nano } from '../../common/time.js';

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

async function ping(ctx: Ctx): Promise<void> {
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Content-Length': 2 });
  res.end(ctx.method === 'HEAD' ? undefined : 'OK');
}

export function baseVersion(deps: ApiDeps): Record<string, unknown> {
  const v = deps.daemon.version;
  return {
    Platform: { Name: 'hako' },
    Components: [{ Name: 'Engine', Version: v, Details: { ApiVersion: API_VERSION, Arch: GOARCH[arch()] ?? arch(), BuildTime: '', Experimental: 'false', GitCommit: '', GoVersion: `node${process.versions.node}`, KernelVersion: release(), MinAPIVersion: MIN_API_VERSION, Os: 'linux' } }],
    Version: v,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: GOARCH[arch()] ?? arch(),
    KernelVersion: release(),
    BuildTime: '',
  };
}

async function version(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const base = baseVersion(deps);
  const fromEngine = deps.engine?.version() ?? {};
  sendJson(ctx, 200, { ...base, ...fromEngine, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION });
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1]!;
  } catch {
    // no os-release
  }
  return osType();
}

async function info(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const images = await deps.images.list().catch(() => []);
  const base: Record<string, unknown> = {
    ID: engineId(deps.daemon.root),
    Containers: 0,
    ContainersRunning: 0,
    ContainersPaused: 0,
    ContainersStopped: 0,
    Images: images.length,
    Driver: 'overlay2',
    DriverStatus: [],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    Debug: deps.daemon.debug,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: nowRfc3339Nano(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: '2',
    NEventsListener: 0,
    KernelVersion: release(),
    OperatingSystem: osName(),
    OSVersion: '',
    OSType: 'linux',
    Architecture: arch() === 'x64' ? 'x86_64' : arch(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: registryConfig(deps.daemon.insecureRegistries),
    NCPU: cpus().length,
    MemTotal: totalmem(),
    DockerRootDir: deps.daemon.root,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: deps.daemon.version,
    Runtimes: { hako: { path: 'hako-runtime' } },
    DefaultRuntime: 'hako',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: 'hako-init',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: '' },
    InitCommit: { ID: '' },
    SecurityOptions: ['name=seccomp,profile=builtin'],
    Warnings: deps.engine ? [] : ['WARNING: the container engine is not built in: only image routes work'],
  };
  const fromEngine = deps.engine ? await deps.engine.info() : {};
  sendJson(ctx, 200, { ...base, ...fromEngine, ID: base.ID, RegistryConfig: base.RegistryConfig });
}

/**
 * The daemon's ID: like dockerd ≥ 25, a UUID kept in <data-root>/engine-id, made on first use
 * (`docker info` prints it; swarm and some tools key on it).
 */
function engineId(root: string): string {
  const file = join(root, 'engine-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  } catch {
    // first use
  }
  const id = randomUUID();
  try {
    mkdirSync(root, { recursive: true });
    writeFileSync(file, id, { flag: 'wx', mode: 0o600 });
    return id;
  } catch {
    // another request wrote it first (EEXIST), or the root is read-only
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return '';
    }
  }
}

/** docker's registry configuration: docker.io, loopback as insecure, and the --insecure-registry entries (CIDRs or names). */
function registryConfig(insecure: string[]): Record<string, unknown> {
  const cidrs = ['::1/128', '127.0.0.0/8'];
  const index: Record<string, unknown> = { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } };
  for (const r of insecure) {
    if (/^[0-9a-f.:]+\/\d+$/i.test(r)) {
      if (!cidrs.includes(r)) cidrs.push(r);
    } else index[r] = { Name: r, Mirrors: [], Secure: false, Official: false };
  }
  return { AllowNondistributableArtifactsCIDRs: null, AllowNondistributableArtifactsHostnames: null, IndexConfigs: index, InsecureRegistryCIDRs: cidrs, Mirrors: [] };
}

/**
 * POST /build/prune: BuildKit's cache, which hako does not have (its classic builder's cache is
 * the intermediate images, removed with the images they lead to): nothing to delete (what
 * /system/df says too). `docker system prune` calls it after the containers, images and networks.
 */
async function buildPrune(ctx: Ctx): Promise<void> {
  const filters = decodeFilters(ctx.query.get('filters'));
  // (label and label! too: `docker system prune --filter label=…` passes its filters on here)
  const known = ['until', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private', 'unused-for', 'label', 'label!'];
  // dockerd's build backend wraps the builder's refusal (a 400 all the same).
  for (const k of Object.keys(filters)) if (!known.includes(k)) throw invalid(`failed to prune build cache: invalid filter '${k}'`);
  sendJson(ctx, 200, { CachesDeleted: null, SpaceReclaimed: 0 });
}

async function events(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const filters = decodeFilters(ctx.query.get('filters'));
  const since = qTime(ctx, 'since');
  const until = qTime(ctx, 'until');
  // dockerd's words, with the values as the client sent them (the docker CLI sends seconds).
  if (until !== undefined && since !== undefined && until < since) throw invalid(`\`since\` time (${ctx.query.get('since')}) cannot be after \`until\` time (${ctx.query.get('until')})`);
  if (!deps.engine) {
    // No engine: no container events; honour `until` and otherwise stream nothing until the client leaves.
    const out = new JsonStream(ctx, ENCODER_LINE_END);
    out.start();
    if (until !== undefined) {
      const wait = Math.max(0, until * 1000 - Date.now());
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(wait, 2 ** 31 - 1));
        ctx.signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
      });
      out.end();
    }
    return;
  }
  const out = new JsonStream(ctx, ENCODER_LINE_END);
  out.start();
  try {
    for await (const ev of deps.engine.events({ since, until, filters, signal: ctx.signal })) {
      if (ctx.signal.aborted) break;
      // timeNano is an int64 of ns: every digit, as dockerd writes it.
      await out.write(ev, stringifyExactIntegers);
    }
    out.end();
  } catch (err) {
    if (!ctx.signal.aborted) out.fail(err);
  }
}

/**
 * GET /system/df, as current moby's router: from API 1.42 `type` (repeatable) picks the kinds
 * computed (the others null, LayersSize 0; an unknown one is a 400); Images' VirtualSize (= Size)
 * only below API 1.44.
 */
async function df(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const types = ctx.query.getAll('type');
  let what: DiskUsageKinds = { containers: true, images: true, volumes: true, buildCache: true };
  if (types.length && compareVersions(ctx.version, '1.42') >= 0) {
    what = { containers: false, images: false, volumes: false, buildCache: false };
    for (const t of types) {
      if (t === 'container') what.containers = true;
      else if (t === 'image') what.images = true;
      else if (t === 'volume') what.volumes = true;
      else if (t === 'build-cache') what.buildCache = true;
      else throw invalid(`unknown object type: ${t}`);
    }
  }
  let body: Json;
  if (deps.engine) {
    body = await deps.engine.df(what);
  } else {
    const du = what.images ? await deps.images.diskUsage() : undefined;
    body = {
      LayersSize: du?.layersSize ?? 0,
      Images: du ? du.images.map((i) => ({ Id: i.id, ParentId: '', RepoTags: i.repoTags, RepoDigests: i.repoDigests, Created: i.created ? Math.floor(Date.parse(i.created) / 1000) : 0, Size: i.size, SharedSize: i.sharedSize, Labels: {}, Containers: 0 })) : null,
      Containers: what.containers ? [] : null,
      Volumes: what.volumes ? [] : null,
      BuildCache: what.buildCache ? [] : null,
    };
  }
  if (compareVersions(ctx.version, '1.44') < 0 && Array.isArray(body.Images)) {
    body.Images = (body.Images as Json[]).map((i) => ({ ...i, VirtualSize: i.Size }));
  }
  sendJson(ctx, 200, body);
}

/** `https://index.docker.io/v1/` → docker.io; `http://127.0.0.1:5000/v2/` → 127.0.0.1:5000. */
export function registryDomain(serverAddress: string | undefined): string {
  let s = (serverAddress ?? '').trim();
  if (!s) return 'docker.io';
  s = s.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (s === 'index.docker.io' || s === 'registry-1.docker.io' || s === 'docker.io') return 'docker.io';
  return s;
}

async function auth(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const body = await readJsonObject(ctx, { required: true });
  const username = body.username ?? body.Username;
  const password = body.password ?? body.Password;
  const serveraddress = body.serveraddress ?? body.ServerAddress;
  const token = body.identitytoken ?? body.IdentityToken;
  for (const [k, v] of Object.entries({ username, password, serveraddress, identitytoken: token })) {
    if (v !== undefined && v !== null && typeof v !== 'string') throw invalid(`bad parameter: ${k} must be a string`);
  }
  const domain = registryDomain(serveraddress as string | undefined);
  // Like dockerd: the credentials are checked, not kept (the client stores them and sends them
  // with each pull and push in X-Registry-Auth).
  // A refresh token the registry's token server issued is returned as IdentityToken (the docker
  // CLI then stores it instead of the password).
  const creds = { username: (username as string | undefined) ?? '', password: (password as string | undefined) ?? '', ...(token ? { identityToken: token as string } : {}) };
  // A refusal is a 500 in dockerd's words (20.10 and the docker CLI 28 print it as is; a 401
  // would not be the registry's answer to this request).
  const r = await deps.images.checkLogin(domain, creds).catch((err: unknown) => {
    const w = dockerWordsOf(err);
    throw w?.text ? new HakoError({ step: w.text, kind: 'internal', cause: err }) : err;
  });
  sendJson(ctx, 200, { Status: 'Login Succeeded', IdentityToken: r.identityToken ?? '' });
}

export const systemRoutes: Route[] = [
  route('GET', '/_ping', ping, { lean: true }),
  route('HEAD', '/_ping', ping, { lean: true }),
  route('GET', '/version', version, { lean: true }),
  route('GET', '/info', info),
  route('GET', '/events', events),
  route('POST', '/build/prune', buildPrune),
  route('GET', '/system/df', df),
  route('POST', '/auth', auth),
];
