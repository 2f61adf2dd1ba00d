// The client the network e2e tests run inside a network namespace they made (`ip netns exec`):
// node itself (busybox-static's wget crashes here, rc 139), so an HTTP GET resolves names with
// the libc resolver and the resolv.conf `ip netns exec` mounts from /etc/netns/<name>/ (as a
// container's program would), and a DNS lookup asks one server directly (c-ares), which tells
// NXDOMAIN apart from a timeout or a refusal.
//
// Each phase (lookup, connect, reply) is bounded on its own (3 s; a libc lookup 10 s, see
// LIBC_LOOKUP_MS): on overrun the client prints which phase and target timed out and SIGKILLs
// itself (a lookup pending in libuv's thread pool would hold a plain exit up). Node's own start is
// not bounded by that (seconds on a loaded machine); the whole run is (30 s). Failures reject with
// a NetnsClientError naming the phase, so a test that expects a failure can insist on the right
// one (NXDOMAIN, a dropped connect). A direct DNS question (resolve/reverse) gets one try of 3 s:
// the embedded DNS must answer the first query.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** How long one phase may take inside the client. */
export const PHASE_MS = 3000;
/**
 * A libc lookup (getaddrinfo, the HTTP client's): glibc waits 5 s before it asks again. At load
 * 8–10 on 2 cores such lookups overran 3 s (three tests of one run) while the embedded DNS's own
 * logged answer times stayed under 50 ms in the runs checked (4); the strict check of the server is
 * nsResolve's single try of 3 s; this bound only names the phase of a hang.
 */
export const LIBC_LOOKUP_MS = 10_000;
/** How long a whole client run may take, node's start included. */
export const RUN_MS = 30_000;

// CommonJS for `node -e`; argv: mode target [server]. Exit codes: 3 lookup, 4 connect, 5 reply.
const SCRIPT = String.raw`
const dns = require('dns'), net = require('net');
const [mode, target, server] = process.argv.slice(1);
const BOUND = ${PHASE_MS}, LIBC_LOOKUP = ${LIBC_LOOKUP_MS};
let phase = 'start', what = '', timer;
function enter(p, w, ms = BOUND) {
  phase = p; what = w;
  process.stderr.write('@' + p + ' ' + w + '\n');
  clearTimeout(timer);
  timer = setTimeout(() => {
    process.stderr.write('netns-client: ' + p + ' ' + w + ': timed out after ' + ms + ' ms\n');
    process.kill(process.pid, 'SIGKILL');
  }, ms);
}
function fail(reason, code) {
  process.stderr.write('netns-client: ' + phase + ' ' + what + ': ' + reason + '\n');
  process.exit(code);
}
const RCODE = { ENOTFOUND: 'NXDOMAIN', ENODATA: 'NODATA', ESERVFAIL: 'SERVFAIL', EREFUSED: 'REFUSED', EFORMERR: 'FORMERR', ENOTIMP: 'NOTIMP', ETIMEOUT: 'no answer', ECONNREFUSED: 'connection refused' };
async function get() {
  const u = new URL(target);
  const port = Number(u.port || 80);
  let ip = u.hostname;
  if (net.isIP(ip) === 0) {
    enter('lookup', u.hostname, LIBC_LOOKUP);
    try { ip = (await dns.promises.lookup(u.hostname, { family: 4 })).address; } catch (e) { fail(e.code || e.message, 3); }
  }
  enter('connect', ip + ':' + port);
  const sock = net.connect({ host: ip, port });
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); }).catch((e) => fail(e.code || e.message, 4));
  enter('reply', ip + ':' + port);
  const chunks = [];
  sock.on('data', (c) => chunks.push(c));
  sock.on('error', (e) => fail(e.code || e.message, 5));
  sock.on('end', () => {
    const text = Buffer.concat(chunks).toString();
    const status = /^HTTP\/1\.\d (\d+)/.exec(text);
    const at = text.indexOf('\r\n\r\n');
    if (!status || at < 0) fail('not an HTTP response: ' + JSON.stringify(text.slice(0, 200)), 5);
    if (status[1] !== '200') fail('HTTP status ' + status[1], 5);
    clearTimeout(timer);
    process.stdout.write(text.slice(at + 4));
  });
  sock.write('GET ' + u.pathname + u.search + ' HTTP/1.0\r\nHost: ' + u.host + '\r\n\r\n');
}
function ask(kind) {
  // c-ares gives up after BOUND (one try); the phase timer is the backstop.
  const r = new dns.promises.Resolver({ timeout: BOUND, tries: 1 });
  r.setServers([server || '127.0.0.11']);
  enter('lookup', target, BOUND + 2000);
  (kind === 'reverse' ? r.reverse(target) : r.resolve4(target)).then((a) => {
    clearTimeout(timer);
    process.stdout.write(a.join('\n') + '\n');
  }, (e) => fail((RCODE[e.code] || 'error') + ' (' + e.code + ')', 3));
}
if (mode === 'get') get().catch((e) => fail(e.message, 1));
else if (mode === 'resolve' || mode === 'reverse') ask(mode);
else fail('usage: get URL | resolve NAME [SERVER] | reverse IP [SERVER]', 2);
`;

