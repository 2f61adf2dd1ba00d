// A held exit: an attached client that does not read holds the container's exit (its process is
// gone, the exit not recorded) until it reads or goes, as dockerd's. dockerd's kill, stop and
// rm -f wait for the container's lock meanwhile, then find it stopped: kill 409 "is not
// running", stop 304, rm -f removes it, none of them after a time limit; top, pause and exec
// 409 "Container … is not running". hako answers those at once (inspect does not block either:
// a deliberate difference).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../../src/engine/api-types.js';
import { isRoot, testCgroupName } from '../helpers/fixtures.js';
import { hasRegistry } from '../helpers/registry.js';
import { testNet } from '../helpers/network.js';
import { engineFixture, type EngineFixture } from '../helpers/engine.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : false;
const hasMonitor = existsSync(join(process.cwd(), 'build', 'hako-monitor'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The two engines (each its own registry, dirs, cgroups and network) run at once: each case waits
// 32 s, idle, past the old cap (one after the other the file took ~70 s of the suite's time).
describe('held exits', { concurrency: true }, () => {
  for (const monitor of [true, false]) describe(`a held exit (${monitor ? 'with' : 'without'} hako-monitor)`, { skip: skip || (monitor && !hasMonitor ? 'build/hako-monitor is missing' : false) }, () => {
    let fx: EngineFixture | undefined;
    before(async () => {
      fx = await engineFixture({ dirPrefix: monitor ? 'hako-held-' : 'hako-held-nomon-', cgroupParent: testCgroupName(monitor ? 'held' : 'held-nomon'), net: testNet(), monitor });
    });
    after(async () => {
      await fx?.close(fx.engine);
    });

    test('kill, top, pause and exec answer 409 "is not running" (no kill event); stop and rm -f wait past 30 s until the client reads, then stop answers "already stopped"', async () => {
      const engine = fx!.engine;
      // sh (pid 1) exits while head is still writing: head goes with it, the output it wrote stays
      // unread by the client, which holds the exit.
      const { Id } = await engine.createContainer('held', { Image: fx!.image, Cmd: ['sh', '-c', 'head -c 30000000 /dev/zero & sleep 1; exit 3'] });
      const att = await engine.attachContainer(Id, { stdin: false, stdout: true, stderr: true, stream: true, logs: false });
      const events: string[] = [];
      const ac = new AbortController();
      const collecting = (async () => {
        for await (const e of engine.events({ signal: ac.signal })) if (e.Actor.ID === Id) events.push(e.Action);
      })().catch(() => undefined);
      try {
        await engine.startContainer(Id);
        const pid = ((await engine.inspectContainer(Id)).State as Json).Pid as number;
        for (let i = 0; existsSync(`/proc/${pid}`); i++) {
          assert.ok(i < 200, 'the container process did not exit');
          await sleep(50);
        }
        await sleep(300);
        assert.equal(((await engine.inspectContainer(Id)).State as Json).Running, true, 'the exit is held');
        await assert.rejects(engine.killContainer(Id), (err: Error & { status?: number }) => {
          assert.match(err.message, new RegExp(`^Cannot kill container: ${Id}: Container ${Id} is not running$`));
          return true;
        });
        // dockerd's answers once the hold ends (they wait for it there).
        const notRunning = (err: Error) => err.message === `Container ${Id} is not running`;
        await assert.rejects(engine.topContainer(Id), notRunning);
        await assert.rejects(engine.pauseContainer(Id), notRunning);
        await assert.rejects(engine.createExec(Id, { Cmd: ['true'], AttachStdout: true }), notRunning);
        let stopped: string | Error | undefined;
        let removed: true | Error | undefined;
        void engine.stopContainer(Id, { timeoutSeconds: 0 }).then((r) => (stopped = r), (e: Error) => (stopped = e));
        await sleep(200);
        void engine.removeContainer(Id, { force: true }).then(() => (removed = true), (e: Error) => (removed = e));
        await sleep(32_000);
        assert.equal(stopped, undefined, 'stop waits for the held exit');
        assert.equal(removed, undefined, 'rm -f waits for the held exit');
        // The client reads: the rest of the output, then the exit.
        att.output.on('data', () => undefined);
        for (let i = 0; (stopped === undefined || removed === undefined) && i < 200; i++) await sleep(100);
        assert.equal(stopped, 'already-stopped');
        assert.equal(removed, true);
        assert.deepEqual(events.filter((a) => a === 'kill' || a === 'stop'), [], events.join(' '));
      } finally {
        ac.abort();
        await collecting;
        att.close();
        await engine.removeContainer(Id, { force: true }).catch(() => undefined);
      }
    });
  });
});
