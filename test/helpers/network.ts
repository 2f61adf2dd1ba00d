// Unique networking names for a test engine/daemon, so tests never touch hako0, the `hako` table
// or each other: a 5-character interface prefix (bridges <p>-<id>, veths <p>v<hash>), a default
// bridge <p>b0, a table <p>t, a random /24 for the default bridge, forwarding only on our bridges.
// Never the host's iptables: every test daemon/engine runs with --iptables=false (only
// test/e2e/iptables-forward.test.ts turns it on, inside network namespaces of its own).
// cleanupNet() removes what a stopped daemon leaves by design (its bridges and nft table).
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { recordNet } from './ledger.js';

export interface TestNet {
  prefix: string;
  bridge: string;
  table: string;
  bip: string;
}

function hostRoutesText(): string {
  try {
    return execFileSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

export function testNet(): TestNet {
  const prefix = `h${randomBytes(2).toString('hex')}`;
  const used = hostRoutesText();
  let bip = '';
  for (let i = 0; i < 100 && !bip; i++) {
    const a = randomInt(200, 250);
    const b = randomInt(0, 256);
    if (!used.includes(`10.${a}.${b}.`) && !used.includes(`10.${a}.0.0/16`)) bip = `10.${a}.${b}.1/24`;
  }
  recordNet(prefix, `${prefix}t`);
  return { prefix, bridge: `${prefix}b0`, table: `${prefix}t`, bip: bip || '10.250.250.1/24' };
}

/** hakod flags for `n`. */
export function daemonNetFlags(n: TestNet): string[] {
  return ['--bridge', n.bridge, '--bip', n.bip, '--nft-table', n.table, '--iface-prefix', n.prefix, '--ip-forward=false', '--iptables=false'];
}

/** Engine `network` options for `n`. */
export function engineNetOptions(n: TestNet): { bridge: string; bip: string; nftTable: string; ifacePrefix: string; ipForward: boolean; iptables: boolean; dns: string[] } {
  return { bridge: n.bridge, bip: n.bip, nftTable: n.table, ifacePrefix: n.prefix, ipForward: false, iptables: false, dns: [] };
}

/** Interfaces and the nft table of `n` that still exist. */
export function netLeftovers(n: TestNet): string[] {
  const out: string[] = [];
  try {
    for (const line of execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n')) {
      const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
      if (name && name.startsWith(n.prefix)) out.push(name);
    }
  } catch {
    // no ip(8): nothing to report
  }
  for (const family of ['ip', 'bridge']) {
    try {
      execFileSync('nft', ['list', 'table', family, n.table], { stdio: 'pipe' });
      out.push(`nft table ${family} ${n.table}`);
    } catch {
      // gone
    }
  }
  return out;
}

/** Removes the bridges (and any veth) with `n`'s prefix and its nft table. */
export function cleanupNet(n: TestNet): void {
  for (const name of netLeftovers(n)) {
    try {
      if (name.startsWith('nft table')) execFileSync('nft', ['delete', 'table', name.split(' ')[2]!, n.table], { stdio: 'ignore' });
      else execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
    } catch {
      // deleted with its peer
    }
  }
}
