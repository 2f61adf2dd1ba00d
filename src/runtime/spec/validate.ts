// Hand-written validation of an OCI config.json (runtime-spec 1.x, Linux).
//
// This runs on every container start, so it is plain code (no schema library): one pass over the
// object, failing on the first problem with a message that names the JSON path, e.g.
//   config.json: linux.namespaces[2].type "foo" is not a namespace type (pid, network, ...)
// Unknown fields are ignored, as the spec requires. The result is the same object, typed.
// test/unit/spec-schema.test.ts cross-checks the valid configs against the real JSON schema.
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { invalid, HakoError } from '../../common/errors.js';
import { NAMESPACE_TYPES, type NamespaceType, type Spec } from './types.js';

export interface ValidateOptions {
  /** Check that root.path is an existing directory (default true). */
  checkRootfs?: boolean;
}

type Obj = Record<string, unknown>;

function fail(msg: string): never {
  throw invalid(`config.json: ${msg}`);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function obj(v: unknown, path: string): Obj {
  if (!isObj(v)) fail(`${path} must be an object, not ${describe(v)}`);
  return v;
}

function optObj(parent: Obj, key: string, path: string): Obj | undefined {
  const v = parent[key];
  return v === undefined ? undefined : obj(v, path);
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(`${path} must be a string, not ${describe(v)}`);
  return v;
}

function optStr(parent: Obj, key: string, path: string): void {
  if (parent[key] !== undefined) str(parent[key], path);
}

function optBool(parent: Obj, key: string, path: string): void {
  const v = parent[key];
  if (v !== undefined && typeof v !== 'boolean') fail(`${path} must be true or false, not ${describe(v)}`);
}

const U32_MAX = 0xffffffff;

function int(v: unknown, path: string, min: number, max: number, what = 'an integer'): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${path} must be ${what}, not ${describe(v)}`);
  if (v < min) fail(min === 0 ? `${path} must not be negative (got ${v})` : `${path} must be at least ${min} (got ${v})`);
  if (v > max) fail(`${path} must be at most ${max} (got ${v})`);
  return v;
}

function optInt(parent: Obj, key: string, path: string, min: number, max: number): void {
  if (parent[key] !== undefined) int(parent[key], path, min, max);
}

/** uint64 fields: JSON numbers above 2^53 lose precision but are still accepted. */
function optU64(parent: Obj, key: string, path: string): void {
  if (parent[key] !== undefined) int(parent[key], path, 0, Number.MAX_VALUE);
}

/** int64 fields where -1 means "unlimited" and nothing else may be negative (sizes, limits). */
function optSize(parent: Obj, key: string, path: string): void {
  const v = parent[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${path} must be an integer, not ${describe(v)}`);
  if (v < -1) fail(`${path} must not be negative (got ${v}; -1 means unlimited)`);
}

function strArray(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) fail(`${path} must be an array of strings, not ${describe(v)}`);
  v.forEach((s, i) => {
    if (typeof s !== 'string') fail(`${path}[${i}] must be a string, not ${describe(s)}`);
  });
  return v as string[];
}

function optStrArray(parent: Obj, key: string, path: string): string[] | undefined {
  return parent[key] === undefined ? undefined : strArray(parent[key], path);
}

function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(`${path} must be an array, not ${describe(v)}`);
  return v;
}

function absPath(v: unknown, path: string): string {
  const s = str(v, path);
  if (!s.startsWith('/')) fail(`${path} ${JSON.stringify(s)} must be an absolute path`);
  return s;
}

function stringMap(v: unknown, path: string): void {
  const o = obj(v, path);
  for (const [k, val] of Object.entries(o)) {
    if (k === '') fail(`${path} has an empty key`);
    if (typeof val !== 'string') fail(`${path}[${JSON.stringify(k)}] must be a string, not ${describe(val)}`);
  }
}

/** Any 1.x version ("1.0.0", "1.2.1", "1.3.0-rc.1", "1.0.2-dev"). */
const OCI_1X = /^1\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/;

