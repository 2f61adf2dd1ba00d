// docker-compose 1.29 (Debian's, Python on docker-py) against a real hakod: a two-service project
// on a user network (web: busybox httpd with a published port and a health check; client: waits
// for web to be healthy, then reaches it by service name through the embedded DNS), a named
// volume, a bind mount, environment, restart policies, labels, entrypoint/command overrides;
// up -d, ps, logs, exec -T, run --rm, stop, start, restart, down (the volume stays), up
// --force-recreate, down -v
// (nothing of the project stays: containers, network, volume, veths, nft rules); a second project
// with driver_opts volumes (tmpfs, bind).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { hasEngine, type TestDaemon } from '../helpers/daemon.js';
import { freePort, hasRegistry, type TestRegistry } from '../helpers/registry.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot, mountsUnder, tempDir } from '../helpers/fixtures.js';

const COMPOSE = '/usr/bin/docker-compose';
const skip = !existsSync(COMPOSE)
  ? `${COMPOSE} is missing (apt-get install docker-compose: compose 1.29 is what this test drives)`
  : !hasRegistry
    ? 'docker-registry is not installed (apt-get install docker-registry)'
    : !hasEngine
      ? 'the container engine is not built'
      : !isRoot
        ? 'compose flows run containers: they need root'
        : false;

const PROJECT = 'hakocompose';
let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let reg: TestRegistry;
let dir: { path: string; cleanup: () => void };
let port: number;

function composeFile(ref: string): string {
  // JSON is YAML: no YAML library needed to write it.
  const healthcheck = { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/index.html'], interval: '1s', timeout: '2s', retries: 20 };
  return JSON.stringify(
    {
      services: {
        web: {
          image: ref,
          entrypoint: ['httpd'],
          command: ['-f', '-v', '-p', '80', '-h', '/www'],
          ports: [`127.0.0.1:${port}:80`],
          volumes: ['./site:/www:ro', 'data:/data'],
          environment: { GREETING: 'hi-web' },
          labels: { 'org.example.role': 'web' },
          restart: 'unless-stopped',
          stop_grace_period: '1s',
          healthcheck,
          networks: ['appnet'],
        },
        client: {
          image: ref,
          command: ['sh', '-c', 'echo $$GREETING > /data/greeting; wget -q -O- http://web/index.html; exec sleep 3600'],
          environment: ['GREETING=hello-env'],
          volumes: ['data:/data'],
          depends_on: { web: { condition: 'service_healthy' } },
          restart: 'always',
          stop_grace_period: '1s',
          labels: { 'org.example.role': 'client' },
          networks: ['appnet'],
        },
      },
      volumes: { data: {} },
      networks: { appnet: {} },
    },
    null,
    2,
  );
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function compose(args: string[], opts: { ok?: boolean } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(COMPOSE, ['-p', PROJECT, '--ansi', 'never', ...args], { cwd: dir.path, env: { ...d.env, COMPOSE_HTTP_TIMEOUT: '120' }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      if (opts.ok !== false && code !== 0) assert.fail(`docker-compose ${args.join(' ')} → ${code}\nstdout: ${stdout}\nstderr: ${stderr}\ndaemon log:\n${d.log().slice(-4000)}`);
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

async function api(path: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await d.request('GET', path);
  assert.equal(r.status, 200, `GET ${path}: ${r.body.toString()}`);
  return JSON.parse(r.body.toString());
}

async function waitFor<T>(what: string, f: () => Promise<T>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = get(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    r.on('error', reject);
    r.setTimeout(5000, () => r.destroy(new Error('timeout')));
  });
}

/** `docker-compose ps` rows: name → state column. */
function psStates(out: string): Record<string, string> {
  const rows: Record<string, string> = {};
  for (const line of out.split('\n').slice(2)) {
    const m = /^(\S+)\s+.*?\s{2,}(Up(?: \([^)]*\))?|Exit -?\d+|Paused|Restarting)(?:\s|$)/.exec(line);
    if (m) rows[m[1]!] = m[2]!;
  }
  return rows;
}

/** The daemon's interfaces (its prefix) and the lines of its nft table. */
function netState(): { links: string[]; nft: string } {
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(d.net.prefix));
  const nft = execFileSync('nft', ['list', 'table', 'ip', d.net.table], { encoding: 'utf8' });
  return { links: links.sort(), nft };
}

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon();
  ({ d, reg } = setup);
  dir = tempDir('hako-compose-');
  port = await freePort();
  mkdirSync(join(dir.path, 'site'));
  writeFileSync(join(dir.path, 'site', 'index.html'), 'hello from compose\n');
  writeFileSync(join(dir.path, 'docker-compose.yml'), composeFile(`${reg.host}/test/busybox`));
});

