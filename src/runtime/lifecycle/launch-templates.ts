// Launch templates: an engine starts container after container from the same image and config,
// whose specs and plans differ only by the container's id (its paths, cgroup dirs, hostname).
// Validating the spec, planning it and encoding the plan cost hakod ~0.5 ms of its event loop per
// start under --no-opt; a template keeps the encoded ops of one launch and the next launch with
// the same inputs (the id taken out) gets them with its own id written over the old one's bytes.
//
// What makes that sound:
// - The key holds every input of the planner and of the supervised plan (the spec as JSON, the
//   request without the spec, the monitor's arguments), each with the id and its 12-character
//   prefix (the default hostname) replaced by markers: equal keys mean equal inputs up to the id.
// - The planner asks the host only through statSource/mountPointOf (recorded here, asked again
//   on every use with the new id's paths, the template refused when an answer differs) and the
//   kcore/euid facts (part of the key). The spec's validation is a function of its JSON and the
//   rootfs directory (checked again every time by the caller).
// - The id is 64 ASCII hex characters: its bytes sit at the same offsets in every launch's
//   encoding (lengths are equal), found once by search.
// - A template is used only once verified: its first reuse runs the whole path as well and
//   compares that encoding with the patched one, byte for byte; a mismatch (an input derived from
//   the id in another way) retires the key for good.
// Fds (numbers that change per launch) live in the plan's header, which is encoded every time.
import type { PlanOp } from '../../native/plan.js';
import { defaultStatSource } from '../plan/mounts.js';
import type { PlannedContainer, SourceKind } from '../plan/types.js';

const MAX_TEMPLATES = 8;
const ID_MARK = '\u0000I';
const SHORT_MARK = '\u0000S';

export type PlannedMeta = Omit<PlannedContainer, 'ops'>;

export interface LaunchTemplate {
  /** The id it was made for, and its ops encoded for that id (from the ops count on). */
  readonly id: string;
  readonly opsBytes: Buffer;
  readonly idAt: number[];
  readonly shortAt: number[];
  /** The final plan's ops and the planner's answer without them, for `id` (rewritten for another id on use). */
  readonly ops: PlanOp[];
  readonly planned: PlannedMeta;
  /** Whether `planned` names the id anywhere (else it is shared as it is). */
  readonly plannedHasId: boolean;
  /** The container part of the ops as supervisedPlan got them (its fd and step layout). */
  readonly containerOps: PlanOp[];
  /** Host facts the planner asked for, for `id`: bind sources' kinds and mount points. */
  readonly stats: Array<[string, SourceKind]>;
  readonly mountPoints: Array<[string, string]>;
  verified: boolean;
}

/** Ids in a text, replaced by markers (keys) or by another id (paths, messages). */
export function withoutId(text: string, id: string): string {
  return text.replaceAll(id, ID_MARK).replaceAll(id.slice(0, 12), SHORT_MARK);
}

export function swapId(text: string, from: string, to: string): string {
  if (from === to) return text;
  return text.replaceAll(from, to).replaceAll(from.slice(0, 12), to.slice(0, 12));
}

