// The filters of `docker container prune` and `docker network prune`, read as dockerd's
// daemon/prune.go does: only `until`, `label` and `label!`; one `until` at most (a Go duration
// back from now, a unix time or a date: image/prune-filters.ts's timestampMs), checked before
// anything is looked at; labels by matchLabels (every `label` must match; dropped from the prune
// only when every `label!` matches, moby's MatchKVList).
import { invalid } from '../common/errors.js';
import { timestampMs } from '../image/prune-filters.js';
import type { Filters } from './api-types.js';
import { labelsMatchAll } from './label-filter.js';

export interface PruneFilters {
  /** ms since the epoch: only what was created before it goes. */
  until?: number;
  label: string[];
  notLabel: string[];
}

export function parsePruneFilters(filters: Filters, now = Date.now()): PruneFilters {
  for (const k of Object.keys(filters)) if (!['until', 'label', 'label!'].includes(k)) throw invalid(`invalid filter '${k}'`);
  const untils = filters.until ?? [];
  if (untils.length > 1) throw invalid('more than one until filter specified');
  return { ...(untils.length === 1 ? { until: timestampMs(untils[0]!, now) } : {}), label: filters.label ?? [], notLabel: filters['label!'] ?? [] };
}

/** Whether an object created at `createdMs` with `labels` is pruned under `f`. */
export function pruneMatches(createdMs: number, labels: Record<string, string> | null | undefined, f: PruneFilters): boolean {
  if (f.until !== undefined && !(createdMs < f.until)) return false;
  if (!labelsMatchAll(labels, f.label)) return false;
  if (f.notLabel.length > 0 && labelsMatchAll(labels, f.notLabel)) return false;
  return true;
}
