// An engine without hako-monitor (the binary missing, or `monitor: false`): the engine itself is
// the parent of containers and execs (containers/supervise.ts superviseProcess) and attached
// clients are fed by AttachSession.connectIO. Its output must follow the client's pace as the
// monitor's does: a client that stops reading holds the process's output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Json } from '../../src/engine/api-types.js';
import { isRoot, testCgroupName } from '../helpers/fixtures.js';
import { hasRegistry } from '../helpers/registry.js';
import { testNet } from '../helpers/network.js';
import { engineFixture, type EngineFixture } from '../helpers/engine.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : false;
let fx: EngineFixture | undefined;

before(async () => {
  if (skip) return;
  fx = await engineFixture({ dirPrefix: 'hako-nomon-', cgroupParent: testCgroupName('nomon'), net: testNet(), monitor: false });
});

after(async () => {
  await fx?.close(fx.engine);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `sample` every 200 ms until it gave the same value three times in a row. */
async function settled(sample: () => number): Promise<number> {
  let seen = -1;
  for (let still = 0; still < 3; await sleep(200)) {
    const v = sample();
    still = v === seen ? still + 1 : 0;
    seen = v;
  }
  return seen;
}

for (const kind of ['container', 'exec'] as const) {
  test(`without a monitor, an attached ${kind} client that stops reading holds the output (the process blocks on its pipe); it then gets every byte`, { skip }, async () => {
    const engine = fx!.engine;
    // 1 KiB lines: the container's json-file log (written by the engine here) costs per line, and
    // 13-byte lines (2.3 million) took it ~13 s of CPU after the hold, the exec (no log) 0.5 s.
    const flood = ['sh', '-c', 'x=hakohakohakohako; x=$x$x$x$x$x$x$x$x; x=$x$x$x$x$x$x$x$x; yes "$x" | head -c 30000000; echo; echo done'];
    let output: NodeJS.ReadableStream & { readableLength: number };
    let finished: () => Promise<number>;
    let running: () => Promise<boolean>;
    const { Id } = await engine.createContainer(`nomon-${kind}`, { Image: fx!.image, Cmd: kind === 'container' ? flood : ['sleep', '60'] });
    if (kind === 'container') {
      const att = await engine.attachContainer(Id, { stdin: false, stdout: true, stderr: true, stream: true, logs: false });
      output = att.output as typeof output;
      await engine.startContainer(Id);
      finished = async () => (await engine.waitContainer(Id)).StatusCode as number;
      running = async () => ((await engine.inspectContainer(Id)).State as Json).Running === true;
    } else {
      await engine.startContainer(Id);
      const { Id: execId } = await engine.createExec(Id, { Cmd: flood, AttachStdout: true, AttachStderr: true });
      const att = await engine.startExec(execId, { detach: false, tty: false });
      output = att!.output as typeof output;
      finished = async () => {
        for (;;) {
          const j = await engine.inspectExec(execId);
          if (j.Running !== true && j.ExitCode !== null) return j.ExitCode as number;
          await sleep(50);
        }
      };
      running = async () => (await engine.inspectExec(execId)).Running === true;
    }
    // Nothing reads: what the attachment buffers stops growing well short of the 30 MB.
    const chunks = await settled(() => output.readableLength);
    assert.ok(chunks < 64, `the output was held (${chunks} chunks buffered for the client)`);
    assert.equal(await running(), true, `the ${kind} blocks on its output`);
    let bytes = 0;
    let tail = '';
    output.on('data', (c: { data: Buffer }) => {
      bytes += c.data.length;
      tail = (tail + c.data.toString('latin1')).slice(-16);
    });
    await new Promise((r) => output.once('end', r));
    assert.equal(bytes, 30_000_000 + 6);
    assert.match(tail, /\ndone\n$/);
    assert.equal(await finished(), 0);
    await engine.removeContainer(Id, { force: true });
  });
}