/** `value` with every string in it rewritten for another id (typed arrays and buffers kept). */
export function swapIdDeep<T>(value: T, from: string, to: string): T {
  if (typeof value === 'string') return swapId(value, from, to) as T;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map((v) => swapIdDeep(v, from, to)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = swapIdDeep(v, from, to);
  return out as T;
}

// Keys are long (the spec's JSON): looked up by comparison (a length check, then memcmp) in a
// short list, not hashed by a Map, which costs ~30 µs per 9 KB key under hakod's --no-opt.
export class LaunchTemplates {
  private readonly list: Array<{ key: string; t: LaunchTemplate }> = [];
  /** Keys whose verification failed: always planned in full. */
  private readonly refused: string[] = [];
  /** Specs (JSON and bundle, id taken out) that passed validateSpec. */
  private readonly validSpecs: string[] = [];
  /** Launches that used a template (tests). */
  hits = 0;

  /** Whether a spec with this key (withoutId of its JSON and bundle) passed validation before. */
  validated(specKey: string): boolean {
    return this.validSpecs.includes(specKey);
  }

  markValidated(specKey: string): void {
    if (this.validSpecs.includes(specKey)) return;
    if (this.validSpecs.length >= MAX_TEMPLATES) this.validSpecs.shift();
    this.validSpecs.push(specKey);
  }

  private find(key: string): LaunchTemplate | undefined {
    for (const e of this.list) if (e.key === key) return e.t;
    return undefined;
  }

  /** A verified template for `key` that holds for container `id` (host facts asked again). */
  use(key: string, id: string, mountPointOf: (path: string) => string): LaunchTemplate | undefined {
    const t = this.find(key);
    if (!t || !t.verified) return undefined;
    for (const [path, kind] of t.stats) if (defaultStatSource(swapId(path, t.id, id)) !== kind) return undefined;
    for (const [path, point] of t.mountPoints) if (mountPointOf(swapId(path, t.id, id)) !== swapId(point, t.id, id)) return undefined;
    this.hits++;
    return t;
  }

  /** The unverified template for `key`, if any. */
  pending(key: string): LaunchTemplate | undefined {
    const t = this.find(key);
    return t && !t.verified ? t : undefined;
  }

  /** After a full plan for `key`: verifies a pending template against it, or keeps it as one. */
  record(key: string, fresh: Omit<LaunchTemplate, 'verified' | 'idAt' | 'shortAt' | 'plannedHasId'>): void {
    if (this.refused.includes(key)) return;
    const at = this.list.findIndex((e) => e.key === key);
    const old = at >= 0 ? this.list[at]!.t : undefined;
    if (old && !old.verified && old.id !== fresh.id && sameHostFacts(old, fresh)) {
      if (patchedOps(old, fresh.id).equals(fresh.opsBytes) && JSON.stringify(swapIdDeep(old.planned, old.id, fresh.id)) === JSON.stringify(fresh.planned)) {
        old.verified = true;
        return;
      }
      this.list.splice(at, 1);
      if (this.refused.length >= MAX_TEMPLATES) this.refused.shift();
      this.refused.push(key);
      return;
    }
    const { idAt, shortAt } = idOffsets(fresh.opsBytes, fresh.id);
    const t: LaunchTemplate = { ...fresh, idAt, shortAt, plannedHasId: JSON.stringify(fresh.planned).includes(fresh.id.slice(0, 12)), verified: false };
    if (at >= 0) this.list[at] = { key, t };
    else {
      if (this.list.length >= MAX_TEMPLATES) this.list.shift();
      this.list.push({ key, t });
    }
  }

  get size(): number {
    return this.list.length;
  }
}

function sameHostFacts(a: Pick<LaunchTemplate, 'id' | 'stats' | 'mountPoints'>, b: Pick<LaunchTemplate, 'id' | 'stats' | 'mountPoints'>): boolean {
  if (a.stats.length !== b.stats.length || a.mountPoints.length !== b.mountPoints.length) return false;
  for (let k = 0; k < a.stats.length; k++) {
    if (swapId(a.stats[k]![0], a.id, b.id) !== b.stats[k]![0] || a.stats[k]![1] !== b.stats[k]![1]) return false;
  }
  for (let k = 0; k < a.mountPoints.length; k++) {
    if (swapId(a.mountPoints[k]![0], a.id, b.id) !== b.mountPoints[k]![0] || swapId(a.mountPoints[k]![1], a.id, b.id) !== b.mountPoints[k]![1]) return false;
  }
  return true;
}

/** Where the id (64 bytes) and, elsewhere, its 12-character prefix occur in `bytes`. */
export function idOffsets(bytes: Buffer, id: string): { idAt: number[]; shortAt: number[] } {
  const idAt: number[] = [];
  const shortAt: number[] = [];
  const full = Buffer.from(id, 'latin1');
  const short = full.subarray(0, 12);
  for (let at = bytes.indexOf(full); at >= 0; at = bytes.indexOf(full, at + full.length)) idAt.push(at);
  let next = 0; // the next full occurrence not yet passed
  for (let at = bytes.indexOf(short); at >= 0; at = bytes.indexOf(short, at + 1)) {
    while (next < idAt.length && idAt[next]! + full.length <= at) next++;
    const inside = next < idAt.length && at >= idAt[next]! && at < idAt[next]! + full.length;
    if (!inside) shortAt.push(at);
  }
  return { idAt, shortAt };
}

/** The template's ops encoded for container `id`: a copy with the id's bytes written over. */
export function patchedOps(t: Pick<LaunchTemplate, 'opsBytes' | 'idAt' | 'shortAt'>, id: string): Buffer {
  const out = Buffer.allocUnsafe(t.opsBytes.length);
  out.set(t.opsBytes);
  // TypedArray#set: a builtin (Buffer#write goes through JavaScript, ~1 µs a call under --no-opt).
  const full = Buffer.from(id, 'latin1');
  const short = full.subarray(0, 12);
  for (const at of t.idAt) out.set(full, at);
  for (const at of t.shortAt) out.set(short, at);
  return out;
}

/** `planned` for container `id` (the template's own object when no id is in it: it is only read). */
export function plannedFor(t: Pick<LaunchTemplate, 'planned' | 'plannedHasId' | 'id'>, id: string): PlannedMeta {
  return t.plannedHasId ? swapIdDeep(t.planned, t.id, id) : t.planned;
}
