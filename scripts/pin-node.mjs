// Pins the interpreter of an installed copy's commands (bin/hako.cjs, bin/hako-runtime.cjs): their
// shebang `#!/usr/bin/env -S node --no-rehash-snapshot` becomes `#!<node> --no-rehash-snapshot`,
// <node> being the node this install runs with. env(1) is one more program per command (its exec,
// its dynamic loading, its setlocale, its PATH walk): ~1.5 ms of wall time and ~0.8 ms of CPU of
// every `hako run` (paired runs against one hakod, s18-clistart; the same for `hako-runtime`).
// Python's installers write their console scripts the same way (the interpreter's absolute path).
//
// Only in an installed copy: a checkout (`.git` beside package.json: a clone or a worktree) keeps
// its tracked files as they are and finds node through PATH at each run. What is pinned is the
// node of the install: the first `node` on PATH when it is the very file this install runs (a
// stable name, e.g. a package manager's bin/node symlink that outlives an upgrade), else
// process.execPath. Never fails the install: a path with whitespace (a shebang has one argument),
// a line longer than the kernel reads (127 bytes before Linux 5.1), a launcher whose first line is
// not the expected one: the env shebang stays, with a line saying why.
// Usage: node scripts/pin-node.mjs [root=this package's root]
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENV_SHEBANG = '#!/usr/bin/env -S node --no-rehash-snapshot';
const FLAGS = '--no-rehash-snapshot';
const MAX_LINE = 127; // BINPRM_BUF_SIZE was 128 before Linux 5.1 (the line, without its '\n')
const LAUNCHERS = ['hako.cjs', 'hako-runtime.cjs'];

const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => console.log(`pin-node: ${m}`);

/** The node to pin: PATH's first `node` when it is this very binary, else this binary's path. */
function nodePath() {
  const self = statSync(process.execPath);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const p = join(dir, 'node');
    let st;
    try {
      st = statSync(p, { throwIfNoEntry: false });
    } catch {
      continue; // (EACCES on a directory of PATH: env(1) passes it over too)
    }
    if (!st?.isFile()) continue;
    // the first node on PATH is the one env(1) would run; pin it only when it is this one
    return st.dev === self.dev && st.ino === self.ino ? p : process.execPath;
  }
  return process.execPath;
}

if (existsSync(join(root, '.git'))) {
  say(`${root} is a checkout: its commands keep ${ENV_SHEBANG.slice(2)}`);
} else {
  const node = nodePath();
  const line = `#!${node} ${FLAGS}`;
  if (/\s/.test(node)) say(`kept ${ENV_SHEBANG.slice(2)}: the node path has whitespace (${JSON.stringify(node)})`);
  else if (Buffer.byteLength(line) > MAX_LINE) say(`kept ${ENV_SHEBANG.slice(2)}: '${line}' is longer than ${MAX_LINE} bytes`);
  else {
    let pinned = 0;
    for (const name of LAUNCHERS) {
      const file = join(root, 'bin', name);
      let text;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        say(`${file}: ${e.code ?? e.message}; left as it is`);
        continue;
      }
      const nl = text.indexOf('\n');
      const first = text.slice(0, nl);
      if (first === line) {
        pinned++; // pinned already (npm rebuild)
        continue;
      }
      // (or pinned by an earlier install to a node that may be gone: `npm rebuild` under another node)
      if (first !== ENV_SHEBANG && !new RegExp(`^#!/\\S+ ${FLAGS}$`).test(first)) {
        say(`${file}: its first line is not '${ENV_SHEBANG}'; left as it is`);
        continue;
      }
      // Written beside it and renamed over it: a command started meanwhile reads one or the other.
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, line + text.slice(nl));
        chmodSync(tmp, statSync(file).mode & 0o7777);
        renameSync(tmp, file);
        pinned++;
      } catch (e) {
        say(`${file}: not pinned (${e.code ?? e.message})`);
        rmSync(tmp, { force: true });
      }
    }
    if (pinned) say(`${pinned} of ${LAUNCHERS.length} commands run by ${node}`);
  }
}
