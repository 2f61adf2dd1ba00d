// hako's exceptions in the host's iptables FORWARD chain (what dockerd does with its DOCKER-*
// chains). A forwarded packet must be accepted by EVERY base chain on the forward hook: an accept
// in hako's own nft table cannot override the DROP policy (or a DROP/REJECT rule: ufw, firewalld)
// of the iptables filter FORWARD chain, which dockerd leaves at DROP. So, per bridge network,
// hako keeps ACCEPT rules in a chain of its own and one jump to it at the top of FORWARD:
//
//   -N HAKO-FWD-<nft table>
//   -A HAKO-FWD-<t> -i <bridge> -m comment --comment hako:<t>:<network> -j ACCEPT   (not internal)
//   -A HAKO-FWD-<t> -o <bridge> -m comment --comment hako:<t>:<network> -j ACCEPT   (not internal)
//   -A HAKO-FWD-<t> -i <bridge> -o <bridge> -m comment … -j ACCEPT                   (internal)
//   -I FORWARD 1 -j HAKO-FWD-<t>
//
// These accepts only get the bridges' traffic past the iptables verdict; the policy (internal
// networks, isolation between networks, inbound NEW connections only when DNAT'd by a published
// port) is hako's nft table's forward chain, which still sees every packet and drops the rest.
// The `iptables` binary in PATH decides the backend (iptables-nft or iptables-legacy, as for
// docker); its sibling iptables-save reads the filter table once per change and iptables-restore
// --noflush applies the whole difference in one atomic transaction. Nothing else is touched: the
// chain is hako's (named after the daemon's --nft-table, so daemons side by side do not collide)
// and in FORWARD only rules jumping to it are added or deleted.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { HakoError } from '../common/errors.js';
import { monotonicMs } from '../common/time.js';

export interface ForwardNetwork {
  name: string;
  bridge: string;
  internal: boolean;
}

/** What one sync found and did. */
export interface ForwardSyncResult {
  /** Whether iptables-restore ran (false: the chain already matched). */
  changed: boolean;
  /** "nf_tables" or "legacy", from iptables-save's header. */
  backend: string;
  rulesAdded: number;
  rulesRemoved: number;
  jump: 'kept' | 'inserted' | 'moved' | 'removed' | 'none';
  /** Wall time of the whole sync (both processes), ms. */
  ms: number;
}

/** hako's chain in the filter table; iptables allows 28 characters (the table name is ≤ 15). */
export function forwardChainName(nftTable: string): string {
  return `HAKO-FWD-${nftTable}`;
}

/** The rules of hako's chain for these networks, in iptables-save's syntax. */
export function forwardRules(chain: string, table: string, nets: ForwardNetwork[]): string[] {
  const out: string[] = [];
  for (const n of nets) {
    // Network names may hold anything (quotes, spaces, newlines): the comment keeps a safe subset
    // so iptables-restore's line syntax cannot be broken by a name.
    const comment = `-m comment --comment "${`hako:${table}:${n.name.replace(/[^A-Za-z0-9_.:-]/g, '_')}`.slice(0, 200)}"`;
    if (n.internal) {
      // Only between the bridge's own ports (seen here when br_netfilter is loaded).
      out.push(`-A ${chain} -i ${n.bridge} -o ${n.bridge} ${comment} -j ACCEPT`);
    } else {
      out.push(`-A ${chain} -i ${n.bridge} ${comment} -j ACCEPT`, `-A ${chain} -o ${n.bridge} ${comment} -j ACCEPT`);
    }
  }
  return out;
}

/** The filter table as iptables-save prints it, reduced to what concerns hako's chain. */
export interface FilterView {
  backend: string;
  chainExists: boolean;
  /** `-A <chain> …` lines, as printed. */
  chainRules: string[];
  /** `-A FORWARD … -j <chain>` lines, as printed. */
  jumps: string[];
  /** Whether the first rule of FORWARD is such a jump. */
  jumpFirst: boolean;
}

/** iptables-nft-save quotes every comment, iptables-legacy-save only those with spaces. */
function normalize(line: string): string {
  return line.replace(/"/g, '').replace(/\s+/g, ' ').trim();
}

export function parseFilter(saveText: string, chain: string): FilterView {
  const view: FilterView = { backend: /\(nf_tables\)/.test(saveText) ? 'nf_tables' : 'legacy', chainExists: false, chainRules: [], jumps: [], jumpFirst: false };
  let inFilter = false;
  let forwardSeen = false;
  for (const raw of saveText.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      inFilter = line === '*filter';
      continue;
    }
    if (!inFilter) continue;
    if (line === 'COMMIT') {
      inFilter = false;
      continue;
    }
    if (line.startsWith(`:${chain} `)) view.chainExists = true;
    else if (line.startsWith(`-A ${chain} `)) view.chainRules.push(line);
    else if (line.startsWith('-A FORWARD ')) {
      const isJump = new RegExp(`\\s-(j|g|-jump|-goto)\\s+${chain.replace(/[.]/g, '\\.')}(\\s|$)`).test(line);
      if (isJump) view.jumps.push(line);
      if (!forwardSeen) view.jumpFirst = isJump;
      forwardSeen = true;
    }
  }
  return view;
}

