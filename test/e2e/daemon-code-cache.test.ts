// hakod's V8 code cache (bin/hakod.cjs, src/daemon/main.ts): a daemon started without one writes
// it once its first pull has been answered; the next daemon compiles its bundle from it (V8
// accepts it: same source, same V8, same flags) and writes nothing; a daemon under other V8 flags
// keeps a cache of its own. HAKOD_CODE_CACHE puts the files in a temp dir, so that the test does
// not depend on (or disturb) the cache beside the bundle that other tests' daemons use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasEngine } from '../helpers/daemon.js';
import { tempDir } from '../helpers/fixtures.js';
import { hasRegistry } from '../helpers/registry.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { retryUntil } from '../helpers/retry.js';
import { makeTar } from '../helpers/tar.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const hasBundle = existsSync(join(repoRoot, 'dist', 'bundle', 'hakod.cjs'));
const skip =
  process.getuid?.() !== 0 ? 'needs root (hakod)' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !hasBundle ? 'no hakod bundle (esbuild not installed): hakod runs from dist/ without a code cache' : false;

/**
 * A registry with busybox and a daemon of its own (startBusyboxDaemon) using code cache dir
 * `cache` (`env`: more of hakod's environment); stop() checks its exit code.
 */
function daemonWithCache(cache: string, env: NodeJS.ProcessEnv = {}): Promise<BusyboxDaemon> {
  return startBusyboxDaemon({ daemonOptions: { env: { ...process.env, HAKOD_CODE_CACHE: cache, ...env } } });
}

async function pull(b: BusyboxDaemon): Promise<void> {
  const r = await b.d.request('POST', `/images/create?fromImage=${encodeURIComponent(`${b.reg.host}/test/busybox`)}&tag=latest`);
  assert.equal(r.status, 200, r.body.toString());
  assert.doesNotMatch(r.body.toString(), /"error"/);
}

const cacheFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.cache'));

test('hakod writes its code cache after its first pull, and the next daemon starts from it', { skip }, async () => {
  const dir = tempDir('hakod-cache-');
  try {
    const b1 = await daemonWithCache(dir.path);
    try {
      assert.match(b1.d.log(), /code cache: none/);
      assert.deepEqual(cacheFiles(dir.path), [], 'nothing written before a pull');
      await pull(b1);
      await retryUntil(async () => assert.match(b1.d.log(), /code cache written/), 'the cache is written after the pull');
      await pull(b1); // a second pull writes nothing more
    } finally {
      await b1.stop();
    }
    const written = cacheFiles(dir.path);
    assert.equal(written.length, 1, `one cache file: ${written.join(', ')}`);
    assert.equal(b1.d.log().match(/code cache written/g)?.length, 1);

    const b2 = await daemonWithCache(dir.path);
    try {
      assert.match(b2.d.log(), /code cache: accepted/);
      await pull(b2);
      const inspect = await b2.d.request('GET', `/images/${encodeURIComponent(b2.image)}/json`);
      assert.equal(inspect.status, 200);
    } finally {
      await b2.stop();
    }
    assert.doesNotMatch(b2.d.log(), /code cache written/);
    assert.deepEqual(cacheFiles(dir.path), written);

    // Other V8 flags: V8 would reject the first cache, so this daemon has a file of its own.
    const b3 = await daemonWithCache(dir.path, { HAKOD_V8_FLAGS: '--no-opt' });
    try {
      assert.match(b3.d.log(), /code cache: none/);
    } finally {
      await b3.stop();
    }
  } finally {
    dir.cleanup();
  }
});

test('a daemon that has built writes no code cache (its bytecode would hold the builder: +1 MB idle RSS for every later daemon)', { skip }, async () => {
  const dir = tempDir('hakod-cache-');
  try {
    const setup = await daemonWithCache(dir.path);
    const d = setup.d;
    try {
      const ctxTar = makeTar([{ name: 'Dockerfile', data: 'FROM scratch\nLABEL built=yes\n' }]);
      const b = await d.request('POST', '/build?t=cache-test%3Ab', ctxTar, { 'Content-Type': 'application/x-tar' });
      assert.equal(b.status, 200, b.body.toString());
      assert.match(b.body.toString(), /Successfully built/);
      await pull(setup);
      const inspect = await d.request('GET', `/images/${encodeURIComponent(setup.image)}/json`);
      assert.equal(inspect.status, 200);
    } finally {
      await setup.stop();
    }
    assert.doesNotMatch(d.log(), /code cache written/);
    assert.deepEqual(cacheFiles(dir.path), []);
  } finally {
    dir.cleanup();
  }
});
