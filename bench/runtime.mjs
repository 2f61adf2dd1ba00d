// Runtime benchmark: the same busybox bundle started with hako and with runc in one run.
//   1. in-process create → start → exit → delete through the TypeScript API (target ≤ 8 ms median)
//   2. the `hako-runtime run` command vs `runc run` (target ≤ 1.0× runc)
// Node commands run with NODE_EXTRA_CA_CERTS unset (this machine sets it globally; alone it
// adds ~70 ms to every Node start, and a user's machine normally has it unset).
// Usage: node bench/runtime.mjs [iterations]   (root; busybox-static and runc installed)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.argv[2] ?? 50);
if (process.getuid() !== 0) {
  console.error('bench/runtime: needs root');
  process.exit(1);
}
const { makeBusyboxRootfs, testCgroupName, removeCgroupEverywhere } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { Runtime } = await import(join(repo, 'dist/src/runtime/index.js'));
const { defaultSpec } = await import(join(repo, 'dist/src/runtime/spec/defaults.js'));

const work = mkdtempSync(join(tmpdir(), 'hako-bench-'));
const cgName = testCgroupName('bench');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

function bundle(name, { netns }) {
  const dir = join(work, name);
  makeBusyboxRootfs(join(dir, 'rootfs'));
  const spec = defaultSpec({ args: ['/bin/true'], terminal: false });
  spec.root = { path: 'rootfs', readonly: true };
  spec.linux.cgroupsPath = `${cgName}/${name}`;
  if (!netns) spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

function timeCommand(argv, env, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const t1 = process.hrtime.bigint();
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
    times.push(Number(t1 - t0) / 1e6);
  }
  return times;
}

const results = [];
try {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const devnull = openSync('/dev/null', 'r+');
  for (const netns of [false, true]) {
    const label = netns ? 'with netns' : 'no netns';
    const b = bundle(`b-${netns ? 'net' : 'nonet'}`, { netns });
    // 1. in-process API
    const rt = new Runtime({ root: join(work, 'state-api') });
    const api = [];
    for (let i = 0; i < N + 5; i++) {
      const id = `api${i}`;
      const t0 = process.hrtime.bigint();
      const c = await rt.create({ id, bundle: b, stdio: [devnull, devnull, devnull] });
      await rt.start(id);
      await c.process.exited;
      await rt.delete(id);
      const t1 = process.hrtime.bigint();
      if (i >= 5) api.push(Number(t1 - t0) / 1e6);
    }
    results.push({ what: `API create→start→exit→delete (${label})`, median: median(api), p90: pct(api, 0.9) });
    // 2. commands
    const hakoRoot = join(work, 'state-cli');
    const runcRoot = join(work, 'state-runc');
    // bin/hako-runtime.cjs is the installed command (bundle + code cache, see scripts/bundle.mjs);
    // the first run writes the code cache, so it is not timed.
    const hakoArgv = (entry) => [process.execPath, join(repo, entry), '--root', hakoRoot, 'run', '--bundle', b, 'bench'];
    timeCommand(hakoArgv('bin/hako-runtime.cjs'), env, 1);
    const hako = timeCommand(hakoArgv('bin/hako-runtime.cjs'), env, N);
    const hakoEsm = timeCommand(hakoArgv('bin/hako-runtime.js'), env, N);
    const runc = timeCommand(['runc', '--root', runcRoot, 'run', '--bundle', b, 'bench'], env, N);
    results.push({ what: `hako-runtime run (${label})`, median: median(hako), p90: pct(hako, 0.9) });
    results.push({ what: `  via bin/hako-runtime.js (ESM entry) (${label})`, median: median(hakoEsm), p90: pct(hakoEsm, 0.9) });
    results.push({ what: `runc run (${label})`, median: median(runc), p90: pct(runc, 0.9) });
    results.push({ what: `ratio hako-runtime run / runc run (${label})`, ratio: median(hako) / median(runc) });
  }
  closeSync(devnull);
  const node0 = timeCommand([process.execPath, '-e', '0'], env, 20);
  results.push({ what: 'node -e 0 (start-up floor)', median: median(node0), p90: pct(node0, 0.9) });
} finally {
  removeCgroupEverywhere(cgName);
  rmSync(work, { recursive: true, force: true });
}
console.log(`runtime benchmark, ${N} iterations each, NODE_EXTRA_CA_CERTS unset for Node commands`);
for (const r of results) {
  if (r.ratio !== undefined) console.log(`  ${r.what.padEnd(52)} ${r.ratio.toFixed(2)}×`);
  else console.log(`  ${r.what.padEnd(52)} median ${r.median.toFixed(1)} ms   p90 ${r.p90.toFixed(1)} ms`);
}
