// An in-memory ContainerEngine for API unit tests (never used by product code). Containers
// "run" a cat-like process: attach echoes stdin to stdout (and lines starting with "err:" to
// stderr) until stdin ends; exit code = number of lines read.
import { PassThrough, Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { HakoError, conflict, notFound, invalid } from '../../src/common/errors.js';
import type { Attachment, ContainerEngine, EngineEvent, Json, LogEntry } from '../../src/engine/api-types.js';

interface FakeContainer {
  id: string;
  name: string;
  config: Json;
  running: boolean;
  exitCode: number;
  log: LogEntry[];
  waiters: Array<(code: number) => void>;
  tty: boolean;
}

export class FakeEngine implements ContainerEngine {
  readonly containers = new Map<string, FakeContainer>();
  readonly execs = new Map<string, { container: string; cmd: string[]; tty: boolean; stdin: boolean; running: boolean; exitCode: number | null }>();
  private readonly eventSubs = new Set<(e: EngineEvent) => void>();

  private find(idOrName: string): FakeContainer {
    for (const c of this.containers.values()) if (c.id === idOrName || c.name === idOrName || (idOrName.length >= 3 && c.id.startsWith(idOrName))) return c;
    throw notFound(`No such container: ${idOrName}`);
  }

  private emit(action: string, c: FakeContainer): void {
    const now = Date.now();
    const e: EngineEvent = { Type: 'container', Action: action, Actor: { ID: c.id, Attributes: { name: c.name } }, scope: 'local', time: Math.floor(now / 1000), timeNano: BigInt(now) * 1_000_000n, status: action, id: c.id };
    for (const s of this.eventSubs) s(e);
  }

  private exit(c: FakeContainer, code: number): void {
    c.running = false;
    c.exitCode = code;
    for (const w of c.waiters.splice(0)) w(code);
    this.emit('die', c);
  }

  version(): Json {
    return { Version: 'fake' };
  }
  async info(): Promise<Json> {
    return { Containers: this.containers.size };
  }
  async df(what?: { containers: boolean; images: boolean; volumes: boolean; buildCache: boolean }): Promise<Json> {
    const w = what ?? { containers: true, images: true, volumes: true, buildCache: true };
    return { LayersSize: 0, Images: w.images ? [] : null, Containers: w.containers ? [] : null, Volumes: w.volumes ? [] : null, BuildCache: w.buildCache ? [] : null };
  }
  async *events(opts: { signal?: AbortSignal }): AsyncIterable<EngineEvent> {
    const queue: EngineEvent[] = [];
    let wake: (() => void) | undefined;
    const sub = (e: EngineEvent): void => {
      queue.push(e);
      wake?.();
    };
    this.eventSubs.add(sub);
    try {
      while (!opts.signal?.aborted) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
          opts.signal?.addEventListener('abort', () => r(), { once: true });
        });
      }
    } finally {
      this.eventSubs.delete(sub);
    }
  }
  async createContainer(name: string | undefined, body: Json): Promise<{ Id: string; Warnings: string[] }> {
    if (typeof body.Image !== 'string' || !body.Image) throw invalid('Config.Image is required');
    const id = randomBytes(32).toString('hex');
    const n = name ?? `fake_${id.slice(0, 6)}`;
    for (const c of this.containers.values()) if (c.name === n) throw conflict(`Conflict. The container name "/${n}" is already in use by container "${c.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    this.containers.set(id, { id, name: n, config: body, running: false, exitCode: 0, log: [], waiters: [], tty: body.Tty === true });
    this.emit('create', this.containers.get(id)!);
    return { Id: id, Warnings: [] };
  }
  async listContainers(): Promise<Json[]> {
    return [...this.containers.values()].map((c) => ({ Id: c.id, Names: [`/${c.name}`], Image: c.config.Image, State: c.running ? 'running' : 'exited' }));
  }
  async containerId(idOrName: string): Promise<string> {
    return this.find(idOrName).id;
  }
  async inspectContainer(idOrName: string): Promise<Json> {
    const c = this.find(idOrName);
    return { Id: c.id, Name: `/${c.name}`, State: { Running: c.running, ExitCode: c.exitCode }, Config: c.config };
  }
  async startContainer(idOrName: string): Promise<'started' | 'already-running'> {
    const c = this.find(idOrName);
    if (c.running) return 'already-running';
    c.running = true;
    this.emit('start', c);
    return 'started';
  }
  waitContainer(idOrName: string, _cond?: string, signal?: AbortSignal): Promise<{ StatusCode: number }> {
    const c = this.find(idOrName);
    return new Promise((resolve, reject) => {
      c.waiters.push((code) => resolve({ StatusCode: code }));
      signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  }
  async stopContainer(idOrName: string): Promise<'stopped' | 'already-stopped'> {
    const c = this.find(idOrName);
    if (!c.running) return 'already-stopped';
    this.exit(c, 143);
    return 'stopped';
  }
  async restartContainer(idOrName: string): Promise<void> {
    this.find(idOrName).running = true;
  }
  async killContainer(idOrName: string, signal?: string): Promise<void> {
    const c = this.find(idOrName);
    if (!c.running) throw conflict(`Container ${c.id} is not running`);
    if (signal && !/^(SIG)?[A-Z0-9]+$|^[0-9]+$/.test(signal)) throw invalid(`Invalid signal: ${signal}`);
    this.exit(c, 137);
  }
  async pauseContainer(idOrName: string): Promise<void> {
    this.find(idOrName);
  }
  async unpauseContainer(idOrName: string): Promise<void> {
    this.find(idOrName);
  }
  async removeContainer(idOrName: string, opts?: { force?: boolean }): Promise<void> {
    const c = this.find(idOrName);
    if (c.running && !opts?.force) throw conflict(`You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
    this.containers.delete(c.id);
  }
  /** The names `removeLink` was given, in order. */
  removedLinks: string[] = [];
  async removeLink(name: string): Promise<void> {
    this.removedLinks.push(name);
  }
  async renameContainer(idOrName: string, newName: string): Promise<void> {
    this.find(idOrName).name = newName;
  }
  async updateContainer(idOrName: string): Promise<{ Warnings: string[] }> {
    this.find(idOrName);
    return { Warnings: [] };
  }
  /** stdin lines are echoed; "err:" lines go to stderr; stdin EOF ends the container with the line count. */
  async attachContainer(idOrName: string, opts: { stdin: boolean }): Promise<Attachment> {
    const c = this.find(idOrName);
    const output = new PassThrough({ objectMode: true });
    let lines = 0;
    let pending = '';
    const input = opts.stdin
      ? new Writable({
          write: (chunk: Buffer, _enc, cb) => {
            pending += chunk.toString();
            let i: number;
            while ((i = pending.indexOf('\n')) >= 0) {
              const line = pending.slice(0, i + 1);
              pending = pending.slice(i + 1);
              lines++;
              const stream = line.startsWith('err:') ? 'stderr' : 'stdout';
              const e: LogEntry = { stream, data: Buffer.from(line), time: new Date().toISOString() };
              c.log.push(e);
              output.write({ stream, data: e.data });
            }
            cb();
          },
          final: (cb) => {
            // Output keeps flowing after stdin EOF: one last line, then the container exits.
            setTimeout(() => {
              output.write({ stream: 'stdout', data: Buffer.from(`bye after ${lines}\n`) });
              output.end();
              this.exit(c, lines);
            }, 20);
            cb();
          },
        })
      : null;
    return { tty: c.tty, output, input, close: () => output.end() };
  }
  async resizeContainer(idOrName: string, h: number, w: number): Promise<void> {
    this.find(idOrName);
    if (h < 0 || w < 0) throw invalid('bad size');
  }
  async containerLogs(idOrName: string): Promise<{ tty: boolean; entries: AsyncIterable<LogEntry>; details: string }> {
    const c = this.find(idOrName);
    const entries = [...c.log];
    return { tty: c.tty, entries: (async function* () { yield* entries; })(), details: ' ' };
  }
  async topContainer(idOrName: string): Promise<Json> {
    this.find(idOrName);
    return { Titles: ['PID', 'CMD'], Processes: [['1', 'cat']] };
  }
  async *containerStats(idOrName: string, opts: { stream: boolean; signal?: AbortSignal }): AsyncIterable<Json> {
    this.find(idOrName);
    do {
      yield { read: new Date().toISOString(), memory_stats: { usage: 1 } };
      if (!opts.stream) return;
      await new Promise((r) => setTimeout(r, 50));
    } while (!opts.signal?.aborted);
  }
  async containerChanges(idOrName: string): Promise<Json[]> {
    this.find(idOrName);
    return [];
  }
  async exportContainer(): Promise<never> {
    throw invalid('not in the fake');
  }
  async getArchive(): Promise<never> {
    throw invalid('not in the fake');
  }
  async statPath(): Promise<never> {
    throw invalid('not in the fake');
  }
  async putArchive(): Promise<void> {
    throw invalid('not in the fake');
  }
  async commitContainer(): Promise<never> {
    throw invalid('not in the fake');
  }
  async pruneContainers(): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    return { ContainersDeleted: [], SpaceReclaimed: 0 };
  }
  async createExec(idOrName: string, body: Json): Promise<{ Id: string }> {
    const c = this.find(idOrName);
    if (!c.running) throw conflict(`Container ${c.id} is not running`);
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { container: c.id, cmd: body.Cmd as string[], tty: body.Tty === true, stdin: body.AttachStdin === true, running: false, exitCode: null });
    return { Id: id };
  }
  /** Prints its command joined by spaces, then exits 0; `cat` copies stdin until its end instead. */
  async startExec(execId: string, opts: { detach: boolean }): Promise<Attachment | null> {
    const e = this.execs.get(execId);
    if (!e) throw notFound(`No such exec instance: ${execId}`);
    e.running = true;
    const output = new PassThrough({ objectMode: true });
    if (e.cmd[0] === 'cat' && !opts.detach) {
      const input = new Writable({
        write: (chunk: Buffer, _enc, cb) => {
          output.write({ stream: 'stdout', data: Buffer.from(chunk) });
          cb();
        },
        final: (cb) => {
          e.running = false;
          e.exitCode = 0;
          output.end();
          cb();
        },
      });
      return { tty: e.tty, output, input, close: () => output.end() };
    }
    setImmediate(() => {
      output.end({ stream: 'stdout', data: Buffer.from(e.cmd.join(' ') + '\n') });
      e.running = false;
      e.exitCode = 0;
    });
    if (opts.detach) return null;
    return { tty: e.tty, output, input: null, close: () => output.end() };
  }
  async inspectExec(execId: string): Promise<Json> {
    const e = this.execs.get(execId);
    if (!e) throw notFound(`No such exec instance: ${execId}`);
    return { ID: execId, Running: e.running, ExitCode: e.exitCode, ProcessConfig: { entrypoint: e.cmd[0], arguments: e.cmd.slice(1), tty: e.tty }, OpenStdin: e.stdin, ContainerID: e.container };
  }
  async resizeExec(execId: string): Promise<void> {
    if (!this.execs.has(execId)) throw notFound(`No such exec instance: ${execId}`);
  }
  async createVolume(body: Json): Promise<Json> {
    return { Name: body.Name ?? 'v', Driver: 'local', Mountpoint: '/x', Labels: {}, Scope: 'local', Options: {} };
  }
  async listVolumes(): Promise<{ Volumes: Json[]; Warnings: string[] | null }> {
    return { Volumes: [], Warnings: null };
  }
  async inspectVolume(name: string): Promise<Json> {
    throw notFound(`get ${name}: no such volume`);
  }
  async removeVolume(name: string): Promise<void> {
    throw notFound(`get ${name}: no such volume`);
  }
  async pruneVolumes(): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    return { VolumesDeleted: [], SpaceReclaimed: 0 };
  }
  /** Networks by name: a record of what the routes passed (connect/disconnect bodies included). */
  readonly networks = new Map<string, Json>();
  async listNetworks(): Promise<Json[]> {
    return [...this.networks.values()];
  }
  async inspectNetwork(ref: string): Promise<Json> {
    const n = this.networks.get(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }
  async createNetwork(body: Json): Promise<{ Id: string; Warning: string }> {
    if (this.networks.has(body.Name as string)) throw conflict(`network with name ${body.Name as string} already exists`);
    const Id = randomBytes(32).toString('hex');
    this.networks.set(body.Name as string, { Name: body.Name, Id, Driver: 'bridge', Containers: {} });
    return { Id, Warning: '' };
  }
  async removeNetwork(ref: string): Promise<void> {
    const n = await this.inspectNetwork(ref);
    if (Object.keys(n.Containers as Json).length) throw new HakoError({ step: `error while removing network: network ${ref} id ${n.Id as string} has active endpoints`, kind: 'forbidden' });
    this.networks.delete(ref);
  }
  async pruneNetworks(): Promise<{ NetworksDeleted: string[] }> {
    const gone = [...this.networks.values()].filter((n) => !Object.keys(n.Containers as Json).length).map((n) => n.Name as string);
    for (const g of gone) this.networks.delete(g);
    return { NetworksDeleted: gone };
  }
  async connectNetwork(ref: string, body: Json): Promise<void> {
    const n = await this.inspectNetwork(ref);
    const c = this.find(body.Container as string);
    (n.Containers as Json)[c.id] = { Name: c.name, EndpointConfig: body.EndpointConfig ?? null };
  }
  async disconnectNetwork(ref: string, body: Json): Promise<void> {
    const n = await this.inspectNetwork(ref);
    const c = this.find(body.Container as string);
    if (!(c.id in (n.Containers as Json))) throw notFound(`container ${c.id} is not connected to network ${ref}`);
    delete (n.Containers as Json)[c.id];
  }
  async close(): Promise<void> {}
}
