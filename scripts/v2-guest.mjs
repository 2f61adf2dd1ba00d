// Runs commands in a throw-away qemu guest booted with a Debian kernel on a pure cgroup v2 hierarchy:
// `node scripts/v2-guest.mjs [--timeout SECONDS] [--accel tcg|kvm] -- PROGRAM ARGS... [-- PROGRAM ARGS...]`
// (each run in the current directory, one after another, alone in a cgroup of its own). Exit code and output (the guest's serial
// console) come back to the host.
//
// Acceleration: TCG by default (a boot takes ~5-10 s of guest time). `--accel kvm` / HAKO_GUEST_ACCEL=kvm
// for a host with VMX/SVM KVM. On a host whose /dev/kvm is kvm_pvm (a PVM hypervisor: KVM API 12, VMs
// and vCPUs can be made, no vmx flag) a stock kernel does not boot under KVM: it reaches long mode in
// the decompressor and then crawls (the vCPU spends its time in the host kernel, nothing is printed
// in minutes): PVM runs only guest kernels built for it (CONFIG_PVM_GUEST), which Debian has not.
//
// Why: the host may be cgroup v1 / hybrid, whose cgroup2 mount has no controllers, so the v2 driver's
// memory/cpu/pids/io limits and stats could never run on a real kernel here.
//
// What the guest sees: the host's / shared read-only over virtio 9p (qemu readonly=on), under an
// overlay whose upper layer is a tmpfs, so the guest can write anywhere and nothing reaches the host;
// fresh /proc /sys /dev /tmp /run; cgroup2 on /sys/fs/cgroup with every controller enabled in the
// root's cgroup.subtree_control (cgroup_no_v1=all: no v1 hierarchy can be mounted). No network device
// (-nic none). One rw 9p share: a temp dir of this run, which carries the guest's second-stage script
// and its exit code back, and is removed at the end.
//
// The kernel: bookworm's current linux-image-<abi>-amd64 (the generic flavour: the cloud one has no
// 9p), fetched with `apt-get download` (apt checks it against the archive's signed index) into the
// cache dir HAKO_GUEST_CACHE (default /var/cache/hako-test/kernel) and unpacked there with
// `dpkg-deb -x`; nothing is installed on the host and /boot is not touched. A cached .deb is reused
// only while its SHA256 still matches the one in apt's (signed) package index; otherwise it is
// fetched again. Older kernels in the cache are removed when a newer one is fetched.
//
// Needs: qemu-system-x86_64 (Debian package qemu-system-x86, --no-install-recommends), busybox-static
// (the initramfs's only binary, and the guest's modprobe where the host has no kmod), apt-get and
// dpkg-deb; /dev/kvm only with --accel kvm.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const CACHE_DIR = process.env.HAKO_GUEST_CACHE || '/var/cache/hako-test/kernel';
const BUSYBOX = '/bin/busybox';
const QEMU = 'qemu-system-x86_64';
// Modules the initramfs loads (with their dependencies, found from each .ko's modinfo `depends=`):
// the virtio PCI transport, 9p over virtio, and overlayfs (all =m in Debian's generic config).
const INITRAMFS_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];

