// A harness for runtime tests: a temp state root and bundle, busybox rootfs, relative test
// cgroups, stdio captured into files, and a cleanup that checks nothing was left behind.
import { closeSync, openSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '../../src/runtime/index.js';
import { defaultSpec } from '../../src/runtime/spec/defaults.js';
import type { Spec } from '../../src/runtime/spec/types.js';
import { makeBusyboxRootfs, tempDir, testCgroupName, cgroupDirs, removeCgroupEverywhere } from './fixtures.js';

export interface Harness {
  dir: string;
  root: string;
  runtime: Runtime;
  /** A bundle dir with a busybox rootfs and `config` written as config.json. */
  bundle(name: string, mutate?: (spec: Spec) => void, args?: string[]): { path: string; spec: Spec };
  /** Runs a container to completion (create+start via launch), returns exit code and output. */
  run(name: string, args: string[], mutate?: (spec: Spec) => void): Promise<{ code: number; out: string }>;
  stdio(name: string): { fds: [number, number, number]; read(): string; close(): void };
  cgroupName(name: string): string;
  warnings: string[];
  cleanup(): Promise<void>;
}

let rootfsCache: string | undefined;

export function harness(label: string, opts: { cgroupDriver?: 'v1' | 'v2' } = {}): Harness {
  const tmp = tempDir(`hako-rt-${label}-`);
  const root = join(tmp.path, 'state');
  const warnings: string[] = [];
  const runtime = new Runtime({ root, log: { warn: (m) => warnings.push(m) }, ...opts });
  const cgroupNames: string[] = [];
  const openFds: number[] = [];
  const h: Harness = {
    dir: tmp.path,
    root,
    runtime,
    warnings,
    cgroupName(name) {
      const n = testCgroupName(`${label}-${name}`);
      cgroupNames.push(n);
      return n;
    },
    bundle(name, mutate, args = ['/bin/true']) {
      const path = join(tmp.path, `bundle-${name}`);
      makeBusyboxRootfs(join(path, 'rootfs'));
      const spec = defaultSpec({ args, terminal: false });
      spec.root = { path: 'rootfs', readonly: false };
      spec.linux = { ...(spec.linux ?? {}), cgroupsPath: h.cgroupName(name) };
      mutate?.(spec);
      writeFileSync(join(path, 'config.json'), JSON.stringify(spec, null, 2));
      return { path, spec };
    },
    stdio(name) {
      const file = join(tmp.path, `out-${name}`);
      const out = openSync(file, 'w');
      const inp = openSync('/dev/null', 'r');
      openFds.push(out, inp);
      let closed = false;
      return {
        fds: [inp, out, out],
        read: () => readFileSync(file, 'utf8'),
        close: () => {
          if (closed) return;
          closed = true;
          closeSync(out);
          closeSync(inp);
          openFds.splice(openFds.indexOf(out), 1);
          openFds.splice(openFds.indexOf(inp), 1);
        },
      };
    },
    async run(name, args, mutate) {
      const { path } = h.bundle(name, mutate, args);
      const io = h.stdio(name);
      const launched = await runtime.launch({ id: name, bundle: path, stdio: io.fds });
      const { code, signal } = await launched.process.exited;
      await runtime.delete(name, { force: true });
      io.close();
      const status = signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : (code ?? -1);
      return { code: status, out: io.read() };
    },
    async cleanup() {
      for (const id of runtime.list()) {
        try {
          await runtime.delete(id, { force: true });
        } catch {
          /* reported below */
        }
      }
      for (const fd of openFds) {
        try {
          closeSync(fd);
        } catch {
          /* closed */
        }
      }
      const leftCgroups = cgroupNames.flatMap((n) => cgroupDirs(n));
      for (const n of cgroupNames) removeCgroupEverywhere(n);
      const leftState = existsSync(root) ? readdirSync(root) : [];
      tmp.cleanup();
      if (leftCgroups.length > 0) throw new Error(`leaked cgroups: ${leftCgroups.join(', ')}`);
      if (leftState.length > 0) throw new Error(`leaked state dirs: ${leftState.join(', ')}`);
    },
  };
  return h;
}

export function rootfsTemplate(dir: string): string {
  if (!rootfsCache) rootfsCache = makeBusyboxRootfs(dir);
  return rootfsCache;
}
