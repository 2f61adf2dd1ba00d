// Sweeps test-run ledgers (test/helpers/ledger.ts writes them): what a run recorded that outlives a
// process — processes (pid + start time), dirs (and the mounts below them), cgroup dirs, test
// networks (link prefix + nft table), `ip netns` names — is removed, and nothing else.
//
// scripts/run-tests.mjs calls sweepDeadLedgers() as it starts (runs killed by SIGKILL: no exit
// handler ran) and sweepLedger() on its own ledger as it ends (a run cut short by SIGTERM/SIGINT:
// what its test processes could not finish). Other runs on the same host (other checkouts, other
// agents) have ledgers of their own and are left alone while their runner lives.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tmpdir } from 'node:os';

export const LEDGER_ROOT = '/run/hako-tests';

/** Field 22 of /proc/<pid>/stat (start time, clock ticks since boot), or undefined when gone. */
export function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True while `pid` runs and is not a zombie. */
export function running(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** `pid-start` names a live process (the same one: a reused pid has another start time). */
export function ownerAlive(name) {
  const m = /^(\d+)-(\d+)$/.exec(name);
  return m !== null && startTime(Number(m[1])) === m[2] && running(Number(m[1]));
}

const pause = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(pause, 0, 0, ms);

/**
 * Whether `d` looks like a dir a test run made: a mkdtemp dir (six random characters at the end)
 * below a temp root (/tmp, /var/tmp, $TMPDIR) or below a run's own TMPDIR (hako-run-XXXXXX; a
 * test may give its children a TMPDIR below that too). A torn or foreign record naming /var/lib or
 * a home dir is refused (its mounts, processes and files would be someone else's).
 */
function sweepableDir(d) {
  if (!d.startsWith('/') || d.split('/').includes('..') || !/[A-Za-z0-9]{6}$/.test(basename(d))) return false;
  const roots = ['/tmp', '/var/tmp', tmpdir().replace(/\/+$/, '')].filter((x) => x.length > 1);
  return roots.some((root) => d.startsWith(root + '/')) || d.split('/').slice(0, -1).some((c) => /^hako-run-[A-Za-z0-9]{6}$/.test(c));
}

/** A cgroup dir testCgroupName named (hako-test-<pid>-<name>, in some hierarchy below /sys/fs/cgroup). */
function sweepableCgroup(c) {
  return c.startsWith('/sys/fs/cgroup/') && !c.split('/').includes('..') && /^hako-test-\d+-./.test(basename(c));
}

/** The records of every file in ledger dir `dir` (a torn last line, with no newline, is ignored; so are records that fail the checks, listed in `refused`). */
export function readLedger(dir) {
  const r = { procs: [], dirs: [], cgroups: [], nets: [], netns: [], netnsDir: false, refused: [] };
  for (const f of readdirSync(dir)) {
    let text;
    try {
      text = readFileSync(join(dir, f), 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    lines.pop(); // '' after the last newline, or a torn record
    for (const line of lines) {
      const [kind, a, b, ...rest] = line.split('\t');
      if (kind === 'proc' && /^\d+$/.test(a ?? '') && /^\d+$/.test(b ?? '')) r.procs.push({ pid: Number(a), start: b, what: rest.join(' ') });
      else if (kind === 'dir' && sweepableDir(a ?? '')) r.dirs.push(a);
      else if (kind === 'cgroup' && sweepableCgroup(a ?? '')) r.cgroups.push(a);
      // (a prefix of at least 4 characters: a short one such as `e` would name the host's eth0)
      else if (kind === 'net' && /^[A-Za-z0-9_.-]{4,}$/.test(a ?? '') && /^[A-Za-z0-9_.-]+$/.test(b ?? '')) r.nets.push({ prefix: a, table: b });
      else if (kind === 'netns' && /^[A-Za-z0-9_.-]+$/.test(a ?? '') && a !== '.' && a !== '..') r.netns.push(a);
      else if (kind === 'netns-dir') r.netnsDir = true;
      else r.refused.push(line);
    }
  }
  return r;
}

function decodeMountPath(p) {
  return p.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

function mountPoints() {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => decodeMountPath(l.split(' ')[4]));
}

const under = (p, dir) => p === dir || p.startsWith(dir + '/');
/** An argv element that names `dir` or a path below it (also as `--opt=<path>`, `lowerdir=<path>:…`). */
const names = (arg, dir) => arg === dir || arg.includes(dir + '/') || arg.endsWith('=' + dir);

function cgroupProcs(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) cgroupProcs(join(dir, e.name), out);
  try {
    for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) out.add(Number(l));
  } catch {
    // gone
  }
  // A frozen task takes its SIGKILL only once thawed (a paused container).
  for (const [f, v] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']]) {
    try {
      writeFileSync(join(dir, f), v);
    } catch {
      // not this hierarchy's file
    }
  }
}

function rmCgroupTree(dir, done) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) rmCgroupTree(join(dir, e.name), done);
  // EBUSY while a killed task is not reaped yet (a zombie still counts as a member): retried ~2 s.
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      done.push(dir);
      return;
    } catch (e) {
      if (e.code === 'ENOENT') return;
      if (e.code !== 'EBUSY' || i >= 100) {
        done.push(`${dir} (NOT removed: ${e.code})`);
        return;
      }
      sleep(20);
    }
  }
}

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return undefined;
  }
}