function validateIdMappings(v: unknown, path: string): void {
  const list = array(v, path);
  if (list.length === 0) fail(`${path} must not be empty`);
  list.forEach((m, i) => {
    const p = `${path}[${i}]`;
    const o = obj(m, p);
    const c = int(o.containerID, `${p}.containerID`, 0, U32_MAX);
    const h = int(o.hostID, `${p}.hostID`, 0, U32_MAX);
    const s = int(o.size, `${p}.size`, 1, U32_MAX, 'a positive integer');
    if (c + s > U32_MAX + 1 || h + s > U32_MAX + 1) fail(`${p} runs past id 4294967295`);
  });
  // The kernel refuses overlapping ranges in a uid_map (EINVAL): say so before it does.
  const sorted = (list as Array<{ containerID: number; size: number }>).slice().sort((a, b) => a.containerID - b.containerID);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.containerID + prev.size > sorted[i]!.containerID) fail(`${path} has overlapping container id ranges`);
  }
}

function validateHooks(hooks: Obj): void {
  for (const [name, list] of Object.entries(hooks)) {
    const p = `hooks.${name}`;
    if (list === undefined) continue;
    array(list, p).forEach((h, i) => {
      const hp = `${p}[${i}]`;
      const o = obj(h, hp);
      absPath(o.path, `${hp}.path`);
      optStrArray(o, 'args', `${hp}.args`);
      optStrArray(o, 'env', `${hp}.env`);
      optInt(o, 'timeout', `${hp}.timeout`, 1, Number.MAX_SAFE_INTEGER);
    });
  }
}

function validateProcess(p: Obj): void {
  const args = p.args;
  if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== 'string')) {
    fail('process.args must be a non-empty array of strings');
  }
  if (args[0] === '') fail('process.args[0] must not be empty');
  const cwd = p.cwd;
  if (cwd === undefined) fail('process.cwd is required');
  if (typeof cwd !== 'string' || !cwd.startsWith('/')) fail(`process.cwd ${describe(cwd)} must be an absolute path`);
  const env = optStrArray(p, 'env', 'process.env');
  env?.forEach((e, i) => {
    if (e.indexOf('=') <= 0) fail(`process.env[${i}] ${JSON.stringify(e)} must look like NAME=value`);
  });
  optBool(p, 'terminal', 'process.terminal');
  const cs = optObj(p, 'consoleSize', 'process.consoleSize');
  if (cs) {
    int(cs.height, 'process.consoleSize.height', 0, 0xffff);
    int(cs.width, 'process.consoleSize.width', 0, 0xffff);
  }
  if (p.user === undefined) fail('process.user is required (at least {"uid": 0, "gid": 0})');
  const user = obj(p.user, 'process.user');
  int(user.uid, 'process.user.uid', 0, U32_MAX);
  int(user.gid, 'process.user.gid', 0, U32_MAX);
  optInt(user, 'umask', 'process.user.umask', 0, 0o777);
  if (user.additionalGids !== undefined) {
    array(user.additionalGids, 'process.user.additionalGids').forEach((g, i) => int(g, `process.user.additionalGids[${i}]`, 0, U32_MAX));
  }
  optStr(user, 'username', 'process.user.username');
  const caps = optObj(p, 'capabilities', 'process.capabilities');
  if (caps) {
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) {
      optStrArray(caps, set, `process.capabilities.${set}`)?.forEach((c, i) => {
        if (!/^CAP_[A-Z0-9_]+$/.test(c)) fail(`process.capabilities.${set}[${i}] ${JSON.stringify(c)} is not a capability name (like CAP_CHOWN)`);
      });
    }
  }
  if (p.rlimits !== undefined) {
    const seen = new Set<string>();
    array(p.rlimits, 'process.rlimits').forEach((r, i) => {
      const rp = `process.rlimits[${i}]`;
      const o = obj(r, rp);
      const type = str(o.type, `${rp}.type`);
      if (!/^RLIMIT_[A-Z]+$/.test(type)) fail(`${rp}.type ${JSON.stringify(type)} is not an rlimit name (like RLIMIT_NOFILE)`);
      if (seen.has(type)) fail(`${rp}: duplicate rlimit ${type}`);
      seen.add(type);
      const soft = int(o.soft, `${rp}.soft`, 0, Number.MAX_VALUE);
      const hard = int(o.hard, `${rp}.hard`, 0, Number.MAX_VALUE);
      if (soft > hard) fail(`${rp}: soft limit ${soft} is above the hard limit ${hard}`);
    });
  }
  optBool(p, 'noNewPrivileges', 'process.noNewPrivileges');
  optInt(p, 'oomScoreAdj', 'process.oomScoreAdj', -1000, 1000);
  optStr(p, 'apparmorProfile', 'process.apparmorProfile');
  optStr(p, 'selinuxLabel', 'process.selinuxLabel');
  optStr(p, 'commandLine', 'process.commandLine');
  const io = optObj(p, 'ioPriority', 'process.ioPriority');
  if (io) {
    const cls = io.class;
    if (cls !== 'IOPRIO_CLASS_RT' && cls !== 'IOPRIO_CLASS_BE' && cls !== 'IOPRIO_CLASS_IDLE') {
      fail(`process.ioPriority.class ${describe(cls)} is not one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE`);
    }
    optInt(io, 'priority', 'process.ioPriority.priority', 0, 7);
  }
  const sched = optObj(p, 'scheduler', 'process.scheduler');
  if (sched) str(sched.policy, 'process.scheduler.policy');
}