after(async () => {
  try {
    // A failed test may leave the project up: down -v takes it away before the daemon stops.
    if (setup && dir) await compose(['down', '-v', '-t', '1'], { ok: false });
    await setup?.stop({ noBugs: true });
  } finally {
    dir?.cleanup();
  }
});

test('docker-compose: up -d, ps, HTTP through the published port, DNS by service name, env, labels, logs, exec, run --rm', { skip }, async () => {
  const before = netState();
  await compose(['up', '-d']);
  const ps = psStates((await compose(['ps'])).stdout);
  assert.deepEqual(Object.keys(ps).sort(), [`${PROJECT}_client_1`, `${PROJECT}_web_1`], 'one container per service (the label filters are ANDed)');
  assert.equal(ps[`${PROJECT}_web_1`], 'Up (healthy)', 'client depends on web being healthy: up waited for it');
  assert.match(ps[`${PROJECT}_client_1`]!, /^Up/);

  assert.equal(await waitFor('the published port', () => httpGet(`http://127.0.0.1:${port}/index.html`)), 'hello from compose\n');

  const web = (await api(`/containers/${PROJECT}_web_1/json`));
  const webIp = web.NetworkSettings.Networks[`${PROJECT}_appnet`].IPAddress as string;
  assert.match(webIp, /^\d+\.\d+\.\d+\.\d+$/);
  const ns = await compose(['exec', '-T', 'client', 'nslookup', 'web']);
  assert.match(ns.stdout, new RegExp(`Address:\\s+${webIp.replace(/\./g, '\\.')}\\b`), `web resolves to its address on ${PROJECT}_appnet: ${ns.stdout}`);
  // The client fetched web by name once web was healthy (its command, in its log).
  const clientLog = await waitFor('the client log', async () => {
    const l = (await compose(['logs', '--no-color', 'client'])).stdout;
    if (!l.includes('hello from compose')) throw new Error(l);
    return l;
  });
  assert.match(clientLog, /client_1\s+\| hello from compose/);
  assert.match((await compose(['logs', '--no-color', 'web'])).stdout, /web_1\s+\| .*response:200/);

  assert.equal((await compose(['exec', '-T', 'client', 'cat', '/data/greeting'])).stdout, 'hello-env\n', 'the environment (list form), through the named volume');
  assert.equal((await compose(['exec', '-T', 'web', 'sh', '-c', 'echo $GREETING; cat /data/greeting'])).stdout, 'hi-web\nhello-env\n', 'the environment (map form); the volume is shared');
  const ro = await compose(['exec', '-T', 'web', 'sh', '-c', 'touch /www/x'], { ok: false });
  assert.notEqual(ro.code, 0, 'the bind mount is read-only');
  assert.equal((await compose(['exec', '-T', 'web', 'sh', '-c', 'exit 7'], { ok: false })).code, 7, 'exec passes the exit code through');

  assert.deepEqual(web.Config.Entrypoint, ['httpd']);
  assert.deepEqual(web.Config.Cmd, ['-f', '-v', '-p', '80', '-h', '/www']);
  assert.equal(web.Config.Labels['org.example.role'], 'web');
  assert.equal(web.Config.Labels['com.docker.compose.project'], PROJECT);
  assert.equal(web.Config.Labels['com.docker.compose.service'], 'web');
  assert.deepEqual(web.HostConfig.RestartPolicy, { Name: 'unless-stopped', MaximumRetryCount: 0 });
  assert.deepEqual(web.Config.Healthcheck.Test, ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/index.html']);
  assert.deepEqual(
    web.Mounts.map((m: { Type: string; Destination: string; RW: boolean }) => `${m.Type} ${m.Destination} ${m.RW}`).sort(),
    ['bind /www false', 'volume /data true'],
  );
  const client = await api(`/containers/${PROJECT}_client_1/json`);
  assert.equal(client.HostConfig.RestartPolicy.Name, 'always');
  assert.equal(client.Config.Labels['org.example.role'], 'client');

  const run = await compose(['run', '--rm', '-T', 'client', 'sh', '-c', 'wget -q -O- http://web/index.html; echo run-ok']);
  assert.equal(run.stdout, 'hello from compose\nrun-ok\n');
  const oneoff = await api(`/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${PROJECT}`, 'com.docker.compose.oneoff=True'] }))}`);
  assert.deepEqual(oneoff, [], 'run --rm removed its container');

  const now = netState();
  assert.ok(now.links.length > before.links.length, `the project's bridge and veths exist: ${now.links.join(' ')}`);
  assert.match(now.nft, new RegExp(`\\b${port}\\b`), 'the published port has its nft rule');
});