/** Why the guest cannot run here (a message naming the missing piece and the fix), or null. */
export function guestUnavailable(accel = defaultAccel()) {
  if (accel === 'kvm') {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch (err) {
      return `/dev/kvm is not usable (${err.code}): --accel kvm needs it (the default, tcg, does not)`;
    }
  }
  if (spawnSync(QEMU, ['--version'], { stdio: 'ignore' }).status !== 0) {
    return `${QEMU} is missing: apt-get install --no-install-recommends qemu-system-x86`;
  }
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} is missing: apt-get install busybox-static`;
  for (const tool of ['apt-get', 'apt-cache', 'dpkg-deb']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) return `${tool} is missing (a Debian host is needed to fetch the guest kernel)`;
  }
  return null;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout;
}

/** The package bookworm's linux-image-amd64 points at now, with its version and SHA256 from apt's index. */
function currentKernelPackage() {
  const dep = run('apt-cache', ['depends', 'linux-image-amd64']).match(/Depends:\s+(linux-image-\S+-amd64)\b/);
  if (!dep) throw new Error('apt-cache depends linux-image-amd64 names no linux-image-<abi>-amd64 (run apt-get update?)');
  const pkg = dep[1];
  const show = run('apt-cache', ['show', '--no-all-versions', pkg]);
  const version = show.match(/^Version: (\S+)$/m)?.[1];
  const sha256 = show.match(/^SHA256: ([0-9a-f]{64})$/m)?.[1];
  if (!version || !sha256) throw new Error(`apt-cache show ${pkg} gives no Version/SHA256`);
  return { pkg, version, sha256, abi: pkg.slice('linux-image-'.length) };
}

const sha256File = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');

/**
 * The unpacked kernel: { vmlinuz, modulesDir, abi }. Fetches and unpacks it into the cache when missing
 * or when the cached .deb no longer matches apt's index.
 */
export function ensureKernel(log = () => {}) {
  const { pkg, version, sha256, abi } = currentKernelPackage();
  const debName = `${pkg}_${version.replace(/^\d+:/, '')}_amd64.deb`;
  const deb = join(CACHE_DIR, debName);
  const tree = join(CACHE_DIR, `${pkg}_${version}`);
  mkdirSync(CACHE_DIR, { recursive: true });
  // Several runs may share the cache (worktrees, parallel test files): each downloads and unpacks in
  // a dir of its own and renames the result into place, so nobody sees a half-written file.
  if (!existsSync(deb) || sha256File(deb) !== sha256) {
    log(`fetching ${pkg} ${version} into ${CACHE_DIR}`);
    const dl = mkdtempSync(join(CACHE_DIR, '.download-'));
    try {
      // apt-get download verifies the file against the signed Release → Packages chain.
      run('apt-get', ['download', `${pkg}=${version}`], { cwd: dl });
      if (sha256File(join(dl, debName)) !== sha256) throw new Error(`${debName}: SHA256 does not match apt's index`);
      renameSync(join(dl, debName), deb);
    } finally {
      rmSync(dl, { recursive: true, force: true });
    }
    if (existsSync(tree) && readFileSync(join(tree, '.unpacked'), 'utf8').trim() !== sha256) rmSync(tree, { recursive: true, force: true });
  }
  if (!existsSync(join(tree, '.unpacked'))) {
    const part = mkdtempSync(join(CACHE_DIR, '.unpack-'));
    try {
      run('dpkg-deb', ['-x', deb, part]);
      // modules.dep for modprobe in the guest (Debian makes it in postinst, which we do not run).
      run(BUSYBOX, ['depmod', '-b', part, abi]);
      writeFileSync(join(part, '.unpacked'), `${sha256}\n`);
      rmSync(tree, { recursive: true, force: true }); // a tree without .unpacked: an old crash's
      try {
        renameSync(part, tree);
      } catch (err) {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err; // another run was first
      }
    } finally {
      rmSync(part, { recursive: true, force: true });
    }
  }
  // Older kernels: remove them (one kernel kept).
  for (const e of readdirSync(CACHE_DIR)) {
    if ((e.startsWith('linux-image-') && e !== debName && e !== basename(tree)) || ((e.startsWith('.download-') || e.startsWith('.unpack-')) && Date.now() - statSync(join(CACHE_DIR, e)).mtimeMs > 3600_000)) rmSync(join(CACHE_DIR, e), { recursive: true, force: true });
  }
  const vmlinuz = join(tree, 'boot', `vmlinuz-${abi}`);
  const modulesDir = join(tree, 'lib', 'modules', abi);
  if (!existsSync(vmlinuz) || !existsSync(modulesDir)) throw new Error(`${tree}: no boot/vmlinuz-${abi} or lib/modules/${abi}`);
  return { vmlinuz, modulesDir, abi };
}

/** Module name → .ko path under modulesDir (names with - and _ are the same module). */
function moduleIndex(modulesDir) {
  const idx = new Map();
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) idx.set(e.name.slice(0, -3).replace(/-/g, '_'), p);
    }
  };
  walk(join(modulesDir, 'kernel'));
  return idx;
}

/** The `depends=` of a .ko's .modinfo section (a NUL-terminated string in the file). */
function moduleDepends(ko) {
  const buf = readFileSync(ko);
  const at = buf.indexOf('\0depends=');
  if (at < 0) return [];
  const end = buf.indexOf(0, at + 1);
  const v = buf.subarray(at + '\0depends='.length, end).toString();
  return v ? v.split(',').map((s) => s.replace(/-/g, '_')) : [];
}

