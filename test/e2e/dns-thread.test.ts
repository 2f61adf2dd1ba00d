// The embedded DNS's thread (src/network/dns-server.ts, native/addon_dns.c) against the real
// kernel: a listener in a network namespace this test makes, a name table given directly. The
// thread answers while the main loop is blocked; what it has no answer for is answered or
// forwarded from the main loop; a thread that cannot start is reported and the main loop answers
// everything; a listener closed (one, or all at a daemon stop) frees 127.0.0.11:53 at once for the
// next one; an idle thread ends.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isRoot, tempDir } from '../helpers/fixtures.js';
import { EmbeddedDns, type EmbeddedDnsOptions } from '../../src/network/dns-server.js';
import type { DnsTable } from '../../src/network/dns-names.js';
import { dnsNative } from '../../src/network/dns-native.js';
import { buildResponse, decodeMessage, CLASS_IN, RCODE, TYPE } from '../../src/network/dns-message.js';
import { nsResolve, nsResolveBlocked, nsReverse } from '../helpers/netns-client.js';
import { releaseNetnsDir } from '../helpers/netns-dir.js';
import { recordNetns } from '../helpers/ledger.js';

const tool = (t: string) => ['/usr/sbin/', '/usr/bin/', '/sbin/', '/bin/'].some((d) => existsSync(d + t));
const skip = !isRoot ? 'needs root' : !tool('ip') ? 'iproute2 missing' : false;

const netns = `hkdns${randomBytes(3).toString('hex')}`;
const nsPath = `/run/netns/${netns}`;
let key = '';
let dir: { path: string; cleanup: () => void };
const dnsMade: EmbeddedDns[] = [];

function tableFor(extra: Partial<DnsTable['networks']> = {}): DnsTable {
  return {
    networks: { n1: { name: 'tnet', isDefault: false }, ...(extra as DnsTable['networks']) },
    endpoints: {
      e1: { networkId: 'n1', nsIno: Number(key), containerId: 'c'.repeat(64), containerName: 'web', aliases: ['www'], ip: '10.77.0.5' },
      e2: { networkId: 'n1', nsIno: 1, containerId: 'd'.repeat(64), containerName: 'db', aliases: [], ip: '10.77.0.6' },
    },
  };
}

function newDns(o: Partial<EmbeddedDnsOptions> & { table: () => DnsTable }): { dns: EmbeddedDns; warnings: string[] } {
  const warnings: string[] = [];
  // No upstream: a name not in the table gets SERVFAIL (no resolv.conf there).
  const dns = new EmbeddedDns({ upstreamDns: [], warn: (m) => warnings.push(m), ...o });
  dnsMade.push(dns);
  return { dns, warnings };
}

