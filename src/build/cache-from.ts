// `--cache-from` as dockerd 20.10's classic builder reads it (its image cache with sources): an
// image given as a source answers a step when the image being built is a prefix of it (the same
// history entries and layers) and the source's next history entry was created by the step's
// command (`created_by` = the step container's Cmd joined with spaces). Pure: the image configs in,
// the decision out; ../engine/build-cache.ts records what it decides.

import type { HistoryEntry } from '../image/manifest.js';

/** The fields of an image config the decision reads. */
export interface CacheImageConfig {
  architecture?: string;
  os?: string;
  author?: string;
  'os.version'?: string;
  'os.features'?: string[];
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: HistoryEntry[];
}


/** Go's reflect.DeepEqual of two image.History values (absent and zero are the same there). */
function sameHistory(a: HistoryEntry, b: HistoryEntry): boolean {
  return (a.created ?? '') === (b.created ?? '') && (a.created_by ?? '') === (b.created_by ?? '') && (a.author ?? '') === (b.author ?? '') && (a.comment ?? '') === (b.comment ?? '') && Boolean(a.empty_layer) === Boolean(b.empty_layer);
}

/** dockerd's isValidParent: `parent` (undefined: none, FROM scratch) is a strict prefix of `img`, history and layers. */
export function isValidParent(img: CacheImageConfig, parent: CacheImageConfig | undefined): boolean {
  const ih = img.history ?? [];
  if (ih.length === 0) return false;
  const ph = parent?.history ?? [];
  const pd = parent?.rootfs?.diff_ids ?? [];
  if (parent === undefined || (ph.length === 0 && pd.length === 0)) return true;
  const id = img.rootfs?.diff_ids ?? [];
  if (ph.length >= ih.length || pd.length > id.length) return false;
  return ph.every((h, i) => sameHistory(h, ih[i]!)) && pd.every((d, i) => d === id[i]);
}

/** dockerd's isValidConfig: the history entry was made by this step (its Cmd joined with spaces). */
export function isValidConfig(cmd: readonly string[] | null | undefined, h: HistoryEntry | undefined): boolean {
  return h !== undefined && (cmd ?? []).join(' ') === (h.created_by ?? '');
}

/** The layer (diff ID) history entry `index` of `img` added; undefined for an empty-layer entry. */
export function layerForHistoryIndex(img: CacheImageConfig, index: number): string | undefined {
  const history = img.history ?? [];
  const diffs = img.rootfs?.diff_ids ?? [];
  let layer = 0;
  for (let i = 0; i < history.length; i++) {
    const empty = Boolean(history[i]!.empty_layer);
    if (i === index) return empty ? undefined : diffs[layer];
    if (!empty) layer++;
  }
  return undefined;
}

/**
 * The config of the image dockerd's restoreCachedImage makes for a step answered from the middle
 * of `target`: the parent's layers and history plus the target's entry `index` (and its layer),
 * the step's config as `config`, created when that entry was.
 */
export function restoredConfig(parent: CacheImageConfig | undefined, target: CacheImageConfig, config: Record<string, unknown>): Record<string, unknown> {
  const index = parent?.history?.length ?? 0;
  const history = [...(parent?.history ?? []), target.history![index]!];
  const diffIds = [...(parent?.rootfs?.diff_ids ?? [])];
  const layer = layerForHistoryIndex(target, index);
  if (layer !== undefined) diffIds.push(layer);
  return {
    ...(target.architecture ? { architecture: target.architecture } : {}),
    ...(target.author ? { author: target.author } : {}),
    config,
    created: history[history.length - 1]!.created,
    history,
    ...(target.os ? { os: target.os } : {}),
    ...(target['os.version'] ? { 'os.version': target['os.version'] } : {}),
    ...(target['os.features'] ? { 'os.features': target['os.features'] } : {}),
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
}