/** The modules to insmod, dependencies first. Builtin modules (not in the tree) are skipped. */
function moduleLoadOrder(modulesDir, wanted) {
  const idx = moduleIndex(modulesDir);
  const builtin = new Set(readFileSync(join(modulesDir, 'modules.builtin'), 'utf8').split('\n').map((l) => basename(l, '.ko').replace(/-/g, '_')));
  const order = [];
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const ko = idx.get(name);
    if (!ko) {
      if (builtin.has(name)) return;
      throw new Error(`module ${name} is neither in ${modulesDir} nor builtin`);
    }
    for (const d of moduleDepends(ko)) visit(d);
    order.push({ name, ko });
  };
  for (const w of wanted) visit(w);
  return order;
}

/** A gzipped newc cpio archive of entries { path, mode, data?, target? } (directories, files, symlinks). */
function cpioNewc(entries) {
  const parts = [];
  let ino = 1;
  const hex = (n) => n.toString(16).padStart(8, '0');
  const pad4 = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  const add = (name, mode, data) => {
    const nameBuf = Buffer.from(`${name}\0`);
    const header = Buffer.from(
      '070701' + [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0].map(hex).join(''),
    );
    parts.push(header, nameBuf, pad4(header.length + nameBuf.length), data, pad4(data.length));
  };
  for (const e of entries) {
    if (e.target !== undefined) add(e.path, 0o120777, Buffer.from(e.target));
    else if (e.data !== undefined) add(e.path, 0o100000 | e.mode, e.data);
    else add(e.path, 0o040000 | (e.mode ?? 0o755), Buffer.alloc(0));
  }
  add('TRAILER!!!', 0, Buffer.alloc(0));
  return gzipSync(Buffer.concat(parts), { level: 1 });
}

// The first stage (PID 1 in the initramfs): load the modules, mount the host root read-only with a
// tmpfs overlay, mount the exchange share, and hand over to the second stage in the new root.
function initScript(modules) {
  return `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /lower /rw /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
fail() { echo "hako-guest: $*" > /dev/console; echo o > /proc/sysrq-trigger; /bin/busybox sleep 30; }
${modules.map((m) => `/bin/busybox insmod /lib/modules/${m.name}.ko || fail "insmod ${m.name} failed"`).join('\n')}
# cache=loose: the share is read-only and nobody changes it while we run; node and the tests load
# thousands of files from it.
/bin/busybox mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower || fail "mounting the host root (9p) failed"
/bin/busybox mount -t tmpfs -o mode=0755 rw /rw
/bin/busybox mkdir -p /rw/upper /rw/work
/bin/busybox mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root /newroot || fail "mounting the overlay root failed"
/bin/busybox mkdir -p /newroot/hako-xfer
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 xfer /newroot/hako-xfer || fail "mounting the exchange share failed"
/bin/busybox umount /dev
/bin/busybox umount /proc
exec /bin/busybox switch_root /newroot /bin/sh /hako-xfer/stage2.sh
echo "hako-guest: switch_root failed" > /dev/console
`;
}

