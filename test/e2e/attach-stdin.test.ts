// stdin of an attach (POST /containers/{id}/attach) or exec start client whose output can no
// longer be written (it shut its read side or went away): dockerd stops only the output and goes
// on reading the connection, so every stdin byte the client had sent reaches the process. The API
// server runs in-process over an engine with hako-monitor and one without (the engine then is the
// process's parent), so both ways stdin travels are covered.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Server, type Socket } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApiHandlers, createApiServer } from '../../src/api/server.js';
import { isRoot, tempDir, testCgroupName } from '../helpers/fixtures.js';
import { hasRegistry } from '../helpers/registry.js';
import { testNet } from '../helpers/network.js';
import { engineFixture, type EngineFixture } from '../helpers/engine.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : false;
const hasMonitor = existsSync(join(process.cwd(), 'build', 'hako-monitor'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends the request and reads the answer's head (101 UPGRADED); the socket stays open. `upgraded`
 * false: the old style, no Upgrade headers and a request body of `Content-Length: 1e9` the caller
 * streams as stdin; the answer is a 200 with a streamed body.
 */
function upgrade(sockPath: string, method: string, path: string, body = '', upgraded = true): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(sockPath);
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      s.pause();
      const status = head.subarray(0, end).toString();
      if (!status.startsWith(upgraded ? 'HTTP/1.1 101' : 'HTTP/1.1 200')) return reject(new Error(`not ${upgraded ? 'upgraded' : 'streamed'}: ${status}`));
      resolve(s);
    };
    s.on('data', onData);
    s.once('error', reject);
    if (upgraded) s.write(`${method} ${path} HTTP/1.1\r\nHost: hako\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    else s.write(`${method} ${path} HTTP/1.1\r\nHost: hako\r\nContent-Length: 1000000000\r\n\r\n`);
  });
}

/**
 * Writes stdin in 16 KiB pieces, each once the one before is in the kernel, until the daemon stops
 * taking more (the process does not read yet): the bytes surely sent, and the piece under way.
 */
async function sendUntilStalled(s: Socket): Promise<{ sent: number; underWay: number }> {
  const piece = Buffer.alloc(16384, 0x61);
  let sent = 0;
  for (;;) {
    const done = await Promise.race([new Promise<boolean>((r) => s.write(piece, (err) => r(!err))), sleep(1500).then(() => null)]);
    if (done === null) return { sent, underWay: piece.length };
    assert.equal(done, true, 'stdin write failed');
    sent += piece.length;
    assert.ok(sent < 64 * 1024 * 1024, 'the daemon took 64 MiB of stdin the process does not read');
  }
}

// The two engines (each its own registry, dirs, cgroups, network and API socket) run at once: their
// cases mostly wait (a stalled write's 1.5 s, the daemon seeing the client go).
describe('stdin of clients whose output fails', { concurrency: true }, () => {
  for (const monitor of [true, false]) {
    describe(`stdin of a client whose output fails (${monitor ? 'with' : 'without'} hako-monitor)`, { skip: skip || (monitor && !hasMonitor ? 'build/hako-monitor is missing' : false) }, () => {
      let fx: EngineFixture | undefined;
      let server: Server | undefined;
      let sockDir: { path: string; cleanup: () => void } | undefined;
      let sockPath = '';

      before(async () => {
        fx = await engineFixture({ dirPrefix: monitor ? 'hako-attin-' : 'hako-attin-nomon-', cgroupParent: testCgroupName(monitor ? 'attin' : 'attin-nomon'), net: testNet(), monitor });
        sockDir = tempDir('hako-attin-sock-');
        sockPath = join(sockDir.path, 'api.sock');
        server = createApiServer(createApiHandlers({ engine: fx.engine, images: fx.engine.images, log: () => undefined, daemon: { version: '0', root: fx.dir.path, execRoot: fx.dir.path, startedAt: new Date(), debug: false, insecureRegistries: [] } }));
        await new Promise<void>((r) => server!.listen(sockPath, r));
      });

      after(async () => {
        if (server) await new Promise((r) => server!.close(r));
        await fx?.close(fx.engine);
        sockDir?.cleanup();
      });

      for (const kind of ['container', 'container (200, no upgrade)', 'exec'] as const) {
        test(`${kind}: the client goes with its output unread while its stdin waits in the kernel; the process still reads every byte it sent`, async () => {
          const engine = fx!.engine;
          const gate = tempDir('hako-attin-gate-');
          try {
            // Output every 50 ms (writes to the gone client fail) and no stdin read until /g/go.
            const script = 'while [ ! -e /g/go ]; do echo tick; sleep 0.05; done; wc -c > /g/n.tmp; mv /g/n.tmp /g/n';
            const ct = kind !== 'exec';
            const cmd = ct ? ['sh', '-c', script] : ['sleep', '60'];
            const { Id } = await engine.createContainer(`attin-${kind === 'exec' ? 'exec' : kind === 'container' ? 'ct' : 'ct200'}-${monitor ? 'm' : 'n'}`, { Image: fx!.image, Cmd: cmd, OpenStdin: ct, StdinOnce: ct, AttachStdin: ct, HostConfig: { Binds: [`${gate.path}:/g`] } });
            let s: Socket;
            if (ct) {
              s = await upgrade(sockPath, 'POST', `/v1.41/containers/${Id}/attach?stream=1&stdin=1&stdout=1&stderr=1`, '', kind === 'container');
              await engine.startContainer(Id);
            } else {
              await engine.startContainer(Id);
              const { Id: execId } = await engine.createExec(Id, { Cmd: ['sh', '-c', script], AttachStdin: true, AttachStdout: true, AttachStderr: true });
              s = await upgrade(sockPath, 'POST', `/v1.41/exec/${execId}/start`, JSON.stringify({ Detach: false, Tty: false }));
            }
            s.on('error', () => undefined);
            const { sent, underWay } = await sendUntilStalled(s);
            // Gone: its unread output makes the daemon's next write fail (ECONNRESET/EPIPE).
            s.destroy();
            await sleep(500);
            writeFileSync(join(gate.path, 'go'), '');
            const n = join(gate.path, 'n');
            for (let i = 0; i < 200 && !existsSync(n); i++) await sleep(100);
            assert.ok(existsSync(n), 'the process never saw its stdin end');
            const got = Number(readFileSync(n, 'utf8').trim());
            assert.ok(got >= sent && got <= sent + underWay, `the process read ${got} bytes of stdin; the client had sent ${sent} (+ up to ${underWay} under way)`);
            await engine.removeContainer(Id, { force: true });
          } finally {
            gate.cleanup();
          }
        });
      }
    });
  }
});
