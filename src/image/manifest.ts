// Manifests, indexes and image configs: OCI image spec v1 and Docker schema2 (both share the
// same JSON shape; only media types differ). Parsing validates what we rely on.
import { invalid } from '../common/errors.js';
import { isDigest, type Digest } from './digest.js';
import { MediaType, indexMediaTypes, manifestMediaTypes, isLayerMediaType } from './media-types.js';
import type { Platform } from './platform.js';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[] | undefined;
  annotations?: Record<string, string> | undefined;
  platform?: Platform | undefined;
}

export interface ImageManifest {
  kind: 'manifest';
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string> | undefined;
}

export interface ImageIndex {
  kind: 'index';
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string> | undefined;
}

export type ParsedManifest = ImageManifest | ImageIndex;

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: Record<string, unknown>;
  rootfs: { type: string; diff_ids: Digest[] };
  history?: HistoryEntry[];
  [key: string]: unknown;
}

function bad(what: string, why: string): never {
  throw invalid(`invalid ${what}`, why);
}

function parseJson(bytes: Buffer | string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    bad(what, `not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(what, 'not a JSON object');
  return v as Record<string, unknown>;
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (typeof v !== 'object' || v === null) bad(what, 'descriptor is not an object');
  const o = v as Record<string, unknown>;
  if (typeof o.mediaType !== 'string' || o.mediaType.length === 0) bad(what, 'descriptor has no mediaType');
  if (!isDigest(o.digest)) bad(what, `descriptor digest ${JSON.stringify(o.digest)} is not sha256:<64 hex>`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) bad(what, `descriptor size ${JSON.stringify(o.size)} is not a non-negative integer`);
  const d: Descriptor = { mediaType: o.mediaType, digest: o.digest, size: o.size };
  if (Array.isArray(o.urls)) d.urls = o.urls.filter((u): u is string => typeof u === 'string');
  if (o.annotations && typeof o.annotations === 'object') d.annotations = o.annotations as Record<string, string>;
  if (o.platform && typeof o.platform === 'object') {
    const p = o.platform as Record<string, unknown>;
    if (typeof p.os !== 'string' || typeof p.architecture !== 'string') bad(what, 'platform needs os and architecture');
    d.platform = { os: p.os, architecture: p.architecture };
    if (typeof p.variant === 'string') d.platform.variant = p.variant;
    if (typeof p['os.version'] === 'string') d.platform['os.version'] = p['os.version'];
  }
  return d;
}

/**
 * Parses a manifest or index. `contentType` is the registry's Content-Type (may be absent or
 * generic); the document's own mediaType wins when present. Schema 1 is refused.
 */
export function parseManifest(bytes: Buffer | string, contentType?: string): ParsedManifest {
  const o = parseJson(bytes, 'manifest');
  const header = contentType?.split(';')[0]?.trim();
  let mt = typeof o.mediaType === 'string' ? o.mediaType : undefined;
  if (o.schemaVersion === 1 || mt === MediaType.DockerManifestSchema1 || mt === MediaType.DockerManifestSchema1Signed || header === MediaType.DockerManifestSchema1 || header === MediaType.DockerManifestSchema1Signed) {
    bad('manifest', 'Docker image manifest schema 1 is deprecated and not supported; push the image again with a current client');
  }
  if (o.schemaVersion !== 2) bad('manifest', `unsupported schemaVersion ${JSON.stringify(o.schemaVersion)}`);
  if (mt === undefined) {
    if (header && (manifestMediaTypes.includes(header) || indexMediaTypes.includes(header))) mt = header;
    else if (Array.isArray(o.manifests)) mt = MediaType.OciIndex;
    else if (o.config !== undefined) mt = MediaType.OciManifest;
    else bad('manifest', 'cannot tell whether it is a manifest or an index');
  }
  const annotations = o.annotations && typeof o.annotations === 'object' ? (o.annotations as Record<string, string>) : undefined;
  if (indexMediaTypes.includes(mt)) {
    if (!Array.isArray(o.manifests)) bad('index', 'manifests is not an array');
    const manifests = o.manifests.map((m, i) => parseDescriptor(m, `index entry ${i}`));
    return { kind: 'index', schemaVersion: 2, mediaType: mt, manifests, annotations };
  }
  if (manifestMediaTypes.includes(mt)) {
    const config = parseDescriptor(o.config, 'manifest config');
    if (!Array.isArray(o.layers)) bad('manifest', 'layers is not an array');
    const layers = o.layers.map((l, i) => parseDescriptor(l, `manifest layer ${i}`));
    for (const l of layers) {
      if (!isLayerMediaType(l.mediaType)) bad('manifest', `unsupported layer media type ${l.mediaType} for ${l.digest}`);
    }
    return { kind: 'manifest', schemaVersion: 2, mediaType: mt, config, layers, annotations };
  }
  bad('manifest', `unsupported media type ${mt}`);
}

/** Parses an image config, checking the parts we rely on (rootfs.diff_ids, os, architecture). */
export function parseImageConfig(bytes: Buffer | string): ImageConfig {
  const o = parseJson(bytes, 'image config');
  const rootfs = o.rootfs as Record<string, unknown> | undefined;
  if (!rootfs || typeof rootfs !== 'object' || !Array.isArray(rootfs.diff_ids)) bad('image config', 'rootfs.diff_ids is missing');
  for (const d of rootfs.diff_ids) if (!isDigest(d)) bad('image config', `diff_id ${JSON.stringify(d)} is not sha256:<64 hex>`);
  if (typeof o.os !== 'string' || typeof o.architecture !== 'string') bad('image config', 'os and architecture are required');
  checkConfigTypes(o);
  return o as unknown as ImageConfig;
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strList = (v: unknown): boolean => Array.isArray(v) && v.every(isStr);

/**
 * The types of the fields hako reads, as Go's decoder into dockerd's image struct checks them at a
 * pull or load (`json: cannot unmarshal string into Go struct field …`): a registry's config with
 * `history: "x"` or `config.Env: "A=1"` was stored, and `docker history` or a run then met a
 * TypeError (a 500). A null where a list or object goes is Go's zero value: kept (a null history
 * entry becomes {}); Cmd, Entrypoint and Shell may be one string (Go's StrSlice), made a list.
 */
function checkConfigTypes(o: Record<string, unknown>): void {
  const fail = (field: string, want: string): never => bad('image config', `${field} is not ${want}`);
  if (o.history !== undefined && o.history !== null) {
    if (!Array.isArray(o.history)) fail('history', 'a list');
    const h = o.history as unknown[];
    for (const [i, e] of h.entries()) {
      if (e === null) {
        h[i] = {};
        continue;
      }
      if (!isObj(e)) fail(`history[${i}]`, 'an object');
      const entry = e as Record<string, unknown>;
      for (const k of ['created', 'author', 'created_by', 'comment']) if (entry[k] != null && !isStr(entry[k])) fail(`history[${i}].${k}`, 'a string');
      if (entry.empty_layer != null && typeof entry.empty_layer !== 'boolean') fail(`history[${i}].empty_layer`, 'a boolean');
    }
  }
  for (const k of ['created', 'author', 'variant']) if (o[k] != null && !isStr(o[k])) fail(k, 'a string');
  if (o.config === undefined || o.config === null) return;
  if (!isObj(o.config)) fail('config', 'an object');
  const c = o.config as Record<string, unknown>;
  for (const k of ['Env', 'OnBuild']) if (c[k] != null && !strList(c[k])) fail(`config.${k}`, 'a list of strings');
  for (const k of ['Cmd', 'Entrypoint', 'Shell']) {
    if (isStr(c[k])) c[k] = [c[k]];
    else if (c[k] != null && !strList(c[k])) fail(`config.${k}`, 'a string or a list of strings');
  }
  if (c.Labels != null && !(isObj(c.Labels) && Object.values(c.Labels).every(isStr))) fail('config.Labels', 'an object of strings');
  for (const k of ['ExposedPorts', 'Volumes', 'Healthcheck']) if (c[k] != null && !isObj(c[k])) fail(`config.${k}`, 'an object');
  for (const k of ['User', 'WorkingDir', 'StopSignal', 'Hostname', 'Domainname']) if (c[k] != null && !isStr(c[k])) fail(`config.${k}`, 'a string');
}

/** Serializes a manifest or index the way we push it (no `kind`). */
export function manifestJson(m: ParsedManifest): string {
  const { kind: _kind, ...rest } = m;
  return JSON.stringify(rest);
}

/** The bytes of the OCI image manifest hako writes for an image it makes (commit, build, import). */
export function ociManifestBytes(config: Descriptor, layers: readonly Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers }));
}
