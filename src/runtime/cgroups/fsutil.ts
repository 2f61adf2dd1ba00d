// Small file helpers for cgroupfs: every failed write names what it was doing, the file and the
// value, e.g. `set memory limit: write 1024 to /sys/fs/cgroup/memory/x/memory.limit_in_bytes:
// device or resource busy (EBUSY)`.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { joinPath as join } from '../../common/join-path.js';
import { fromSystemError, HakoError } from '../../common/errors.js';

/**
 * `dir`/`file` for a cgroup dir (an absolute path without "." or "..") and a file name: plain
 * concatenation, not path.join, which normalizes character by character (hot enough, with the
 * planner's paths, to be optimized by TurboFan on every container start).
 */
export function cgroupFile(dir: string, file: string): string {
  return dir.endsWith('/') ? dir + file : `${dir}/${file}`;
}

export function writeCgroupFile(what: string, dir: string, file: string, value: string | number): void {
  const path = cgroupFile(dir, file);
  const text = String(value);
  try {
    // cgroupfs wants the whole value in one write(2); writeFileSync does exactly one for short values.
    writeFileSync(path, text, { flag: 'w' });
  } catch (err) {
    throw fromSystemError(`${what}: write ${JSON.stringify(text).slice(1, -1)} to ${path}`, err, path);
  }
}

export function readCgroupFile(dir: string, file: string): string {
  const path = cgroupFile(dir, file);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw fromSystemError(`read ${path}`, err, path);
  }
}

/** Reads a file or returns undefined when it does not exist (a controller that is not there). */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return readFileSync(cgroupFile(dir, file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP') return undefined;
    throw fromSystemError(`read ${cgroupFile(dir, file)}`, err, cgroupFile(dir, file));
  }
}

export function readNumber(dir: string, file: string): number | undefined {
  const t = readOptional(dir, file);
  if (t === undefined) return undefined;
  return parseCgroupNumber(t.trim());
}

/** 'max' → Infinity-ish (MAX_SAFE_INTEGER); otherwise the number (big v1 values lose precision, fine). */
export function parseCgroupNumber(s: string): number {
  if (s === 'max') return Number.MAX_SAFE_INTEGER;
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}

/**
 * mkdir -p of `dir`, returning the directories it made (outermost first) so that a failure later
 * can remove exactly those.
 */
export function mkdirTracked(dir: string, made: string[]): void {
  // One mkdir in the usual case (the parent exists); the missing parents only on ENOENT.
  try {
    mkdirSync(dir);
    made.push(dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = join(dir, '..');
    if (code !== 'ENOENT' || parent === dir) throw fromSystemError(`create cgroup ${dir}`, err, dir);
    mkdirTracked(parent, made);
  }
  try {
    mkdirSync(dir);
    made.push(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(`create cgroup ${dir}`, err, dir);
  }
}

/** Pids in `dir`'s cgroup.procs and every descendant's. */
export function procsRecursive(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    const text = readOptional(d, 'cgroup.procs');
    if (text === undefined) return;
    for (const l of text.split('\n')) if (l) out.push(Number(l));
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * rmdir `dir` and its sub-cgroups, deepest first. A cgroup whose last task is still exiting
 * gives EBUSY for a short while after the kill (the zombie is still charged), so retry for up to
 * `timeoutMs`. ENOENT is fine: someone else removed it. The rmdir runs in libuv's thread pool
 * (~50 µs each in a v1 hierarchy: a daemon removing 10 of them per container keeps its event
 * loop free meanwhile).
 */
export async function removeCgroupDir(dir: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw fromSystemError(`remove cgroup ${dir}`, err, dir);
    }
    // EBUSY: sub-cgroups (removed first, once), or tasks still exiting (retried).
    if (attempt === 0) {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw fromSystemError(`remove cgroup ${dir}`, err, dir);
      }
      const subs = entries.filter((e) => e.isDirectory());
      for (const e of subs) await removeCgroupDir(join(dir, e.name), Math.max(0, deadline - Date.now()));
      if (subs.length > 0) continue;
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}

/** Synchronous best-effort removal of directories made by a failed create/apply (innermost first). */
export function removeMadeDirs(made: string[]): void {
  for (const d of [...made].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      /* nothing more we can do; the caller reports the original error */
    }
  }
}

export function missingController(controller: string, dir: string, what: string): HakoError {
  return new HakoError({
    step: `${what}: the ${controller} controller is not available in ${dir}`,
    path: dir,
    hint: `enable it in the parent's cgroup.subtree_control or mount the ${controller} hierarchy`,
    kind: 'invalid-argument',
  });
}
