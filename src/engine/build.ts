// Image build from a Dockerfile, as dockerd 20.10's classic builder does it (no BuildKit). Every
// step after FROM runs through the engine's own machinery: a container from the current image
// (created; started for RUN), its changes committed as the next image (commit.ts streams the
// layer; no changes = an `empty_layer` history entry), the container removed; as dockerd's, these
// commits send no `commit` event. COPY/ADD use no container (dockerd's use none either): their
// files, staged from the context (or downloaded: build-remote.ts), are extracted into a private
// overlay of the current image, whose upper dir is committed (engine.commitBuildFiles).
// The layer cache is dockerd's: a step is reused when an image whose parent is the current image
// was committed with the same container config (whose Cmd names the step: `#(nop) ENV A=b`, the
// RUN command with its build args, `COPY file:<checksum> in /dst`); with `cachefrom`, as dockerd's
// cache sources (build-cache.ts).
//
// Output is docker's text (`Step 1/4 : FROM busybox`, ` ---> Running in <id>`, ` ---> Using
// cache`, `Removing intermediate container <id>`, ` ---> <id>`), through `out`.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { HakoError, invalid } from '../common/errors.js';
import { argDeclarations, checkFromPlatform, parseDockerfile, parseInstruction, stepCount, type Instruction, type Stage } from '../build/dockerfile.js';
import { applyChange, expandWord, rawWords } from '../image/changes.js';
import { stepComment } from '../build/comments.js';
import type { ImageService } from '../image/images.js';
import { parseImageConfig } from '../image/manifest.js';
import { familiarString, parseReference } from '../image/reference.js';
import type { ContainerEngine, Json } from './api-types.js';
import { applyDockerignore, decompressed, combinedChecksum, findSources, mkdirOwned, sourceChecksum, untar, type Source } from './build-context.js';
import { imageFiles, resolveChown, stageSources } from './build-copy.js';
import { extractInto, statInRoot as statPathInRoot, tarStream } from './fs/ops.js';
import { CacheSources } from './build-cache.js';
import { downloadForAdd, fetchRemoteContext, gitClone, isGitURL, isURL } from './build-remote.js';
import { resolveInRoot } from './fs/paths.js';
import { readFileInRoot } from './fs/read-in-root.js';
import type { ProgressEvent } from '../image/progress.js';
import type { Credentials } from '../image/registry/credentials.js';

export interface BuildOptions {
  /** Path of the Dockerfile in the context (default `Dockerfile`). */
  dockerfile?: string;
  tags?: string[];
  buildArgs?: Record<string, string | null>;
  noCache?: boolean;
  /** Remove intermediate containers after a successful step (default true). */
  rm?: boolean;
  /** Remove them after a failed one too. */
  forceRm?: boolean;
  labels?: Record<string, string>;
  target?: string;
  /** Pull FROM images even when present. */
  pull?: boolean;
  networkMode?: string;
  platform?: string;
  /** A private directory for the context is made beneath this one. */
  workDir: string;
  /** Limits and hosts of the RUN containers (HostConfig fields; undefined ones left out). */
  hostConfig?: Json;
  /** Credentials for pulling a FROM image from `domain` (X-Registry-Config). */
  credentials?: (domain: string) => Credentials | undefined;
  signal?: AbortSignal;
  /** `cachefrom`: images whose layers may answer steps (dockerd's cache sources). */
  cacheFrom?: string[];
  /** `remote=`: the context (a tarball or a git repository) or the Dockerfile (text/plain) is fetched from this URL; the request body is not read. */
  remote?: string;
}

/** How often dockerd's progress reader reports a remote context's download, bytes. */
const REMOTE_PROGRESS_EVERY = 512 * 1024;

/** Where the build's output goes: text for the client, docker's aux messages, pull progress. */
export interface BuildOutput {
  stdout(text: string): void;
  stderr(text: string): void;
  aux(msg: Json): void;
  progress(ev: ProgressEvent): void;
}

/** A failed RUN: docker's JSONError with the command's exit status as its code. */
export class BuildStepError extends HakoError {
  constructor(message: string, readonly exitCode: number) {
    super({ step: message, kind: 'invalid-argument' });
  }
}

