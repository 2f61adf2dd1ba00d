// Soak: does hakod grow over long use? (root; the docker CLI at /usr/local/bin/docker)
// A private hakod (test/helpers/daemon.ts: temp --data-root/--exec-root/socket/pidfile, its own
// bridge, subnet, nft table and interface prefix, --iptables=false, its containers' cgroups beneath
// this process's own cgroup) gets busybox by `docker load`, one container that runs throughout,
// then N batches of a realistic mix (test/helpers/soak.ts runBatch: run --rm on bridge and none,
// run -d + logs + exec + pause/unpause + stats + cp both ways + commit/rmi + stop + rm, a user
// network with two containers that ping each other by name, named and anonymous volumes, a
// published port with busybox httpd and a request over loopback, attach + detach keys,
// --restart on-failure:2, the API's create/start/exec/logs/kill/wait/delete). Midway the daemon
// is killed with SIGKILL and started again: the survivor must still run.
// After each batch: what the daemon holds (fds by kind, RSS, threads, children, hako-monitors,
// mounts, cgroup dirs, links, nft objects, files under its roots, IPAM entries). Prints the values
// per batch, the growth from the first batch to the last, and what was added (items), per kind.
// Everything is removed at the end (also on Ctrl-C: the helpers' exit-time stoppers).
// Each batch also execs into the survivor; ended execs are forgotten --exec-retention-ms after
// their exit (default here 3000; hakod's own default is 5 min).
// HAKOD_IDLE_GC=off in the environment: hakod leaves a burst's garbage to V8's own schedule (the
// idle collection off, as before 6568ac8), for an A/B of RSS.
// Usage: node bench/soak.mjs [batches=30] [--crash-at=<batch>] [--exec-retention-ms=<ms>] [--verbose]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 30);
const crashAt = Number(args.find((a) => a.startsWith('--crash-at='))?.slice(11) ?? Math.floor(N / 2));
const verbose = args.includes('--verbose');
// Ended execs are forgotten this long after their exit (hakod's default: 5 min, as dockerd's exec
// GC): short, so that the batches' execs into the survivor do not read as growth.
const execRetentionMs = Number(args.find((a) => a.startsWith('--exec-retention-ms='))?.slice(20) ?? 3000);
if (process.getuid() !== 0) {
  console.error('bench/soak: needs root');
  process.exit(1);
}
delete process.env.NODE_EXTRA_CA_CERTS;
const { startDaemon } = await import(join(repo, 'dist/test/helpers/daemon.js'));
const soak = await import(join(repo, 'dist/test/helpers/soak.js'));

const progress = (m) => process.stderr.write(`bench/soak: ${m}\n`);
const work = mkdtempSync(join(tmpdir(), 'hako-soak-'));
let d;
const snaps = [];
const rows = [];
try {
  d = await startDaemon([], { env: { ...process.env, HAKOD_EXEC_RETENTION_MS: String(execRetentionMs) } });
  const ctx = { d, work, log: verbose ? progress : undefined };
  await soak.loadBusybox(ctx);
  const survivor = soak.startSurvivor(ctx);
  progress(`hakod ${d.proc.pid}, roots ${d.dir.path}, ${N} batches, crash at ${crashAt}`);
  snaps.push({ label: 'start', s: soak.snapshot(d) });
  for (let i = 1; i <= N; i++) {
    const t0 = Date.now();
    if (i === crashAt) {
      const old = d.proc.pid;
      await d.restart('SIGKILL', { ...process.env, HAKOD_EXEC_RETENTION_MS: String(execRetentionMs) });
      if (!soak.survivorAlive(ctx, survivor)) throw new Error(`the survivor did not outlive hakod ${old} (kill -9)`);
      progress(`batch ${i}: hakod ${old} killed with SIGKILL, ${d.proc.pid} started; the survivor runs`);
    }
    await soak.runBatch(ctx, `b${i}`);
    // (the work a batch leaves to after its answers, and the daemon's first quiet second: a pause, as a user's)
    await new Promise((r) => setTimeout(r, 1500));
    const s = soak.snapshot(d);
    snaps.push({ label: `${i}${i === crashAt ? '*' : ''}`, s });
    rows.push({ i, ms: Date.now() - t0 });
    progress(`batch ${i}: ${Date.now() - t0} ms, fds ${s.counts.fds}, rss ${s.counts.rssKB} kB, monitors ${s.counts.monitors}, mounts ${s.counts.mounts}, cgroups ${s.counts.cgroups}, links ${s.counts.links}, files ${s.counts.dataRoot}+${s.counts.execRoot}`);
  }
  if (!soak.survivorAlive(ctx, survivor)) throw new Error('the survivor is gone at the end');
} catch (err) {
  progress(`FAILED: ${err.stack}`);
  process.exitCode = 1;
} finally {
  // the table, whatever happened
  if (snaps.length > 1) {
    const keys = [...new Set(snaps.flatMap((x) => Object.keys(x.s.counts)))].filter((k) => k !== 'pid');
    const w = Math.max(7, ...keys.map((k) => k.length + 1));
    const cell = (v) => String(v).padStart(w);
    console.log(['batch'.padEnd(6), ...keys.map((k) => cell(k))].join(''));
    for (const { label, s } of snaps) console.log([label.padEnd(6), ...keys.map((k) => cell(s.counts[k] ?? 0))].join(''));
    // growth: from the first batch after the crash (a new process) to the last, and before it
    const idx = (l) => snaps.findIndex((x) => x.label === l);
    const ranges = [];
    if (crashAt > 2 && crashAt <= N) ranges.push([idx('1'), idx(`${crashAt - 1}`)], [idx(`${crashAt}*`), snaps.length - 1]);
    ranges.push([1, snaps.length - 1]);
    for (const [a, b] of ranges) {
      if (a < 0 || b <= a) continue;
      const A = snaps[a];
      const B = snaps[b];
      const batches = b - a;
      console.log(`\ngrowth from batch ${A.label} to ${B.label} (${batches} batches): ` + keys.map((k) => `${k} ${(B.s.counts[k] ?? 0) - (A.s.counts[k] ?? 0) >= 0 ? '+' : ''}${(B.s.counts[k] ?? 0) - (A.s.counts[k] ?? 0)} (${(((B.s.counts[k] ?? 0) - (A.s.counts[k] ?? 0)) / batches).toFixed(2)}/batch)`).join(', '));
      const add = soak.added(A.s, B.s);
      for (const [k, items] of Object.entries(add)) {
        if (k === 'fds' && items.length > 40) console.log(`  +${k}: ${items.length} (${items.slice(0, 10).join(' | ')} …)`);
        else console.log(`  +${k}: ${items.slice(0, 30).join('\n      ')}${items.length > 30 ? `\n      … ${items.length - 30} more` : ''}`);
      }
    }
    if (rows.length) console.log(`\nbatch time: median ${rows.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(rows.length / 2)]} ms`);
  }
  if (d) {
    try {
      // the survivor (and anything a failed batch left) goes with the daemon's cgroups
      await d.stop();
    } catch (err) {
      progress(`stop: ${err.message}`);
      process.exitCode = 1;
    }
  }
  rmSync(work, { recursive: true, force: true });
}
