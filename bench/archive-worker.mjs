// One timed archive operation of bench/archive.mjs in a fresh process (so peak RSS is its own):
//   node bench/archive-worker.mjs pull|save|load|import ROOT ARG [OUT]
// prints {"ms":…, "maxRssMB":…} on its last line.
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { ImageService } = await import(join(repo, 'dist/src/image/images.js'));
const { SnapshotStore } = await import(join(repo, 'dist/src/image/snapshot/index.js'));
const { snapshotUnpacker } = await import(join(repo, 'dist/src/engine/snapshot-unpacker.js'));
const [op, root, arg, out] = process.argv.slice(2);
const svc = new ImageService({ root, unpacker: snapshotUnpacker(new SnapshotStore(join(root, 'snapshots'))), dockerConfigPath: join(root, 'config.json') });
const t0 = process.hrtime.bigint();
if (op === 'pull') await svc.pull(arg);
else if (op === 'save') await pipeline(await svc.save([arg]), createWriteStream(out));
else if (op === 'load') await svc.load(createReadStream(arg));
else if (op === 'import') await svc.importImage(createReadStream(arg), { reference: 'bench/imported:1' });
else throw new Error(`unknown op ${op}`);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
svc.close();
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({ ms, maxRssMB: hwm ? Number(hwm[1]) / 1024 : 0 }));
