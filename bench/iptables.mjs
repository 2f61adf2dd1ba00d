// What hako's iptables FORWARD exceptions cost (src/network/iptables-forward.ts), measured inside a
// network namespace this script makes (never the host's chains), with the nft and the legacy
// iptables backends, with an empty FORWARD chain and with 500 foreign rules in it (a busy host):
//   - a sync with nothing to change (one iptables-save): the daemon start's cost on a clean restart
//   - a sync that adds one network's rules (iptables-save + one iptables-restore --noflush)
//   - a sync that removes one
//   - NetworkManager.createNetwork + removeNetwork with iptables on vs off (what a user sees)
// Never on the container start path: containers touch no iptables rule.
// Run as root after `npm run build`: node bench/iptables.mjs [iterations]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 20);
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const f = (x) => x.toFixed(2).padStart(6);

if (!process.argv.includes('--inside')) {
  // The outer run: make the namespace, run this script inside it, delete the namespace.
  const ns = `hkipt${Math.random().toString(16).slice(2, 6)}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync('nsenter', [`--net=/run/netns/${ns}`, process.execPath, fileURLToPath(import.meta.url), String(N), '--inside'], { stdio: 'inherit', env });
    process.exitCode = r.status ?? 1;
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
  console.log(`load average at the end: ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}`);
} else {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  const { IptablesForward } = await import(join(repo, 'dist/src/network/iptables-forward.js'));
  const { NetworkManager } = await import(join(repo, 'dist/src/network/manager.js'));
  const work = mkdtempSync(join(tmpdir(), 'hako-iptbench-'));
  const which = (b) => execFileSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).trim();
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  console.log(`iptables forward exceptions, ${N} iterations each, medians in ms (inside a private netns; NODE_EXTRA_CA_CERTS unset)`);
  try {
    for (const backend of ['nft', 'legacy']) {
      // A directory whose iptables/-save/-restore are this backend's (IptablesForward uses the siblings).
      const bin = join(work, backend);
      mkdirSync(bin);
      for (const t of ['', '-save', '-restore']) symlinkSync(which(`iptables-${backend}${t}`), join(bin, `iptables${t}`));
      const ipt = (args, input) => execFileSync(join(bin, 'iptables' + (input === undefined ? '' : '-restore')), args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
      ipt(['-P', 'FORWARD', 'DROP']);
      for (const foreign of [0, 500]) {
        if (foreign) ipt(['--noflush'], `*filter\n${Array.from({ length: foreign }, (_, i) => `-A FORWARD -i fx${i} -o fy${i} -j DROP`).join('\n')}\nCOMMIT\n`);
        const fwd = new IptablesForward(`b${backend}`, join(bin, 'iptables'));
        const base = [{ name: 'bridge', bridge: 'hkb0', internal: false }];
        await fwd.sync(base, { top: true });
        const noop = [], add = [], del = [];
        for (let i = 0; i < N; i++) {
          let t = performance.now();
          await fwd.sync(base, { top: true });
          noop.push(performance.now() - t);
          t = performance.now();
          await fwd.sync([...base, { name: `n${i}`, bridge: `hk-n${i}`, internal: false }]);
          add.push(performance.now() - t);
          t = performance.now();
          await fwd.sync(base);
          del.push(performance.now() - t);
        }
        await fwd.sync([]);
        if (foreign) ipt(['-F', 'FORWARD']);
        console.log(`  ${backend.padEnd(6)} ${String(foreign).padStart(3)} foreign FORWARD rules: nothing to do (start) ${f(med(noop))}   add a network ${f(med(add))}   remove one ${f(med(del))}`);
      }
      ipt(['-P', 'FORWARD', 'ACCEPT']);
    }
    // createNetwork + removeNetwork through the manager (nft backend, the `iptables` in PATH), on vs off.
    const times = { on: [], off: [] };
    const mgrs = {};
    for (const mode of ['on', 'off']) {
      mgrs[mode] = new NetworkManager({ root: join(work, `state-${mode}`), nftTable: `hkib${mode}`, bridgePrefix: `hi${mode}-`, vethPrefix: `hiv${mode}`, defaultNetwork: null, ipForward: 'bridge', iptables: mode === 'on', upstreamDns: [] });
      await mgrs[mode].init();
      await mgrs[mode].forwardStartup;
    }
    for (let i = 0; i < N; i++) {
      for (const mode of i % 2 ? ['on', 'off'] : ['off', 'on']) {
        const t = performance.now();
        await mgrs[mode].createNetwork({ name: `x${i}`, subnet: `10.238.${i % 250}.0/24` });
        await mgrs[mode].removeNetwork(`x${i}`);
        times[mode].push(performance.now() - t);
      }
    }
    for (const m of Object.values(mgrs)) {
      await m.drain();
      m.close();
    }
    console.log(`  network create+rm through NetworkManager: --iptables=false ${f(med(times.off))}   --iptables (nft backend) ${f(med(times.on))}   (+${(med(times.on) - med(times.off)).toFixed(2)})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
