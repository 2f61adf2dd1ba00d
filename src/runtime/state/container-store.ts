// The runtime's state directory: <root>/<id>/{state.json, exec.fifo, lock}.
// state.json is what the runtime recorded; the status shown to users is derived from it and
// from the live process (see ../lifecycle/status.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { joinPath as join } from '../../common/join-path.js';
import { HakoError, invalid, notFound, conflict } from '../../common/errors.js';
import { writeFileAtomicSync } from '../../common/atomic-file.js';
import { acquireLock, type Lock } from './file-lock.js';
import type { Spec } from '../spec/types.js';

export type RecordedStatus = 'creating' | 'created' | 'running' | 'stopped';

export interface ContainerRecord {
  ociVersion: string;
  id: string;
  bundle: string;
  rootfs: string;
  /** ISO time of creation. */
  created: string;
  owner: string;
  status: RecordedStatus;
  pid: number;
  /** /proc/PID/stat start time, to detect pid reuse. */
  pidStartTime?: string;
  annotations?: Record<string, string>;
  /** Where the cgroups were made (so delete/pause/ps need not recompute them). */
  cgroupsPath?: string;
  cgroupPaths?: Record<string, string>;
  /** The validated config, needed by kill/delete/exec/hooks later. */
  config: Spec;
  /** No mount namespace: the self-bind of the rootfs in the caller's mount namespace, holding the container's mounts until delete detaches it. */
  hostRootfsMount?: { path: string; mountId: number };
}

const ID_PATTERN = /^[\w+\-.]+$/;

export class ContainerStore {
  constructor(readonly root: string) {}

  static validateId(id: string | undefined): string {
    if (!id) throw invalid('container id is required', 'give the container id as the last argument');
    if (!ID_PATTERN.test(id) || id === '.' || id === '..') {
      throw invalid(`invalid container id "${id}"`, 'use letters, digits, and _ + - .');
    }
    if (id.length > 1024) throw invalid(`invalid container id: longer than 1024 characters`);
    return id;
  }

  dir(id: string): string {
    return join(this.root, ContainerStore.validateId(id));
  }

  fifoPath(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }

  /** Makes the state dir exclusively: a second create with the same id fails with 409. */
  reserve(id: string): string {
    const dir = this.dir(id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(`container with id "${id}" already exists`, 'delete it first or pick another id');
      throw new HakoError({ step: `create state dir`, path: dir, errno: Math.abs((err as NodeJS.ErrnoException).errno ?? 5) });
    }
    return dir;
  }

  exists(id: string): boolean {
    return existsSync(join(this.dir(id), 'state.json'));
  }

  load(id: string): ContainerRecord {
    const file = join(this.dir(id), 'state.json');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`container "${id}" does not exist`, `no state in ${this.root}`);
      throw new HakoError({ step: `read state of ${id}`, path: file, errno: Math.abs((err as NodeJS.ErrnoException).errno ?? 5) });
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch {
      throw new HakoError({ step: `read state of ${id}`, path: file, hint: 'state.json is corrupt; delete --force removes the container', kind: 'internal' });
    }
  }

  /**
   * Atomic (rename) but not fsync'ed, like runc's state: it describes live processes, which a
   * power loss ends anyway, and the root is normally on tmpfs (/run). Two fsyncs per save cost
   * 1–8 ms on ext4, three saves per container lifecycle.
   */
  save(rec: ContainerRecord, configJson?: string): void {
    writeFileAtomicSync(join(this.dir(rec.id), 'state.json'), configJson === undefined ? JSON.stringify(rec) : recordJson(rec, configJson), { durable: false });
  }

  /** Removes the state dir: its few files, then the dir (rmSync's recursive walk costs ~1 ms more). */
  remove(id: string): void {
    const dir = this.dir(id);
    try {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        try {
          unlinkSync(path);
        } catch {
          rmSync(path, { recursive: true, force: true }); // not a plain file
        }
      }
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      rmSync(dir, { recursive: true, force: true });
    }
  }

  lock(id: string): Promise<Lock> {
    return acquireLock(join(this.dir(id), 'lock'), `container ${id}`);
  }

  ids(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(this.root, e.name, 'state.json')))
      .map((e) => e.name)
      .sort();
  }
}

/**
 * JSON.stringify(rec) with `config` given already serialised (JSON.stringify(rec.config)): the spec
 * is most of a record (docker's seccomp profile alone ~20 KB) and the same at each save of a
 * launch. The config key comes last; readers parse the file.
 */
export function recordJson(rec: ContainerRecord, configJson: string): string {
  const rest = JSON.stringify({ ...rec, config: undefined });
  return rest === '{}' ? `{"config":${configJson}}` : `${rest.slice(0, -1)},"config":${configJson}}`;
}