test('docker-compose: stop, start, restart', { skip }, async () => {
  await compose(['stop']);
  let ps = psStates((await compose(['ps'])).stdout);
  assert.match(ps[`${PROJECT}_web_1`]!, /^Exit /);
  assert.match(ps[`${PROJECT}_client_1`]!, /^Exit /);
  await assert.rejects(httpGet(`http://127.0.0.1:${port}/index.html`), 'nothing answers on the published port of a stopped service');
  await compose(['start']);
  ps = psStates((await compose(['ps'])).stdout);
  assert.equal(ps[`${PROJECT}_web_1`], 'Up (healthy)', 'start waits for web to be healthy before starting client');
  assert.match(ps[`${PROJECT}_client_1`]!, /^Up/);
  const started = (await api(`/containers/${PROJECT}_web_1/json`)).State.StartedAt as string;
  await compose(['restart', '-t', '1']);
  const after = await api(`/containers/${PROJECT}_web_1/json`);
  assert.equal(after.State.Running, true);
  assert.notEqual(after.State.StartedAt, started, 'restarted');
  assert.equal(await waitFor('web after restart', () => httpGet(`http://127.0.0.1:${port}/index.html`)), 'hello from compose\n');
  assert.match((await compose(['exec', '-T', 'client', 'nslookup', 'web'])).stdout, /Name:\s+web/);
});

test('docker-compose: down keeps the named volume, up finds its data; down -v leaves nothing', { skip }, async () => {
  await compose(['exec', '-T', 'client', 'sh', '-c', 'echo persisted > /data/keep']);
  await compose(['down', '-t', '1']);
  assert.deepEqual(await api('/containers/json?all=1'), []);
  assert.deepEqual((await api('/networks')).map((n: { Name: string }) => n.Name).sort(), ['bridge', 'host', 'none']);
  assert.deepEqual((await api('/volumes')).Volumes.map((v: { Name: string }) => v.Name), [`${PROJECT}_data`]);

  await compose(['up', '-d']);
  assert.equal((await compose(['exec', '-T', 'client', 'cat', '/data/keep'])).stdout, 'persisted\n');
  // Recreating reads the image's ContainerConfig (API 1.44 still has it) and renames the old container.
  const oldId = (await api(`/containers/${PROJECT}_web_1/json`)).Id as string;
  await compose(['up', '-d', '--force-recreate', '-t', '1']);
  const ps = psStates((await compose(['ps'])).stdout);
  assert.deepEqual(Object.keys(ps).sort(), [`${PROJECT}_client_1`, `${PROJECT}_web_1`]);
  assert.notEqual((await api(`/containers/${PROJECT}_web_1/json`)).Id, oldId, 'web was recreated');
  assert.equal(await waitFor('the recreated web', () => httpGet(`http://127.0.0.1:${port}/index.html`)), 'hello from compose\n');
  assert.equal((await compose(['exec', '-T', 'client', 'cat', '/data/keep'])).stdout, 'persisted\n');

  await compose(['down', '-v', '-t', '1']);
  assert.deepEqual(await api('/containers/json?all=1'), [], 'no containers');
  assert.deepEqual((await api('/networks')).map((n: { Name: string }) => n.Name).sort(), ['bridge', 'host', 'none'], 'no project network');
  assert.deepEqual((await api('/volumes')).Volumes ?? [], [], 'no volumes');
  const { links, nft } = netState();
  assert.deepEqual(links, [d.net.bridge], 'only the default bridge: no project bridge, no veth');
  assert.doesNotMatch(nft, new RegExp(`\\b${port}\\b`), 'no rule for the published port');
  assert.doesNotMatch(nft, new RegExp(`${d.net.prefix}-`), 'no rule for the project bridge');
});

