// hako's firewall: one nftables table (`table ip <name>`, default `hako`) regenerated as a whole
// and applied as ONE transaction (`nft -f -`: add table + delete table + the new table), so a
// reader never sees half a ruleset and removing the last network leaves no table behind.
//
// Base chains of our own table only ever ACCEPT or DNAT/masquerade our own traffic; an accept here
// cannot override a DROP in another table at the same hook (every base chain runs), so a host
// whose iptables FORWARD policy is DROP still needs a forward exception there (we never edit it).
import type { Proto } from './ports.js';

export interface RulesetMapping {
  hostIp: string; // 0.0.0.0 = every local address
  hostPort: number;
  proto: Proto;
  containerIp: string;
  containerPort: number;
}

export interface RulesetNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
  /** Outbound masquerade (com.docker.network.bridge.enable_ip_masquerade); default true. */
  masquerade: boolean;
  mappings: RulesetMapping[];
}

function q(name: string): string {
  // Interface names are validated on network creation (no quotes, no spaces), so quoting is safe.
  return `"${name}"`;
}

/** The rules of `table ip <table>` for these networks (the table body, no transaction wrapper). */
export function renderTable(table: string, networks: RulesetNetwork[]): string {
  const lines: string[] = [];
  const dnat: string[] = [];
  const post: string[] = [];
  const fwd: string[] = [];
  for (const n of networks) {
    const br = q(n.bridge);
    if (n.internal) {
      // --internal: nothing leaves or enters the bridge except between its own ports.
      fwd.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
      continue;
    }
    for (const m of n.mappings) {
      const match = `${m.hostIp === '0.0.0.0' ? '' : `ip daddr ${m.hostIp} `}${m.proto} dport ${m.hostPort}`;
      // Traffic a container sends to its own network's published port is hairpinned back onto
      // the bridge; skipping the DNAT for it would bypass the mapping, so DNAT from everywhere.
      dnat.push(`${match} dnat to ${m.containerIp}:${m.containerPort}`);
    }
    if (n.masquerade) post.push(`ip saddr ${n.subnet} oifname != ${br} masquerade`);
    // Published ports reached through 127.0.0.1 (DNAT on output, route_localnet on the bridge):
    // the container cannot answer 127.0.0.1, so the source becomes the gateway address.
    post.push(`oifname ${br} ip saddr 127.0.0.0/8 masquerade`);
    // Hairpin: a container reaching a published port of its own network via a host address.
    post.push(`oifname ${br} ip saddr ${n.subnet} ct status dnat masquerade`);
    fwd.push(
      `oifname ${br} ct state established,related accept`,
      `oifname ${br} ct status dnat accept`,
      `oifname ${br} iifname != ${br} drop`,
      `iifname ${br} accept`,
    );
  }
  lines.push(`table ip ${table} {`);
  lines.push('  chain ports {');
  for (const r of dnat) lines.push(`    ${r}`);
  lines.push('  }');
  lines.push('  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;', '    fib daddr type local jump ports', '  }');
  lines.push('  chain output {', '    type nat hook output priority -100; policy accept;', '    fib daddr type local jump ports', '  }');
  lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  for (const r of post) lines.push(`    ${r}`);
  lines.push('  }');
  lines.push('  chain forward {', '    type filter hook forward priority filter; policy accept;');
  for (const r of fwd) lines.push(`    ${r}`);
  lines.push('  }');
  lines.push('}');
  return lines.join('\n') + '\n';
}

/**
 * The whole transaction for `nft -f -`: replaces the table atomically, or removes it when there
 * are no networks. `add table` first makes `delete table` valid when the table does not exist yet.
 */
export function renderTransaction(table: string, networks: RulesetNetwork[]): string {
  let out = `add table ip ${table}\ndelete table ip ${table}\n`;
  if (networks.length > 0) out += renderTable(table, networks);
  return out;
}

/** Valid nft table / interface name characters (what we generate names from). */
export function isSafeName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name);
}