/**
 * Removes what `r` (readLedger) names. `runStart`: the run's start time (clock ticks); processes
 * that name a recorded dir in their command line are killed only if they started after it.
 * Returns what it did, one line each.
 */
export function sweepRecords(r, runStart) {
  const did = [];
  // 1. Processes: recorded ones whose start time still matches; those that name a recorded dir in
  //    their argv (hako-monitors: --dir <daemon dir>/run/monitors/…); those in recorded cgroups
  //    (containers); those in recorded network namespaces (clients run by `ip netns exec`).
  const victims = new Map();
  for (const p of r.procs) if (p.pid !== process.pid && startTime(p.pid) === p.start && running(p.pid)) victims.set(p.pid, p.what);
  const inCgroups = new Set();
  for (const c of r.cgroups) cgroupProcs(c, inCgroups);
  for (const pid of inCgroups) if (pid !== process.pid && !victims.has(pid)) victims.set(pid, 'in a recorded cgroup');
  const nsInodes = new Set();
  for (const n of r.netns) {
    try {
      nsInodes.add(`net:[${statSync(join('/run/netns', n)).ino}]`);
    } catch {
      // gone
    }
  }
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid || victims.has(pid)) continue;
    if (nsInodes.size) {
      try {
        if (nsInodes.has(readlinkSync(`/proc/${pid}/ns/net`))) {
          victims.set(pid, 'in a recorded netns');
          continue;
        }
      } catch {
        // gone, or a kernel thread
      }
    }
    if (!r.dirs.length) continue;
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const named = argv.find((a) => r.dirs.some((d) => names(a, d)));
    if (named === undefined) continue;
    const st = startTime(pid);
    if (st !== undefined && (runStart === undefined || BigInt(st) >= BigInt(runStart))) victims.set(pid, `names ${named}`);
  }
  for (const [pid, what] of victims) {
    try {
      process.kill(pid, 'SIGKILL');
      did.push(`killed pid ${pid} (${what})`);
    } catch {
      // gone meanwhile
    }
  }
  for (const deadline = Date.now() + 5000; [...victims.keys()].some(running) && Date.now() < deadline; ) sleep(20);
  for (const pid of victims.keys()) if (running(pid)) did.push(`pid ${pid} still runs after SIGKILL`);

  // 2. Network namespaces (`ip netns del` unmounts and removes /run/netns/<name>).
  for (const n of r.netns) {
    if (!existsSync(join('/run/netns', n))) continue;
    did.push(run('ip', ['netns', 'del', n]) !== undefined ? `deleted netns ${n}` : `netns ${n} NOT deleted`);
  }

  // 3. Mounts below the recorded dirs, deepest first (a stacked mount point: each layer).
  for (let round = 0; round < 5; round++) {
    const ms = mountPoints().filter((m) => r.dirs.some((d) => under(m, d)));
    if (!ms.length) break;
    const order = [...new Set(ms)].sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
    for (const m of order) {
      if (run('umount', [m]) !== undefined || run('umount', ['--lazy', m]) !== undefined) did.push(`unmounted ${m}`);
    }
  }

  // 4. Cgroups, deepest first.
  //    Said once per recorded name (hako-test-<pid>-<name>: one dir in each hierarchy, with the
  //    containers' below it); what could not be removed, dir by dir.
  const removed = new Map();
  for (const c of [...new Set(r.cgroups)].sort((a, b) => b.length - a.length)) {
    const cg = [];
    rmCgroupTree(c, cg);
    for (const line of cg) {
      if (line.includes(' (NOT removed')) {
        did.push(`cgroup ${line}`);
        continue;
      }
      const e = removed.get(basename(c)) ?? { hierarchies: 0, below: 0 };
      if (line === c) e.hierarchies++;
      else e.below++;
      removed.set(basename(c), e);
    }
  }
  for (const [name, e] of removed) did.push(`removed cgroup ${name} in ${e.hierarchies} hierarchies${e.below ? ` (and ${e.below} dirs below it)` : ''}`);

  // 5. Links named with a recorded prefix (bridges, veths) and the recorded nft tables.
  if (r.nets.length) {
    const links = (run('ip', ['-o', 'link', 'show']) ?? '').split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter(Boolean);
    const tables = (run('nft', ['list', 'tables']) ?? '').split('\n').map((l) => l.trim().split(' ')).filter((w) => w[0] === 'table');
    for (const { prefix, table } of r.nets) {
      for (const l of links) if (l.startsWith(prefix) && existsSync(`/sys/class/net/${l}`)) did.push(run('ip', ['link', 'del', l]) !== undefined ? `deleted link ${l}` : `link ${l} NOT deleted`);
      for (const [, family, name] of tables) if (name === table) did.push(run('nft', ['delete', 'table', family, name]) !== undefined ? `deleted nft table ${family} ${name}` : `nft table ${family} ${name} NOT deleted`);
    }
  }

  // 6. Dirs, unless a mount is still below one (removing through it would delete what it shows).
  const mounts = mountPoints();
  for (const d of [...new Set(r.dirs)]) {
    if (!existsSync(d)) continue;
    const left = mounts.filter((m) => under(m, d));
    if (left.length) {
      did.push(`dir ${d} NOT removed: still mounted below it: ${left.join(', ')}`);
      continue;
    }
    try {
      rmSync(d, { recursive: true, force: true });
      did.push(`removed dir ${d}`);
    } catch (e) {
      did.push(`dir ${d} NOT removed: ${e.message}`);
    }
  }

  // 7. /run/netns, a mount point since the run's first `ip netns add` (iproute2 makes it one): when
  //    the run found it unmounted and it is empty again.
  if (r.netnsDir && mountPoints().includes('/run/netns')) {
    let empty = false;
    try {
      empty = readdirSync('/run/netns').length === 0;
    } catch {
      // gone
    }
    if (empty && run('umount', ['/run/netns']) !== undefined) did.push('unmounted /run/netns (empty, made a mount point by the run)');
  }
  return did;
}