test('docker-compose: driver_opts volumes (tmpfs with size and uid, a bind of a host dir) are mounted for the service and undone by down -v', { skip }, async () => {
  const pdir = join(dir.path, 'opts');
  const host = join(pdir, 'hostdir');
  mkdirSync(host, { recursive: true });
  const file = {
    services: {
      app: {
        image: `${reg.host}/test/busybox`,
        command: ['sh', '-c', 'echo from-app > /host/f; exec sleep 3600'],
        volumes: ['scratch:/scratch', 'hostdir:/host'],
        stop_grace_period: '1s',
      },
    },
    volumes: {
      scratch: { driver_opts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' } },
      hostdir: { driver_opts: { type: 'none', o: 'bind', device: host } },
    },
  };
  writeFileSync(join(pdir, 'docker-compose.yml'), JSON.stringify(file, null, 2));
  const run = (args: string[]) =>
    new Promise<Run>((resolve) => {
      execFile(COMPOSE, ['-p', 'hakocomposeopts', '--ansi', 'never', ...args], { cwd: pdir, env: { ...d.env, COMPOSE_HTTP_TIMEOUT: '120' }, timeout: 120_000 }, (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      });
    });
  try {
    const up = await run(['up', '-d']);
    assert.equal(up.code, 0, `up: ${up.stderr}\n${d.log().slice(-3000)}`);
    const inspect = (await api('/volumes/hakocomposeopts_scratch')) as { Options: Record<string, string> };
    assert.deepEqual(inspect.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' });
    const mounts = await run(['exec', '-T', 'app', 'sh', '-c', 'grep -E " /(scratch|host) " /proc/mounts; stat -c %u /scratch']);
    assert.equal(mounts.code, 0, mounts.stderr);
    assert.match(mounts.stdout, /^tmpfs \/scratch tmpfs .*size=1024k.*uid=1000/m);
    assert.match(mounts.stdout, / \/host /);
    assert.match(mounts.stdout, /^1000$/m);
    await waitFor('the app wrote to the bound host dir', async () => {
      if (!existsSync(join(host, 'f'))) throw new Error('not yet');
    });
    assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'from-app\n');
  } finally {
    const down = await run(['down', '-v', '-t', '1']);
    assert.equal(down.code, 0, down.stderr);
  }
  assert.deepEqual((await api('/volumes')).Volumes ?? [], [], 'no volumes');
  await waitFor('nothing mounted under the volumes', async () => {
    const left = mountsUnder(join(d.root, 'volumes'));
    if (left.length > 0) throw new Error(`still mounted: ${left.join(', ')}`);
  });
  assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'from-app\n', 'down -v leaves the bound host dir alone');
});

