// Platforms (`linux/amd64`, `linux/arm/v7`): parsing, normalization and matching against the
// entries of an image index, with containerd-like defaults for arm variants.
import { invalid } from '../common/errors.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string | undefined;
  'os.version'?: string | undefined;
  'os.features'?: string[] | undefined;
}

function normalizeArch(arch: string, variant: string | undefined): [string, string | undefined] {
  const a = arch.toLowerCase();
  const v = variant?.toLowerCase() || undefined;
  switch (a) {
    case 'i386':
    case 'i686':
      return ['386', undefined];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', v === 'v1' ? undefined : v];
    case 'aarch64':
    case 'arm64':
      return ['arm64', v === 'v8' || v === '8' ? undefined : v];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (v === undefined || v === '7') return ['arm', 'v7'];
      if (v === '5' || v === '6' || v === '8') return ['arm', `v${v}`];
      return ['arm', v];
    default:
      return [a, v];
  }
}

/** Normalized copy: `linux/x86_64` → `linux/amd64`, `linux/aarch64/v8` → `linux/arm64`, `linux/arm` → `linux/arm/v7`. */
export function normalizePlatform(p: Platform): Platform {
  const [architecture, variant] = normalizeArch(p.architecture, p.variant);
  const out: Platform = { os: p.os.toLowerCase(), architecture };
  if (variant !== undefined) out.variant = variant;
  return out;
}

/** Parses `os/arch[/variant]` (or just `arch`, taken as linux). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.some((p) => p.length === 0) || parts.length > 3) {
    throw invalid(`invalid platform ${JSON.stringify(s)}`, 'expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7');
  }
  if (parts.length === 1) return normalizePlatform({ os: 'linux', architecture: parts[0]! });
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

/**
 * The platforms of an index's entries for a message: distinct, in order, at most `max` named and
 * the rest counted (an index of a hostile registry or archive may hold thousands of entries,
 * each named `unknown` or an architecture of its own: the message held them all, ~190 KB).
 */
export function platformList(platforms: ReadonlyArray<Platform | undefined>, max = 10): string {
  const names = [...new Set(platforms.map((p) => (p ? formatPlatform(p) : 'unknown')))];
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

const nodeArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The platform of this host (linux/amd64 on the usual build machine). */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: 'linux', architecture: nodeArch[process.arch] ?? process.arch });
}

/** Whether an index entry's platform satisfies `want` (both normalized; a missing wanted variant matches any). */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (w.variant === undefined) return true;
  return w.variant === h.variant;
}

/**
 * Picks the best entry for `want` from index entries: an exact variant match first, then for
 * arm an older compatible variant (v7 runs v6 and v5), then any variant when none was asked.
 * Entries without a platform are skipped. Returns the index into `entries` or -1.
 */
export function selectPlatform(want: Platform, entries: readonly (Platform | undefined)[]): number {
  const w = normalizePlatform(want);
  let best = -1;
  let bestScore = -1;
  entries.forEach((e, i) => {
    if (!e) return;
    const h = normalizePlatform(e);
    if (h.os !== w.os || h.architecture !== w.architecture) return;
    let score: number;
    if (h.variant === w.variant) score = 100;
    else if (w.architecture === 'arm' && w.variant && h.variant && /^v\d$/.test(w.variant) && /^v\d$/.test(h.variant) && h.variant < w.variant) {
      score = 50 + Number(h.variant.slice(1));
    } else if (w.variant === undefined) score = 10;
    else return;
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}
