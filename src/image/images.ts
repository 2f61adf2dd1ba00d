// The image verbs as a library: pull, push, list, inspect, tag, remove, prune, history, login,
// logout, verify. One ImageService per storage root; it owns its registry clients and caches.
import { readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { HakoError, conflict, notFound } from '../common/errors.js';
import { dockerWordsOf, loginWords, pullError, pushError, withDockerWords } from './registry/errcode.js';
import { isDigest, sha256, type Digest } from './digest.js';
import { parseImageConfig, parseManifest, type HistoryEntry, type ImageConfig } from './manifest.js';
import type { Platform } from './platform.js';
import { pull, type LayerUnpacker, type PullHeld, type PullOptions, type PullResult, type PullContext } from './pull.js';
import { pullMark } from './pull-trace.js';
import { familiarName, familiarString, formatReference, looksLikeId, parseReference, repositoryName, type Reference } from './reference.js';
import { RegistryClient } from './registry/client.js';
import { DockerConfig, type Credentials } from './registry/credentials.js';
import type { ProxyEnv } from './proxy.js';
import { ImageDeletion, withReleasedLayers, type DeleteItem, type DeleteOptions } from './image-delete.js';
import { createAgents, destroyAgents, registryTlsFrom, type HttpAgents, type RegistryTls } from './registry/http.js';
import { pushImage, type PushOptions, type PushResult } from './registry/push.js';
import { ContentStore, type ContentVerifyReport } from './store/content.js';
import type { Readable } from 'node:stream';
import type { LoadOptions, LoadResult } from './archive/load.js';
import type { ImportImageOptions } from './archive/import-image.js';
import type { UrlSource } from './archive/fetch-url.js';
import type { RegisteredImage } from './archive/register.js';
import type { SaveImage } from './archive/save.js';
import { MetadataStore, type ImageRecord, type Lease } from './store/metadata.js';
import { blobsNeeded } from './store/drop-blobs.js';
import { nowRfc3339Nano } from '../common/time.js';
import { labelsMatch, type ImagePruneFilters } from './prune-filters.js';

export const DEFAULT_ROOT = '/var/lib/hako';

/** `--root`, else $HAKO_ROOT, else /var/lib/hako. */
export function storageRoot(flag?: string): string {
  return flag ?? process.env.HAKO_ROOT ?? DEFAULT_ROOT;
}

export interface ImageServiceOptions {
  /** Storage root (images live in <root>/content and <root>/image). */
  root: string;
  /** Path of the Docker-compatible config.json with credentials (default ~/.docker/config.json). */
  dockerConfigPath?: string | undefined;
  /** Registries (`host` or `host:port`) to reach over plain HTTP or unverified TLS. */
  insecureRegistries?: readonly string[] | undefined;
  /**
   * Per-registry TLS material, docker's layout: `<certsDir>/<host[:port]>/*.crt` (CAs trusted
   * besides the system's), `client.cert` + `client.key`. Default /etc/docker/certs.d.
   */
  certsDir?: string | undefined;
  /** The snapshotter; without one, pull stores and verifies blobs only. */
  unpacker?: LayerUnpacker | undefined;
  /** Parallel layer downloads (default 3). */
  concurrency?: number | undefined;
  log?: ((line: string) => void) | undefined;
  /** Where HTTP_PROXY / HTTPS_PROXY / NO_PROXY are read for registry requests (default: the process's). */
  proxyEnv?: ProxyEnv | undefined;
  /** dockerd's image events (pull, push, tag, untag, delete, import, load, save); set later by the engine too (`onEvent`). */
  onEvent?: ImageEventSink | undefined;
  /** Called after each pull that succeeded (hakod writes its code cache after the first). */
  onPulled?: (() => void) | undefined;
}

/** An image event: its action, the actor's ID (an image ID, or the reference for pull/push) and attributes. */
export type ImageEventSink = (action: string, id: string, attributes: Record<string, string>) => void;

export interface ImageSummary {
  id: Digest;
  /** The local parent (a committed image's base), or undefined. */
  parent: Digest | undefined;
  repoTags: string[];
  repoDigests: string[];
  created: string | undefined;
  size: number;
  platform: Platform;
}

export interface ImageInspect extends ImageSummary {
  record: ImageRecord;
  config: ImageConfig;
  /** Owners of leases (containers) using the image. */
  usedBy: string[];
  /** GraphDriver.Data: where the image's layers are ({} without snapshots). */
  graphDriverData: Record<string, string>;
}

export interface HistoryItem {
  id: string;
  /** The tags of the image `id` names (none on `<missing>` rows). */
  repoTags: string[];
  created: string | undefined;
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
}

export interface RemoveResult {
  untagged: string[];
  deleted: Digest[];
  /** dockerd's answer, in its order (see ImageService.remove). */
  items: DeleteItem[];
}

export interface PruneResult {
  deleted: Digest[];
  /** Bytes of blobs removed. */
  reclaimed: number;
  /**
   * dockerd's ImagesDeleted, in its order: per image its references (`Untagged`), its ID and
   * then the layers (chain IDs, top first) that went with it (`Deleted`).
   */
  items: Array<{ Untagged: string } | { Deleted: string }>;
}

export interface StoreVerifyReport extends ContentVerifyReport {
  /** Blobs records need but the store lacks: `image <id>: layer sha256:…`. */
  missing: string[];
  /** Blobs no image record references. */
  unreferenced: string[];
  /** References to images with no record. */
  danglingRefs: string[];
}

export class ImageService {
  readonly root: string;
  readonly content: ContentStore;
  readonly meta: MetadataStore;
  private readonly dockerConfig: DockerConfig;
  private readonly agents: HttpAgents;
  private readonly clients = new Map<string, RegistryClient>();
  /** Insecure registries' https-or-http answers, shared by all clients (see RegistryClient). */
  private readonly endpoints = new Map<string, URL>();
  private readonly ctx: PullContext;
  /** Layer content sizes by chain ID (see layerSizes). */
  private readonly diffSizes = new Map<Digest, number>();

  /**
   * Runs `fn` with a marker file in image/ (`unsettled-<random>`): a pull, an rmi's or a prune's
   * deletion, a lease's release. A crash in them leaves blobs or snapshot layers that no record
   * names (a pull's committed before its record; an rmi's after its records went), which nothing
   * would ever delete; a marker left says so, and recover() collects them at the next start.
   * A small file written and unlinked without fsync (a daemon's crash, not the host's).
   * Public for the engine's writers of blobs and layers (commit, build's steps).
   */
  async unsettled<T>(fn: () => Promise<T>): Promise<T> {
    const marker = join(this.meta.dir, `unsettled-${randomBytes(6).toString('hex')}`);
    try {
      writeFileSync(marker, '');
    } catch {
      // The store's dir is made by meta.init(); without a marker only a crash's leftovers stay.
      return fn();
    }
    try {
      return await fn();
    } finally {
      try {
        unlinkSync(marker);
      } catch {
        /* gone */
      }
    }
  }

  /**
   * At a start, before any request: when an earlier daemon died in a pull, load, import, commit,
   * rmi, prune or lease release (its marker is left, see unsettled), the blobs and layers no
   * image or lease names go.
   * Nothing to do (one readdir) otherwise.
   */
  async recover(): Promise<void> {
    let markers: string[];
    try {
      markers = readdirSync(this.meta.dir).filter((n) => n.startsWith('unsettled-'));
    } catch {
      return;
    }
    if (markers.length === 0) return;
    pullMark('gc.begin');
    await this.collect((this.opts.unpacker?.list?.() ?? []) as Digest[]);
    // The markers go only once everything is collected: a crash in the collection leaves them,
    // and the next start collects again.
    pullMark('gc.collected');
    for (const m of markers) {
      try {
        unlinkSync(join(this.meta.dir, m));
      } catch {
        /* gone */
      }
    }
  }

  constructor(private readonly opts: ImageServiceOptions) {
    this.root = opts.root;
    this.onEvent = opts.onEvent;
    this.content = new ContentStore(opts.root);
    this.meta = new MetadataStore(opts.root);
    this.dockerConfig = new DockerConfig(opts.dockerConfigPath);
    this.agents = createAgents({ proxyEnv: opts.proxyEnv });
    this.ctx = {
      content: this.content,
      meta: this.meta,
      client: (d) => this.client(d),
      unpacker: opts.unpacker,
      unpacking: new Map(),
      inUse: this.content.claims,
      chainsInUse: new Map(),
      removing: new Map(),
      early: new Map(),
      log: opts.log,
    };
  }

  /** Where dockerd's image events go (the engine's event bus). */
  onEvent: ImageEventSink | undefined;

  /**
   * Emits an image event as dockerd's LogImageEvent: the image's config labels with `name`
   * (labels only while the image exists: none for `delete`).
   */
  private async event(action: string, id: Digest, name: string, withLabels = true): Promise<void> {
    const sink = this.onEvent;
    if (!sink) return;
    let labels: Record<string, string> = {};
    if (withLabels) {
      try {
        const cfg = parseImageConfig(await this.content.readBlob(id)) as { config?: { Labels?: Record<string, string> | null } };
        labels = { ...(cfg.config?.Labels ?? {}) };
      } catch {
        // the config is gone or unreadable: the event without labels
      }
    }
    sink(action, id, { ...labels, name });
  }

  /** Closes idle registry connections. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    destroyAgents(this.agents);
  }

  /** The client for a registry domain (shared, caches tokens). */
  client(domain: string): RegistryClient {
    let c = this.clients.get(domain);
    if (!c) {
      c = new RegistryClient({ domain, agents: this.agents, insecureRegistries: this.opts.insecureRegistries, tls: this.tlsFor(domain), endpoints: this.endpoints, credentials: () => this.dockerConfig.lookup(domain) });
      this.clients.set(domain, c);
    }
    return c;
  }

  private tlsFor(domain: string): RegistryTls | undefined {
    return registryTlsFrom(this.opts.certsDir ?? '/etc/docker/certs.d', domain);
  }

  // ---- pull / push ----------------------------------------------------------------------------

  /**
   * A client for one pull or push with the caller's own credentials (X-Registry-Auth): like
   * dockerd, nothing of them (tokens included) outlives the operation or reaches other callers.
   */
  private clientWith(domain: string, creds: Credentials): RegistryClient {
    return new RegistryClient({ domain, agents: this.agents, insecureRegistries: this.opts.insecureRegistries, tls: this.tlsFor(domain), endpoints: this.endpoints, credentials: () => creds });
  }

  /**
   * GET /distribution/<name>/json (docker-py's get_registry_data, dockerode's distribution()):
   * what the registry has under a reference, as dockerd's getDistributionInfo: the manifest's
   * descriptor (its media type, the digest of its bytes, their size) and its platforms: an
   * index's entries', or the one in a manifest's config (none when the config names none).
   * Nothing is stored. `credentials`: the caller's X-Registry-Auth, else the docker config's.
   */
  async distributionInspect(name: string, credentials?: Credentials): Promise<{ Descriptor: { mediaType: string; digest: Digest; size: number }; Platforms: Platform[] | null }> {
    const ref = parseReference(name);
    const client = credentials ? this.clientWith(ref.domain, credentials) : this.client(ref.domain);
    try {
      const fetched = await client.getManifest(ref.path, ref.digest ?? ref.tag ?? 'latest');
      const m = parseManifest(fetched.bytes, fetched.mediaType);
      const digest = sha256(fetched.bytes);
      if (ref.digest && ref.digest !== digest) throw new HakoError({ step: `manifest ${formatReference(ref)}: the registry sent a manifest of digest ${digest}`, kind: 'internal' });
      const platformOf = (p: Partial<Platform>): Platform => ({
        architecture: p.architecture ?? '',
        os: p.os ?? '',
        ...(p['os.version'] ? { 'os.version': p['os.version'] } : {}),
        ...(p['os.features']?.length ? { 'os.features': p['os.features'] } : {}),
        ...(p.variant ? { variant: p.variant } : {}),
      });
      let platforms: Platform[] = [];
      if (m.kind === 'index') platforms = m.manifests.map((d) => platformOf(d.platform ?? {}));
      else {
        // dockerd reads the config's platform, and lists none when it cannot (or it is empty)
        const cfg = await client.getBlob(ref.path, m.config).then((b) => JSON.parse(b.toString()) as Partial<Platform>, () => undefined);
        if (cfg && (cfg.os || cfg.architecture)) platforms = [platformOf(cfg)];
      }
      // (Go's nil slice: no platforms is null)
      return { Descriptor: { mediaType: m.mediaType, digest, size: fetched.bytes.length }, Platforms: platforms.length > 0 ? platforms : null };
    } catch (err) {
      // The registry's refusal in dockerd's words (`manifest unknown: manifest unknown`), its status kept.
      const w = dockerWordsOf(err);
      if (w && err instanceof HakoError) throw new HakoError({ step: w.text, kind: err.kind, cause: err });
      throw err;
    } finally {
      if (credentials) client.close();
    }
  }

  /**
   * `opts.credentials`: the caller's (a client's X-Registry-Auth); without them, the docker
   * config's (`dockerConfigPath`) for the registry, if any.
   */
  async pull(ref: string, opts: PullOptions & { credentials?: Credentials | undefined; event?: boolean } = {}): Promise<PullResult> {
    const { credentials, event = true, ...rest } = opts;
    const client = credentials ? this.clientWith(parseReference(ref).domain, credentials) : undefined;
    const ctx = client ? { ...this.ctx, client: () => client } : this.ctx;
    let result: PullResult;
    try {
      result = await this.unsettled(async () => {
        const held: PullHeld = { blobs: [], chains: [] };
        try {
          return await pull(ctx, ref, { concurrency: this.opts.concurrency, ...rest, held });
        } catch (err) {
          // A failed pull leaves nothing behind: the blobs it stored (layers, and config and
          // manifests when its record failed) and the layers it unpacked go now, unless an
          // image, a lease or another operation in flight uses them (its claims are released
          // by now; the collection's rules). Nothing to do when it failed before the manifest.
          if (held.blobs.length > 0) await this.collect(held.chains).catch(() => undefined);
          throw err;
        }
      });
    } finally {
      client?.close();
    }
    // The labels of the image just pulled (what the reference names now, unless it was tagged
    // again meanwhile): read back from the store, they cost four pool round trips and a parse
    // before the answer could end (the event goes out before it, as with dockerd).
    if (event) this.emitPullEvent(ref, result.labels);
    this.opts.onPulled?.();
    return result;
  }

  /**
   * dockerd 20.10's pull event (distribution.Pull's ImageEventLogger, LogImageEvent): the reference
   * pulled (familiar) is the actor, `name` its repository (no tag nor digest), with the config
   * labels of the image that reference names now. A pull of all tags (`ref` without tag nor
   * digest) has one, for the repository (its labels: those of `latest`, if it has one).
   */
  async pullEvent(ref: string): Promise<void> {
    if (!this.onEvent) return;
    const id = familiarString(parseReference(ref, { defaultTag: false }));
    let labels: Record<string, string> = {};
    try {
      const rec = await this.resolve(id);
      const cfg = parseImageConfig(await this.content.readBlob(rec.id)) as { config?: { Labels?: Record<string, string> | null } };
      labels = { ...(cfg.config?.Labels ?? {}) };
    } catch {
      // no such image (a repository without latest), or its config unreadable: no labels
    }
    this.emitPullEvent(ref, labels);
  }

  /** pullEvent with the image's labels known (a pull's own). */
  private emitPullEvent(ref: string, labels: Record<string, string>): void {
    const r = parseReference(ref, { defaultTag: false });
    this.onEvent?.('pull', familiarString(r), { ...labels, name: familiarName(r) });
  }

  /**
   * The tags of repository `name` (no tag nor digest) in its registry, asked with the caller's
   * credentials as `pull` would (a pull of all tags, `docker pull -a`).
   */
  async listTags(name: string, opts: { credentials?: Credentials | undefined; signal?: AbortSignal | undefined } = {}): Promise<string[]> {
    const ref = parseReference(name, { defaultTag: false });
    const own = opts.credentials ? this.clientWith(ref.domain, opts.credentials) : undefined;
    try {
      return await (own ?? this.client(ref.domain)).listTags(ref.path, opts.signal);
    } catch (err) {
      const worded = pullError(err, ref);
      if (worded) throw worded;
      const e = err as Error;
      throw new HakoError({ step: `list the tags of ${familiarString(ref)}: ${e.message}`, kind: err instanceof HakoError ? err.kind : 'internal', cause: err });
    } finally {
      own?.close();
    }
  }

  /** Pushes a local image under `ref` (which must name it by tag, like docker push). */
  async push(refString: string, opts: PushOptions & { credentials?: Credentials | undefined } = {}): Promise<PushResult> {
    const { credentials, ...rest } = opts;
    const ref = parseReference(refString);
    const shown = formatReference(ref);
    const rec = await this.resolve(refString);
    const own = credentials ? this.clientWith(ref.domain, credentials) : undefined;
    try {
      const res = await pushImage(own ?? this.client(ref.domain), this.content, rec, ref, { log: this.opts.log, concurrency: this.opts.concurrency, ...rest });
      const repoName = repositoryName(ref);
      await this.meta.locked(async () => {
        const cur = await this.meta.getImage(rec.id);
        if (cur && !cur.sources.includes(repoName)) await this.meta.putImage({ ...cur, sources: [...cur.sources, repoName] });
        const refs = this.meta.readRefs();
        refs.digests[`${repoName}@${res.digest}`] = { image: rec.id, manifest: res.digest };
        await this.meta.writeRefs(refs);
      });
      const name = familiarString(ref);
      this.onEvent?.('push', name, { name });
      return res;
    } catch (err) {
      const worded = pushError(err);
      if (worded) throw worded;
      const e = err as Error;
      throw new HakoError({ step: `push ${shown}: ${e.message}`, kind: err instanceof HakoError ? err.kind : 'internal', cause: err });
    } finally {
      own?.close();
    }
  }

  /**
   * Checks `creds` against the registry (docker's POST /auth); stores nothing. Returns the
   * identity token (OAuth2 refresh token) the token server issued, if it did.
   */
  async checkLogin(domain: string, creds: Credentials): Promise<{ identityToken?: string }> {
    const probe = this.clientWith(domain, creds);
    try {
      return await probe.checkLogin();
    } catch (err) {
      // dockerd's words when the registry or the connection said it (as pull and push), for
      // in-process callers and POST /auth alike; hako's `login to X: …` otherwise.
      const w = loginWords(err);
      throw withDockerWords(new HakoError({ step: w?.text ?? `login to ${domain}: ${(err as Error).message}`, kind: err instanceof HakoError ? err.kind : 'internal', cause: err }), w);
    } finally {
      probe.close();
    }
  }

  /** Checks `creds` (checkLogin) and saves them in the docker config. */
  async login(domain: string, creds: Credentials): Promise<void> {
    const r = await this.checkLogin(domain, creds);
    await this.dockerConfig.set(domain, r.identityToken ? { username: creds.username, password: '', identityToken: r.identityToken } : creds);
    this.clients.get(domain)?.close();
    this.clients.delete(domain);
  }

  async logout(domain: string): Promise<boolean> {
    this.clients.get(domain)?.close();
    this.clients.delete(domain);
    return this.dockerConfig.remove(domain);
  }

  // ---- archives: save / load / import ------------------------------------------------------

  /**
   * `docker save`: the images `names` name, as a tar stream (docker ≥ 25 layout, also an OCI
   * layout). A name without tag saves every tag of that repository; an ID or digest saves the
   * image untagged. Unknown names fail before anything is streamed.
   */
  async save(names: readonly string[], opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    const images = await this.imagesToSave(names);
    const { saveImageArchive } = await import('./archive/save.js');
    const out = saveImageArchive(this.content, images, opts);
    for (const i of images) await this.event('save', i.record.id, i.record.id);
    return out;
  }

  private async imagesToSave(names: readonly string[]): Promise<SaveImage[]> {
    if (names.length === 0) throw new HakoError({ step: 'save: no images given', kind: 'invalid-argument' });
    const byId = new Map<Digest, SaveImage>();
    const add = (rec: ImageRecord, tag: Reference | undefined): void => {
      let e = byId.get(rec.id);
      if (!e) byId.set(rec.id, (e = { record: rec, tags: [] }));
      if (tag && !e.tags.some((t) => formatReference(t) === formatReference(tag))) e.tags.push(tag);
    };
    const refs = this.meta.readRefs();
    // docker's rules: a full ID names the image; a name without tag or digest every tag of
    // that repository (or, when it has none, an ID prefix); name:tag one tag; name@digest the
    // image without a tag.
    for (const name of names) {
      if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) {
        add(await this.resolve(name.startsWith('sha256:') ? name : `sha256:${name}`), undefined);
        continue;
      }
      let ref: Reference | undefined;
      try {
        ref = parseReference(name, { defaultTag: false });
      } catch (err) {
        if (!looksLikeId(name)) throw err;
      }
      if (ref && ref.tag === undefined && ref.digest === undefined) {
        const repo = repositoryName(ref);
        const tagged = Object.entries(refs.tags).filter(([k]) => k.slice(0, k.lastIndexOf(':')) === repo);
        for (const [k, t] of tagged) {
          const rec = await this.meta.getImage(t.image);
          if (rec) add(rec, parseReference(k));
        }
        if (tagged.length > 0) continue;
        const rec = await this.resolve(name);
        add(rec, looksLikeId(name) && rec.id.slice(7).startsWith(name) ? undefined : parseReference(name));
        continue;
      }
      add(await this.resolve(name), ref?.tag !== undefined && ref.digest === undefined ? ref : undefined);
    }
    return [...byId.values()];
  }

  /** `docker load`: registers the images of an archive (docker save or OCI layout; see archive/load.ts). */
  async load(input: NodeJS.ReadableStream, opts: LoadOptions = {}): Promise<LoadResult> {
    const { loadImageArchive } = await import('./archive/load.js');
    await this.content.init();
    await this.meta.init();
    // Its blobs and layers are committed before its records (a crash between: see unsettled).
    const r = await this.unsettled(() => loadImageArchive(this.ctx, input, opts));
    for (const i of r.images) await this.event('load', i.id, i.id);
    return r;
  }

  /** `docker import`: a rootfs tar becomes a one-layer image (see archive/import-image.ts). */
  async importImage(input: NodeJS.ReadableStream, opts: ImportImageOptions = {}): Promise<RegisteredImage> {
    const { importImage } = await import('./archive/import-image.js');
    await this.content.init();
    await this.meta.init();
    // (A tag's Metadata.LastTagTime is written with the record: registerImages' stampTagTime.)
    const r = await this.unsettled(() => importImage(this.ctx, input, opts));
    // dockerd: the tag first, then the import.
    for (const t of r.tags) await this.event('tag', r.id, t);
    await this.event('import', r.id, r.id);
    return r;
  }

  /** `docker import <URL>`: opens the URL (status checked, body not read yet); see archive/fetch-url.ts. */
  async openUrl(src: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<UrlSource> {
    const { openUrl } = await import('./archive/fetch-url.js');
    return openUrl(src, opts);
  }

  // ---- local images -----------------------------------------------------------------------------

  /** Finds a local image by reference (`busybox`, `x:1`, `x@sha256:…`), full ID or ID prefix. */
  async resolve(nameOrId: string): Promise<ImageRecord> {
    const rec = await this.tryResolve(nameOrId);
    if (!rec) throw notFound(`no such image: ${nameOrId}`);
    return rec;
  }

  private async tryResolve(nameOrId: string): Promise<ImageRecord | undefined> {
    if (looksLikeId(nameOrId)) {
      const hex = nameOrId.replace(/^sha256:/, '');
      if (hex.length === 64) {
        const rec = await this.meta.getImage(`sha256:${hex}`);
        if (rec) return rec;
      } else {
        const matches = (await this.meta.listImages()).filter((r) => r.id.slice(7).startsWith(hex));
        if (matches.length > 1) throw conflict(`image ID prefix ${nameOrId} is ambiguous`, 'give more digits');
        if (matches[0]) return matches[0];
      }
      if (nameOrId.startsWith('sha256:')) return undefined;
    }
    let ref: Reference;
    try {
      ref = parseReference(nameOrId);
    } catch (err) {
      if (looksLikeId(nameOrId)) return undefined;
      throw err;
    }
    const refs = this.meta.readRefs();
    const name = repositoryName(ref);
    const target = ref.digest ? refs.digests[`${name}@${ref.digest}`] : refs.tags[`${name}:${ref.tag}`];
    if (!target) {
      if (ref.digest) {
        // Any local image whose manifest has that digest.
        const rec = (await this.meta.listImages()).find((r) => r.manifestDigest === ref.digest || r.indexDigest === ref.digest);
        if (rec && rec.sources.includes(name)) return rec;
      }
      return undefined;
    }
    return this.meta.getImage(target.image);
  }

  private tagsOf(id: Digest, refs = this.meta.readRefs()): { tags: string[]; digests: string[] } {
    const tags = Object.entries(refs.tags).filter(([, t]) => t.image === id).map(([k]) => k);
    const digests = Object.entries(refs.digests).filter(([, t]) => t.image === id).map(([k]) => k);
    return { tags, digests };
  }

  private async summary(rec: ImageRecord, refs = this.meta.readRefs()): Promise<ImageSummary> {
    const { tags, digests } = this.tagsOf(rec.id, refs);
    return {
      id: rec.id,
      parent: rec.parent,
      repoTags: tags.map((t) => familiarString(parseReference(t))).sort(),
      repoDigests: digests.map((d) => familiarString(parseReference(d))).sort(),
      created: rec.created,
      size: await this.imageSize(rec),
      platform: rec.platform,
    };
  }

  /**
   * Each layer's content size (by chain ID, in order) as dockerd counts it: the files of the
   * unpacked layer (overlay2's directory.Size), recorded by the snapshotter when it unpacks, or
   * counted once for layers from before. Undefined when a layer has no snapshot (or there is
   * no snapshotter). Kept in memory: a chain ID always names the same content.
   */
  async layerSizes(rec: ImageRecord): Promise<number[] | undefined> {
    const diffSize = this.opts.unpacker?.diffSize;
    const out: number[] = [];
    for (const c of rec.chainIds) {
      let n = this.diffSizes.get(c);
      if (n === undefined && diffSize) {
        n = await diffSize.call(this.opts.unpacker, c).catch(() => undefined);
        if (n !== undefined) this.diffSizes.set(c, n);
      }
      if (n === undefined) return undefined;
      out.push(n);
    }
    return out;
  }

  /** dockerd's image Size: the sum of its layers' content sizes; the stored (compressed) size when they are unknown. */
  async imageSize(rec: ImageRecord): Promise<number> {
    const sizes = await this.layerSizes(rec);
    return sizes ? sizes.reduce((a, b) => a + b, 0) : rec.size;
  }

  async list(opts: { dangling?: boolean } = {}): Promise<ImageSummary[]> {
    const refs = this.meta.readRefs();
    const all: ImageSummary[] = [];
    for (const r of await this.meta.listImages()) all.push(await this.summary(r, refs));
    const filtered = opts.dangling === undefined ? all : all.filter((s) => (s.repoTags.length === 0) === opts.dangling);
    return filtered.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  }

  /**
   * `system df`'s image part, as dockerd counts it: LayersSize is each layer (chain) once, by
   * content size; an image's SharedSize the layers it shares with another image.
   */
  async diskUsage(): Promise<{ layersSize: number; images: Array<ImageSummary & { sharedSize: number }> }> {
    const refs = this.meta.readRefs();
    const records = await this.meta.listImages();
    const users = new Map<Digest, { size: number; users: number }>();
    const perImage: Array<{ rec: ImageRecord; chains: Digest[] }> = [];
    for (const rec of records) {
      const sizes = await this.layerSizes(rec);
      const chains = [...new Set(rec.chainIds)];
      rec.chainIds.forEach((c, i) => {
        if (!users.has(c)) users.set(c, { size: sizes?.[i] ?? rec.layers[i]?.size ?? 0, users: 0 });
      });
      for (const c of chains) users.get(c)!.users++;
      perImage.push({ rec, chains });
    }
    const images: Array<ImageSummary & { sharedSize: number }> = [];
    for (const { rec, chains } of perImage) {
      const sharedSize = chains.reduce((n, c) => n + (users.get(c)!.users > 1 ? users.get(c)!.size : 0), 0);
      images.push({ ...(await this.summary(rec, refs)), sharedSize });
    }
    images.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
    return { layersSize: [...users.values()].reduce((n, e) => n + e.size, 0), images };
  }

  async inspect(nameOrId: string): Promise<ImageInspect> {
    const rec = await this.resolve(nameOrId);
    const config = parseImageConfig(await this.content.readBlob(rec.id));
    const usedBy = (await this.meta.listLeases()).filter((l) => l.image === rec.id).map((l) => l.owner);
    const graph = this.opts.unpacker?.graphDriverData?.(rec.chainIds) ?? {};
    return { ...(await this.summary(rec)), record: rec, config, usedBy, graphDriverData: graph };
  }

  async history(nameOrId: string): Promise<HistoryItem[]> {
    const rec = await this.resolve(nameOrId);
    const config = parseImageConfig(await this.content.readBlob(rec.id));
    const hist: HistoryEntry[] = config.history ?? rec.layers.map(() => ({}));
    // dockerd: a layer's row shows its content size (DiffSize), like the image's Size.
    const sizes = await this.layerSizes(rec);
    let layer = 0;
    const items = hist
      .map((h): HistoryItem => {
        const empty = h.empty_layer === true;
        const n = empty ? -1 : layer++;
        const size = n < 0 ? 0 : (sizes?.[n] ?? rec.layers[n]?.size ?? 0);
        return { id: '<missing>', repoTags: [], created: h.created, createdBy: h.created_by ?? '', size, comment: h.comment ?? '', emptyLayer: empty };
      })
      .reverse();
    // dockerd: the top row is the image, the next the image it was committed from (its local
    // parent), and so on up the parent chain, one row each, each with that image's tags; the
    // rows below the chain's end (a pulled base's own history) stay <missing>.
    const refs = this.meta.readRefs();
    let img: ImageRecord | undefined = rec;
    for (const item of items) {
      if (!img) break;
      item.id = img.id;
      item.repoTags = (await this.summary(img, refs)).repoTags;
      img = img.parent ? await this.meta.getImage(img.parent).catch(() => undefined) : undefined;
    }
    return items;
  }

  /** Adds tag `target` to the image `source` names. */
  async tag(source: string, target: string): Promise<void> {
    const rec = await this.resolve(source);
    const ref = parseReference(target);
    if (ref.digest) throw new HakoError({ step: `tag ${target}: a tag cannot contain a digest`, kind: 'invalid-argument' });
    await this.meta.locked(async () => {
      const refs = this.meta.readRefs();
      refs.tags[`${repositoryName(ref)}:${ref.tag}`] = { image: rec.id, manifest: rec.manifestDigest };
      await this.stampTagTime(rec.id);
      await this.meta.writeRefs(refs);
      pullMark('tag.committed');
    });
    await this.event('tag', rec.id, familiarString(ref));
  }

  /**
   * dockerd's TagImageWithReference sets the image's `lastUpdated` (inspect's
   * Metadata.LastTagTime) on every tag it makes: `tag`, a tagged import, commit and build.
   * Pull and load tag through the reference store alone and leave it. Under the metadata lock.
   */
  private async stampTagTime(id: Digest): Promise<void> {
    const rec = await this.meta.getImage(id);
    if (!rec) return; // removed meanwhile: the tag's own checks answer
    rec.lastTagTime = nowRfc3339Nano();
    await this.meta.putImage(rec);
  }

  /** The events of a deletion (dockerd names the image by its ID in both). */
  private async deletionEvents(del: ImageDeletion): Promise<void> {
    for (const e of del.events) await this.event(e.action, e.id, e.id, e.action === 'untag');
  }

  /** Containers (or anything else) that use an image hold a lease; leased images are not removed. */
  addLease(owner: string, imageId: Digest, opts: { durable?: boolean } = {}): Promise<void> {
    return this.meta.addLease(owner, imageId, opts);
  }

  /** Every lease: owner (a container ID) and image. */
  leases(): Promise<Lease[]> {
    return this.meta.listLeases();
  }

  /**
   * Ends a lease; the layers a lease kept for an image deleted meanwhile go now unless used.
   * A container's lease names no layers (the common case: no marker, one unlink). One left by a
   * forced rmi names its image's layers; when another image or lease still holds every one of
   * them (or a pull in flight: collect would skip them too), the release frees nothing and goes
   * without the unsettled marker. That is decided and the lease removed under the store's lock,
   * so nothing can drop the last other hold in between: an rmi or prune commits its deletion
   * under that lock too and then collects the deleted image's layers itself, under its marker.
   */
  async removeLease(owner: string): Promise<void> {
    const chains = this.meta.getLease(owner)?.chainIds;
    if (!chains) return this.meta.removeLease(owner);
    const freesNothing = await this.meta.locked(async () => {
      if (this.opts.unpacker?.remove) {
        const { usedChains } = await this.holdings(owner);
        const pulling = this.ctx.chainsInUse;
        if (chains.some((c) => !usedChains.has(c) && !pulling?.has(c))) return false;
      }
      await this.meta.removeLease(owner);
      return true;
    });
    if (freesNothing) return;
    await this.unsettled(async () => {
      await this.meta.removeLease(owner);
      await this.collect(chains);
    });
  }

  /**
   * `docker rmi`, as dockerd 20.10's ImageDelete decides it (see image-delete.ts). `items` is
   * dockerd's answer: per image its references (`Untagged`), its ID, then the layers (chain IDs,
   * top first) released with it.
   */
  async remove(nameOrId: string, opts: DeleteOptions = {}): Promise<RemoveResult> {
    return this.unsettled(async () => {
      const session = await this.meta.locked(async () => {
        const rec = await this.tryResolve(nameOrId);
        if (!rec) throw notFound(`no such image: ${nameOrId}`);
        const del = new ImageDeletion(this.meta.readRefs(), await this.meta.listImages(), await this.meta.listLeases());
        await del.remove(nameOrId, rec, opts);
        await this.commitDeletion(del);
        pullMark('rmi.committed');
        return del;
      });
      await this.deletionEvents(session); // (before the collect: an untag event reads the image's labels)
      const items = await this.collectDeleted(session);
      return { untagged: session.untagged, deleted: session.deleted.map((r) => r.id), items };
    });
  }

  /** Writes what a deletion session changed: references, leases, then the records go. */
  private async commitDeletion(del: ImageDeletion): Promise<void> {
    await this.meta.writeRefs(del.refs);
    for (const l of del.orphanedLeases) await this.meta.addLease(l.owner, l.image, { chainIds: l.chainIds });
    for (const img of del.deleted) await this.meta.deleteImage(img.id);
  }

  /** Removes the blobs and layers the session's deletes freed; its items with the released layers. */
  private async collectDeleted(del: ImageDeletion, reclaimed?: { bytes: number }): Promise<DeleteItem[]> {
    if (del.deleted.length === 0) return del.items;
    const gone = new Set<Digest>();
    const bytes = await this.collect(del.deleted.flatMap((r) => r.chainIds), gone);
    if (reclaimed) reclaimed.bytes = bytes;
    return withReleasedLayers(del.items, del.deleted, gone);
  }

  /**
   * `image prune` as dockerd 20.10's ImagesPrune: the candidates are the images without
   * children (dangling only) or all but untagged intermediates (`all`), narrowed by `filters`
   * (docker's `until`, `label`, `label!`; see prune-filters.ts; their `danglingOnly: false`
   * means `all`); each is deleted like an rmi without force, by each of its references (with
   * `all`, or when it has digest references only) or by ID; one that conflicts (a container
   * uses it) is skipped. Untagged parents go along.
   */
  async prune(opts: { all?: boolean; filters?: ImagePruneFilters; running?: DeleteOptions['running'] } = {}): Promise<PruneResult> {
    return this.unsettled(async () => {
      const f = opts.filters;
      const all = opts.all === true || f?.danglingOnly === false;
      const session = await this.meta.locked(async () => {
        const images = await this.meta.listImages();
        const del = new ImageDeletion(this.meta.readRefs(), images, await this.meta.listLeases());
        const candidates: ImageRecord[] = [];
        for (const rec of images) {
          const hasChildren = del.children(rec.id).length > 0;
          if (!all && hasChildren) continue;
          if (hasChildren && del.refsOf(rec.id).length === 0) continue;
          if (f && !(await this.pruneFiltersMatch(rec, f))) continue;
          candidates.push(rec);
        }
        const tolerate = (err: unknown): void => {
          if (!(err instanceof HakoError) || (err.kind !== 'conflict' && err.kind !== 'not-found')) throw err;
        };
        for (const rec of candidates) {
          if (!del.has(rec.id)) continue;
          const refs = del.refsOf(rec.id);
          if (refs.length === 0) {
            await del.remove(rec.id, rec, { prune: true, running: opts.running }).catch(tolerate);
            continue;
          }
          // Dangling only: an image with digest references but no tag counts as dangling.
          if (!all && refs.some((k) => !parseReference(k).digest)) continue;
          for (const k of refs) {
            if (!del.has(rec.id)) break;
            await del.remove(k, rec, { prune: true, running: opts.running }).catch(tolerate);
          }
        }
        await this.commitDeletion(del);
        return del;
      });
      await this.deletionEvents(session);
      const reclaimed = { bytes: 0 };
      const items = await this.collectDeleted(session, reclaimed);
      this.onEvent?.('prune', '', { reclaimed: String(reclaimed.bytes) });
      return { deleted: session.deleted.map((r) => r.id), reclaimed: reclaimed.bytes, items };
    });
  }

  /** dockerd: an image created after `until` is kept; labels are those of the image config. */
  private async pruneFiltersMatch(rec: ImageRecord, f: ImagePruneFilters): Promise<boolean> {
    if (f.until !== undefined) {
      // dockerd compares the config's Created (a zero time when missing) with until.
      const created = rec.created ? Date.parse(rec.created) : Number.NEGATIVE_INFINITY;
      if (created > f.until) return false;
    }
    if (f.label.length === 0 && f.notLabel.length === 0) return true;
    const config = parseImageConfig(await this.content.readBlob(rec.id));
    // dockerd skips the label test for an image without a container config.
    if (!config.config) return true;
    return labelsMatch(f, config.config.Labels as Record<string, string> | null | undefined);
  }

  /**
   * What the records hold (under the lock): the blobs image records need, and the chain IDs of
   * snapshots images and leases (but `exceptOwner`'s) use.
   */
  private async holdings(exceptOwner?: string): Promise<{ needed: Set<string>; usedChains: Set<string> }> {
    const usedChains = new Set<string>();
    for (const l of await this.meta.listLeases()) if (l.owner !== exceptOwner) for (const c of l.chainIds ?? []) usedChains.add(c);
    const records = await this.meta.listImages();
    for (const rec of records) for (const c of rec.chainIds) usedChains.add(c);
    return { needed: blobsNeeded(records), usedChains };
  }

  /** Deletes blobs no image record needs, and snapshots (of `chains`) no image uses. */
  private async collect(chains: Digest[], removedChains?: Set<Digest>): Promise<number> {
    return this.meta.locked(async () => {
      const { needed, usedChains } = await this.holdings();
      let blobBytes = 0;
      // A pull or load in flight has its blobs in the store before its record names them: they
      // are claimed (content.claims), and removeUnclaimed looks at the claims and unlinks in one
      // step (records change only under this lock).
      for (const d of await this.content.list()) {
        if (needed.has(d)) continue;
        const size = this.content.size(d) ?? 0;
        if (!this.content.removeUnclaimed(d)) continue;
        blobBytes += size;
        pullMark('gc.blob-deleted');
      }
      // Their unlinks run on the thread pool: done before the answer (rmi, prune), as when they ran here.
      await this.content.unlinked();
      // dockerd reports the removed layers' content sizes; without snapshots, the blobs' bytes.
      let layerBytes: number | undefined;
      const remove = this.opts.unpacker?.remove;
      if (remove) {
        const diffSize = this.opts.unpacker?.diffSize;
        const pullChains = this.ctx.chainsInUse;
        const removing = this.ctx.removing;
        for (const c of new Set(chains)) {
          if (usedChains.has(c) || pullChains?.has(c)) continue;
          const n = diffSize ? (this.diffSizes.get(c) ?? (await diffSize.call(this.opts.unpacker, c).catch(() => undefined))) : undefined;
          // A pull in flight may have taken the snapshot meanwhile (it knows its chains once its
          // config is in). The look at its marks and the entry in `removing` share one turn: a
          // pull marking it later waits for this removal and unpacks the layer again.
          if (pullChains?.has(c)) continue;
          this.diffSizes.delete(c);
          const removal = remove.call(this.opts.unpacker, c);
          const settled = removal.then(() => undefined, () => undefined);
          removing?.set(c, settled);
          const ok = await removal.then(() => true, () => false);
          if (removing?.get(c) === settled) removing.delete(c);
          if (n !== undefined && ok) layerBytes = (layerBytes ?? 0) + n;
          if (ok) removedChains?.add(c);
          if (ok) pullMark('gc.layer-removed');
        }
      }
      // No layer released: 0, as dockerd (the config and manifest bytes are not counted).
      return remove ? (layerBytes ?? 0) : blobBytes;
    });
  }

  /** Checks the store for consistency (used by tests after failures). */
  async verify(opts: { deep?: boolean } = {}): Promise<StoreVerifyReport> {
    const base = await this.content.verify(opts);
    const missing: string[] = [];
    const needed = new Set<string>();
    const records = await this.meta.listImages();
    for (const rec of records) {
      const parts: [string, Digest | undefined][] = [
        ['config', rec.id],
        ['manifest', rec.manifestDigest],
        ['index', rec.indexDigest],
        ...rec.layers.map((l): [string, Digest] => ['layer', l.digest]),
      ];
      for (const [what, d] of parts) {
        if (!d) continue;
        needed.add(d);
        if (!this.content.has(d)) missing.push(`image ${rec.id}: ${what} ${d}`);
      }
    }
    const unreferenced = (await this.content.list()).filter((d) => !needed.has(d));
    const ids = new Set(records.map((r) => r.id));
    const refs = this.meta.readRefs();
    const danglingRefs = [...Object.entries(refs.tags), ...Object.entries(refs.digests)].filter(([, t]) => !ids.has(t.image)).map(([k]) => k);
    const ok = base.ok && missing.length === 0 && unreferenced.length === 0 && danglingRefs.length === 0;
    return { ...base, ok, missing, unreferenced, danglingRefs };
  }

  /** Where the store keeps its files (for diagnostics). */
  paths(): { content: string; metadata: string } {
    return { content: this.content.root, metadata: join(this.root, 'image') };
  }
}

export { isDigest };
