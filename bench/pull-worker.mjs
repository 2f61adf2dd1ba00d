// One hako pull in its own process, so its time and peak RSS are its own.
// Usage: node bench/pull-worker.mjs ROOT REF   → prints {"ms":…, "cpuS":…, "maxRssMB":…}
import { join, dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const [root, ref] = process.argv.slice(2);
const { ImageService } = await import(join(repo, 'dist/src/image/images.js'));
const { directoryUnpacker } = await import(join(repo, 'dist/src/image/pull.js'));
const images = new ImageService({ root, unpacker: directoryUnpacker(join(root, 'snapshots')), insecureRegistries: [ref.split('/')[0]] });
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
await images.pull(ref);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const cpu = process.cpuUsage(c0); // all threads of the process: main, libuv pool, workers
await images.close?.();
// Peak RSS from VmHWM (per address space): ru_maxrss would include the parent's high-water mark,
// which Linux carries over through fork+exec.
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({ ms, cpuS: (cpu.user + cpu.system) / 1e6, maxRssMB: Number(hwm?.[1] ?? 0) / 1024 }));
