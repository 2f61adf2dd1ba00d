// The attributes a json-file log line carries in dockerd (`--log-opt labels=…, labels-regex=…,
// env=…, env-regex=…`): the container's labels and env entries those options name. They are
// fixed for a container's life, so `docker logs --details` computes them from its record.
import { invalid } from '../../common/errors.js';
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
  // json-file adds the tag only when one was asked for (no default template).
  if (opts.tag) out.tag = logTag(rec, opts.tag);
  return out;
}

/**
 * A --log-opt tag template as moby's loggerutils.ParseLogTag expands it over logger.Info: the
 * fields only (`{{.Name}}`, `{{ .ID }}`), with Info's own quirks (ImageID is the first 12
 * characters of "sha256:…"). An unknown field or an unclosed action is refused in Go's words
 * (dockerd: when the start initialises the log driver); other template syntax is refused too.
 */
export function logTag(rec: Pick<ContainerRecord, 'Id' | 'Name' | 'Image' | 'Path' | 'Args' | 'Config'>, template: string): string {
  const fields: Record<string, string> = {
    ID: rec.Id.slice(0, 12),
    FullID: rec.Id,
    Name: rec.Name.replace(/^\//, ''),
    ImageID: rec.Image.slice(0, 12),
    ImageFullID: rec.Image,
    ImageName: String(rec.Config.Image ?? ''),
    DaemonName: 'docker',
    Command: [rec.Path, ...rec.Args].join(' '),
  };
  let out = '';
  let i = 0;
  for (;;) {
    const open = template.indexOf('{{', i);
    if (open < 0) return out + template.slice(i);
    out += template.slice(i, open);
    const close = template.indexOf('}}', open + 2);
    if (close < 0) throw invalid('template: log-tag:1: unclosed action');
    const action = template.slice(open + 2, close);
    const m = /^(\s*)\.([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(action);
    if (!m) throw invalid(`log tag template ${JSON.stringify(template)}: {{${action}}} is not supported`, `use fields only: ${Object.keys(fields).map((f) => `{{.${f}}}`).join(' ')}`);
    const name = m[2]!;
    const value = fields[name];
    if (value === undefined) throw invalid(`template: log-tag:1:${open + 2 + m[1]!.length}: executing "log-tag" at <.${name}>: can't evaluate field ${name} in type *logger.Info`);
    out += value;
    i = close + 2;
  }
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
