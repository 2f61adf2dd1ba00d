// The attributes a json-file log line carries in dockerd (`--log-opt labels=…, labels-regex=…,
// env=…, env-regex=…`): the container's labels and env entries those options name. They are
// fixed for a container's life, so `docker logs --details` computes them from its record.
import { hostname } from 'node:os';
import { invalid } from '../../common/errors.js';
import { Template, TemplateError, goType } from '../../common/go-template.js';
import type { ContainerRecord } from '../containers/record.js';

/** Key → value, as moby's logger.Info.ExtraAttributes picks them, and json-file's `tag`. */
export function logAttributes(rec: ContainerRecord): Record<string, string> {
  const out = extraAttributes(rec);
  // json-file adds the tag only when one was asked for (no default template).
  const tag = logOpts(rec).tag;
  if (tag) out.tag = logTag(rec, tag);
  return out;
}

function logOpts(rec: Pick<ContainerRecord, 'HostConfig'>): Record<string, string> {
  return ((rec.HostConfig.LogConfig as { Config?: Record<string, string> } | undefined)?.Config ?? {}) as Record<string, string>;
}

/** moby's logger.Info.ExtraAttributes(nil): the labels and env entries the log options name. */
function extraAttributes(rec: Pick<ContainerRecord, 'HostConfig' | 'Config'>): Record<string, string> {
  const opts = logOpts(rec);
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

/** A map as Go holds it: its keys sorted (Go's json and fmt print a map so). */
function sortedMap(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}

/** A time as Go's time.Time: fmt prints `2006-01-02 15:04:05.999999999 +0000 UTC`, json RFC 3339. */
function goTime(rfc3339: string): object {
  return {
    toString: () => rfc3339.replace('T', ' ').replace(/Z$/, ' +0000 UTC'),
    toJSON: () => rfc3339,
  };
}

type TagRecord = Pick<ContainerRecord, 'Id' | 'Name' | 'Image' | 'Path' | 'Args' | 'Config' | 'HostConfig' | 'Created' | 'LogPath'>;

/**
 * A --log-opt tag template as moby's loggerutils.ParseLogTag expands it: Go's text/template (the
 * shared subset, src/common/go-template.ts, with moby's template functions and Go's checks of
 * each call) over a logger.Info — its fields (Config, ContainerID, ContainerName, …, DaemonName)
 * and methods (ID, FullID, Name, ImageID — the first 12 characters of "sha256:…", as dockerd —,
 * ImageFullID, ImageName, Hostname, Command, ExtraAttributes). A bad template is refused in Go's
 * words (dockerd: when the start initialises the log driver).
 */
export function logTag(rec: TagRecord, template: string): string {
  const info = {
    [goType]: '*logger.Info',
    Config: sortedMap(logOpts(rec)),
    ContainerID: rec.Id,
    ContainerName: rec.Name,
    ContainerEntrypoint: rec.Path,
    ContainerArgs: rec.Args ?? [],
    ContainerImageID: rec.Image,
    ContainerImageName: String(rec.Config.Image ?? ''),
    ContainerCreated: goTime(rec.Created),
    ContainerEnv: (rec.Config.Env as string[] | null | undefined) ?? null,
    ContainerLabels: sortedMap((rec.Config.Labels as Record<string, string> | null | undefined) ?? {}),
    LogPath: rec.LogPath ?? '',
    DaemonName: 'docker',
    ID: () => rec.Id.slice(0, 12),
    FullID: () => rec.Id,
    Name: () => rec.Name.replace(/^\//, ''),
    ImageID: () => rec.Image.slice(0, 12),
    ImageFullID: () => rec.Image,
    ImageName: () => String(rec.Config.Image ?? ''),
    Hostname: () => hostname(),
    Command: () => [rec.Path, ...(rec.Args ?? [])].join(' '),
    ExtraAttributes: (keyMod?: unknown) => {
      const attrs = extraAttributes(rec);
      if (typeof keyMod !== 'function') return sortedMap(attrs);
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(attrs)) out[String((keyMod as (k: string) => unknown)(k))] = v;
      return sortedMap(out);
    },
  };
  try {
    return Template.parse(template, { name: 'log-tag', strict: true }).execute(info);
  } catch (e) {
    if (e instanceof TemplateError) throw invalid(e.message);
    throw e;
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
