// Network benchmark, in two parts, each with its own netns/bridge/table names, removing everything:
//  A. the library: connect via rtnetlink vs the same with `ip` commands spawned, an nft
//     transaction, published-port HTTP throughput on localhost vs direct (node server in a netns);
//  B. through the engine (an in-process Engine, busybox from a local test registry): container
//     start with --network none vs the default bridge vs a user network (target: bridge adds
//     ≤ 5 ms), and busybox httpd throughput through a published port on 127.0.0.1 vs straight to
//     the container IP (target ≥ 90 %); then, where dockerd is installed, the same with a private
//     dockerd on a bridge of ours with --iptables=false --ip-forward=false --ip-masq=false (no
//     host state touched; its 127.0.0.1 published path is docker-proxy, as in docker's default).
// Run as root after `npm run build`: node bench/network.mjs [iterations] [--engine-only]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkManager } from '../dist/src/network/manager.js';
import { parsePortSpec } from '../dist/src/network/ports.js';

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 30);
const engineOnly = process.argv.includes('--engine-only');
const tag = Math.random().toString(16).slice(2, 6);
const root = mkdtempSync(join(tmpdir(), 'hako-netbench-'));
const sh = (...a) => execFileSync(a[0], a.slice(1), { stdio: 'pipe' });
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)].toFixed(2);
const mgr = new NetworkManager({ root, nftTable: `hkb${tag}`, bridgePrefix: `hb${tag}`, vethPrefix: `hv${tag}`, defaultNetwork: null, ipForward: 'bridge', iptables: false, upstreamDns: [] });
const nets = [];
let server;
if (!engineOnly) try {
  await mgr.init();
  await mgr.createNetwork({ name: 'bench', subnet: '10.239.0.0/24' });
  const br = mgr.get('bench').bridge;
  // 1. connect+disconnect through rtnetlink vs the same steps with ip(8)
  const viaNl = [], viaIp = [], nsOnly = [];
  for (let i = 0; i < N; i++) {
    const ns = `hkb${tag}${i}`;
    let t = performance.now();
    sh('ip', 'netns', 'add', ns);
    nsOnly.push(performance.now() - t);
    nets.push(ns);
    t = performance.now();
    await mgr.connect({ containerId: `c${i}`.padEnd(64, '0'), netns: `/run/netns/${ns}`, network: 'bench' });
    viaNl.push(performance.now() - t);
    await mgr.releaseContainer(`c${i}`.padEnd(64, '0'));
    t = performance.now();
    const v = `hx${tag}${i}`;
    sh('ip', 'link', 'add', v, 'mtu', '1500', 'master', br, 'up', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    sh('ip', '-n', ns, 'link', 'set', 'eth0', 'address', '02:42:0a:ef:00:09', 'up');
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', ns, 'addr', 'add', '10.239.0.9/24', 'dev', 'eth0');
    sh('ip', '-n', ns, 'route', 'add', 'default', 'via', '10.239.0.1');
    viaIp.push(performance.now() - t);
    sh('ip', 'link', 'del', v);
    sh('ip', 'netns', 'del', ns);
    nets.pop();
  }
  console.log(`connect (veth+addr+route+DNS listener) via rtnetlink: p50 ${pct(viaNl, 0.5)} ms p90 ${pct(viaNl, 0.9)} ms`);
  console.log(`same steps spawning ip(8) x5:                       p50 ${pct(viaIp, 0.5)} ms p90 ${pct(viaIp, 0.9)} ms`);
  console.log(`(for scale: ip netns add: p50 ${pct(nsOnly, 0.5)} ms)`);
  const nft = [];
  for (let i = 0; i < Math.min(N, 20); i++) {
    mgr.applyFirewall();
    nft.push(mgr.timings.applyFirewall);
  }
  console.log(`firewall change (whole table, netlink):              p50 ${pct(nft, 0.5)} ms p90 ${pct(nft, 0.9)} ms`);

  // 2. throughput: a node HTTP server inside a netns, fetched directly and via the published port
  const ns = `hkb${tag}s`;
  sh('ip', 'netns', 'add', ns);
  nets.push(ns);
  await mgr.connect({ containerId: 's'.padEnd(64, '0'), netns: `/run/netns/${ns}`, network: 'bench' });
  const ep = mgr.endpointsOfContainer('s'.padEnd(64, '0'))[0];
  server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', "const b=Buffer.alloc(1<<20,120);require('http').createServer((q,r)=>{r.end(b)}).listen(8080)"], { stdio: 'ignore' });
  const [m] = await mgr.publish('s'.padEnd(64, '0'), parsePortSpec('8080'));
  const get = (host, port) => new Promise((res, rej) => {
    const req = request({ host, port, agent: false }, (r) => { let n = 0; r.on('data', (d) => (n += d.length)); r.on('end', () => res(n)); });
    req.on('error', rej);
    req.end();
  });
  for (let i = 0; i < 50; i++) { try { await get(ep.ip, 8080); break; } catch { await new Promise((r) => setTimeout(r, 50)); } }
  const rate = async (host, port) => {
    const t = performance.now();
    let bytes = 0;
    for (let i = 0; i < 200; i++) bytes += await get(host, port);
    return bytes / 1048576 / ((performance.now() - t) / 1000);
  };
  for (let round = 0; round < 2; round++) {
    const direct = await rate(ep.ip, 8080);
    const pub = await rate('127.0.0.1', m.hostPort);
    console.log(`HTTP 1 MiB x200: direct ${direct.toFixed(0)} MiB/s, published 127.0.0.1:${m.hostPort} ${pub.toFixed(0)} MiB/s (${((pub / direct) * 100).toFixed(0)} %)`);
  }
} finally {
  if (server?.pid) server.kill('SIGKILL');
  for (const n of mgr.listNetworks()) for (const e of mgr.endpointsOf(n.id)) await mgr.releaseContainer(e.containerId);
  for (const n of mgr.listNetworks()) await mgr.removeNetwork(n.id);
  mgr.close();
  for (const n of nets) try { sh('ip', 'netns', 'del', n); } catch {}
  rmSync(root, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// B. Through the engine.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
{
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  const { startRegistry } = await import(join(repo, 'dist/test/helpers/registry.js'));
  const { busyboxImage, pushLayout } = await import(join(repo, 'dist/test/helpers/images.js'));
  const { testNet, engineNetOptions, cleanupNet } = await import(join(repo, 'dist/test/helpers/network.js'));
  const { testCgroupName, removeCgroupEverywhere, makeBusyboxRootfs } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
  const { Engine } = await import(join(repo, 'dist/src/engine/engine.js'));
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const work = mkdtempSync(join(tmpdir(), 'hako-netbench-engine-'));
  const net = testNet();
  const cg = testCgroupName('netbench');
  const reg = await startRegistry();
  const img = busyboxImage();
  let engine;
  const get = (host, port) => new Promise((res, rej) => {
    const req = request({ host, port, path: '/f', agent: false }, (r) => { let n = 0; r.on('data', (d) => (n += d.length)); r.on('end', () => res(n)); });
    req.on('error', rej);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
  // Alternating batches of 20 (10 rounds each), so load from elsewhere hits both sides alike.
  const compare = async (a, b) => {
    const tot = [{ bytes: 0, ms: 0 }, { bytes: 0, ms: 0 }];
    for (let round = 0; round < 10; round++) {
      for (const [i, [host, port]] of (round % 2 ? [[1, b], [0, a]] : [[0, a], [1, b]])) {
        const t = performance.now();
        for (let k = 0; k < 20; k++) tot[i].bytes += await get(host, port);
        tot[i].ms += performance.now() - t;
      }
    }
    return tot.map((x) => x.bytes / 1048576 / (x.ms / 1000));
  };
  const ready = async (host, port) => {
    for (let i = 0; i < 100; i++) {
      try {
        if ((await get(host, port)) === 1048576) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no HTTP answer on ${host}:${port}`);
  };
  const HTTPD = ['sh', '-c', 'mkdir -p /www && dd if=/dev/zero of=/www/f bs=1M count=1 2>/dev/null && exec httpd -f -p 80 -h /www'];
  try {
    await pushLayout(img, reg.host, 'bench/busybox');
    const IMAGE = `${reg.host}/bench/busybox:latest`;
    engine = new Engine({ root: join(work, 'root'), execRoot: join(work, 'run'), cgroupParent: cg, network: engineNetOptions(net), log: { warn: () => undefined } });
    await engine.images.pull(IMAGE);
    await engine.createNetwork({ Name: 'benchnet', IPAM: { Config: [{ Subnet: '10.238.0.0/24' }] } });
    // 1. start latency per network mode, interleaved so drift hits all alike
    const modes = ['none', 'bridge', 'benchnet'];
    const start = Object.fromEntries(modes.map((m) => [m, []]));
    const cycle = Object.fromEntries(modes.map((m) => [m, []]));
    const extra = { bridge: [], benchnet: [] }; // per-iteration difference to the none run next to it
    for (let i = -3; i < N; i++) {
      for (const mode of i % 2 ? modes : [...modes].reverse()) {
        const t0 = performance.now();
        const { Id } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: mode } });
        const t1 = performance.now();
        await engine.startContainer(Id);
        const t2 = performance.now();
        await engine.waitContainer(Id);
        await engine.removeContainer(Id);
        const t3 = performance.now();
        if (i >= 0) {
          start[mode].push(t2 - t1);
          cycle[mode].push(t3 - t0);
        }
      }
      if (i >= 0) for (const m of ['bridge', 'benchnet']) extra[m].push(start[m].at(-1) - start.none.at(-1));
    }
    console.log(`\nengine (${N} runs each, medians): start = startContainer() until the program runs; cycle = create→start→exit→rm`);
    for (const m of modes) console.log(`  --network ${m.padEnd(8)} start ${med(start[m]).toFixed(1)} ms   cycle ${med(cycle[m]).toFixed(1)} ms`);
    console.log(`  bridge adds ${med(extra.bridge).toFixed(1)} ms to start (median of paired differences; target ≤ 5), ${(med(cycle.bridge) - med(cycle.none)).toFixed(1)} ms to the cycle; a user network (embedded DNS) ${med(extra.benchnet).toFixed(1)} ms`);
    // 2. throughput through the published port vs straight to the container
    const { Id } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: HTTPD, HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } } });
    await engine.startContainer(Id);
    const j = await engine.inspectContainer(Id);
    const ip = j.NetworkSettings.IPAddress;
    const hostPort = Number(j.NetworkSettings.Ports['80/tcp'][0].HostPort);
    await ready(ip, 80);
    await ready('127.0.0.1', hostPort);
    for (let round = 0; round < 2; round++) {
      const [direct, pub] = await compare([ip, 80], ['127.0.0.1', hostPort]);
      console.log(`  hako:   busybox httpd, 1 MiB GETs x200 each: direct ${direct.toFixed(0)} MiB/s, published 127.0.0.1:${hostPort} ${pub.toFixed(0)} MiB/s (${((pub / direct) * 100).toFixed(0)} %, target ≥ 90 %)`);
    }
    await engine.removeContainer(Id, { force: true });
    await engine.removeNetwork('benchnet');
  } catch (err) {
    console.log(`engine part failed: ${err.stack ?? err}`);
  } finally {
    if (engine) {
      for (const c of await engine.listContainers({ all: true })) await engine.removeContainer(c.Id, { force: true }).catch(() => undefined);
      await engine.close();
    }
    await reg.stop();
    img.cleanup();
    removeCgroupEverywhere(cg);
    cleanupNet(net);
  }

  // 3. docker's published port, from a private dockerd that touches no host state.
  const onPath = (t) => (process.env.PATH ?? '/usr/sbin:/usr/bin').split(':').some((d) => existsSync(join(d, t)));
  if (!onPath('dockerd') || !onPath('containerd') || !onPath('docker')) {
    console.log('\ndocker comparison skipped: dockerd/containerd/docker not installed');
  } else {
    const droot = join(work, 'docker');
    const sock = join(droot, 'docker.sock');
    const br = `${net.prefix}d`;
    // Relative: dockerd (cgroupfs) puts it beneath its own cgroup, i.e. ours.
    const dcg = testCgroupName('netbench-dockerd');
    let daemon;
    const docker = (...args) => {
      const r = spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${sock}` }, timeout: 120_000 });
      if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    try {
      // A bridge of ours for dockerd (-b); it sets no iptables rule, forwarding or masquerade.
      sh('ip', 'link', 'add', 'name', br, 'type', 'bridge');
      sh('ip', 'addr', 'add', '10.237.0.1/24', 'dev', br);
      sh('ip', 'link', 'set', br, 'up');
      daemon = spawn('dockerd', [
        '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', `--bridge=${br}`,
        '--data-root', join(droot, 'data'), '--exec-root', join(droot, 'exec'), '--pidfile', join(droot, 'dockerd.pid'),
        '-H', `unix://${sock}`, '--containerd-namespace', 'hako-bench', '--containerd-plugins-namespace', 'hako-bench-plugins',
        '--cgroup-parent', dcg,
      ], { stdio: 'ignore' });
      const deadline = Date.now() + 60_000;
      while (spawnSync('docker', ['version'], { env: { ...process.env, DOCKER_HOST: `unix://${sock}` } }).status !== 0) {
        if (daemon.exitCode !== null || Date.now() > deadline) throw new Error('dockerd did not come up');
        await new Promise((r) => setTimeout(r, 200));
      }
      const rootfs = join(droot, 'rootfs');
      makeBusyboxRootfs(rootfs);
      sh('tar', '-C', rootfs, '-cf', join(droot, 'bb.tar'), '.');
      docker('import', join(droot, 'bb.tar'), 'bb');
      const id = docker('run', '-d', '-p', '127.0.0.1::80', 'bb', ...HTTPD);
      const ip = docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', id);
      const port = Number(docker('port', id, '80').split('\n')[0].split(':').pop());
      await ready(ip, 80);
      await ready('127.0.0.1', port);
      for (let round = 0; round < 2; round++) {
        const [direct, pub] = await compare([ip, 80], ['127.0.0.1', port]);
        console.log(`  docker: busybox httpd, 1 MiB GETs x200 each: direct ${direct.toFixed(0)} MiB/s, published (docker-proxy) 127.0.0.1:${port} ${pub.toFixed(0)} MiB/s (${((pub / direct) * 100).toFixed(0)} %)`);
      }
      docker('rm', '-f', id);
    } catch (err) {
      console.log(`docker comparison failed: ${err.message}`);
    } finally {
      if (daemon && daemon.exitCode === null) {
        const exited = new Promise((r) => daemon.once('exit', r));
        daemon.kill('SIGTERM');
        const t = setTimeout(() => daemon.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      }
      const cpid = Number((() => { try { return readFileSync(join(droot, 'exec', 'containerd', 'containerd.pid'), 'utf8'); } catch { return '0'; } })());
      if (cpid > 0) try { process.kill(cpid, 'SIGKILL'); } catch {}
      try { sh('ip', 'link', 'del', br); } catch {}
      // dockerd bind-mounts its data-root on itself and unmounts it on a clean shutdown.
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(droot));
      for (const m of mounts.reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
      removeCgroupEverywhere(dcg);
    }
  }
  rmSync(work, { recursive: true, force: true });
}