function validateMounts(list: unknown): void {
  array(list, 'mounts').forEach((m, i) => {
    const p = `mounts[${i}]`;
    const o = obj(m, p);
    if (o.destination === undefined) fail(`${p}.destination is required`);
    const dest = str(o.destination, `${p}.destination`);
    if (!isAbsolute(dest)) fail(`${p}.destination ${JSON.stringify(dest)} must be an absolute path`);
    optStr(o, 'type', `${p}.type`);
    optStr(o, 'source', `${p}.source`);
    optStrArray(o, 'options', `${p}.options`);
    if (o.uidMappings !== undefined) validateIdMappings(o.uidMappings, `${p}.uidMappings`);
    if (o.gidMappings !== undefined) validateIdMappings(o.gidMappings, `${p}.gidMappings`);
  });
}

function validateResources(r: Obj): void {
  const mem = optObj(r, 'memory', 'linux.resources.memory');
  if (mem) {
    for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP']) optSize(mem, k, `linux.resources.memory.${k}`);
    optInt(mem, 'swappiness', 'linux.resources.memory.swappiness', 0, 100);
  }
  const cpu = optObj(r, 'cpu', 'linux.resources.cpu');
  if (cpu) {
    for (const k of ['shares', 'period', 'burst', 'realtimePeriod']) optU64(cpu, k, `linux.resources.cpu.${k}`);
    optSize(cpu, 'quota', 'linux.resources.cpu.quota');
    optStr(cpu, 'cpus', 'linux.resources.cpu.cpus');
    optStr(cpu, 'mems', 'linux.resources.cpu.mems');
  }
  const pids = optObj(r, 'pids', 'linux.resources.pids');
  if (pids) {
    if (pids.limit === undefined) fail('linux.resources.pids.limit is required');
    int(pids.limit, 'linux.resources.pids.limit', Number.MIN_SAFE_INTEGER, Number.MAX_VALUE);
  }
  if (r.devices !== undefined) {
    array(r.devices, 'linux.resources.devices').forEach((d, i) => {
      const p = `linux.resources.devices[${i}]`;
      const o = obj(d, p);
      if (typeof o.allow !== 'boolean') fail(`${p}.allow must be true or false`);
      if (o.type !== undefined && !['a', 'b', 'c'].includes(str(o.type, `${p}.type`))) fail(`${p}.type ${JSON.stringify(o.type)} must be a, b or c`);
      if (o.access !== undefined && !/^[rwm]*$/.test(str(o.access, `${p}.access`))) fail(`${p}.access ${JSON.stringify(o.access)} must be made of r, w and m`);
    });
  }
  if (r.hugepageLimits !== undefined) {
    array(r.hugepageLimits, 'linux.resources.hugepageLimits').forEach((h, i) => {
      const p = `linux.resources.hugepageLimits[${i}]`;
      const o = obj(h, p);
      const size = str(o.pageSize, `${p}.pageSize`);
      if (!/^[1-9][0-9]*[KMG]B$/.test(size)) fail(`${p}.pageSize ${JSON.stringify(size)} must look like 2MB or 1GB`);
      int(o.limit, `${p}.limit`, 0, Number.MAX_VALUE);
    });
  }
  if (r.unified !== undefined) stringMap(r.unified, 'linux.resources.unified');
  if (r.blockIO !== undefined) obj(r.blockIO, 'linux.resources.blockIO');
}