// The second stage (PID 1 in the overlay root, the host's own /bin/sh): the system mounts, cgroup2 with
// every controller enabled for children, then the commands; their exit codes go to /hako-xfer/rc.
function stage2Script({ commands, cwd, modulesDir, abi, env }) {
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  return `set -u
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
# The working directory stays reachable when a fresh /tmp or /run below would hide it (a checkout
# in /tmp, as CI's clean clone): the host's view of it is kept aside and bound back after them.
mkdir -p /.hako-cwd && mount --bind ${q(cwd)} /.hako-cwd
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=0755 varrun /var/run 2>/dev/null || true
[ -d ${q(cwd)} ] || { mkdir -p ${q(cwd)} && mount --bind /.hako-cwd ${q(cwd)}; }
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
# modprobe in the guest: the unpacked kernel's modules (depmod'ed on the host).
mkdir -p /lib/modules/${abi}
mount --bind ${q(modulesDir)} /lib/modules/${abi}
# The kernel's request_module runs /sbin/modprobe (nf_tables, veth, bridge on demand): busybox's
# (it reads the modules.dep made on the host) where the host has no kmod. Written to the overlay only.
[ -x /sbin/modprobe ] || ln -sf ${BUSYBOX} /sbin/modprobe
# Loop devices for block io tests (io.max, io.stat need a block device; the guest has no disk).
modprobe loop 2>/dev/null || true
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
ip link set lo up 2>/dev/null || true
hostname hako-v2-guest
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb HAKO_V2_GUEST=1
${Object.entries(env).map(([k, v]) => `export ${k}=${q(v)}`).join('\n')}
# PID 1 must not exit while the power-off runs (a panic otherwise); the shares are going away, so
# no program can be run any more: a builtin loop, for the few ms it takes.
halt() { echo o > /proc/sysrq-trigger; while :; do :; done; }
cd ${q(cwd)} || { echo "0 126" > /hako-xfer/rc; halt; }
echo "hako-guest: up in $(cut -d' ' -f1 /proc/uptime)s, $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
# Each command runs alone in a cgroup of its own, /sys/fs/cgroup/run-<n> (this shell stays in the
# root, which the "no internal processes" rule exempts): a test process alone in its cgroup can give
# its own cgroups controllers (test/helpers/fixtures.ts v2LimitDomain).
: > /hako-xfer/rc.part
${commands.map((argv, i) => `mkdir /sys/fs/cgroup/run-${i}
echo "hako-guest: run ${i}: ${argv.join(' ').replace(/["`$\\]/g, '')}"
sh -c 'echo $$ > /sys/fs/cgroup/run-${i}/cgroup.procs && exec "$@"' sh ${argv.map(q).join(' ')} < /dev/null
echo "${i} $?" >> /hako-xfer/rc.part
rmdir /sys/fs/cgroup/run-${i} 2>/dev/null`).join('\n')}
mv /hako-xfer/rc.part /hako-xfer/rc
echo "hako-guest: done at $(cut -d' ' -f1 /proc/uptime)s"
halt
`;
}

/**
 * Boots the guest, runs `commands` (argv arrays, one after another, each alone in a cgroup of its
 * own) in `cwd` and resolves to { codes, code (the first non-zero, or 0), output, bootSeconds }. `onOutput` gets the console as it comes. The qemu process is killed
 * (by pid) at `timeoutMs`; the exchange dir is removed in every case.
 */
function accelArgs(accel) {
  if (accel === 'kvm') return ['-machine', 'q35,accel=kvm', '-cpu', process.env.HAKO_GUEST_CPU || 'host,-arch-capabilities'];
  return ['-machine', 'q35', '-accel', 'tcg,thread=multi,tb-size=256', '-cpu', process.env.HAKO_GUEST_CPU || 'max'];
}

function defaultAccel() {
  return process.env.HAKO_GUEST_ACCEL || 'tcg';
}

export async function runInGuest({ commands, accel = defaultAccel(), cwd = process.cwd(), timeoutMs = 300_000, memory = '2G', cpus = 2, env = {}, handleSignals = false, onOutput = () => {}, log = () => {} }) {
  if (accel !== 'tcg' && accel !== 'kvm') throw new Error(`v2 guest: accel ${accel}: tcg or kvm`);
  const why = guestUnavailable(accel);
  if (why) throw new Error(why);
  const { vmlinuz, modulesDir, abi } = ensureKernel(log);
  const xfer = mkdtempSync(join(process.env.TMPDIR || tmpdir(), 'hako-v2-guest-'));
  try {
    const modules = moduleLoadOrder(modulesDir, INITRAMFS_MODULES);
    const entries = [
      { path: 'bin' }, { path: 'lib' }, { path: 'lib/modules' }, { path: 'dev' }, { path: 'proc' },
      { path: 'bin/busybox', mode: 0o755, data: readFileSync(BUSYBOX) },
      { path: 'bin/sh', target: 'busybox' },
      { path: 'init', mode: 0o755, data: Buffer.from(initScript(modules)) },
      ...modules.map((m) => ({ path: `lib/modules/${m.name}.ko`, mode: 0o644, data: readFileSync(m.ko) })),
    ];
    const initrd = join(xfer, 'initrd.gz');
    writeFileSync(initrd, cpioNewc(entries));
    writeFileSync(join(xfer, 'stage2.sh'), stage2Script({ commands, cwd, modulesDir, abi, env }));
    const append = [
      'console=ttyS0', ...(process.env.HAKO_GUEST_DEBUG ? ['earlyprintk=serial,ttyS0', 'loglevel=7'] : ['quiet', 'loglevel=3']), 'panic=-1', 'rdinit=/init',
      // Pure v2: no v1 hierarchy can be mounted at all.
      'cgroup_no_v1=all', 'systemd.unified_cgroup_hierarchy=1',
      // Swap accounting (memory.swap.max) is on by default in 6.1; say so for older kernels.
      'swapaccount=1', 'mitigations=off', 'tsc=reliable', 'no_timer_check',
    ].join(' ');
    const args = [
      ...accelArgs(accel), '-m', memory, '-smp', String(cpus),
      '-nographic', '-monitor', 'none', '-serial', 'stdio', '-no-reboot', '-nic', 'none', '-nodefaults',
      '-kernel', vmlinuz, '-initrd', initrd, '-append', append,
      '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
      '-virtfs', `local,path=${xfer},mount_tag=xfer,security_model=none,multidevs=remap`,
    ];
    const started = Date.now();
    // If this process dies (a test runner's SIGKILL), qemu gets SIGKILL too (util-linux setpriv sets
    // PR_SET_PDEATHSIG, kept across exec): no guest is left running. Without setpriv, qemu alone.
    const pdeath = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true']).status === 0;
    const qemu = pdeath
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', QEMU, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let bootSeconds = null;
    qemu.stdout.setEncoding('utf8');
    qemu.stderr.setEncoding('utf8');
    const take = (s) => {
      output += s;
      const m = output.match(/hako-guest: up in ([\d.]+)s/);
      if (m && bootSeconds === null) bootSeconds = (Date.now() - started) / 1000;
      onOutput(s);
    };
    qemu.stdout.on('data', take);
    qemu.stderr.on('data', take);
    let timedOut = false;
    let interrupted = null;
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, timeoutMs);
    // The command line's Ctrl-C / SIGTERM: end the guest (by its pid) and clean up, then fail.
    const onSignal = (sig) => {
      interrupted = sig;
      qemu.kill('SIGKILL');
    };
    if (handleSignals) for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, onSignal);
    const exit = await new Promise((resolve, reject) => {
      qemu.on('error', reject);
      qemu.on('exit', (code, signal) => resolve({ code, signal }));
    }).finally(() => {
      clearTimeout(timer);
      for (const sig of ['SIGINT', 'SIGTERM']) process.off(sig, onSignal);
    });
    if (interrupted) throw new Error(`v2 guest: ${interrupted}: qemu pid ${qemu.pid} killed`);
    const rcFile = join(xfer, 'rc');
    const codes = existsSync(rcFile) ? readFileSync(rcFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1])) : null;
    if (timedOut) throw new Error(`v2 guest: timed out after ${timeoutMs / 1000}s (qemu pid ${qemu.pid} killed); console:\n${output.slice(-4000)}`);
    if (codes === null || codes.length !== commands.length) throw new Error(`v2 guest: ended (qemu exit ${exit.code ?? exit.signal}) without the exit codes; console:\n${output.slice(-4000)}`);
    return { codes, code: codes.find((c) => c !== 0) ?? 0, output, bootSeconds, seconds: (Date.now() - started) / 1000 };
  } finally {
    rmSync(xfer, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const usage = 'usage: node scripts/v2-guest.mjs [--timeout SECONDS] [--accel tcg|kvm] -- PROGRAM ARGS... [-- PROGRAM ARGS...]...';
  const argv = process.argv.slice(2);
  let timeout = 300;
  let accel;
  while (argv.length && argv[0] !== '--') {
    const a = argv.shift();
    if (a === '--timeout') timeout = Number(argv.shift());
    else if (a === '--accel') accel = argv.shift();
    else {
      console.error(`v2-guest: unknown option ${a}\n${usage}`);
      process.exit(2);
    }
  }
  argv.shift();
  // `-- A a1 -- B b1`: two commands, each alone in its cgroup.
  const commands = [[]];
  for (const a of argv) {
    if (a === '--') commands.push([]);
    else commands[commands.length - 1].push(a);
  }
  if (commands.some((c) => c.length === 0) || !(timeout > 0) || (accel !== undefined && accel !== 'tcg' && accel !== 'kvm')) {
    console.error(usage);
    process.exit(2);
  }
  try {
    const r = await runInGuest({
      commands,
      handleSignals: true,
      ...(accel ? { accel } : {}),
      timeoutMs: timeout * 1000,
      onOutput: (s) => process.stdout.write(s),
      log: (s) => console.error(`v2-guest: ${s}`),
    });
    console.error(`v2-guest: exit ${r.code}, booted in ${r.bootSeconds}s, ${r.seconds.toFixed(1)}s in all`);
    process.exit(r.code);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