test('docker-compose (session 13 sweep, same outputs and exit codes as dockerd 20.10): aliases, up --scale and scale, pause/kill/rm, port/top, run --rm and exec exit codes; inspect shapes as dockerd gives a docker-py client', { skip }, async () => {
  const project = 'hakocomposep3';
  const pdir = join(dir.path, 'p3');
  mkdirSync(pdir, { recursive: true });
  const ref = `${reg.host}/test/busybox`;
  const webPort = await freePort();
  const file = {
    services: {
      web: {
        image: ref,
        command: ['sh', '-c', 'echo hello-web > /www/index.html; exec httpd -f -p 80 -h /www'],
        volumes: ['data:/www'],
        environment: { GREETING: 'hi-web' },
        ports: [`127.0.0.1:${webPort}:80`],
        healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/index.html'], interval: '1s', timeout: '2s', retries: 20 },
        networks: { appnet: { aliases: ['webalias'] } },
        labels: { 'org.example.role': 'web' },
        stop_grace_period: '1s',
      },
      client: {
        image: ref,
        command: ['sh', '-c', 'wget -q -O- http://webalias/index.html; exec sleep 3600'],
        environment: ['GREETING=hello-env'],
        depends_on: { web: { condition: 'service_healthy' } },
        networks: ['appnet'],
        stop_grace_period: '1s',
      },
      worker: { image: ref, command: ['sleep', '3600'], networks: ['appnet'], stop_grace_period: '1s', ulimits: { nofile: { soft: 1024, hard: 2048 } } },
    },
    volumes: { data: {} },
    networks: { appnet: {} },
  };
  writeFileSync(join(pdir, 'docker-compose.yml'), JSON.stringify(file, null, 2));
  const run = (args: string[]) =>
    new Promise<Run>((resolve) => {
      execFile(COMPOSE, ['-p', project, '--ansi', 'never', ...args], { cwd: pdir, env: { ...d.env, COMPOSE_HTTP_TIMEOUT: '120' }, timeout: 120_000 }, (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      });
    });
  const ok = async (args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${r.stderr}\n${d.log().slice(-3000)}`);
    return r;
  };
  const states = async () => psStates((await ok(['ps'])).stdout);
  try {
    await ok(['up', '-d']);
    assert.deepEqual(await states(), { [`${project}_client_1`]: 'Up', [`${project}_web_1`]: 'Up (healthy)', [`${project}_worker_1`]: 'Up' });
    assert.equal((await ok(['exec', '-T', 'client', 'sh', '-c', 'nslookup webalias >/dev/null && echo resolved; echo $GREETING'])).stdout, 'resolved\nhello-env\n');
    assert.equal((await run(['exec', '-T', 'web', 'sh', '-c', 'exit 3'])).code, 3);
    assert.equal((await run(['run', '--rm', '-T', 'client', 'sh', '-c', 'exit 5'])).code, 5);
    assert.equal((await ok(['port', 'web', '80'])).stdout, `127.0.0.1:${webPort}\n`);
    assert.match((await ok(['top', 'web'])).stdout, /httpd -f -p 80 -h \/www/);

    // What docker-py sends is not what the docker CLI sends: dockerd's shapes all the same.
    const web = await api(`/containers/${project}_web_1/json`);
    assert.deepEqual(web.Config.Healthcheck, { Test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/index.html'], Interval: 1e9, Timeout: 2e9, Retries: 20 }, 'StartPeriod: null and zeros left out (omitempty)');
    assert.ok(!('NetworkDisabled' in web.Config), 'NetworkDisabled: false is left out (omitempty)');
    const goOrder = ['Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce', 'Env', 'Cmd', 'Healthcheck', 'ArgsEscaped', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'NetworkDisabled', 'MacAddress', 'OnBuild', 'Labels', 'StopSignal', 'StopTimeout', 'Shell'];
    const keys = Object.keys(web.Config);
    assert.deepEqual(keys, goOrder.filter((k) => keys.includes(k)), 'container.Config in its field order');
    const labels = Object.keys(web.Config.Labels);
    assert.deepEqual(labels, [...labels].sort(), 'labels in Go map order');
    for (const k of ['Dns', 'DnsOptions', 'DnsSearch', 'Devices', 'Links', 'BlkioWeightDevice', 'BlkioDeviceReadBps', 'DeviceRequests', 'DeviceCgroupRules']) assert.equal(web.HostConfig[k], null, `HostConfig.${k}`);
    for (const k of ['CpuCount', 'CpuPercent', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'IOMaximumIOps', 'IOMaximumBandwidth']) assert.equal(web.HostConfig[k], 0, `HostConfig.${k}`);
    assert.equal(web.HostConfig.VolumeDriver, '');
    assert.deepEqual(Object.keys(web.GraphDriver), ['Data', 'Name']);
    const ns = Object.keys(web.NetworkSettings);
    assert.ok(ns.indexOf('SandboxKey') > ns.indexOf('Ports'), `NetworkSettings order: ${ns.join(' ')}`);
    // compose connects with its aliases in a Python set's order (the short ID among them): moby's
    // DNSNames are the name, the aliases, the short ID, the hostname, each once.
    const ep = web.NetworkSettings.Networks[`${project}_appnet`];
    const short = (web.Id as string).slice(0, 12);
    assert.deepEqual([...ep.Aliases].sort(), [short, 'web', 'webalias'].sort());
    assert.deepEqual(ep.DNSNames, [...new Set([`${project}_web_1`, ...ep.Aliases, short, web.Config.Hostname])]);
    const worker = await api(`/containers/${project}_worker_1/json`);
    assert.deepEqual(worker.HostConfig.Ulimits, [{ Name: 'nofile', Hard: 2048, Soft: 1024 }]);
    assert.deepEqual(Object.keys(worker.HostConfig.Ulimits[0]), ['Name', 'Hard', 'Soft'], 'units.Ulimit\'s order');
    const net = await api(`/networks/${project}_appnet`);
    assert.equal(net.Attachable, true, 'compose creates its networks attachable');
    assert.deepEqual(Object.keys(net.Labels), [...Object.keys(net.Labels)].sort());
    const vol = await api(`/volumes/${project}_data`);
    assert.deepEqual(Object.keys(vol.Labels), [...Object.keys(vol.Labels)].sort());

    await ok(['up', '-d', '--scale', 'worker=3']);
    assert.deepEqual(Object.keys(await states()).filter((n) => n.includes('worker')).sort(), [1, 2, 3].map((i) => `${project}_worker_${i}`));
    const scale = await ok(['scale', 'worker=2']);
    assert.match(scale.stderr, /The scale command is deprecated/);
    assert.deepEqual(Object.keys(await states()).filter((n) => n.includes('worker')).sort(), [1, 2].map((i) => `${project}_worker_${i}`));
    await ok(['pause', 'worker']);
    assert.equal((await states())[`${project}_worker_2`], 'Paused');
    await ok(['unpause', 'worker']);
    await ok(['kill', '-s', 'SIGKILL', 'worker']);
    assert.equal((await states())[`${project}_worker_1`], 'Exit 137');
    await ok(['rm', '-f', 'worker']);
    assert.deepEqual(Object.keys(await states()).sort(), [`${project}_client_1`, `${project}_web_1`]);
    await ok(['restart', '-t', '1']);
    assert.match((await states())[`${project}_web_1`]!, /^Up/);
    await ok(['stop', '-t', '1']);
    // httpd and sleep as PID 1 ignore SIGTERM: killed after the grace period (dockerd: Exit 137).
    assert.deepEqual(await states(), { [`${project}_client_1`]: 'Exit 137', [`${project}_web_1`]: 'Exit 137' });
    await ok(['start']);
    assert.deepEqual(await states(), { [`${project}_client_1`]: 'Up', [`${project}_web_1`]: 'Up (healthy)' });
  } finally {
    const down = await run(['down', '-v', '-t', '1']);
    assert.equal(down.code, 0, down.stderr);
  }
  assert.deepEqual((await api('/volumes')).Volumes ?? [], [], 'no volumes');
  assert.ok(!(await api('/networks')).some((n: { Name: string }) => n.Name.startsWith(project)), 'no project network');
});