function validateLinux(l: Obj): Set<NamespaceType> {
  const types = new Set<NamespaceType>();
  let userNew = false;
  if (l.namespaces !== undefined) {
    array(l.namespaces, 'linux.namespaces').forEach((n, i) => {
      const p = `linux.namespaces[${i}]`;
      const o = obj(n, p);
      const t = o.type;
      if (typeof t !== 'string' || !(NAMESPACE_TYPES as readonly string[]).includes(t)) {
        fail(`${p}.type ${describe(t)} is not a namespace type (${NAMESPACE_TYPES.join(', ')})`);
      }
      const type = t as NamespaceType;
      if (types.has(type)) fail(`${p}: duplicate namespace type "${type}"`);
      types.add(type);
      if (o.path !== undefined) {
        absPath(o.path, `${p}.path`);
      } else if (type === 'user') {
        userNew = true;
      }
    });
  }
  const hasUser = types.has('user');
  for (const key of ['uidMappings', 'gidMappings'] as const) {
    if (l[key] !== undefined) {
      validateIdMappings(l[key], `linux.${key}`);
      if (!hasUser) fail(`linux.${key} need a user namespace (add {"type": "user"} to linux.namespaces)`);
    } else if (userNew) {
      fail(`linux.${key} are required with a new user namespace`);
    }
  }
  if (l.timeOffsets !== undefined) {
    const to = obj(l.timeOffsets, 'linux.timeOffsets');
    if (!types.has('time')) fail('linux.timeOffsets need a time namespace (add {"type": "time"} to linux.namespaces)');
    for (const clock of ['monotonic', 'boottime']) {
      const c = optObj(to, clock, `linux.timeOffsets.${clock}`);
      if (!c) continue;
      optInt(c, 'secs', `linux.timeOffsets.${clock}.secs`, -Number.MAX_VALUE, Number.MAX_VALUE);
      optInt(c, 'nanosecs', `linux.timeOffsets.${clock}.nanosecs`, 0, 999_999_999);
    }
  }
  if (l.devices !== undefined) {
    array(l.devices, 'linux.devices').forEach((d, i) => {
      const p = `linux.devices[${i}]`;
      const o = obj(d, p);
      const type = o.type;
      if (type !== 'c' && type !== 'b' && type !== 'u' && type !== 'p') fail(`${p}.type ${describe(type)} must be c, b, u or p`);
      absPath(o.path, `${p}.path`);
      if (type !== 'p') {
        if (o.major === undefined || o.minor === undefined) fail(`${p}: major and minor are required for a "${type}" device`);
      }
      optInt(o, 'major', `${p}.major`, 0, 0xfff);
      optInt(o, 'minor', `${p}.minor`, 0, 0xfffff);
      optInt(o, 'fileMode', `${p}.fileMode`, 0, 0o7777);
      optInt(o, 'uid', `${p}.uid`, 0, U32_MAX);
      optInt(o, 'gid', `${p}.gid`, 0, U32_MAX);
    });
  }
  optStr(l, 'cgroupsPath', 'linux.cgroupsPath');
  const res = optObj(l, 'resources', 'linux.resources');
  if (res) validateResources(res);
  if (l.sysctl !== undefined) stringMap(l.sysctl, 'linux.sysctl');
  const sc = optObj(l, 'seccomp', 'linux.seccomp');
  if (sc) {
    if (sc.defaultAction === undefined) fail('linux.seccomp.defaultAction is required');
    str(sc.defaultAction, 'linux.seccomp.defaultAction');
    optInt(sc, 'defaultErrnoRet', 'linux.seccomp.defaultErrnoRet', 0, U32_MAX);
    optStrArray(sc, 'architectures', 'linux.seccomp.architectures');
    optStrArray(sc, 'flags', 'linux.seccomp.flags');
    optStr(sc, 'listenerPath', 'linux.seccomp.listenerPath');
    optStr(sc, 'listenerMetadata', 'linux.seccomp.listenerMetadata');
    if (sc.syscalls !== undefined) {
      array(sc.syscalls, 'linux.seccomp.syscalls').forEach((s, i) => {
        const p = `linux.seccomp.syscalls[${i}]`;
        const o = obj(s, p);
        const names = o.names === undefined ? fail(`${p}.names is required`) : strArray(o.names, `${p}.names`);
        if (names.length === 0) fail(`${p}.names must not be empty`);
        if (o.action === undefined) fail(`${p}.action is required`);
        str(o.action, `${p}.action`);
        optInt(o, 'errnoRet', `${p}.errnoRet`, 0, U32_MAX);
        if (o.args !== undefined) {
          array(o.args, `${p}.args`).forEach((a, j) => {
            const ap = `${p}.args[${j}]`;
            const ao = obj(a, ap);
            int(ao.index, `${ap}.index`, 0, 5);
            int(ao.value, `${ap}.value`, 0, Number.MAX_VALUE);
            optU64(ao, 'valueTwo', `${ap}.valueTwo`);
            str(ao.op, `${ap}.op`);
          });
        }
      });
    }
  }
  if (l.rootfsPropagation !== undefined) {
    const rp = l.rootfsPropagation;
    if (rp !== 'private' && rp !== 'shared' && rp !== 'slave' && rp !== 'unbindable') {
      fail(`linux.rootfsPropagation ${describe(rp)} must be one of private, shared, slave, unbindable`);
    }
  }
  for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
    optStrArray(l, key, `linux.${key}`)?.forEach((p, i) => {
      if (!p.startsWith('/')) fail(`linux.${key}[${i}] ${JSON.stringify(p)} must be an absolute path`);
    });
  }
  optStr(l, 'mountLabel', 'linux.mountLabel');
  const pers = optObj(l, 'personality', 'linux.personality');
  if (pers) {
    if (pers.domain !== undefined && pers.domain !== 'LINUX' && pers.domain !== 'LINUX32') {
      fail(`linux.personality.domain ${describe(pers.domain)} must be LINUX or LINUX32`);
    }
    optStrArray(pers, 'flags', 'linux.personality.flags');
  }
  if (l.intelRdt !== undefined) obj(l.intelRdt, 'linux.intelRdt');
  return types;
}

