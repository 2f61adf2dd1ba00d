// docker's JSON views of a container: inspect (ContainerInspectResponse), list summaries
// (ContainerSummary) with the human Status text, and list filters.
import { posix } from 'node:path';
import { HEALTH_FILTER_VALUES } from '../health.js';
import { labelsMatchAll } from '../label-filter.js';
import { HakoError, invalid } from '../../common/errors.js';
import { goAtoi } from '../../network/bridge-options.js';
import type { Filters, Json } from '../api-types.js';
import { ZERO_TIME, type ContainerRecord, type MountPoint } from './record.js';

/** go-units' HumanDuration: whole seconds first (1.5 s is "1 second", not "1 seconds"). */
export function humanDuration(seconds: number): string {
  const whole = Math.floor(seconds);
  if (whole < 1) return 'Less than a second';
  if (whole === 1) return '1 second';
  if (whole < 60) return `${whole} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** `Up 5 seconds`, `Up 2 minutes (Paused)`, `Exited (0) 3 seconds ago`, `Created`, … */
export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.State;
  const since = (t: string) => humanDuration(Math.max(0, (now - Date.parse(t)) / 1000));
  switch (s.Status) {
    case 'running':
      return `Up ${since(s.StartedAt)}${s.Health ? ` (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})` : ''}`;
    case 'paused':
      return `Up ${since(s.StartedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return s.FinishedAt.startsWith('0001') ? 'Created' : `Exited (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
    default:
      return 'Created';
  }
}

export function mountView(m: MountPoint): Json {
  const out: Json = { Type: m.Type };
  if (m.Type === 'volume') out.Name = m.Name;
  out.Source = m.Source;
  out.Destination = m.Destination;
  if (m.Type === 'volume') out.Driver = m.Driver ?? 'local';
  out.Mode = m.Mode;
  out.RW = m.RW;
  out.Propagation = m.Propagation;
  return out;
}

/** `network`: the NetworkSettings the engine's networking computed (networking.ts settings()). */
/** The mounts dockerd lists: not those of HostConfig.Tmpfs (--tmpfs), which it keeps out of Mounts. */
function shownMounts(rec: ContainerRecord): MountPoint[] {
  const tmpfs = new Set(Object.keys((rec.HostConfig.Tmpfs as Record<string, string> | undefined) ?? {}).map((d) => posix.normalize(d)));
  return tmpfs.size ? rec.MountPoints.filter((m) => !(m.Type === 'tmpfs' && tmpfs.has(m.Destination))) : rec.MountPoints;
}

export function inspectView(rec: ContainerRecord, extra: { graph: Json; execIds: string[]; network: Json; sizeRw?: number; sizeRootFs?: number; links?: string[] | null | undefined }): Json {
  const { Health, ...state } = rec.State;
  return {
    Id: rec.Id,
    Created: rec.Created,
    Path: rec.Path,
    Args: rec.Args,
    State: Health ? { ...state, Health } : state,
    Image: rec.Image,
    ResolvConfPath: rec.ResolvConfPath,
    HostnamePath: rec.HostnamePath,
    HostsPath: rec.HostsPath,
    // dockerd sets LogPath when a start opens the log (empty before), and never for the local
    // driver, whose files are no API (moby's StartLogger).
    LogPath: (rec.HostConfig.LogConfig as { Type?: string } | undefined)?.Type === 'local' || rec.State.StartedAt === ZERO_TIME ? '' : rec.LogPath,
    Name: rec.Name,
    RestartCount: rec.RestartCount,
    Driver: 'overlay2',
    Platform: rec.Platform,
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: extra.execIds.length > 0 ? extra.execIds : null,
    HostConfig: extra.links !== undefined ? { ...rec.HostConfig, Links: extra.links } : rec.HostConfig,
    GraphDriver: extra.graph,
    ...(extra.sizeRw !== undefined ? { SizeRw: extra.sizeRw, SizeRootFs: extra.sizeRootFs ?? 0 } : {}),
    Mounts: shownMounts(rec).map(mountView),
    Config: rec.Config,
    NetworkSettings: extra.network,
  };
}

/** `net`: the container's NetworkSettings and list Ports (networking.ts settings() / ports()). */
/**
 * dockerd's list copies only the addresses and IDs of each endpoint (and IPAMConfig): Links,
 * Aliases, DriverOpts and DNSNames are null there whatever inspect shows.
 */
function summaryNetworks(networks: Record<string, Json> | undefined): Json {
  const out: Json = {};
  for (const [name, ep] of Object.entries(networks ?? {})) out[name] = { ...ep, Links: null, Aliases: null, DriverOpts: null, DNSNames: null };
  return out;
}

export function summaryView(rec: ContainerRecord, net: { settings: Json; ports: Json[] }, size?: { rw: number; rootfs: number }): Json {
  return {
    Id: rec.Id,
    Names: [rec.Name],
    Image: rec.Config.Image,
    ImageID: rec.Image,
    Command: [rec.Path, ...rec.Args].map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' '),
    Created: Math.floor(Date.parse(rec.Created) / 1000),
    Ports: net.ports,
    // omitempty in dockerd's summary: a size of 0 is left out.
    ...(size?.rw ? { SizeRw: size.rw } : {}),
    ...(size?.rootfs ? { SizeRootFs: size.rootfs } : {}),
    Labels: (rec.Config.Labels as Json | null) ?? {},
    State: rec.State.Status,
    Status: statusText(rec),
    HostConfig: { NetworkMode: rec.HostConfig.NetworkMode },
    NetworkSettings: { Networks: summaryNetworks(net.settings.Networks as Record<string, Json> | undefined) },
    Mounts: shownMounts(rec).map(mountView),
  };
}

const LIST_FILTERS = ['status', 'name', 'id', 'label', 'ancestor', 'exited', 'before', 'since', 'volume', 'network', 'health', 'isolation', 'is-task', 'publish', 'expose'];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/**
 * The list filters checked before any container is looked at, as dockerd does (an empty list
 * refuses a bad filter too): names, status values, exit codes (Go's Atoi words), health values,
 * and the containers before/since name.
 */
export function checkListFilters(filters: Filters, createdOf: (nameOrId: string) => number | undefined): void {
  for (const [key, values] of Object.entries(filters)) {
    if (!LIST_FILTERS.includes(key)) throw invalid(`invalid filter '${key}'`);
    for (const v of values) {
      if (key === 'status' && !STATUSES.includes(v)) throw invalid(`invalid filter 'status=${v}'`);
      if (key === 'exited') {
        // dockerd (20.10 lab; moby 24's foldFilter alike) passes strconv.Atoi's error on as is: a 500.
        const r = goAtoi(v);
        if ('err' in r) throw new HakoError({ step: `strconv.Atoi: parsing ${JSON.stringify(v)}: ${r.err}`, kind: 'internal' });
      }
      if (key === 'health' && !HEALTH_FILTER_VALUES.includes(v)) throw invalid(`Unrecognised filter value for health: ${v}`);
      if ((key === 'before' || key === 'since') && createdOf(v) === undefined) throw noListAnchor(v);
      if (key === 'publish' || key === 'expose') parsePortFilter(key, v);
    }
  }
}

/**
 * A before/since filter naming no container: dockerd's view lookup error, which no errdefs class
 * wraps (a 500, lower case; 20.10 lab and moby 24's idOrNameFilter).
 */
function noListAnchor(v: string): HakoError {
  return new HakoError({ step: `no such container ${v}`, kind: 'internal' });
}

/** docker's container list filters. `resolveAncestor` maps an image reference to image IDs. */
export function containerMatches(
  rec: ContainerRecord,
  filters: Filters,
  ctx: { ancestorIds: Map<string, Set<string>>; createdOf: (nameOrId: string) => number | undefined; ports: (rec: ContainerRecord) => Json[] },
): boolean {
  if ((filters.publish?.length ?? 0) > 0 || (filters.expose?.length ?? 0) > 0) {
    if (!portsMatch(ctx.ports(rec), filters.publish ?? [], filters.expose ?? [])) return false;
  }
  for (const [key, values] of Object.entries(filters)) {
    if (!LIST_FILTERS.includes(key)) throw invalid(`invalid filter '${key}'`);
    if (values.length === 0 || key === 'publish' || key === 'expose') continue;
    if (key === 'label') {
      if (!labelsMatchAll(rec.Config.Labels as Record<string, string> | null, values)) return false;
      continue;
    }
    const ok = values.some((v) => {
      switch (key) {
        case 'status':
          if (!STATUSES.includes(v)) throw invalid(`invalid filter 'status=${v}'`);
          return rec.State.Status === v;
        case 'name':
          try {
            return new RegExp(v).test(rec.Name);
          } catch {
            return rec.Name.includes(v);
          }
        case 'id':
          return rec.Id.startsWith(v);
        case 'ancestor':
          return ctx.ancestorIds.get(v)?.has(rec.Image) ?? false;
        case 'exited':
          return rec.State.Status === 'exited' && rec.State.ExitCode === Number(v) && !rec.State.FinishedAt.startsWith('0001');
        case 'before': {
          const t = ctx.createdOf(v);
          if (t === undefined) throw noListAnchor(v);
          return Date.parse(rec.Created) < t;
        }
        case 'since': {
          const t = ctx.createdOf(v);
          if (t === undefined) throw noListAnchor(v);
          return Date.parse(rec.Created) > t;
        }
        case 'volume':
          return rec.MountPoints.some((m) => m.Name === v || m.Destination === v || m.Source === v);
        case 'network':
          return rec.HostConfig.NetworkMode === v || Object.entries(rec.Networks ?? {}).some(([name, c]) => name === v || (v.length > 0 && c.NetworkID.startsWith(v)));
        case 'health':
          if (!HEALTH_FILTER_VALUES.includes(v)) throw invalid(`Unrecognised filter value for health: ${v}`);
          return (rec.State.Health?.Status ?? 'none') === v;
        case 'isolation':
          return v === 'default';
        case 'is-task':
          return v === 'false';
        default:
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

interface PortRange {
  lo: number;
  hi: number;
  proto: string;
}

/**
 * A publish/expose filter value as dockerd reads it (nat.SplitProtoPort + ParsePortRange): `80`,
 * `80/udp`, `8000-8080`, `8000-8080/tcp`; tcp when no protocol is given; its error texts.
 */
export function parsePortFilter(key: string, value: string): PortRange {
  if (value.includes(':')) throw invalid(`filter for '${key}' should not contain ':': ${value}`);
  const parts = value.split('/');
  const port = parts[0] ?? '';
  const proto = parts.length === 1 || parts[1] === '' ? 'tcp' : parts[1]!;
  const fail = (why: string) => invalid(`error while looking up for ${key} ${port}: ${why}`);
  const uint16 = (t: string): number => {
    if (!/^\d+$/.test(t)) throw fail(`strconv.ParseUint: parsing ${JSON.stringify(t)}: invalid syntax`);
    const n = Number(t);
    if (n > 65535) throw fail(`strconv.ParseUint: parsing ${JSON.stringify(t)}: value out of range`);
    return n;
  };
  if (port === '') throw fail('empty string specified for ports');
  const dash = port.indexOf('-');
  if (dash < 0) {
    const n = uint16(port);
    return { lo: n, hi: n, proto };
  }
  const lo = uint16(port.slice(0, dash));
  const hi = uint16(port.slice(dash + 1));
  if (hi < lo) throw fail(`invalid range specified for port: ${port}`);
  return { lo, hi, proto };
}

/**
 * dockerd's publish/expose filters, together: a container is listed when one entry of its list
 * Ports (only a running container with endpoints of its own has any) has its host port in a
 * publish value or its container port in an expose value.
 */
export function portsMatch(ports: Json[], publish: string[], expose: string[]): boolean {
  const pub = publish.map((v) => parsePortFilter('publish', v));
  const exp = expose.map((v) => parsePortFilter('expose', v));
  const within = (ranges: PortRange[], port: unknown, proto: unknown) => typeof port === 'number' && ranges.some((r) => r.proto === proto && port >= r.lo && port <= r.hi);
  return ports.some((p) => within(pub, p.PublicPort ?? 0, p.Type) || within(exp, p.PrivatePort, p.Type));
}