/**
 * Sweeps ledger dir `dir` (named <runner pid>-<start time>[.sweeping-…]) and removes it, unless
 * something could not be removed: then it stays, and the next run (this one gone) tries again.
 */
export function sweepLedger(dir) {
  const base = dir.split('/').pop();
  const runStart = /^\d+-(\d+)/.exec(base)?.[1];
  const r = readLedger(dir);
  const did = [...r.refused.map((l) => `refused the record ${JSON.stringify(l)} (not something a test run makes)`), ...sweepRecords(r, runStart)];
  if (did.some((l) => / NOT |still runs/.test(l))) did.push(`kept the ledger ${dir} (the next run tries again)`);
  else rmSync(dir, { recursive: true, force: true });
  return did;
}

/**
 * Sweeps every ledger under `root` whose runner is gone (pid not alive, or alive with another
 * start time). A ledger is claimed first by renaming it (…sweeping-<my pid>-<my start>): two runs
 * starting together do not sweep the same one; one whose sweeper died is claimed again.
 * `log(line)` gets what was swept.
 */
export function sweepDeadLedgers(root = LEDGER_ROOT, log = (l) => console.error(l)) {
  let names;
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  const me = `${process.pid}-${startTime(process.pid)}`;
  for (const name of names) {
    const m = /^(\d+-\d+)(?:\.sweeping-(\d+-\d+))?$/.exec(name);
    if (!m) continue;
    if (ownerAlive(m[1]) || (m[2] !== undefined && ownerAlive(m[2]))) continue;
    const claimed = join(root, `${m[1]}.sweeping-${me}`);
    try {
      renameSync(join(root, name), claimed);
    } catch {
      continue; // another run claimed it first
    }
    const did = sweepLedger(claimed);
    log(`run-tests: swept the ledger of a run that is gone (runner ${m[1]}):${did.length ? '\n  ' + did.join('\n  ') : ' nothing was left'}`);
  }
}
