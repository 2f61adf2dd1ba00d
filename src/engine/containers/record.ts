// The container record: what the engine knows about one container, persisted as
// <root>/containers/<id>/config.v2.json (written atomically: temp file + fsync + rename, so a
// crash leaves the old or the new record, never a torn one).
// Removal renames the directory to a hidden .removed-<id>-<random> beside it (the container is
// gone at once, also after a crash) and deletes it later; loadAll() skips such directories and
// removeRetired() deletes them.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, existsSync } from 'node:fs';
import { removeTree, writeFileAtomicPooled } from '../../native/fs.js';
import { basename, dirname } from 'node:path';
import { joinPath as join } from '../../common/join-path.js';
import { HakoError, fromSystemError } from '../../common/errors.js';
import { fsyncDirFast, fsyncDirSync, stageFileAtomicSync, writeFileAtomic, writeFileAtomicSync, type StagedFile } from '../../common/atomic-file.js';
import type { Json } from '../api-types.js';
import type { EndpointConfig } from './network-config.js';
import type { HostsEntry } from '../../network/hosts-files.js';

export type DockerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface ContainerState {
  Status: DockerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string; FailingStreak: number; Log: Json[] };
}

/** A mount as the engine keeps it (docker's MountPoint plus what is needed to set it up). */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Volume name (volumes only). */
  Name?: string;
  /** Host path ('' for tmpfs). */
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Created for an image VOLUME or an unnamed -v /path: removed with `rm -v`. */
  Anonymous?: boolean;
  /** tmpfs options (size=…, mode=…). */
  TmpfsOptions?: string[];
  /** volume: do not copy the image's content into it. */
  NoCopy?: boolean;
  /** volume (--mount volume-opt=…): driver options for a volume the create makes; not kept in the record. */
  DriverOpts?: Record<string, string>;
}

export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  /** docker's Config (image config merged in). */
  Config: Json;
  HostConfig: Json;
  /** The image ID (config digest). */
  Image: string;
  State: ContainerState;
  RestartCount: number;
  MountPoints: MountPoint[];
  Platform: string;
  LogPath: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  /** The process's /proc start time, to tell a reused pid from ours. */
  PidStartTime?: string;
  /** Stopped by the user (stop/kill): unless-stopped and always do not restart it on daemon start. */
  HasBeenManuallyStopped: boolean;
  HasBeenStartedBefore: boolean;
  /** The image's chain IDs (bottom first) the rootfs was prepared from. */
  ChainIds: string[];
  /** The networks it is attached to (by name): its NetworkMode's, then `network connect`ed ones. */
  Networks?: Record<string, EndpointConfig>;
  /**
   * `host` and `none` mode: its endpoint on that pseudo network while it runs (dockerd's host and
   * null drivers make one at each start; inspect and `network inspect` show its ID).
   */
  PseudoEndpointID?: string;
  /** `none` mode: `network disconnect none` took it off the none network (dockerd allows it). */
  NoneDisconnected?: boolean;
  /**
   * Legacy links (HostConfig.Links outside user networks), resolved at create: dockerd keeps them
   * by container, so a rename of the linked container keeps the link. Name: its name then, and
   * its last name once it was removed; Hostname: its Config.Hostname (absent in records of
   * session 12 and before). A removed linked container keeps its /etc/hosts line with both.
   */
  LegacyLinks?: Array<{ Id: string; Name: string; Alias: string; Hostname?: string }>;
  /**
   * The /etc/hosts lines of its legacy links as its last start wrote them (dockerd writes them
   * once, at the start), then only their addresses updated when a linked container starts again
   * (etchosts.Update): a stopped linked container's line stays. Rewrites of the file while it
   * runs (network connect/disconnect) keep them; `rm --link` rebuilds them (dockerd's Refresh).
   */
  LinkHosts?: HostsEntry[];
  /**
   * dockerd's sandbox ID (64 hex, new at each start) of its network namespace; the namespace is
   * bind-mounted at <exec-root>/netns/<first 12> while it runs (inspect's SandboxKey). Kept after
   * the stop, as dockerd shows both until the next start.
   */
  SandboxID?: string;
}