export class NetnsClientError extends Error {
  constructor(
    message: string,
    /** start (node did not get going), lookup, connect or reply. */
    readonly phase: string,
    /** What went wrong in that phase: an errno code, an rcode, "timed out after 3000 ms", … */
    readonly reason: string,
  ) {
    super(message);
  }
}

/** A netns name (ip netns exec: its /etc/netns files mounted) or path (a container's /proc/<pid>/ns/net: nsenter). */
function enterNetns(netns: string): string[] {
  return netns.startsWith('/') ? ['nsenter', `--net=${netns}`] : ['ip', 'netns', 'exec', netns];
}

async function runClient(netns: string, args: string[]): Promise<string> {
  try {
    const enter = enterNetns(netns);
    const r = await pexec(enter[0]!, [...enter.slice(1), process.execPath, '-e', SCRIPT, ...args], { timeout: RUN_MS, killSignal: 'SIGKILL', encoding: 'utf8' });
    return r.stdout;
  } catch (err) {
    const e = err as { stderr?: string; code?: number | string; signal?: string; killed?: boolean; message: string };
    const stderr = e.stderr ?? '';
    const m = /^netns-client: (\w+) (\S*): (.*)$/m.exec(stderr);
    if (m) throw new NetnsClientError(`in netns ${netns}: ${m[1]} ${m[2]}: ${m[3]}`, m[1]!, m[3]!);
    const phase = [...stderr.matchAll(/^@(\w+)/gm)].at(-1)?.[1] ?? 'start';
    const how = e.killed ? `did not finish within ${RUN_MS} ms` : `failed (${e.code ?? e.signal ?? e.message})`;
    throw new NetnsClientError(`in netns ${netns}: client ${args.join(' ')} ${how}, in phase ${phase}; stderr: ${stderr.trim()}`, phase, how);
  }
}

/** GET `url` from inside `netns`: the body of a 200 answer. */
export function nsGet(netns: string, url: string): Promise<string> {
  return runClient(netns, ['get', url]);
}

/** The A records `server` (the embedded DNS by default) gives for `name`, asked from inside `netns`. */
export async function nsResolve(netns: string, name: string, server = '127.0.0.11'): Promise<string[]> {
  return (await runClient(netns, ['resolve', name, server])).split('\n').filter((l) => l);
}

/**
 * nsResolve with this thread's event loop blocked from the client's start until its answer: the
 * client writes to files (not to a pipe this loop would have to read) and this thread polls them
 * synchronously, sleeping in Atomics.wait. Anything that needs this loop to answer (a DNS server
 * on it) cannot, and the client then fails its lookup (3 s) while the loop is still blocked.
 * `netns`: a name (ip netns) or a netns path (a container's /proc/<pid>/ns/net).
 */
export async function nsResolveBlocked(netns: string, name: string, server = '127.0.0.11'): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hako-nsclient-'));
  try {
    const out = openSync(join(dir, 'out'), 'w');
    const err = openSync(join(dir, 'err'), 'w');
    const enter = enterNetns(netns);
    const child = spawn(enter[0]!, [...enter.slice(1), process.execPath, '-e', SCRIPT, 'resolve', name, server], { stdio: ['ignore', out, err] });
    closeSync(out);
    closeSync(err);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + RUN_MS;
    let stdout = '';
    let stderr = '';
    // Done: an answer (stdout ends with a newline) or the client's own failure line.
    while (Date.now() < deadline) {
      stdout = readFileSync(join(dir, 'out'), 'utf8');
      stderr = readFileSync(join(dir, 'err'), 'utf8');
      if (stdout.endsWith('\n') || /^netns-client: /m.test(stderr)) break;
      Atomics.wait(nap, 0, 0, 10);
    }
    const done = stdout.endsWith('\n') || /^netns-client: /m.test(stderr);
    if (!done) child.kill('SIGKILL');
    await exited;
    const m = /^netns-client: (\w+) (\S*): (.*)$/m.exec(stderr);
    if (m) throw new NetnsClientError(`in netns ${netns}: ${m[1]} ${m[2]}: ${m[3]}`, m[1]!, m[3]!);
    if (!done) throw new NetnsClientError(`in netns ${netns}: client resolve ${name} did not finish within ${RUN_MS} ms; stderr: ${stderr.trim()}`, 'start', 'timed out');
    return stdout.split('\n').filter((l) => l);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The PTR names `server` gives for `ip`, asked from inside `netns`. */
export async function nsReverse(netns: string, ip: string, server = '127.0.0.11'): Promise<string[]> {
  return (await runClient(netns, ['reverse', ip, server])).split('\n').filter((l) => l);
}

/**
 * For assert.rejects: the client failed in `phase` with a reason matching `reason` (anything else,
 * a timeout where a refusal was expected or a failure in another phase, fails the assertion and
 * shows the error that came).
 */
export function failedIn(phase: 'lookup' | 'connect' | 'reply', reason: RegExp): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof NetnsClientError, `not a client failure: ${String(err)}`);
    assert.equal(err.phase, phase, err.message);
    assert.match(err.reason, reason, err.message);
    return true;
  };
}

/** For assert.rejects: the embedded DNS (or its upstream) said NXDOMAIN, not a timeout, refusal or SERVFAIL. */
export function nxdomain(): (err: unknown) => true {
  return failedIn('lookup', /^NXDOMAIN \(ENOTFOUND\)$/);
}
