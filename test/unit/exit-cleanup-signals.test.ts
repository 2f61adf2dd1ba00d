// test/helpers/exit-cleanup.ts under a process-group kill: each test process gets the signal twice
// (the group's, then node --test passing it on to its files). The second must not cut the
// exit-time stoppers short (with process.once it took the default action: killed mid-cleanup).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const helper = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'exit-cleanup.js');

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`a second ${sig} while the exit-time stoppers run does not cut them short`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hako-exit-signals-'));
    try {
      const marker = join(dir, 'stopped');
      // A stopper that takes 600 ms (as stopping a daemon does), then leaves a marker.
      const child = `
import { writeFileSync } from 'node:fs';
import { atExit } from ${JSON.stringify(helper)};
atExit(() => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600); writeFileSync(${JSON.stringify(marker)}, 'done'); });
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`;
      const p = spawn(process.execPath, ['--input-type=module', '-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((r) => p.stdout.on('data', () => r()));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => p.once('exit', (code, s) => r([code, s])));
      p.kill(sig);
      await new Promise((r) => setTimeout(r, 150));
      p.kill(sig);
      const [code, signal] = await exited;
      assert.deepEqual([code, signal], [sig === 'SIGTERM' ? 143 : 130, null], 'the process died of the second signal');
      assert.equal(existsSync(marker), true, 'the stopper did not finish');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
