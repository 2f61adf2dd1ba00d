// A short soak (test/helpers/soak.ts; bench/soak.mjs is the long one): a test hakod gets busybox,
// a container that runs throughout, and a warm-up batch of the mix (docker CLI and API: run --rm on
// bridge and none, run -d + logs + exec + pause/unpause + stats + cp both ways + commit/rmi +
// stop/rm, a user network whose two containers ping each other by name, named and anonymous
// volumes, a published port with httpd and a request, attach + detach keys, --restart
// on-failure:2, create/start/exec/logs/kill/wait/delete through the API, an exec into the
// long-running container). Then more batches must leave the daemon holding exactly what it held
// after the warm-up: open fds, mounts, cgroup dirs beneath its cgroup parent, links of its prefix,
// hako-monitor processes, children, nft objects, files and dirs under its data-root and exec-root,
// IPAM entries. (RSS is not asserted: V8 lets garbage grow until its next full GC, see
// docs/NOTES.md; bench/soak.mjs prints it.) Ended execs are forgotten after 1 s here
// (HAKOD_EXEC_RETENTION_MS; 5 min by default): before they were kept until the container's
// removal, so the exec-root grew by an exec's dir in each batch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker, hasEngine, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { isRoot } from '../helpers/fixtures.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';
import { loadBusybox, runBatch, settledSnapshot, snapshot, startSurvivor, survivorAlive, type SoakContext } from '../helpers/soak.js';

const skip = !isRoot ? 'needs root' : !hasDocker ? 'the docker CLI is not installed' : !hasEngine ? 'the engine is not built' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
const BATCHES = 3;
/** What must come back to exactly what it was after the warm-up (fds: at most; one the warm-up left open may close later). */
const EXACT = ['mounts', 'cgroups', 'links', 'monitors', 'children', 'otherProcs', 'nft', 'dataRoot', 'execRoot', 'ipam'];

let d: TestDaemon | undefined;
let work: string | undefined;

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'hako-soak-'));
  d = await startDaemon([], { env: { ...process.env, HAKOD_EXEC_RETENTION_MS: '1000' } });
});

after(async () => {
  const code = await d?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  if (d) assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
});

test(`after a warm-up batch, ${BATCHES} more batches of the docker CLI/API mix leave nothing more behind (fds, mounts, cgroups, links, monitors, files, IPAM)`, { skip, timeout: 120_000 }, async () => {
  const ctx: SoakContext = { d: d!, work: work! };
  await loadBusybox(ctx);
  const survivor = startSurvivor(ctx);
  await runBatch(ctx, 'w');
  // the warm-up's last exec forgotten (1 s after its end), its files gone
  await new Promise((r) => setTimeout(r, 1500));
  const base = snapshot(d!);
  for (let i = 1; i <= BATCHES; i++) {
    await runBatch(ctx, `b${i}`);
    await new Promise((r) => setTimeout(r, 1500));
    const { s, extra, grown } = await settledSnapshot(d!, base, EXACT, 5000, ['fds']);
    assert.deepEqual(grown, [], `batch ${i}: grown ${grown.map((k) => `${k} ${base.counts[k]} → ${s.counts[k]}`).join(', ')}; new: ${JSON.stringify(extra, null, 1)}`);
  }
  assert.ok(survivorAlive(ctx, survivor), 'the long-running container still runs');
});
