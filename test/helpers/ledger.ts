// The run ledger: what a test process makes that outlives a process, written down as it is made so
// that a run cut short by SIGKILL (no exit handler runs) can be swept by the next run.
//
// scripts/run-tests.mjs makes /run/hako-tests/<runner pid>-<runner start time>/ and passes it as
// HAKO_TEST_LEDGER. Each test process appends lines to a file of its own there
// (<pid>-<start time>); each line is one tab-separated record:
//   proc <pid> <start time> <what>   a process we started (killed by the sweep only if the start time matches)
//   dir <path>                       a dir we made: mounts below it are unmounted, then it is removed
//   cgroup <absolute dir>            a cgroup dir (in one hierarchy) we named: its processes killed, then removed deepest first
//   net <iface prefix> <nft table>   links named <prefix>… and nft tables `ip|bridge <table>` (a test daemon's networking)
//   netns <name>                     an `ip netns add` name
// scripts/sweep-ledgers.mjs reads them. Appending is one write(2) with O_APPEND per record: cheap,
// and a record is whole or absent whatever kills the process. Without HAKO_TEST_LEDGER (a test
// file run by hand) nothing is written.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.HAKO_TEST_LEDGER;

/** The start time of `pid` (field 22 of /proc/<pid>/stat, clock ticks since boot), or undefined when it is gone. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

let file: string | undefined;

function append(fields: Array<string | number>): void {
  if (!dir) return;
  for (const f of fields) if (/[\t\n]/.test(String(f))) throw new Error(`ledger: a record field holds a tab or newline: ${JSON.stringify(f)}`);
  if (!file) {
    const me = startTime(process.pid) ?? '0';
    file = join(dir, `${process.pid}-${me}`);
    // The test process itself first: the runner waits for it before it sweeps after a signal.
    try {
      appendFileSync(file, ['proc', process.pid, me, `test ${(process.argv[1] ?? '').replace(/[\t\n]/g, ' ')}`].join('\t') + '\n');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  try {
    appendFileSync(file, fields.join('\t') + '\n');
  } catch (err) {
    // The runner's ledger dir is gone (it swept and left): nothing more to record.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Records a process this test process started (with its start time, read now). */
export function recordProc(pid: number | undefined, what: string): void {
  if (pid === undefined) return;
  const st = startTime(pid);
  if (st !== undefined) append(['proc', pid, st, what.replace(/[\t\n]/g, ' ')]);
}

/** Records a dir (its mounts unmounted and the dir removed by a sweep). */
export function recordDir(path: string): void {
  append(['dir', path]);
}

/** Records cgroup dirs (absolute, one per hierarchy; they need not exist yet). */
export function recordCgroups(dirs: string[]): void {
  for (const d of dirs) append(['cgroup', d]);
}

/** Records a test network: links named `prefix…` and the nft table `table` (families ip and bridge). */
export function recordNet(prefix: string, table: string): void {
  append(['net', prefix, table]);
}

/** Records an `ip netns add` name (call it before the add). */
export function recordNetns(name: string): void {
  append(['netns', name]);
}
