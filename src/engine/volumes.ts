// The local volume driver: <root>/volumes/<name>/_data plus <root>/volumes/<name>/volume.json
// (labels, options, created time, anonymous flag). Anonymous volumes get 64-hex names.
// Options (type/device/o) are mounted on _data while containers use the volume (volume-mounts.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, renameSync } from 'node:fs';
import { hasMountAt } from './fs/mount.js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { HakoError, conflict, invalid, notFound, fromSystemError } from '../common/errors.js';
import { writeFileAtomicSync } from '../common/atomic-file.js';
import { labelMatches, labelsMatchAll } from './label-filter.js';
import type { Filters, Json } from './api-types.js';
import { isoTime } from '../common/time.js';
import { validateVolumeOptions } from './volume-options.js';

export interface VolumeMeta {
  Name: string;
  CreatedAt: string;
  /** As the request had them: null when it sent none (dockerd shows null then, `docker volume create` and -v included). */
  Labels: Record<string, string> | null;
  Options: Record<string, string>;
  Anonymous: boolean;
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class VolumeStore {
  readonly dir: string;

  /** `mark`: the engine's phase trace (profiling, and tests' crash points: ./phase-trace.ts). */
  constructor(root: string, private readonly mark?: (phase: string) => void) {
    this.dir = join(root, 'volumes');
    mkdirSync(this.dir, { recursive: true, mode: 0o701 });
  }

  dataPath(name: string): string {
    return join(this.dir, name, '_data');
  }

  private metaPath(name: string): string {
    return join(this.dir, name, 'volume.json');
  }

  exists(name: string): boolean {
    // A name no volume can have (`..`, slashes from the API's path) is never looked up on disk.
    return VOLUME_NAME.test(name) && existsSync(this.metaPath(name));
  }

  get(name: string): VolumeMeta {
    if (!VOLUME_NAME.test(name)) throw notFound(`get ${name}: no such volume`);
    try {
      return JSON.parse(readFileSync(this.metaPath(name), 'utf8')) as VolumeMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`get ${name}: no such volume`);
      throw fromSystemError(`read volume ${name}`, err);
    }
  }

  /** Creates the volume, or returns the existing one of that name (docker: create is idempotent). */
  create(opts: { name?: string; labels?: Record<string, string> | null; options?: Record<string, string>; driver?: string; anonymous?: boolean }): { meta: VolumeMeta; created: boolean } {
    const name = opts.name || randomBytes(32).toString('hex');
    if (opts.driver && opts.driver !== 'local') throw notFound(`create ${name}: error looking up volume plugin ${opts.driver}: plugin "${opts.driver}" not found`);
    // dockerd's local driver: a one-character name first, in its own words
    if (name.length === 1) throw invalid(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
    if (!VOLUME_NAME.test(name)) throw invalid(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    if (this.exists(name)) return { meta: this.get(name), created: false };
    validateVolumeOptions(name, opts.options ?? {});
    const meta: VolumeMeta = { Name: name, CreatedAt: isoTime().replace(/\.\d+Z$/, 'Z'), Labels: opts.labels ?? null, Options: opts.options ?? {}, Anonymous: opts.anonymous === true };
    if (meta.Anonymous) meta.Labels = { 'com.docker.volume.anonymous': '', ...meta.Labels };
    const tmp = join(this.dir, `.tmp-${name}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(join(tmp, '_data'), { recursive: true, mode: 0o755 });
      writeFileAtomicSync(join(tmp, 'volume.json'), JSON.stringify(meta));
      this.mark?.('volume.staged');
      renameSync(tmp, join(this.dir, name));
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (err as NodeJS.ErrnoException).code === 'EEXIST') return { meta: this.get(name), created: false };
      throw fromSystemError(`create volume ${name}`, err);
    }
    return { meta, created: true };
  }

  /**
   * What a crash left in the volumes dir: a create's staging dir (`.tmp-<name>-…`, renamed into
   * place last) and a removal's retired dir (`.rm-<name>-…`, deleted after its rename). Random
   * names no later call reuses: listed at start-up, before any request, and deleted meanwhile.
   */
  leftovers(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => n.startsWith('.tmp-') || n.startsWith('.rm-')).map((n) => join(this.dir, n));
    } catch {
      return [];
    }
  }

  names(): string[] {
    return readdirSync(this.dir).filter((n) => !n.startsWith('.') && existsSync(this.metaPath(n)));
  }

  /** Removes the volume; whatever its options mounted on _data must be unmounted first (VolumeMounts.beforeRemove). */
  remove(name: string, usedBy: string[]): void {
    if (!this.exists(name)) throw notFound(`get ${name}: no such volume`);
    if (usedBy.length > 0) throw conflict(`remove ${name}: volume is in use - [${usedBy.join(', ')}]`);
    // Never delete through a mount: a bind's files are the host's.
    if (hasMountAt(this.dataPath(name))) throw new HakoError({ step: `remove ${name}: its device is still mounted on ${this.dataPath(name)}`, path: this.dataPath(name), kind: 'conflict', hint: `unmount it: umount ${this.dataPath(name)}` });
    const trash = join(this.dir, `.rm-${name}-${randomBytes(4).toString('hex')}`);
    renameSync(join(this.dir, name), trash);
    this.mark?.('volume.retired');
    rmSync(trash, { recursive: true, force: true });
  }

  /** docker's Volume object. */
  view(meta: VolumeMeta, usage?: { size: number; refs: number }): Json {
    return {
      CreatedAt: meta.CreatedAt,
      Driver: 'local',
      // Go writes maps sorted by key.
      Labels: meta.Labels && Object.fromEntries(Object.keys(meta.Labels).sort().map((k) => [k, meta.Labels![k]!])),
      Mountpoint: this.dataPath(meta.Name),
      Name: meta.Name,
      // dockerd: null without driver options; Labels null when none were sent (though the spec says
      // it is never null, dockerd 20.10 and current moby encode their nil map so).
      Options: Object.keys(meta.Options).length > 0 ? meta.Options : null,
      Scope: 'local',
      ...(usage ? { UsageData: { Size: usage.size, RefCount: usage.refs } } : {}),
    };
  }
}

/**
 * The filters of GET /volumes (`prune`: of POST /volumes/prune), checked before any volume is
 * looked at as dockerd's filtersToBy does: a filter it does not take, a `dangling` value other
 * than true/1/false/0 (`invalid filter 'dangling=[x]'`, the values as Go prints a list).
 */
export function checkVolumeFilters(filters: Filters, prune = false): void {
  const accepted = prune ? ['label', 'label!', 'all'] : ['name', 'dangling', 'driver', 'label', 'label!', 'all'];
  for (const k of Object.keys(filters)) if (!accepted.includes(k)) throw invalid(`invalid filter '${k}'`);
  const dangling = filters.dangling;
  if (dangling?.length && !dangling.some((v) => ['true', '1', 'false', '0'].includes(v))) throw invalid(`invalid filter 'dangling=[${dangling.join(' ')}]'`);
}

export function volumeMatches(meta: VolumeMeta, filters: Filters, inUse: boolean): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    if (key === 'label') {
      if (!labelsMatchAll(meta.Labels, values)) return false;
      continue;
    }
    const ok = values.some((v) => {
      switch (key) {
        case 'name':
          return meta.Name.includes(v);
        case 'dangling':
          return (v === 'true' || v === '1') === !inUse;
        case 'driver':
          return v === 'local';
        case 'label!':
          return !labelMatches(meta.Labels, v);
        case 'all':
          return true;
        default:
          throw invalid(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}