/** Records of all containers, one directory each. */
export class RecordStore {
  /** saveSoon() writes in progress, by container id. */
  private readonly writing = new Map<string, { again: boolean; done: Promise<void>; commit?: boolean }>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o710 });
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }

  /** durable (default): fsync'd, for the record's creation; state updates may skip the fsync. */
  save(rec: ContainerRecord, opts: { durable?: boolean } = {}): void {
    const dir = this.containerDir(rec.Id);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o710 });
      writeFileAtomicSync(join(dir, 'config.v2.json'), JSON.stringify(rec), { mode: 0o600, durable: opts.durable !== false });
    } catch (err) {
      throw fromSystemError(`save container ${rec.Id}`, err, dir);
    }
  }

  /**
   * A state update: atomic, not fsync'd (see Engine.reconcile), written off the event loop.
   * Updates of one container are written one at a time; one asked for while another is being
   * written is folded into the next write, which takes the record as it is then (the latest
   * state wins). A directory that is gone (the container was removed) is not recreated.
   */
  saveSoon(rec: ContainerRecord, onError: (err: Error) => void): void {
    const busy = this.writing.get(rec.Id);
    if (busy) {
      busy.again = true;
      return;
    }
    const entry = { again: false, done: Promise.resolve() };
    const file = join(this.containerDir(rec.Id), 'config.v2.json');
    entry.done = (async () => {
      do {
        entry.again = false;
        try {
          await writeFileAtomicPooled(file, JSON.stringify(rec), { mode: 0o600, durable: false });
        } catch (err) {
          if (!existsSync(this.containerDir(rec.Id))) break; // removed meanwhile
          onError(fromSystemError(`save container ${rec.Id}`, err, file));
        }
      } while (entry.again);
      this.writing.delete(rec.Id);
    })();
    this.writing.set(rec.Id, entry);
  }

  /**
   * True while the record of a new container is not committed yet (commitSoon): a remove waits
   * for it (otherwise the commit's rename fails, warned about as a failed save).
   */
  committing(id: string): boolean {
    return this.writing.get(id)?.commit === true;
  }

  /** Waits until the container's updates (all containers' without an id) are written. */
  async flush(id?: string): Promise<void> {
    for (;;) {
      const pending = id !== undefined ? [this.writing.get(id)].filter((e) => e !== undefined) : [...this.writing.values()];
      if (pending.length === 0) return;
      await Promise.all(pending.map((e) => e.done));
    }
  }

  /** save(), fsync'd, without blocking the event loop (a new container's record). */
  async saveDurable(rec: ContainerRecord): Promise<void> {
    const dir = this.containerDir(rec.Id);
    try {
      await writeFileAtomic(join(dir, 'config.v2.json'), JSON.stringify(rec), { mode: 0o600 });
    } catch (err) {
      throw fromSystemError(`save container ${rec.Id}`, err, dir);
    }
  }

  /**
   * A new container's record, durable after the create answered: `stage` writes it under a temp
   * name (no fsync; loadAll ignores it), and `commitSoon` then fsyncs it, renames it into place
   * (the container exists from here on, after a crash too) and fsyncs the directory, in the
   * background. Later saves of the record (saveSoon) and flush() wait for that commit, so the
   * staged record never lands over a newer one. The returned promise rejects if the commit
   * failed: whoever must not go on without a durable record (start) awaits it.
   */
  async stageCreate(rec: ContainerRecord): Promise<StagedFile> {
    return this.stageCreateSync(rec);
  }

  /** stageCreate written synchronously (one small file; no thread-pool round trips on create's path). */
  stageCreateSync(rec: ContainerRecord): StagedFile {
    const dir = this.containerDir(rec.Id);
    try {
      return stageFileAtomicSync(join(dir, 'config.v2.json'), JSON.stringify(rec), { mode: 0o600, syncAtCommit: true });
    } catch (err) {
      throw fromSystemError(`save container ${rec.Id}`, err, dir);
    }
  }

  /** See stageCreate. */
  commitSoon(rec: ContainerRecord, staged: StagedFile, onError: (err: Error) => void): Promise<void> {
    const dir = this.containerDir(rec.Id);
    // The container dir's own entry in containers/ (made by create's mkdir) is made durable
    // before the rename that commits the record (beside the record's fsync), so that a commit
    // cannot outlive a crash in a directory whose entry did not.
    const parentSynced = fsyncDirFast(this.dir);
    parentSynced.catch(() => undefined);
    const committed = staged.commit(parentSynced).catch(async (err: unknown) => {
      await staged.abort();
      throw fromSystemError(`save container ${rec.Id}`, err, dir);
    });
    committed.catch(() => undefined);
    const entry = { again: false, done: Promise.resolve(), commit: true };
    const file = join(dir, 'config.v2.json');
    entry.done = (async () => {
      try {
        await committed;
        entry.commit = false;
      } catch (err) {
        onError(err as Error);
      }
      while (entry.again) {
        entry.again = false;
        try {
          await writeFileAtomicPooled(file, JSON.stringify(rec), { mode: 0o600, durable: false });
        } catch (err) {
          if (!existsSync(dir)) break; // removed meanwhile
          onError(fromSystemError(`save container ${rec.Id}`, err, file));
        }
      }
      this.writing.delete(rec.Id);
    })();
    this.writing.set(rec.Id, entry);
    return committed;
  }

  /** All readable records; a directory without one (a crash mid-create) is removed. */
  loadAll(warn: (m: string) => void): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const id of readdirSync(this.dir)) {
      if (id.startsWith('.')) continue; // retired (see remove), or a temp file
      const file = join(this.dir, id, 'config.v2.json');
      if (!existsSync(file)) {
        const staged = this.recoverStaged(id, file);
        if (staged) {
          warn(`container ${id}: its record was still being committed when the daemon stopped: committed now`);
          out.push(staged);
          continue;
        }
        warn(`removing incomplete container directory ${join(this.dir, id)}`);
        rmSync(join(this.dir, id), { recursive: true, force: true });
        continue;
      }
      try {
        out.push(JSON.parse(readFileSync(file, 'utf8')) as ContainerRecord);
      } catch (err) {
        warn(`skipping container ${id}: unreadable record (${(err as Error).message})`);
      }
    }
    return out;
  }

  remove(id: string): void {
    rmSync(this.containerDir(id), { recursive: true, force: true });
  }

  /**
   * A create answers once its record is written in full under a temp name (stageCreate); the
   * rename into place follows its fsync. A daemon killed in between (the written data is in
   * the page cache) left that complete temp record: it is committed here (fsync'd, renamed,
   * the directories fsync'd), so a container whose create answered survives the daemon's kill.
   * After a host crash the temp record may be torn: then nothing parses and the dir goes.
   */
  private recoverStaged(id: string, file: string): ContainerRecord | undefined {
    const dir = dirname(file);
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.startsWith('.config.v2.json.') && n.endsWith('.tmp'));
    } catch {
      return undefined;
    }
    for (const n of names) {
      try {
        const text = readFileSync(join(dir, n), 'utf8');
        const rec = JSON.parse(text) as ContainerRecord;
        if (rec === null || typeof rec !== 'object' || rec.Id !== id) continue;
        writeFileAtomicSync(file, text, { mode: 0o600 });
        fsyncDirSync(this.dir);
        for (const m of names) rmSync(join(dir, m), { force: true });
        return rec;
      } catch {
        /* torn or unreadable: the next one, or none */
      }
    }
    return undefined;
  }

  /**
   * Moves the container's directory (record, log, /etc files) out of the way in one rename:
   * the container no longer exists, here or after a crash. Returns the directory to delete with
   * removeRetired() (undefined when there was none).
   */
  retire(id: string): string | undefined {
    const retired = join(this.dir, `.removed-${id}-${Math.floor(Math.random() * 0x100000000).toString(16)}`);
    try {
      renameSync(this.containerDir(id), retired);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fromSystemError(`remove container ${id}`, err, this.containerDir(id));
    }
    return retired;
  }

  /** Deletes directories retire() left: the one given, or all of them (after a crash). */
  async removeRetired(dir?: string): Promise<void> {
    const dirs = dir !== undefined ? [dir] : readdirSync(this.dir).filter((n) => n.startsWith('.removed-')).map((n) => join(this.dir, n));
    for (const d of dirs) {
      if (dirname(d) !== this.dir || !basename(d).startsWith('.removed-')) throw new HakoError({ step: 'remove a retired container directory', path: d, hint: 'not a directory retire() made', kind: 'internal' });
      try {
        await removeTree(d);
      } catch (err) {
        throw fromSystemError('remove a retired container directory', err, d);
      }
    }
  }
}

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}
