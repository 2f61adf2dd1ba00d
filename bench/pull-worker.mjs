// One hako pull in its own process, so its time and peak RSS are its own.
// Usage: node bench/pull-worker.mjs ROOT REF   → prints {"ms":…, "cpuS":…, "maxRssMB":…, "setupMs":…}
// The pull goes through the engine's unpacker (layers unpacked into its SnapshotStore), with the
// modules loaded first as hakod has them: `ms` is what a pull costs the daemon (a first pull, cold
// JIT); `setupMs` is this process's module loading before it (the bench adds Node's start-up).
import { join, dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const s0 = process.hrtime.bigint();
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const [root, ref] = process.argv.slice(2);
const { ImageService } = await import(join(repo, 'dist/src/image/images.js'));
const { SnapshotStore } = await import(join(repo, 'dist/src/image/snapshot/index.js'));
const { snapshotUnpacker } = await import(join(repo, 'dist/src/engine/snapshot-unpacker.js'));
const images = new ImageService({ root, unpacker: snapshotUnpacker(new SnapshotStore(join(root, 'snapshots'))), insecureRegistries: [ref.split('/')[0]] });
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
await images.pull(ref);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const cpu = process.cpuUsage(c0); // all threads of the process: main, libuv pool, workers
await images.close?.();
// Peak RSS from VmHWM (per address space): ru_maxrss would include the parent's high-water mark,
// which Linux carries over through fork+exec.
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({ ms, cpuS: (cpu.user + cpu.system) / 1e6, maxRssMB: Number(hwm?.[1] ?? 0) / 1024, setupMs: Number(t0 - s0) / 1e6 }));
