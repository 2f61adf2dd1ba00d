// The filters of `docker image prune` (POST /images/prune?filters=…), read as dockerd 20.10 reads
// them: `dangling` (true/false/1/0), `until` (one value: a Go duration before now, a unix
// timestamp or an RFC 3339-like date, docker's GetTimestamp rules) compared with the image's
// Created, and `label` / `label!` (`key` or `key=value`) against the image config's labels.
import { invalid } from '../common/errors.js';
import { parseGoDuration } from './changes.js';

export interface ImagePruneFilters {
  /** false: every image no container uses (`dangling=false`); true (default): untagged only. */
  danglingOnly: boolean;
  /** Images created after this (ms since the epoch) are kept. */
  until?: number | undefined;
  /** Every entry must match (`key` or `key=value`). */
  label: string[];
  /** An image is kept when it matches all of these (dockerd's MatchKVList on `label!`). */
  notLabel: string[];
}

const ACCEPTED = ['dangling', 'until', 'label', 'label!'];

/** Reads decoded filters (name → values); bad names or values are 400s with dockerd's wording. */
export function parseImagePruneFilters(filters: Record<string, string[]>, now = Date.now()): ImagePruneFilters {
  for (const k of Object.keys(filters)) if (!ACCEPTED.includes(k)) throw invalid(`invalid filter '${k}'`);
  let danglingOnly = true;
  const dangling = filters.dangling ?? [];
  if (dangling.length > 0) {
    // dockerd: ExactMatch on any of the values; `false`/`0` win, else one must be `true`/`1`.
    const lower = dangling.map((v) => v.toLowerCase());
    if (lower.includes('false') || lower.includes('0')) danglingOnly = false;
    else if (!lower.includes('true') && !lower.includes('1')) throw invalid(`invalid filter 'dangling=[${dangling.join(' ')}]'`);
  }
  let until: number | undefined;
  const untils = filters.until ?? [];
  if (untils.length > 1) throw invalid('more than one until filter specified');
  if (untils.length === 1) until = timestampMs(untils[0]!, now);
  return { danglingOnly, until, label: filters.label ?? [], notLabel: filters['label!'] ?? [] };
}

/** dockerd's matchLabels: all `label` entries match, and not all `label!` entries match. */
export function labelsMatch(f: ImagePruneFilters, labels: Record<string, string> | null | undefined): boolean {
  if (!matchKVList(f.label, labels)) return false;
  if (f.notLabel.length > 0 && matchKVList(f.notLabel, labels)) return false;
  return true;
}

/** moby's Args.MatchKVList: true without filters; false without labels; each `k[=v]` must hold. */
function matchKVList(wanted: readonly string[], labels: Record<string, string> | null | undefined): boolean {
  if (wanted.length === 0) return true;
  if (!labels || Object.keys(labels).length === 0) return false;
  for (const w of wanted) {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!Object.prototype.hasOwnProperty.call(labels, key)) return false;
    if (eq >= 0 && labels[key] !== w.slice(eq + 1)) return false;
  }
  return true;
}

/**
 * docker's timetypes.GetTimestamp + ParseTimestamps, to ms since the epoch: a Go duration counts
 * back from `now`; dates without a zone are in the daemon's current zone offset (Go's
 * FixedZone(now.Zone())); `sec[.frac]` is a unix time.
 */
export function timestampMs(value: string, now = Date.now()): number {
  if (value !== '0') {
    let d: number | undefined;
    try {
      d = parseGoDuration(value);
    } catch {
      d = undefined;
    }
    if (d !== undefined) return Math.floor((now - d / 1e6) / 1000) * 1000; // Go keeps whole seconds here
  }
  const t = parseDockerDate(value, now);
  if (t !== undefined) return t;
  if (value.includes('-')) throw invalid(`parsing time "${value}": not a timestamp docker understands (e.g. 2006-01-02T15:04:05Z07:00, 10m, 1700000000)`);
  const m = /^(\d+)(?:\.(\d*))?$/.exec(value);
  if (!m) throw invalid(`failed to parse value as time or duration: "${value}"`);
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return Number(m[1]) * 1000 + Math.floor(Number(frac) / 1e6);
}

/** The date forms of GetTimestamp; undefined when the value is not one. */
function parseDockerDate(value: string, now: number): number | undefined {
  const inLocation = !(/[zZ+]/.test(value) || value.split('-').length - 1 === 3);
  const date = '(\\d{4})-(\\d{2})-(\\d{2})';
  const zone = inLocation ? '' : '(Z|[+-]\\d{2}:\\d{2})';
  let re: RegExp;
  if (value.includes('.')) {
    re = new RegExp(`^${date}T(\\d{2}):(\\d{2}):(\\d{2})\\.(\\d+)${zone}$`);
  } else if (value.includes('T')) {
    let colons = value.split(':').length - 1;
    if (!inLocation && !/[zZ]/.test(value) && colons > 0) colons--;
    const time = colons === 0 ? '(\\d{2})()()' : colons === 1 ? '(\\d{2}):(\\d{2})()' : '(\\d{2}):(\\d{2}):(\\d{2})';
    re = new RegExp(`^${date}T${time}()${zone}$`);
  } else {
    re = new RegExp(`^${date}()()()()${zone}$`);
  }
  const m = re.exec(value);
  if (!m) return undefined;
  const n = (i: number): number => Number(m[i] || '0');
  const [y, mo, d, h, mi, s] = [n(1), n(2), n(3), n(4), n(5), n(6)];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Math.floor(Number((m[7] || '').padEnd(9, '0').slice(0, 9)) / 1e6);
  let offsetMin: number;
  const z = m[8];
  if (inLocation) offsetMin = -new Date(now).getTimezoneOffset();
  else if (z === 'Z') offsetMin = 0;
  else offsetMin = (z![0] === '-' ? -1 : 1) * (Number(z!.slice(1, 3)) * 60 + Number(z!.slice(4, 6)));
  return Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMin * 60_000;
}

function daysIn(y: number, mo: number): number {
  return new Date(Date.UTC(y, mo, 0)).getUTCDate();
}
