// hakod --userland-proxy=false, as a private dockerd 20.10.24 with --userland-proxy=false (no
// ip6tables, containers without IPv6 addresses) was observed to publish: `-p 80` on 0.0.0.0
// only (no [::] entry), `-p [::1]::80` and `-p [::]:P:80` nothing at all (inspect shows the port
// with null bindings, the container runs). A daemon started without the proxy drops the [::]
// bindings an earlier daemon published. --userland-proxy-path is accepted (dockerd runs that
// binary; hakod relays in-process and says in its log that the path is unused).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { hasDocker, hasEngine, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { isRoot, tempDir } from '../helpers/fixtures.js';
import { dockerSaveArchive } from '../helpers/images.js';
import { retryUntil } from '../helpers/retry.js';

const skip = !isRoot ? 'needs root' : !hasEngine ? 'the engine is not built' : !hasDocker ? `${DOCKER} is missing` : false;
const v6 = existsSync('/proc/net/if_inet6');

let d: TestDaemon | undefined;
let tmp: { path: string; cleanup(): void };

before(async () => {
  if (skip) return;
  tmp = tempDir('hako-ulp-');
});

after(async () => {
  if (d) {
    await docker('rm', '-f', 'ulp1', 'ulp2', 'ulp3').catch(() => undefined);
    assert.equal(await d.stop(), 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
  tmp?.cleanup();
});

function docker(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(DOCKER, args, { env: d!.env, timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => (err ? reject(new Error(`docker ${args.join(' ')}: ${stderr}\n${d!.log().slice(-2000)}`)) : resolve(stdout))),
  );
}

const HTTPD = ['busybox', 'sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www'];

async function ports(name: string): Promise<unknown> {
  return JSON.parse(await docker('inspect', '-f', '{{json .NetworkSettings.Ports}}', name));
}

/** Whether something accepts TCP connections on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2000 }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

async function get(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) })).text();
}

test('--userland-proxy=false: IPv4 bindings only, IPv6 host addresses publish nothing, [::] bindings of an earlier daemon dropped; --userland-proxy-path accepted', { skip, timeout: 180_000 }, async () => {
  d = await startDaemon();
  await docker('load', '-q', '-i', dockerSaveArchive(tmp.path, 'userland-proxy-flag.test'));
  await docker('run', '-d', '--name', 'ulp1', '-p', '80', ...HTTPD);
  const before1 = (await ports('ulp1')) as Record<string, Array<{ HostIp: string; HostPort: string }>>;
  const hp1 = Number(before1['80/tcp']![0]!.HostPort);
  assert.deepEqual(before1['80/tcp']!.map((b) => b.HostIp), v6 ? ['0.0.0.0', '::'] : ['0.0.0.0'], 'with the proxy (default), [::] too');

  // The next daemon runs without the proxy.
  await d.crash();
  d = await startDaemon(['--userland-proxy=false', '--userland-proxy-path', '/nonexistent/docker-proxy'], { after: d });
  assert.match(d.log(), /--userland-proxy-path \/nonexistent\/docker-proxy is not used/);
  assert.deepEqual(await ports('ulp1'), { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hp1) }] }, 'the [::] binding is gone');
  assert.equal(await retryUntil(() => get(hp1), 'ulp1 over IPv4'), `hello from ${(await docker('inspect', '-f', '{{.Config.Hostname}}', 'ulp1')).trim()}\n`);
  if (v6) assert.equal(await accepts('::1', hp1), false, 'nothing serves [::1]');

  await docker('run', '-d', '--name', 'ulp2', '-p', '80', ...HTTPD);
  const p2 = (await ports('ulp2')) as Record<string, Array<{ HostIp: string; HostPort: string }>>;
  assert.deepEqual(p2['80/tcp']!.map((b) => b.HostIp), ['0.0.0.0']);
  const hp2 = Number(p2['80/tcp']![0]!.HostPort);
  assert.equal((await docker('port', 'ulp2', '80')).trim(), `0.0.0.0:${hp2}`);
  assert.match(await retryUntil(() => get(hp2), 'ulp2 over IPv4'), /^hello from /);
  if (v6) assert.equal(await accepts('::1', hp2), false);

  // An IPv6 host address: the container runs, the port is not published (dockerd: null).
  await docker('run', '-d', '--name', 'ulp3', '-p', '[::1]::80', '-p', '[::]:18099:80', ...HTTPD);
  assert.deepEqual(await ports('ulp3'), { '80/tcp': null });
  assert.equal((await docker('inspect', '-f', '{{.State.Running}}', 'ulp3')).trim(), 'true');
  assert.equal((await docker('port', 'ulp3')).trim(), '');
  assert.match(d.log(), /port 80\/tcp on \[::1\] not published: IPv6 bindings need the userland proxy/);
});
