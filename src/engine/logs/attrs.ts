// The attributes a json-file log line carries in dockerd (`--log-opt labels=…, labels-regex=…,
// env=…, env-regex=…`): the container's labels and env entries those options name. They are
// fixed for a container's life, so `docker logs --details` computes them from its record.
import type { ContainerRecord } from '../containers/record.js';

/** Key → value, as moby's logger.Info.ExtraAttributes picks them. */
export function logAttributes(rec: ContainerRecord): Record<string, string> {
  const opts = ((rec.HostConfig.LogConfig as { Config?: Record<string, string> } | undefined)?.Config ?? {}) as Record<string, string>;
  const labels = (rec.Config.Labels as Record<string, string> | null | undefined) ?? {};
  const env = new Map<string, string>();
  for (const e of (rec.Config.Env as string[] | null | undefined) ?? []) {
    const i = e.indexOf('=');
    if (i >= 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  const out: Record<string, string> = {};
  for (const l of (opts.labels ?? '').split(',')) if (l && Object.prototype.hasOwnProperty.call(labels, l)) out[l] = labels[l]!;
  const lre = regex(opts['labels-regex']);
  if (lre) for (const [k, v] of Object.entries(labels)) if (lre.test(k)) out[k] = v;
  for (const k of (opts.env ?? '').split(',')) if (k && env.has(k)) out[k] = env.get(k)!;
  const ere = regex(opts['env-regex']);
  if (ere) for (const [k, v] of env) if (ere.test(k)) out[k] = v;
  return out;
}

function regex(src: string | undefined): RegExp | undefined {
  if (!src) return undefined;
  try {
    return new RegExp(src);
  } catch {
    return undefined; // refused at create: cannot happen for a stored record
  }
}

/** Go's url.QueryEscape: only A-Z a-z 0-9 - _ . ~ stay, a space is `+`. */
function queryEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

/** The prefix `docker logs --details` puts before each line: `k=v,k2=v2 ` (sorted; just a space without attributes). */
export function detailsPrefix(attrs: Record<string, string>): string {
  return `${Object.keys(attrs).sort().map((k) => `${queryEscape(k)}=${queryEscape(attrs[k]!)}`).join(',')} `;
}
