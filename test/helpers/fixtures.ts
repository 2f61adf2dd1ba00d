// Shared fixtures for tests: temp dirs that clean themselves up, a busybox rootfs from Debian's
// busybox-static, OCI bundles, and a cgroup parent beneath the test process's own cgroup.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync, writeFileSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordCgroups, recordDir } from './ledger.js';

export const BUSYBOX = '/bin/busybox';
export const isRoot = process.getuid?.() === 0;

/** A temp dir removed (recursively, mounts must already be gone) by the returned cleanup. */
export function tempDir(prefix = 'hako-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  recordDir(path);
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

let cachedApplets: string[] | undefined;
function applets(): string[] {
  if (!cachedApplets) {
    const out = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' });
    cachedApplets = out.split('\n').filter((l) => l.length > 0);
  }
  return cachedApplets;
}

/** A tar of makeBusyboxRootfs's tree, made under `dir` (for `docker import` / `hako import`); its path. */
export function busyboxRootfsTar(dir: string): string {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  makeBusyboxRootfs(rootfs);
  const tar = join(dir, 'busybox.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  return tar;
}

/**
 * Writes a minimal busybox rootfs into `dir`: /bin/busybox plus one symlink per applet,
 * /etc/passwd and /etc/group with root and nobody, empty /proc /sys /dev /tmp.
 */
export function makeBusyboxRootfs(dir: string): string {
  if (!existsSync(BUSYBOX)) throw new Error('busybox-static is not installed (apt-get install busybox-static)');
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home', 'var']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  execFileSync('chmod', ['0755', join(dir, 'bin/busybox')]);
  for (const applet of applets()) {
    const dest = join(dir, applet);
    if (applet === 'bin/busybox' || existsSync(dest)) continue;
    mkdirSync(join(dest, '..'), { recursive: true });
    symlinkSync('/bin/busybox', dest);
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  execFileSync('chmod', ['1777', join(dir, 'tmp')]);
  return dir;
}

/** A bundle dir with rootfs/ (busybox) and the given config.json object. */
export function makeBundle(dir: string, config: unknown): string {
  mkdirSync(dir, { recursive: true });
  makeBusyboxRootfs(join(dir, 'rootfs'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

/**
 * This process's cgroup path in a v1 controller hierarchy (or the v2 one with controller '').
 * Tests create their cgroups beneath it, never elsewhere.
 */
export function ownCgroup(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === undefined || path === undefined) continue;
    const list = ctrls.split(',');
    if ((controller === '' && ctrls === '') || list.includes(controller)) return path;
  }
  throw new Error(`no cgroup for controller ${controller}`);
}

/**
 * A unique *relative* cgroupsPath for a test. The runtime (like runc) places a relative
 * cgroupsPath beneath the caller's own cgroup in each hierarchy, so containers made with it stay
 * beneath the test process's own cgroup, as the house rules require. Recorded in the run's ledger
 * (helpers/ledger.ts: a run cut short by SIGKILL is swept by the next).
 */
export function testCgroupName(name: string): string {
  const rel = `hako-test-${process.pid}-${name}`;
  const domain = v2LimitDomain();
  if (domain !== undefined) {
    const abs = join(domain, rel);
    recordCgroups([join('/sys/fs/cgroup', abs)]);
    return abs;
  }
  recordCgroups(cgroupPaths(rel));
  return rel;
}

// cgroup v2's "no internal processes" rule: a non-root cgroup with processes of its own cannot
// enable controllers for its children (EBUSY), so on a pure v2 host a relative cgroupsPath beneath
// the test process's own cgroup can have no limits. When this process is alone in its cgroup O (run
// by itself: a scope of its own, or scripts/v2-guest.mjs), it moves itself into a leaf
// O/hako-test-<pid>-self and names its cgroups by absolute paths O/hako-test-<pid>-<name>: siblings
// of the leaf, still beneath O. At exit it disables the controllers it enabled in O (a process
// cannot join a cgroup that has some enabled: EBUSY), moves back into O and removes the leaf.
let v2Domain: { own: string; leaf: string; subtreeBefore: Set<string> } | null | undefined;

/** O (see above) when this process runs alone in its cgroup on a pure v2 host; otherwise undefined. */
export function v2LimitDomain(): string | undefined {
  if (v2Domain !== undefined) return v2Domain?.own;
  v2Domain = null;
  const root = '/sys/fs/cgroup';
  if (!isRoot || !existsSync(join(root, 'cgroup.controllers'))) return undefined;
  const own = ownCgroup('');
  if (own === '/') return undefined; // the root has no such rule, and is not ours to fill
  const ownDir = join(root, own);
  const procs = readFileSync(join(ownDir, 'cgroup.procs'), 'utf8').split('\n').filter((p) => p !== '');
  if (procs.some((p) => Number(p) !== process.pid)) return undefined;
  const leaf = join(own, `hako-test-${process.pid}-self`);
  recordCgroups([join(root, leaf)]);
  mkdirSync(join(root, leaf));
  writeFileSync(join(root, leaf, 'cgroup.procs'), String(process.pid));
  const subtreeBefore = new Set(readFileSync(join(ownDir, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/).filter(Boolean));
  v2Domain = { own, leaf, subtreeBefore };
  process.on('exit', restoreV2Domain);
  return own;
}

function restoreV2Domain(): void {
  if (!v2Domain) return;
  const root = '/sys/fs/cgroup';
  const ownDir = join(root, v2Domain.own);
  try {
    const now = readFileSync(join(ownDir, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const c of now.filter((c) => !v2Domain!.subtreeBefore.has(c)).reverse()) writeFileSync(join(ownDir, 'cgroup.subtree_control'), `-${c}`);
    writeFileSync(join(ownDir, 'cgroup.procs'), String(process.pid));
    rmdirSync(join(root, v2Domain.leaf));
  } catch (err) {
    console.error(`fixtures: restoring this process's cgroup ${v2Domain.own} failed: ${(err as Error).message}`);
  }
  v2Domain = null;
}

/** The dir for relative cgroup path `rel` beneath this process's own cgroup in every hierarchy (existing or not). */
export function cgroupPaths(rel: string): string[] {
  const root = '/sys/fs/cgroup';
  const dirs: string[] = [];
  if (!existsSync(root)) return dirs;
  // An absolute path (testCgroupName on a pure v2 host, see v2LimitDomain).
  if (rel.startsWith('/')) return [join(root, rel)];
  const own = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === undefined || path === undefined) continue;
    if (ctrls === '') own.set('unified', path);
    for (const c of ctrls.split(',')) own.set(c.replace(/^name=/, ''), path);
  }
  for (const h of readdirSync(root)) {
    const base = own.get(h) ?? own.get(h.split(',')[0] ?? h);
    if (base === undefined) continue;
    dirs.push(join(root, h, base, rel));
  }
  if (existsSync(join(root, 'cgroup.controllers'))) dirs.push(join(root, own.get('unified') ?? '/', rel));
  return dirs;
}

/** Every existing directory for relative cgroup path `rel` beneath this process's own cgroups. */
export function cgroupDirs(rel: string): string[] {
  return cgroupPaths(rel).filter((d) => existsSync(d));
}

/** Removes leftover cgroup dirs for relative path `rel` (depth-first). Returns what it found. */
export function removeCgroupEverywhere(rel: string): string[] {
  const found = cgroupDirs(rel);
  for (const dir of found) removeCgroupTree(dir);
  return found;
}

function removeCgroupTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  }
  // EBUSY while a container's process has exited but is not reaped yet (its monitor reaps it a
  // moment after a daemon stop): the kernel counts a zombie as populating its cgroups until then.
  // Retried for up to ~2 s, so a stopping daemon's containers leave no cgroup behind.
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || i >= 100) return; // the test's leak check reports it
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/**
 * SIGKILLs every process in the cgroups for relative path `rel` (the containers of a test's daemon:
 * processes it started) and waits up to 5 s for them to be gone. Returns how many it signalled.
 */
export function killCgroupProcs(rel: string): number {
  const pids = new Set<number>();
  const dirs: string[] = [];
  const collect = (dir: string): void => {
    dirs.push(dir);
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) collect(join(dir, e.name));
    for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l));
  };
  for (const dir of cgroupDirs(rel)) collect(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  // A frozen task (a paused container, or one a commit froze when its daemon died) takes its
  // SIGKILL only once thawed: without this it stayed, with its cgroups, after a test cut short.
  for (const dir of dirs) {
    for (const [f, v] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
      try {
        writeFileSync(join(dir, f), v);
      } catch {
        // not this hierarchy's file, or gone
      }
    }
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 5000;
  // A killed container stays in /proc (state Z) until its monitor reaps it. One whose parent is this
  // process (an engine without a monitor) is reaped only by our event loop: not while we exit.
  const waiting = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return !(state === 'Z' && Number(ppid) === process.pid);
    } catch {
      return false;
    }
  };
  while ([...pids].some(waiting) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
  return pids.size;
}

/**
 * SIGKILLs the processes whose command line names `dir` or a path below it (a dir of ours, made by
 * mkdtemp: the hako-monitors an engine of ours started, `--dir <dir>/run/monitors/…`, which outlive
 * the process that started them by design) and waits up to 5 s for them to be gone. Returns them.
 */
export function killProcsNaming(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone
    }
    if (!argv.some((a) => a === dir || a.includes(dir + '/') || a.endsWith('=' + dir))) continue;
    try {
      process.kill(pid, 'SIGKILL');
      pids.push(pid);
    } catch {
      // gone
    }
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 5000;
  const alive = (pid: number): boolean => {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^[ZX]/.test(st.slice(st.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  };
  while (pids.some(alive) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
  return pids;
}

/** Lazily unmounts every mount point below `prefix`, deepest first (e.g. a killed daemon's rootfs overlays). */
export function unmountUnder(prefix: string): void {
  for (const m of mountsUnder(prefix).reverse()) {
    try {
      execFileSync('umount', ['--lazy', m], { stdio: 'ignore' });
    } catch {
      // under a mount already gone
    }
  }
}

/** Mount points below `prefix` still present in this mount namespace (to assert nothing leaked). */
export function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === prefix || m.startsWith(prefix + '/')));
}
