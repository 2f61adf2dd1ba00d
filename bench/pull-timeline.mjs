// One CLI pull's timeline from a phase trace (bench/pull-versus.mjs --phases --traces=DIR keeps
// one per pull: hakod's HAKO_PHASE_TRACE and the CLI's HAKO_CLI_TRACE lines in one file, on one
// clock). Prints each mark from the CLI's first (`cli.js`, the launcher's first line: node's own
// start-up is before it) as ms since then, its process (cli, or hakod's `pull`/`-` ids), and for
// hakod's marks its main-thread CPU ms since the request reached it: where the wall time goes
// (registry answers, the body, inflate/untar, the fsync ladder, the answer, the CLI's exit) and
// whether hakod's event loop was busy or waiting meanwhile. hakod's start-up marks before the
// CLI's first are left out.
// Usage: node bench/pull-timeline.mjs DIR/<pair>-<side>.trace
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/pull-timeline.mjs <trace file>');
  process.exit(2);
}
// `hako-phase <id> <phase> <CLOCK_MONOTONIC ms> [<main-thread CPU ms> <process CPU ms>]`
const marks = readFileSync(file, 'utf8')
  .split('\n')
  .map((l) => /^hako-phase (\S+) (\S+) ([\d.]+)(?: ([\d.]+) [\d.]+)?$/.exec(l))
  .filter((m) => m !== null)
  .map((m) => ({ id: m[1], phase: m[2], t: Number(m[3]), cpu: m[4] === undefined ? undefined : Number(m[4]) }))
  .sort((a, b) => a.t - b.t);
const start = marks.find((m) => m.id === 'cli' && m.phase === 'cli.js');
if (!start) {
  console.error(`${file}: no CLI marks (run the pull with HAKO_CLI_TRACE, e.g. bench/pull-versus.mjs --phases)`);
  process.exit(1);
}
let cpu0;
console.log('      ms  who    hakod CPU  mark');
for (const m of marks) {
  if (m.t < start.t) continue;
  if (m.id !== 'cli' && cpu0 === undefined && m.cpu !== undefined && /^req\.POST:\/images\/create$/.test(m.phase)) cpu0 = m.cpu;
  const cpu = m.id !== 'cli' && m.cpu !== undefined && cpu0 !== undefined ? (m.cpu - cpu0).toFixed(1) : '';
  console.log(`${(m.t - start.t).toFixed(1).padStart(8)}  ${(m.id === 'cli' ? 'cli' : 'hakod').padEnd(5)}  ${cpu.padStart(9)}  ${m.phase}`);
}