async function until(what: string, check: () => boolean): Promise<void> {
  const end = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(() => {
  if (skip) return;
  dir = tempDir('hako-dns-thread-');
  recordNetns(netns);
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  key = String(statSync(nsPath).ino);
});

after(() => {
  if (skip) return;
  for (const d of dnsMade) d.stopAll();
  execFileSync('ip', ['netns', 'del', netns]);
  releaseNetnsDir();
  dir.cleanup();
});

test('answers from its thread: names, aliases, reverse; a closed listener frees the port at once', { skip }, async () => {
  const { dns, warnings } = newDns({ table: () => tableFor() });
  await dns.start(key, nsPath);
  assert.equal(dns.mode(), 'thread');
  assert.deepEqual(await nsResolveBlocked(netns, 'www'), ['10.77.0.5']);
  assert.deepEqual(await nsResolve(netns, 'db.tnet'), ['10.77.0.6']);
  assert.deepEqual(await nsReverse(netns, '10.77.0.6'), ['db.tnet']);
  // stop and start again at once: the new bind waits for the thread's close
  dns.stop(key);
  await dns.start(key, nsPath);
  assert.deepEqual(await nsResolve(netns, 'web'), ['10.77.0.5']);
  // a daemon stop closes the sockets before it returns: another server binds right after
  dns.stopAll();
  const next = newDns({ table: () => tableFor() });
  await next.dns.start(key, nsPath);
  assert.deepEqual(await nsResolve(netns, 'web'), ['10.77.0.5']);
  next.dns.stopAll();
  assert.deepEqual([...warnings, ...next.warnings], []);
});

test('a name gone from the table is gone once synced()', { skip }, async () => {
  let t = tableFor();
  const { dns } = newDns({ table: () => t });
  await dns.start(key, nsPath);
  assert.deepEqual(await nsResolve(netns, 'db'), ['10.77.0.6']);
  t = { ...t, endpoints: { e1: t.endpoints.e1! } };
  dns.tableChanged();
  await dns.synced();
  await assert.rejects(nsResolve(netns, 'db'), (err: Error) => /lookup db: SERVFAIL/.test(err.message) || assert.fail(err.message));
  dns.stopAll();
});

test('the thread forwards other names: to the resolv.conf nameservers, or to the netns’s own --dns', { skip }, async () => {
  // Two stand-in upstreams on loopback, each answering every A question with its own address.
  const ups = await Promise.all(['198.51.100.1', '198.51.100.2'].map(async (addr) => {
    const s = createSocket('udp4');
    s.on('message', (msg, r) => {
      const q = decodeMessage(msg);
      s.send(buildResponse(q, [{ name: q.questions[0]!.name, type: TYPE.A, class: CLASS_IN, ttl: 5, data: addr }], RCODE.NOERROR), r.port, r.address);
    });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return s;
  }));
  try {
    const resolvConf = `${dir.path}/resolv.conf`;
    writeFileSync(resolvConf, `# test\nnameserver 127.0.0.1:${ups[0]!.address().port}\n`);
    let t = tableFor();
    const { dns } = newDns({ table: () => t, upstreamDns: undefined, resolvConf });
    await dns.start(key, nsPath);
    assert.deepEqual(await nsResolve(netns, 'outside.example'), ['198.51.100.1']);
    t = { ...t, endpoints: { ...t.endpoints, e1: { ...t.endpoints.e1!, dns: [`127.0.0.1:${ups[1]!.address().port}`] } } };
    dns.tableChanged();
    await dns.synced();
    assert.deepEqual(await nsResolve(netns, 'outside.example'), ['198.51.100.2']);
    dns.stopAll();
  } finally {
    for (const s of ups) s.close();
  }
});

/** A stand-in upstream in a process of its own (so a blocked loop here does not block it): every A question gets `addr`. */
async function upstreamProcess(addr: string): Promise<{ port: number; stop: () => void }> {
  const messages = new URL('../../src/network/dns-message.js', import.meta.url).href;
  const script = `const { buildResponse, decodeMessage } = await import(${JSON.stringify(messages)});
const s = (await import('node:dgram')).createSocket('udp4');
s.on('message', (msg, r) => { const q = decodeMessage(msg); s.send(buildResponse(q, [{ name: q.questions[0].name, type: 1, class: 1, ttl: 5, data: ${JSON.stringify(addr)} }], 0), r.port, r.address); });
s.bind(0, '127.0.0.1', () => process.stdout.write(s.address().port + '\\n'));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  await until('the upstream to listen', () => out.endsWith('\n') || child.exitCode !== null);
  assert.equal(child.exitCode, null, 'the upstream exited');
  return { port: Number(out.trim()), stop: () => child.kill('SIGKILL') };
}

test('the thread forwards while the main loop is blocked; a refusing upstream is skipped; resolv.conf changes are seen', { skip }, async () => {
  const one = await upstreamProcess('198.51.100.7');
  const two = await upstreamProcess('198.51.100.8');
  const made: EmbeddedDns[] = [];
  try {
    const resolvConf = `${dir.path}/resolv-blocked.conf`;
    // port 1 on loopback: refused (ICMP), so the thread goes on to the next at once
    writeFileSync(resolvConf, `nameserver 127.0.0.1:1\nnameserver 127.0.0.1:${one.port}\n`);
    const { dns, warnings } = newDns({ table: () => tableFor(), upstreamDns: undefined, resolvConf, resolvConfPollMs: 50 });
    made.push(dns);
    await dns.start(key, nsPath);
    assert.deepEqual(await nsResolveBlocked(netns, 'outside.example'), ['198.51.100.7']);
    // the container's own name too
    assert.deepEqual(await nsResolveBlocked(netns, 'web'), ['10.77.0.5']);
    writeFileSync(resolvConf, `nameserver 127.0.0.1:${two.port}\n`);
    const end = Date.now() + 30_000;
    let got: string[] = [];
    while (Date.now() < end && got[0] !== '198.51.100.8') got = await nsResolve(netns, 'outside.example');
    assert.deepEqual(got, ['198.51.100.8']);
    dns.stopAll();
    // no upstream at all: SERVFAIL, from the thread
    const none = newDns({ table: () => tableFor(), upstreamDns: [] });
    made.push(none.dns);
    await none.dns.start(key, nsPath);
    await assert.rejects(nsResolveBlocked(netns, 'outside.example'), (err: Error) => /SERVFAIL/.test(err.message) || assert.fail(err.message));
    assert.deepEqual([...warnings, ...none.warnings], []);
  } finally {
    for (const d of made) d.stopAll();
    one.stop();
    two.stop();
  }
});

test('a thread that cannot start is reported, and the main loop answers', { skip }, async () => {
  // pthread_create's failure, as the addon reports it
  const failing = { ...dnsNative(), dnsStart: () => { throw Object.assign(new Error('pthread_create: Resource temporarily unavailable (EAGAIN)'), { errno: 11, code: 'EAGAIN' }); } };
  const { dns, warnings } = newDns({ table: () => tableFor(), native: failing });
  await dns.start(key, nsPath);
  assert.equal(dns.mode(), 'main loop');
  assert.deepEqual(warnings, ['embedded DNS: the DNS thread did not start (pthread_create: Resource temporarily unavailable (EAGAIN)): answering on the main loop']);
  assert.deepEqual(await nsResolve(netns, 'web'), ['10.77.0.5']);
  assert.deepEqual(await nsReverse(netns, '10.77.0.6'), ['db.tnet']);
  await assert.rejects(nsResolve(netns, 'nosuch.tnet.example'), (err: Error) => /SERVFAIL/.test(err.message) || assert.fail(err.message));
  dns.stopAll();
});

test('what the thread has no answer for is answered from the main loop', { skip }, async () => {
  const { dns, warnings } = newDns({ table: () => tableFor() });
  await dns.start(key, nsPath);
  assert.equal(dns.mode(), 'thread');
  // an ID prefix of 13 characters is a name of ours the thread's table does not hold
  assert.deepEqual(await nsResolve(netns, 'c'.repeat(13)), ['10.77.0.5']);
  assert.deepEqual(await nsResolve(netns, `${'d'.repeat(20)}.tnet`), ['10.77.0.6']);
  // ... and a name that is not ours is forwarded (no upstream here: SERVFAIL)
  await assert.rejects(nsResolve(netns, 'nosuchname'), (err: Error) => /SERVFAIL/.test(err.message) || assert.fail(err.message));
  assert.deepEqual(warnings, []);
  dns.stopAll();
});

test('the thread ends when its last listener has been closed for lingerMs', { skip }, async () => {
  const { dns } = newDns({ table: () => tableFor(), lingerMs: 50 });
  await dns.start(key, nsPath);
  assert.equal(dns.mode(), 'thread');
  dns.stop(key);
  await until('the idle thread to end', () => dns.mode() === undefined);
  await dns.start(key, nsPath);
  assert.equal(dns.mode(), 'thread');
  assert.deepEqual(await nsResolve(netns, 'web'), ['10.77.0.5']);
  await assert.rejects(nsResolve(netns, 'nosuchname'), (err: Error) => /SERVFAIL|NXDOMAIN/.test(err.message) || assert.fail(err.message));
  dns.stopAll();
});

test('hostile queries from a container: compression loops, pointers past the end, truncated and oversized packets, garbage and a flood of 20000 queries the main loop must look at: nothing crashes or stalls, a good name is answered after', { skip, timeout: 120_000 }, async () => {
  const { dns, warnings } = newDns({ table: () => tableFor() });
  await dns.start(key, nsPath);
  const sender = `
    const dgram = require('node:dgram');
    const s = dgram.createSocket('udp4');
    const head = (id, qd) => Buffer.from([id >> 8, id & 255, 1, 0, 0, qd, 0, 0, 0, 0, 0, 0]);
    const tail = Buffer.from([0, 1, 0, 1]);
    const packets = [
      Buffer.concat([head(1, 1), Buffer.from([0xc0, 12]), tail]),                 // a pointer to itself
      Buffer.concat([head(2, 1), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 12]), tail]), // a loop through a label
      Buffer.concat([head(3, 1), Buffer.from([0xc0, 0xff]), tail]),               // a pointer past the end
      Buffer.concat([head(4, 1), Buffer.from([0xc0])]),                           // a truncated pointer
      Buffer.concat([head(5, 1), Buffer.from([63]), Buffer.alloc(10, 0x61)]),     // a label past the end
      Buffer.concat([head(6, 1), Buffer.from([0x80, 1]), tail]),                  // a reserved label type
      Buffer.from([0, 7, 1, 0, 0]),                                               // a truncated header
      Buffer.concat([head(8, 255), Buffer.from([3, 0x77, 0x77, 0x77, 0]), tail]), // 255 questions, one there
      Buffer.concat([head(9, 1), Buffer.from([3, 0x77, 0x77, 0x77, 0]), tail, Buffer.alloc(4500, 0xc0)]), // over 4096 bytes
      Buffer.concat([head(10, 1), Buffer.alloc(60000, 0xc0)]),                     // near the UDP maximum
    ];
    for (let i = 0; i < 300; i++) packets.push(require('node:crypto').randomBytes(1 + (i * 37) % 600));
    let sent = 0;
    const flood = 20000;
    function next() {
      if (sent >= packets.length + flood) return s.close();
      const p = sent < packets.length ? packets[sent] : Buffer.concat([head(sent & 0xffff, 1), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 12 + 4]), tail]);
      sent++;
      s.send(p, 53, '127.0.0.11', () => (sent % 500 === 0 ? setImmediate(next) : next()));
    }
    next();
  `;
  const t0 = Date.now();
  execFileSync('ip', ['netns', 'exec', netns, process.execPath, '-e', sender], { timeout: 60_000 });
  // Still answering, from the thread and from the main loop, soon after.
  assert.deepEqual(await nsResolve(netns, 'www'), ['10.77.0.5']);
  assert.deepEqual(await nsReverse(netns, '10.77.0.6'), ['db.tnet']);
  assert.ok(Date.now() - t0 < 60_000);
  dns.stopAll();
  assert.deepEqual(warnings.filter((w) => !/malformed|dropped|too many/i.test(w)), []);
});
