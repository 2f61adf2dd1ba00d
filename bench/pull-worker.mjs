// One hako pull in its own process, so its time and peak RSS are its own.
// Usage: node bench/pull-worker.mjs ROOT REF [--phases]
//   → prints {"ms":…, "cpuS":…, "maxRssMB":…, "setupMs":…[, "phases": {milestone: ms since the pull's start}]}
// The pull goes through the engine's unpacker (layers unpacked into its SnapshotStore), with the
// modules loaded first as hakod has them: `ms` is what a pull costs the daemon (a first pull, cold
// JIT); `setupMs` is this process's module loading before it (the bench adds Node's start-up).
// --phases marks when each request was sent and answered, and each pull progress step.
import { join, dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import dc from 'node:diagnostics_channel';

const s0 = process.hrtime.bigint();
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const [root, ref] = process.argv.slice(2);
const tracing = process.argv.includes('--phases');
const { ImageService } = await import(join(repo, 'dist/src/image/images.js'));
const { SnapshotStore } = await import(join(repo, 'dist/src/image/snapshot/index.js'));
const { snapshotUnpacker } = await import(join(repo, 'dist/src/engine/snapshot-unpacker.js'));
const images = new ImageService({ root, unpacker: snapshotUnpacker(new SnapshotStore(join(root, 'snapshots'))), insecureRegistries: [ref.split('/')[0]] });
const phases = {};
const mark = (what) => (phases[what] ??= Number(process.hrtime.bigint() - t0) / 1e6);
if (tracing) {
  // `/v2/x/blobs/sha256:…` → `blob`; the config and the layers are told apart by the manifest.
  const what = (req) => (/\/manifests\//.test(req.path) ? 'manifest' : /\/blobs\//.test(req.path) ? `blob ${req.path.split('sha256:')[1]?.slice(0, 12)}` : req.path);
  dc.subscribe('http.client.request.start', ({ request }) => mark(`${what(request)} request sent`));
  dc.subscribe('http.client.response.finish', ({ request, response }) => {
    mark(`${what(request)} answer (${response.statusCode})`);
    response.once('end', () => mark(`${what(request)} received`));
  });
}
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
await images.pull(ref, tracing ? { progress: (ev) => ev.current === undefined && mark(`${ev.id ? 'layer: ' : ''}${ev.status.replace(/ for .*|: .*/, '')}`) } : {});
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const cpu = process.cpuUsage(c0); // all threads of the process: main, libuv pool, workers
if (tracing) {
  const rec = await images.resolve(ref);
  const names = new Map([[rec.config.digest, 'config'], ...rec.layers.map((l, i) => [l.digest, rec.layers.length > 1 ? `layer ${i + 1}` : 'layer'])]);
  for (const k of Object.keys(phases)) {
    const hex = /^blob (\w{12})/.exec(k)?.[1];
    const d = hex && [...names.keys()].find((x) => x.startsWith(`sha256:${hex}`));
    if (d) {
      phases[k.replace(`blob ${hex}`, names.get(d))] = phases[k];
      delete phases[k];
    }
  }
}
await images.close?.();
// Peak RSS from VmHWM (per address space): ru_maxrss would include the parent's high-water mark,
// which Linux carries over through fork+exec.
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({ ms, cpuS: (cpu.user + cpu.system) / 1e6, maxRssMB: Number(hwm?.[1] ?? 0) / 1024, setupMs: Number(t0 - s0) / 1e6, ...(tracing ? { phases } : {}) }));