/** Build arguments docker passes to RUN without an ARG (and keeps out of the cache key unless declared). */
const BUILTIN_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

interface StageState {
  imageId: string;
  /** The run config (becomes each committed image's config). */
  config: Json;
  cmdSet: boolean;
  /** ARGs declared in this stage, with their values (undefined: declared without one). */
  args: Map<string, string | undefined>;
  author?: string;
}

/** Whether `path` in the rootfs is a directory (docker's stat: the path resolved inside the rootfs; missing is no). */
function statInRoot(root: string, path: string): Json | undefined {
  try {
    return statPathInRoot(root, path, []);
  } catch {
    return undefined;
  }
}

/** docker's stat mode is Go's FileMode: the directory bit is 1<<31. */
const isGoDir = (st: Json | undefined): boolean => st !== undefined && Number(st.mode) >>> 0 >= 2 ** 31;

/** A text file's lines in the rootfs (none when it is missing), comments left out. */
function rootfsLines(root: string, path: string): string[] {
  // (Only a regular file is read: a fifo there hung the daemon; read-in-root.ts.)
  return (readFileInRoot(root, path) ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);
const envKey = (e: string): string => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
const shellOf = (cfg: Json): string[] => (Array.isArray(cfg.Shell) && cfg.Shell.length ? (cfg.Shell as string[]) : ['/bin/sh', '-c']);

/** Config fields the cache compares (dockerd compares Cmd, Env, Labels, ports, Entrypoint, Volumes, User; hako a few more). */
const CACHE_KEYS = ['Cmd', 'Entrypoint', 'Env', 'Labels', 'ExposedPorts', 'Volumes', 'User', 'WorkingDir', 'Shell', 'Healthcheck', 'StopSignal', 'OnBuild'];

function canon(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? 'null' : `[${v.map(canon).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return keys.length === 0 ? 'null' : `{${keys.map((k) => `${JSON.stringify(k)}:${canon((v as Json)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function cacheKey(cfg: Json): string {
  return CACHE_KEYS.map((k) => canon(cfg[k])).join('|');
}

export class Builder {
  private readonly containers: string[] = [];
  private readonly stageImages = new Map<string, string>();
  private readonly buildArgs: Record<string, string | null>;
  private readonly usedArgs = new Set<string>();
  private metaArgs = new Map<string, string | undefined>();
  private context = '';
  /** A remote Dockerfile without a context (`remote=` answered text/plain): COPY has nothing to copy from. */
  private noContext = false;
  /** The Dockerfile's escape character (`# escape=`): word splitting and expansion use it too. */
  private escape = '\\';
  private cacheSources: CacheSources | undefined;
  private readonly temps: string[] = [];

  constructor(
    private readonly engine: ContainerEngine,
    private readonly images: ImageService,
    private readonly out: BuildOutput,
    private readonly opts: BuildOptions,
  ) {
    this.buildArgs = opts.buildArgs ?? {};
  }

  /** Runs the build from a context tar (or the `remote` URL's context); resolves with the image ID (tagged as asked). */
  async build(contextTar: Readable): Promise<string> {
    // Tags are checked first: a bad one fails the request before anything is built (dockerd's 400).
    const tags = (this.opts.tags ?? []).map((t) => ({ t, ref: parseReference(t) }));
    mkdirSync(this.opts.workDir, { recursive: true, mode: 0o700 });
    this.context = mkdtempSync(join(this.opts.workDir, 'context-'));
    this.temps.push(this.context);
    try {
      let text: string;
      if (this.opts.remote !== undefined) text = await this.remoteContext(this.opts.remote);
      else {
        await untar(await decompressed(contextTar), this.context);
        text = this.readDockerfile();
      }
      applyDockerignore(this.context);
      const id = await this.run(text);
      for (const { t, ref } of tags) {
        await this.images.tag(id, t);
        this.out.stdout(`Successfully tagged ${familiarString(ref)}\n`);
      }
      return id;
    } finally {
      for (const t of this.temps) rmSync(t, { recursive: true, force: true });
    }
  }

  /** dockerd's remotecontext.Detect: a git repository (cloned), an http(s) URL (a tarball, or a Dockerfile as text/plain); returns the Dockerfile's text. */
  private async remoteContext(remote: string): Promise<string> {
    if (isGitURL(remote)) {
      this.context = await gitClone(remote, this.context, this.opts.signal);
      return this.readDockerfile();
    }
    if (!isURL(remote)) throw new HakoError({ step: `remoteURL (${remote}) could not be recognized as URL`, kind: 'internal' });
    // dockerd's progress reader reports an archive's download every 512 KiB, and a small tar's
    // reader stops before EOF: a small context without the Dockerfile is an HTTP 500, no stream.
    // So progress is held until 512 KiB have come or the Dockerfile is found.
    let held: ProgressEvent | undefined;
    let live = false;
    const progress = (ev: ProgressEvent): void => {
      if (!live && (ev.current ?? 0) < REMOTE_PROGRESS_EVERY) held = ev;
      else {
        live = true;
        this.out.progress(ev);
      }
    };
    const got = await fetchRemoteContext(remote, progress, this.opts.signal);
    if (got.kind === 'dockerfile') {
      // A Dockerfile is read to its end, so dockerd reports it at once.
      if (!live && held) this.out.progress(held);
      this.noContext = true;
      return got.text;
    }
    await untar(await decompressed(got.body), this.context);
    const text = this.readDockerfile();
    if (!live && held) this.out.progress(held);
    return text;
  }

  private readDockerfile(): string {
    const name = this.opts.dockerfile || 'Dockerfile';
    // Inside the context, symlinks too (a Dockerfile linked to /etc/shadow reads <context>/etc/shadow).
    // Only a regular file is read (a fifo named Dockerfile in the context hung the daemon for
    // good); anything else there is refused naming it (read-in-root.ts).
    const text = readFileInRoot(this.context, name, { label: name });
    if (text !== undefined) return text;
    // dockerd also accepts a lower-case `dockerfile` when the default is missing.
    const lower = this.opts.dockerfile ? undefined : readFileInRoot(this.context, 'dockerfile', { label: 'dockerfile' });
    if (lower !== undefined) return lower;
    throw new HakoError({ step: `Cannot locate specified Dockerfile: ${name}`, kind: 'internal' });
  }

  private async run(text: string): Promise<string> {
    const df = parseDockerfile(text);
    this.escape = df.escape;
    if (this.opts.cacheFrom?.length && !this.opts.noCache) this.cacheSources = await CacheSources.resolve(this.images, this.opts.cacheFrom);
    // --label: one LABEL step at the end of the last stage, sorted (dockerd's NodeFromLabels).
    const labels = Object.keys(this.opts.labels ?? {}).sort();
    let stages = df.stages;
    if (this.opts.target) {
      const i = stages.findIndex((s) => s.name === this.opts.target!.toLowerCase());
      if (i < 0) throw invalid(`failed to reach build target ${this.opts.target} in Dockerfile`);
      stages = stages.slice(0, i + 1);
    }
    const last = stages[stages.length - 1]!;
    if (labels.length) {
      const quote = (v: string): string => `"${v.replace(/[\\"$]/g, '\\$&')}"`;
      const ins = parseInstruction(`LABEL ${labels.map((k) => `${quote(k)}=${quote(this.opts.labels![k]!)}`).join(' ')}`, 0);
      last.commands.push({ ...ins, original: `LABEL ${labels.map((k) => `${k}=${this.opts.labels![k]}`).join(' ')}` });
    }
    // dockerd counts the ARGs before the first FROM as steps (with no image line).
    const total = stepCount({ ...df, stages }) + df.metaArgs.length;
    let step = 0;
    const printStep = (text: string): void => {
      // dockerd writes the step and its newline apart.
      this.out.stdout(`Step ${++step}/${total} : ${text}`);
      this.out.stdout('\n');
    };
    for (const m of df.metaArgs) {
      printStep(m.original);
      for (const { name, value } of argDeclarations(m, this.escape)) {
        const given = this.buildArgs[name];
        this.metaArgs.set(name, given !== undefined && given !== null ? given : value !== undefined ? expandWord(value, this.metaEnv(), this.escape) : undefined);
        if (given !== undefined) this.usedArgs.add(name);
      }
    }
    let state: StageState | undefined;
    for (const [index, stage] of stages.entries()) {
      printStep(stage.from.original);
      this.cacheSources?.reset();
      state = await this.from(stage);
      // The base image's ONBUILD triggers run before FROM's image line, without lines of their own.
      await this.onBuildTriggers(state);
      this.out.stdout(` ---> ${short(state.imageId)}\n`);
      for (const ins of stage.commands) {
        printStep(ins.original);
        await this.dispatch(state, ins);
        this.out.stdout(` ---> ${short(state.imageId)}\n`);
      }
      if (state.imageId) this.out.aux({ ID: state.imageId });
      this.stageImages.set(String(index), state.imageId);
      if (stage.name) this.stageImages.set(stage.name, state.imageId);
    }
    const unused = Object.keys(this.buildArgs).filter((k) => !this.usedArgs.has(k) && !BUILTIN_ARGS.has(k)).sort();
    if (unused.length) this.out.stdout(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    if (!state!.imageId) throw invalid('No image was generated. Is your Dockerfile empty?');
    this.out.stdout(`Successfully built ${short(state!.imageId)}\n`);
    return state!.imageId;
  }

  private metaEnv(): string[] {
    return [...this.metaArgs].filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  }

  /** FROM: an earlier stage, or an image (pulled when missing, or always with `pull`). */
  private async from(stage: Stage): Promise<StageState> {
    const name = expandWord(stage.base, this.metaEnv(), this.escape);
    if (name === '') throw invalid(`${stage.from.line ? `Dockerfile:${stage.from.line}: ` : ''}base name (${stage.base}) should not be blank`);
    // --platform: expanded from the meta ARGs and checked as dockerd does; a local image is used
    // whatever its platform (dockerd 20.10 does, without a warning); a pull asks for this platform.
    const flag = stage.from.flags.get('platform');
    const platform = flag !== undefined ? checkFromPlatform(expandWord(flag, this.metaEnv(), this.escape)) : undefined;
    const fromStage = this.stageImages.get(name.toLowerCase());
    let id: string;
    if (fromStage && !/^\d+$/.test(name)) id = fromStage;
    else if (name.toLowerCase() === 'scratch') {
      // No image: the first steps commit without a container (dockerd gives scratch a PATH).
      return { imageId: '', config: { Env: [DEFAULT_PATH] }, cmdSet: false, args: new Map() };
    } else id = await this.image(name, platform);
    const cfg = await this.imageConfig(id);
    return { imageId: id, config: { ...cfg, Image: id }, cmdSet: false, args: new Map() };
  }

  /** An image by name or ID: local, else pulled (dockerd's classic builder pulls a missing base). */
  private async image(name: string, platform = this.opts.platform): Promise<string> {
    if (!this.opts.pull) {
      try {
        return (await this.images.resolve(name)).id;
      } catch (e) {
        if (!(e instanceof HakoError) || e.kind !== 'not-found') throw e;
      }
    }
    const ref = parseReference(name);
    const credentials = this.opts.credentials?.(ref.domain);
    // `latest: Pulling from library/x` once the manifest is in (the first progress), as a pull prints it.
    let started = false;
    const progress = (ev: ProgressEvent): void => {
      if (!started) {
        started = true;
        this.out.progress({ id: ref.tag ?? ref.digest ?? 'latest', status: `Pulling from ${ref.path}` });
      }
      this.out.progress(ev);
    };
    await this.images.pull(name, { ...(platform ? { platform } : {}), ...(credentials ? { credentials } : {}), progress, signal: this.opts.signal });
    return (await this.images.resolve(name)).id;
  }

  private async imageConfig(id: string): Promise<Json> {
    const cfg = parseImageConfig(await this.images.content.readBlob(id as `sha256:${string}`));
    return { ...((cfg.config as Json | undefined) ?? {}) };
  }

  /** ONBUILD triggers of the base image run first, once (dockerd clears them from the config). */
  private async onBuildTriggers(state: StageState): Promise<void> {
    const triggers = (state.config.OnBuild as string[] | null | undefined) ?? [];
    state.config.OnBuild = null;
    if (triggers.length === 0) return;
    this.out.stdout(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
    for (const t of triggers) await this.dispatch(state, parseInstruction(t, 0));
  }

  /** The variables words expand from: the config's Env, then the stage's ARGs that ENV does not shadow. */
  private wordEnv(state: StageState): string[] {
    const env = (state.config.Env as string[] | null | undefined) ?? [];
    return [...env, ...this.allowedArgs(state, env)];
  }

  /** dockerd's FilterAllowed: `K=V` of the stage's ARGs with a value (and given built-in args), unless ENV sets K. */
  private allowedArgs(state: StageState, env: readonly string[]): string[] {
    const set = new Set(env.map(envKey));
    const out: string[] = [];
    for (const [k, v] of state.args) if (v !== undefined && !set.has(k)) out.push(`${k}=${v}`);
    for (const k of Object.keys(this.buildArgs)) {
      const v = this.buildArgs[k];
      if (BUILTIN_ARGS.has(k) && !state.args.has(k) && v !== null && v !== undefined && !set.has(k)) out.push(`${k}=${v}`);
    }
    return out;
  }

  private async dispatch(state: StageState, ins: Instruction): Promise<void> {
    // The client went away: no further step (dockerd cancels the build with its request).
    if (this.opts.signal?.aborted) throw new HakoError({ step: 'context canceled', kind: 'internal' });
    try {
      await this.dispatchInner(state, ins);
    } catch (err) {
      if (this.opts.forceRm) await this.removeContainers();
      throw err;
    }
    if (this.opts.rm !== false || this.opts.forceRm) await this.removeContainers();
  }

  private async dispatchInner(state: StageState, ins: Instruction): Promise<void> {
    const cfg = state.config;
    switch (ins.name) {
      case 'RUN':
        return this.runStep(state, ins);
      case 'COPY':
      case 'ADD':
        return this.copyStep(state, ins);
      case 'ARG': {
        const shown: string[] = [];
        for (const { name, value } of argDeclarations(ins, this.escape)) {
          const def = value !== undefined ? expandWord(value, this.wordEnv(state), this.escape) : undefined;
          const given = this.buildArgs[name];
          if (given !== undefined) this.usedArgs.add(name);
          state.args.set(name, given !== undefined && given !== null ? given : def !== undefined ? def : this.metaArgs.get(name));
          shown.push(`${name}${def !== undefined ? `=${def}` : ''}`);
        }
        return this.commitMeta(state, `ARG ${shown.join(' ')}`);
      }
      case 'MAINTAINER':
        state.author = ins.args;
        return this.commitMeta(state, `MAINTAINER ${ins.args}`);
      case 'SHELL':
        cfg.Shell = ins.json!;
        return this.commitMeta(state, `SHELL [${ins.json!.join(' ')}]`);
      case 'WORKDIR':
        return this.workdirStep(state, ins);
      default: {
        // CMD ENTRYPOINT ENV EXPOSE HEALTHCHECK LABEL ONBUILD STOPSIGNAL USER VOLUME: the same
        // code as `commit --change` (../image/changes.ts), with the stage's variables and SHELL.
        const st = { cmdSet: state.cmdSet, env: this.wordEnv(state), shell: shellOf(cfg), escape: this.escape };
        const raw = ins.name === 'HEALTHCHECK' ? [...ins.flags].map(([k, v]) => `--${k}=${v} `).join('') + ins.args : ins.args;
        applyChange(cfg, ins.name, raw, st);
        state.cmdSet = st.cmdSet;
        return this.commitMeta(state, stepComment(ins, cfg, st.env, this.escape));
      }
    }
  }

  /** A config-only step: a container created and committed (no layer), or the cached image. */
  private async commitMeta(state: StageState, comment: string): Promise<void> {
    const containerConfig = { ...state.config, Cmd: [...shellOf(state.config), '#(nop) ', comment] };
    await this.step(state, containerConfig, { ...state.config, Cmd: containerConfig.Cmd }, async () => undefined, async () => undefined);
  }

  /** The cache hit, or (on scratch) the step's files committed without a container: true when the step is done. */
  private async cachedOrScratch(state: StageState, containerConfig: Json, scratch?: () => Promise<string | undefined>): Promise<boolean> {
    if (!this.opts.noCache) {
      const hit = await this.probeCache(state.imageId, containerConfig);
      if (hit) {
        this.out.stdout(' ---> Using cache\n');
        state.imageId = hit;
        state.config.Image = hit;
        return true;
      }
    }
    if (state.imageId === '') {
      // On scratch there is no image to make a container from: the step's files (or none) are committed directly.
      if (!scratch || !this.engine.commitBuildLayer) throw invalid(`${String((containerConfig.Cmd as string[]).join(' '))}: this step needs a base image (FROM scratch has no /bin/sh)`);
      const image = await this.engine.commitBuildLayer({ base: undefined, dir: await scratch(), config: { ...state.config, Image: '' }, containerConfig });
      state.imageId = image;
      state.config = { ...state.config, Image: image };
      return true;
    }
    return false;
  }

  /** COPY/ADD: as dockerd, no container: the files go into a private overlay of the current image, committed (no events). */
  private async filesStep(state: StageState, containerConfig: Json, work: (rootfs: string) => Promise<void>, scratch: () => Promise<string | undefined>): Promise<void> {
    containerConfig = { ...containerConfig, Image: state.imageId };
    if (await this.cachedOrScratch(state, containerConfig, scratch)) return;
    const config = { ...state.config, Image: state.imageId };
    const image = await this.engine.commitBuildFiles!({ base: state.imageId, config, containerConfig, ...(state.author ? { author: state.author } : {}), work });
    state.imageId = image;
    state.config = { ...state.config, Image: image };
  }

  /**
   * One committed step: the cache first (unless noCache); else a container from the current image
   * with `runConfig`, `work` done in it, committed with `containerConfig` as its container_config.
   */
  private async step(state: StageState, containerConfig: Json, runConfig: Json, work: (id: string) => Promise<void>, scratch?: () => Promise<string | undefined>): Promise<void> {
    containerConfig = { ...containerConfig, Image: state.imageId };
    if (await this.cachedOrScratch(state, containerConfig, scratch)) return;
    const body: Json = {
      ...runConfig,
      Image: state.imageId,
      HostConfig: { ...this.opts.hostConfig, NetworkMode: this.opts.networkMode || 'default' },
    };
    const { Id } = await this.engine.createContainer(undefined, body);
    this.containers.push(Id);
    this.out.stdout(` ---> Running in ${short(Id)}\n`);
    await work(Id);
    const config = { ...state.config, Image: state.imageId };
    const { Id: image } = await this.engine.commitContainer(Id, { pause: false, ...(state.author ? { author: state.author } : {}), buildStep: { config, containerConfig } });
    state.imageId = image;
    state.config = { ...state.config, Image: image };
  }

  private async removeContainers(): Promise<void> {
    while (this.containers.length) {
      const id = this.containers.shift()!;
      try {
        // With its anonymous volumes (a VOLUME earlier in the Dockerfile gives every later step
        // one), as dockerd's builder (RemoveVolume): each build left one volume per such step.
        await this.engine.removeContainer(id, { force: true, volumes: true });
        this.out.stdout(`Removing intermediate container ${short(id)}\n`);
      } catch (e) {
        this.out.stderr(`Error removing intermediate container ${short(id)}: ${(e as Error).message}\n`);
      }
    }
  }

  /** The image that answers a step: the local cache's, or with `cachefrom` what the cache sources say (build-cache.ts). */
  private async probeCache(parent: string, containerConfig: Json): Promise<string | undefined> {
    const local = await this.probeLocal(parent, containerConfig);
    return this.cacheSources ? this.cacheSources.get(parent, containerConfig, local) : local;
  }

  /** An image whose parent is `parent` and whose container_config matches (the newest such). */
  private async probeLocal(parent: string, containerConfig: Json): Promise<string | undefined> {
    const key = cacheKey(containerConfig);
    const children = (await this.images.meta.listImages()).filter((r) => (r.parent ?? '') === parent).sort((a, b) => ((a.created ?? '') < (b.created ?? '') ? 1 : -1));
    for (const c of children) {
      try {
        const cfg = JSON.parse((await this.images.content.readBlob(c.id)).toString()) as Json;
        if (cfg.container_config && cacheKey(cfg.container_config as Json) === key) return c.id;
      } catch {
        /* a blob that cannot be read is not a cache hit */
      }
    }
    return undefined;
  }

  private async runStep(state: StageState, ins: Instruction): Promise<void> {
    const cfg = state.config;
    const cmd = ins.json ?? [...shellOf(cfg), ins.args];
    const env = (cfg.Env as string[] | null | undefined) ?? [];
    const args = this.allowedArgs(state, env);
    // dockerd: the build args in effect prefix the command in the cache key and history (`|1 A=b /bin/sh -c …`).
    const keyed = args.filter((a) => !BUILTIN_ARGS.has(envKey(a)) || state.args.has(envKey(a))).sort();
    const saveCmd = args.length ? [`|${keyed.length}`, ...keyed, ...cmd] : cmd;
    const containerConfig = { ...cfg, Cmd: saveCmd, Entrypoint: null };
    const runConfig = { ...cfg, Cmd: cmd, Entrypoint: [''], Env: [...env, ...args], Healthcheck: undefined, AttachStdout: true, AttachStderr: true };
    await this.step(state, containerConfig, runConfig, async (id) => {
      const att = await this.engine.attachContainer(id, { stdin: false, stdout: true, stderr: true, stream: true, logs: false });
      const done = new Promise<void>((resolve) => {
        // Decoded per stream, so a character split between two chunks stays whole.
        const dec = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
        att.output.on('data', (c: { stream: 'stdout' | 'stderr'; data: Buffer }) => {
          const text = dec[c.stream].write(c.data);
          if (text) (c.stream === 'stderr' ? this.out.stderr(text) : this.out.stdout(text));
        });
        att.output.on('end', resolve);
        att.output.on('close', resolve);
        att.output.on('error', () => resolve());
      });
      // A client that goes away stops the running step too.
      const kill = (): void => void this.engine.killContainer(id, 'SIGKILL').catch(() => undefined);
      this.opts.signal?.addEventListener('abort', kill);
      let r: { StatusCode: number };
      try {
        await this.engine.startContainer(id);
        if (this.opts.signal?.aborted) kill();
        r = await this.engine.waitContainer(id, 'not-running');
        await done;
      } finally {
        this.opts.signal?.removeEventListener('abort', kill);
      }
      if (this.opts.signal?.aborted) throw new HakoError({ step: 'context canceled', kind: 'internal' });
      if (r.StatusCode !== 0) {
        throw new BuildStepError(`The command '${cmd.join(' ')}' returned a non-zero code: ${r.StatusCode}`, r.StatusCode);
      }
    });
  }

  private async workdirStep(state: StageState, ins: Instruction): Promise<void> {
    const env = this.wordEnv(state);
    applyChange(state.config, 'WORKDIR', ins.args, { cmdSet: state.cmdSet, env, escape: this.escape });
    const dir = state.config.WorkingDir as string;
    // dockerd: WORKDIR's and COPY's comment is one word (`#(nop) WORKDIR /app`), the others two.
    const containerConfig = { ...state.config, Cmd: [...shellOf(state.config), `#(nop) WORKDIR ${dir}`] };
    const stageDir = (): string => {
      const stage = this.tempDir();
      mkdirOwned(stage, dir, { uid: 0, gid: 0 });
      return stage;
    };
    await this.step(state, containerConfig, containerConfig, async (id) => {
      if (await this.exists(id, dir)) return;
      // root's, as staged (copyUIDGID would make it the stage's USER's).
      await this.engine.putArchive(id, '/', tarStream(stageDir(), '.'));
    }, async () => stageDir());
  }

  private tempDir(): string {
    const d = mkdtempSync(join(this.opts.workDir, 'stage-'));
    this.temps.push(d);
    return d;
  }

  /** Whether `path` exists in the container (a directory: 'dir'). */
  private async exists(id: string, path: string): Promise<false | 'dir' | 'other'> {
    try {
      const st = await this.engine.statPath(id, path);
      // docker's stat mode is Go's FileMode: the directory bit is 1<<31.
      return Number(st.mode) >>> 0 >= 2 ** 31 ? 'dir' : 'other';
    } catch {
      return false;
    }
  }

  private async copyStep(state: StageState, ins: Instruction): Promise<void> {
    const env = this.wordEnv(state);
    if (ins.flags.has('chmod')) throw invalid('the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled');
    const words = ins.json ? ins.json.map((w) => expandWord(w, env, this.escape)) : rawWords(ins.args, this.escape).map((w) => expandWord(w, env, this.escape));
    const rawDest = words.pop()!;
    const from = ins.flags.get('from');
    if (from !== undefined && ins.name === 'ADD') throw invalid('ADD does not take --from');
    const chown = ins.flags.get('chown') !== undefined ? expandWord(ins.flags.get('chown')!, env, this.escape) : undefined;
    const wd = (state.config.WorkingDir as string | undefined) || '/';
    let dest = posix.isAbsolute(rawDest) ? rawDest : posix.join(wd, rawDest);
    const destDirWanted = rawDest.endsWith('/') || rawDest.endsWith('/.') || rawDest === '.';
    if (destDirWanted && !dest.endsWith('/')) dest += '/';
    const local = words.filter((w) => !isURL(w));
    const root = from !== undefined ? await this.fromRoot(from, local) : this.context;
    const sources: Source[] = [];
    const sums: string[] = [];
    for (const w of words) {
      if (isURL(w)) {
        // dockerd downloads at every build (the checksum of what came is the cache key's).
        if (ins.name === 'COPY') throw invalid("COPY failed: source can't be a URL for COPY");
        const got = await this.download(w, rawDest);
        sources.push(got);
        // A download's checksum has no `file:` prefix in dockerd's comment (`ADD 9e26… in /d/`).
        sums.push(sourceChecksum(got.host).replace(/^file:/, ''));
        continue;
      }
      if (from === undefined && this.noContext) throw invalid(`${ins.name} failed: missing build context`);
      for (const s of findSources(root, w, ins.name)) {
        sources.push(s);
        sums.push(sourceChecksum(s.host));
      }
    }
    const sum = combinedChecksum(sums);
    const comment = `${ins.name} ${chown !== undefined ? `--chown=${chown}` : ''}${sum} in ${rawDest} `;
    const containerConfig = { ...state.config, Cmd: [...shellOf(state.config), `#(nop) ${comment}`] };
    // The files as they will lie in the rootfs, staged from the sources (`root`: the image's
    // files, to look at the destination and the image's users; none on scratch).
    const stageFiles = async (root: string | undefined): Promise<string> => {
      const destIsDir = destDirWanted || sources.length > 1 || words.some((w) => !isURL(w) && /[*?[]/.test(w)) || (root !== undefined && isGoDir(statInRoot(root, dest)));
      const owner = chown === undefined || chown === '' ? { uid: 0, gid: 0 } : /^\d+(:\d+)?$/.test(chown) || root === undefined ? resolveChown(chown, [], []) : resolveChown(chown, rootfsLines(root, '/etc/passwd'), rootfsLines(root, '/etc/group'));
      const stage = this.tempDir();
      await stageSources(stage, sources, { instr: ins.name, dest, destIsDir, owner, chown: chown !== undefined });
      return stage;
    };
    await this.filesStep(state, containerConfig, async (rootfs) => {
      await extractInto(rootfs, '/', tarStream(await stageFiles(rootfs), '.'), [], { copyUIDGID: true, stagingParent: this.opts.workDir });
    }, () => stageFiles(undefined));
  }

  /**
   * `ADD <url>`: the body in a temp dir, as dockerd's downloadSource (mode 0600, Last-Modified as
   * mtime, a `Downloading` progress and a blank line); never extracted. A URL that names no file
   * needs a destination that is not a directory.
   */
  private async download(url: string, rawDest: string): Promise<Source> {
    let got: { path: string; name: string };
    try {
      got = await downloadForAdd(url, this.tempDir(), (ev) => this.out.progress(ev), this.opts.signal);
    } catch (e) {
      if (e instanceof HakoError) throw new HakoError({ step: `ADD failed: ${e.message}`, kind: e.kind });
      throw e;
    }
    this.out.stdout('\n');
    if (got.name === '' && rawDest.endsWith('/')) throw invalid(`ADD failed: cannot determine filename for source ${url}`);
    return { host: got.path, rel: got.name || '__unnamed__', remote: true };
  }

  /** The files of `COPY --from=<stage|index|image>`, in a temp dir. */
  private async fromRoot(from: string, paths: string[]): Promise<string> {
    const id = this.stageImages.get(from.toLowerCase()) ?? (await this.image(from));
    return imageFiles(this.engine, id, from, paths, () => this.tempDir());
  }
}