/**
 * The iptables-restore --noflush input that turns `view` into the wanted state for `nets` (null:
 * nothing to do). `top`: the jump must be FORWARD's first rule (at daemon start, like dockerd;
 * on a network change an existing jump is left where it is).
 */
export function planForward(view: FilterView, chain: string, table: string, nets: ForwardNetwork[], top: boolean): { input: string; added: number; removed: number; jump: ForwardSyncResult['jump'] } | null {
  const lines: string[] = [];
  let jump: ForwardSyncResult['jump'] = view.jumps.length ? 'kept' : 'none';
  let added = 0;
  let removed = 0;
  if (nets.length === 0) {
    for (const j of view.jumps) lines.push(`-D ${j.slice(3)}`);
    if (view.jumps.length) jump = 'removed';
    if (view.chainExists) lines.push(`-F ${chain}`, `-X ${chain}`);
    removed = view.chainRules.length;
  } else {
    const want = forwardRules(chain, table, nets);
    if (!view.chainExists) {
      // Declaring a chain with --noflush creates it (or empties an existing one; both backends).
      lines.push(`:${chain} - [0:0]`, ...want);
      added = want.length;
    } else {
      // Only the difference: the rules' order does not matter (all ACCEPT), and with the nft
      // backend a restore that deletes rules costs an RCU grace period (~15 ms) more than one
      // that only appends; adding a network appends.
      const wanted = new Map(want.map((r) => [normalize(r), r]));
      const seen = new Set<string>();
      for (const r of view.chainRules) {
        const k = normalize(r);
        if (wanted.has(k) && !seen.has(k)) seen.add(k);
        else {
          lines.push(`-D ${r.slice(3)}`);
          removed++;
        }
      }
      for (const [k, r] of wanted) {
        if (seen.has(k)) continue;
        lines.push(r);
        added++;
      }
    }
    const misplaced = view.jumps.length > 1 || (top && view.jumps.length === 1 && !view.jumpFirst);
    if (view.jumps.length === 0 || misplaced) {
      for (const j of view.jumps) lines.push(`-D ${j.slice(3)}`);
      lines.push(`-I FORWARD 1 -j ${chain}`);
      jump = view.jumps.length ? 'moved' : 'inserted';
    }
  }
  if (lines.length === 0) return null;
  return { input: `*filter\n${lines.join('\n')}\nCOMMIT\n`, added, removed, jump };
}

/** `name` in PATH (executable), or undefined. */
export function findInPath(name: string, path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'): string | undefined {
  // hakod may be started with a PATH without the sbin directories (sudo, systemd units).
  const dirs = [...path.split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter((d) => d);
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function run(file: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.once('error', reject);
    p.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    if (input !== undefined) p.stdin!.end(input);
  });
}

/** hako's FORWARD exceptions through the iptables binaries next to `iptables` in PATH. */
export class IptablesForward {
  readonly chain: string;
  private readonly save: string;
  private readonly restore: string;

  /** `iptables`: the path of the iptables binary (its siblings iptables-save/-restore are used). */
  constructor(
    readonly table: string,
    readonly iptables: string,
  ) {
    this.chain = forwardChainName(table);
    if (this.chain.length > 28) throw new HakoError({ step: `iptables chain name ${this.chain} is longer than 28 characters`, kind: 'invalid-argument', hint: 'use a shorter --nft-table' });
    this.save = join(dirname(iptables), 'iptables-save');
    this.restore = join(dirname(iptables), 'iptables-restore');
  }

  /** The iptables binary in PATH, or undefined (then hako adds no iptables rule). */
  static find(): IptablesForward['iptables'] | undefined {
    return findInPath('iptables');
  }

  async view(): Promise<FilterView> {
    const r = await run(this.save, ['-t', 'filter']).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
    if (r.code !== 0) throw new HakoError({ step: `read the iptables filter table (${this.save} -t filter)`, hint: `${r.stderr.trim() || `exit ${r.code}`}; check that iptables works on this host, or start hakod with --iptables=false (hako then adds no iptables rules)`, kind: 'internal' });
    return parseFilter(r.stdout, this.chain);
  }

  /** Makes the chain and the jump match `nets` (no networks: both go). One atomic restore at most. */
  async sync(nets: ForwardNetwork[], opts: { top?: boolean } = {}): Promise<ForwardSyncResult> {
    const t0 = monotonicMs();
    const view = await this.view();
    const plan = planForward(view, this.chain, this.table, nets, opts.top ?? false);
    if (plan) {
      // -w: wait for the xtables lock (another iptables user, e.g. dockerd) instead of failing.
      const r = await run(this.restore, ['-w', '--noflush'], plan.input).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
      if (r.code !== 0) {
        throw new HakoError({
          step: `update hako's iptables forward rules (${this.restore} --noflush)`,
          hint: `${r.stderr.trim() || `exit ${r.code}`}; nothing was changed (the transaction is atomic); hakod --iptables=false turns these rules off. Input was:\n${plan.input}`,
          kind: 'internal',
        });
      }
    }
    return { changed: !!plan, backend: view.backend, rulesAdded: plan?.added ?? 0, rulesRemoved: plan?.removed ?? 0, jump: plan?.jump ?? (view.jumps.length ? 'kept' : 'none'), ms: monotonicMs() - t0 };
  }
}
