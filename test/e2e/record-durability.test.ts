// Crash safety of a container's creation: the record is written under a temp name, fsync'd and
// renamed into <root>/containers/<id>/ (the commit point, followed by an fsync of that dir), after
// create answered (RecordStore.stageCreate/commitSoon, as the engine's create does). The
// container dir's own entry in <root>/containers/ must be durable too, or a crash after the
// commit can lose the whole container that create already reported. Checked on the syscalls
// (strace): an fsync of containers/ after the container dir's mkdir and before the commit's rename.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/fixtures.js';

const hasStrace = spawnSync('sh', ['-c', 'command -v strace'], { stdio: 'ignore' }).status === 0;
const RECORD_JS = fileURLToPath(new URL('../../src/engine/containers/record.js', import.meta.url));

test('create makes the container dir entry durable: containers/ is fsync\'d after the mkdir, before the record\'s commit', { skip: hasStrace ? false : 'needs strace (apt-get install strace)', timeout: 60_000 }, () => {
  const tmp = tempDir('hako-record-durable-');
  try {
    const root = join(tmp.path, 'containers');
    const id = 'c'.repeat(64);
    const script = `
      import { mkdirSync } from 'node:fs';
      import { RecordStore } from ${JSON.stringify(RECORD_JS)};
      const store = new RecordStore(${JSON.stringify(root)});
      mkdirSync(store.containerDir(${JSON.stringify(id)}), { mode: 0o710 });
      const rec = { Id: ${JSON.stringify(id)}, Name: '/x', State: {} };
      const staged = await store.stageCreate(rec);
      await store.commitSoon(rec, staged, (e) => { throw e; });
      await store.flush();`;
    const trace = join(tmp.path, 'strace.out');
    const r = spawnSync('strace', ['-f', '-o', trace, '-e', 'trace=mkdir,mkdirat,openat,fsync,fdatasync,rename,renameat,renameat2,close', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } });
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(trace, 'utf8').split('\n');
    const at = (re: RegExp, from = 0) => lines.findIndex((l, i) => i >= from && re.test(l));
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const mkdirLine = at(new RegExp(`mkdir(at)?\\(.*"${esc(join(root, id))}"`));
    assert.ok(mkdirLine >= 0, 'the container dir is made');
    const renameLine = at(new RegExp(`rename.*"${esc(join(root, id, 'config.v2.json'))}"`), mkdirLine);
    assert.ok(renameLine > mkdirLine, 'the record is committed by a rename');
    // Every fd opened on containers/ itself (threads: strace -f prefixes lines with the pid).
    // strace splits a call that another thread interrupts: `<pid> openat(… <unfinished ...>`, then
    // `<pid> <... openat resumed>) = <fd>` on a later line.
    const openedFd = (l: string, i: number): string | undefined => {
      const m = new RegExp(`^(\\d+)\\s+openat\\(AT_FDCWD, "${esc(root)}", [^)]*?(\\) = (\\d+)|<unfinished \\.\\.\\.>)`).exec(l);
      if (!m) return undefined;
      if (m[3]) return m[3];
      const resumed = new RegExp(`^${m[1]}\\s+<\\.\\.\\. openat resumed>.*\\) = (\\d+)`);
      for (let j = i + 1; j < lines.length; j++) {
        const r = resumed.exec(lines[j]!);
        if (r) return r[1];
      }
      return undefined;
    };
    const synced = lines.some((l, i) => {
      if (i < mkdirLine || i > renameLine) return false;
      const fd = openedFd(l, i);
      if (!fd) return false;
      return lines.some((k, j) => j > i && j <= renameLine && new RegExp(`\\b(fsync|fdatasync)\\(${fd}[ )]`).test(k));
    });
    assert.ok(synced, `no fsync of ${root} between the mkdir and the commit:\n${lines.filter((l) => /fsync|rename|mkdir|containers/.test(l)).join('\n')}`);
  } finally {
    tmp.cleanup();
  }
});
