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

// Go's GOOS and GOARCH values: what containerd's platforms.Parse (dockerd's) knows as one-part
// specifiers.
const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos']);
const KNOWN_ARCH = new Set(['386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm']);

/**
 * A platform specifier checked as containerd's platforms.Parse (dockerd's) checks it, with its
 * words (`…: invalid argument`): no wildcard, each part of [A-Za-z0-9_-], at most three parts,
 * one part a known OS or architecture. What a single part names: 'os', 'arch'; else undefined.
 */
export function checkPlatformSpecifier(value: string): 'os' | 'arch' | undefined {
  const fail = (why: string): never => {
    throw invalid(`${why}: invalid argument`);
  };
  if (value.includes('*')) fail(`${JSON.stringify(value)}: wildcards not yet supported`);
  const parts = value.split('/');
  for (const p of parts) if (!/^[A-Za-z0-9_-]+$/.test(p)) fail(`${JSON.stringify(p)} is an invalid component of ${JSON.stringify(value)}: platform specifier component must match "^[A-Za-z0-9_-]+$"`);
  if (parts.length > 3) fail(`${JSON.stringify(value)}: cannot parse platform specifier`);
  if (parts.length > 1) return undefined;
  const one = parts[0]!.toLowerCase();
  if (KNOWN_OS.has(one === 'macos' ? 'darwin' : one)) return 'os';
  if (KNOWN_ARCH.has(normalizeArch(one, undefined)[0])) return 'arch';
  return fail(`${JSON.stringify(value)}: unknown operating system or architecture`);
}

/**
 * Parses `os/arch[/variant]` as containerd's platforms.Parse (checkPlatformSpecifier): one part
 * is a known OS (on this host's architecture) or a known architecture (on linux); two and three
 * parts are taken as they are.
 */
export function parsePlatform(s: string): Platform {
  const one = checkPlatformSpecifier(s);
  if (one === 'os') {
    const os = s.toLowerCase();
    return { ...hostPlatform(), os: os === 'macos' ? 'darwin' : os };
  }
  if (one === 'arch') return normalizePlatform({ os: 'linux', architecture: s });
  const parts = s.split('/');
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