/**
 * Validates a parsed config.json and returns it typed. `bundle` is the absolute bundle directory
 * (root.path is relative to it). Throws an `invalid-argument` HakoError naming the JSON path.
 */
export function validateSpec(raw: unknown, bundle: string, opts: ValidateOptions = {}): Spec {
  if (!isObj(raw)) fail(`must be a JSON object, not ${describe(raw)}`);
  const v = raw.ociVersion;
  if (v === undefined) fail('ociVersion is required');
  if (typeof v !== 'string') fail(`ociVersion must be a string, not ${describe(v)}`);
  if (!OCI_1X.test(v)) fail(`ociVersion ${JSON.stringify(v)} is not supported (hako accepts any 1.x)`);

  if (raw.root === undefined) fail('root is required');
  const root = obj(raw.root, 'root');
  if (root.path === undefined || root.path === '') fail('root.path is required');
  const rootPath = str(root.path, 'root.path');
  optBool(root, 'readonly', 'root.readonly');

  if (raw.process === undefined) fail('process is required');
  validateProcess(obj(raw.process, 'process'));
  optStr(raw, 'hostname', 'hostname');
  optStr(raw, 'domainname', 'domainname');
  if (raw.mounts !== undefined) validateMounts(raw.mounts);
  const hooks = optObj(raw, 'hooks', 'hooks');
  if (hooks) validateHooks(hooks);
  if (raw.annotations !== undefined) stringMap(raw.annotations, 'annotations');
  const linux = optObj(raw, 'linux', 'linux');
  if (linux) validateLinux(linux);

  if (opts.checkRootfs !== false) checkRootfsDir(rootPath, bundle);
  return raw as unknown as Spec;
}

/** validateSpec's check of the rootfs (`root.path`, relative to `bundle`): a directory. */
export function checkRootfsDir(rootPath: string, bundle: string): void {
  const abs = resolve(bundle, rootPath);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      throw new HakoError({ step: `config.json: root.path ${abs}`, path: abs, errno: Math.abs((err as NodeJS.ErrnoException).errno ?? 0) || undefined, kind: 'invalid-argument', cause: err });
    }
  }
  if (!isDir) fail(`root.path ${abs}: no such directory`);
}

/** The absolute rootfs directory of a validated spec. */
export function rootfsPath(spec: Spec, bundle: string): string {
  return resolve(bundle, spec.root?.path ?? 'rootfs');
}
