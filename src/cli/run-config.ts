// `hako run`/`create` flags → the POST /containers/create body (Config + HostConfig +
// NetworkingConfig), following the docker CLI's parsing of -p, -v, --mount, --ulimit, env files, ….
import { readFileSync } from 'node:fs';
import type { Flags } from './flags.js';
import { parseBytes } from './units.js';

export class ConfigError extends Error {}

/** docker's env-file format: KEY=VALUE lines, `#` comments, bare KEY taken from the environment. */
export function parseEnvFile(text: string, env: NodeJS.ProcessEnv = process.env, file = ''): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '' || /\s/.test(key)) {
      throw new ConfigError(`invalid env file (${file}): variable '${key}' contains whitespaces${key === '' ? '' : ''} (line ${i + 1})`);
    }
    if (eq >= 0) out.push(line);
    else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
  });
  return out;
}

/** -e values: a bare KEY takes its value from the local environment (kept bare when unset). */
export function expandEnv(values: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  return values.map((v) => {
    if (v.includes('=')) {
      if (v.startsWith('=')) throw new ConfigError(`invalid environment variable: ${v}`);
      return v;
    }
    return env[v] !== undefined ? `${v}=${env[v]}` : v;
  });
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

function splitRange(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new ConfigError(`invalid ${what}: ${s}`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (b < a || a > 65535 || b > 65535) throw new ConfigError(`invalid ${what}: ${s}`);
  return [a, b];
}

/**
 * nat.ParsePortSpec: `[ip:][hostPort:]containerPort[/proto]` with ranges (`8000-8010:80-90`),
 * IPv6 host addresses in brackets. Returns exposed ports and bindings.
 */
export function parsePortSpec(spec: string): { exposed: string[]; bindings: Record<string, PortBinding[]> } {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new ConfigError(`invalid proto: ${proto}`);
  }
  let ip = '';
  let hostPart = '';
  let containerPart: string;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
  if (v6) {
    ip = v6[1]!;
    const parts = v6[2]!.split(':');
    if (parts.length !== 2) throw new ConfigError(`invalid port format for --publish: ${spec}`);
    [hostPart, containerPart] = parts as [string, string];
  } else {
    const parts = rest.split(':');
    if (parts.length === 1) containerPart = parts[0]!;
    else if (parts.length === 2) [hostPart, containerPart] = parts as [string, string];
    else if (parts.length === 3) [ip, hostPart, containerPart] = parts as [string, string, string];
    else {
      // bare IPv6 address: everything before the last two colons
      const cp = parts.pop()!;
      const hp = parts.pop()!;
      ip = parts.join(':');
      hostPart = hp;
      containerPart = cp;
    }
  }
  if (ip && !/^[\d.]+$/.test(ip) && !ip.includes(':')) throw new ConfigError(`invalid IP address: ${ip}`);
  if (containerPart === '') throw new ConfigError(`no port specified: ${spec}<empty>`);
  const [cStart, cEnd] = splitRange(containerPart, 'containerPort');
  let hStart = 0;
  let hEnd = 0;
  if (hostPart !== '') [hStart, hEnd] = splitRange(hostPart, 'hostPort');
  if (hostPart !== '' && cEnd !== cStart && cEnd - cStart !== hEnd - hStart) {
    throw new ConfigError(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
  }
  const exposed: string[] = [];
  const bindings: Record<string, PortBinding[]> = {};
  for (let i = 0; i <= cEnd - cStart; i++) {
    const key = `${cStart + i}/${proto}`;
    exposed.push(key);
    let hostPort = '';
    if (hostPart !== '') hostPort = cEnd !== cStart ? String(hStart + i) : hEnd === hStart ? String(hStart) : `${hStart}-${hEnd}`;
    (bindings[key] ??= []).push({ HostIp: ip, HostPort: hostPort });
  }
  return { exposed, bindings };
}

/** --expose 80, 80/udp, 8000-8010. */
export function parseExpose(spec: string): string[] {
  const [ports, proto = 'tcp'] = spec.split('/');
  const [a, b] = splitRange(ports!, 'range format for --expose');
  const out: string[] = [];
  for (let p = a; p <= b; p++) out.push(`${p}/${proto}`);
  return out;
}

/** --ulimit nofile=1024:2048 → {Name, Soft, Hard}. */
export function parseUlimit(s: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) throw new ConfigError(`invalid ulimit argument: ${s}`);
  const known = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack', 'as'];
  if (!known.includes(m[1]!)) throw new ConfigError(`invalid ulimit type: ${m[1]}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw new ConfigError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** Splits a CSV field list like encoding/csv (quotes allowed). */
function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const truthyWord = (v: string) => ['', '1', 'true', 'True', 'TRUE', 't'].includes(v);

/** --mount type=bind|volume|tmpfs,source=…,target=…,readonly,… → a HostConfig.Mounts entry. */
export function parseMount(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  const bind: Record<string, unknown> = {};
  const vol: Record<string, unknown> = {};
  const tmpfs: Record<string, unknown> = {};
  const volLabels: Record<string, string> = {};
  const driverOpts: Record<string, string> = {};
  let driver: string | undefined;
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0 && !['readonly', 'ro', 'volume-nocopy', 'bind-recursive'].includes(key)) throw new ConfigError(`invalid field '${field}' must be a key=value pair`);
    switch (key) {
      case 'type':
        if (!['bind', 'volume', 'tmpfs', 'npipe', 'cluster', 'image'].includes(value)) throw new ConfigError(`invalid mount type: ${value}`);
        m.Type = value;
        break;
      case 'source':
      case 'src':
        m.Source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = value;
        break;
      case 'readonly':
      case 'ro':
        if (!truthyWord(value) && !['0', 'false', 'False', 'FALSE', 'f'].includes(value)) throw new ConfigError(`invalid value for ${key}: ${value}`);
        m.ReadOnly = truthyWord(value);
        break;
      case 'consistency':
        m.Consistency = value;
        break;
      case 'bind-propagation':
        bind.Propagation = value;
        break;
      case 'bind-nonrecursive':
        bind.NonRecursive = truthyWord(value);
        break;
      case 'volume-nocopy':
        vol.NoCopy = truthyWord(value);
        break;
      case 'volume-subpath':
        vol.Subpath = value;
        break;
      case 'volume-label': {
        const [k, v = ''] = value.split(/=(.*)/s);
        volLabels[k!] = v;
        break;
      }
      case 'volume-driver':
        driver = value;
        break;
      case 'volume-opt': {
        const i = value.indexOf('=');
        if (i < 0) throw new ConfigError(`invalid volume-opt '${value}'`);
        driverOpts[value.slice(0, i)] = value.slice(i + 1);
        break;
      }
      case 'tmpfs-size': {
        const n = parseBytes(value);
        if (n === null) throw new ConfigError(`invalid value for ${key}: ${value}`);
        tmpfs.SizeBytes = n;
        break;
      }
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(value)) throw new ConfigError(`invalid value for ${key}: ${value}`);
        tmpfs.Mode = parseInt(value, 8);
        break;
      }
      default:
        throw new ConfigError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Target) throw new ConfigError('target is required');
  if (m.Type === 'bind' && !m.Source) throw new ConfigError('source is required when specifying bind mount');
  if (Object.keys(bind).length) m.BindOptions = bind;
  if (driver || Object.keys(driverOpts).length) vol.DriverConfig = { Name: driver ?? '', Options: driverOpts };
  if (Object.keys(volLabels).length) vol.Labels = volLabels;
  if (Object.keys(vol).length) m.VolumeOptions = vol;
  if (Object.keys(tmpfs).length) m.TmpfsOptions = tmpfs;
  return m;
}

/** -v: `/anon`, `name:/dst[:opts]`, `/host:/dst[:ro,z]` → either an anonymous volume or a bind string. */
export function parseVolume(spec: string): { anonymous?: string; bind?: string } {
  const parts = spec.split(':');
  if (parts.length === 1) {
    if (!spec.startsWith('/')) throw new ConfigError(`invalid volume specification: '${spec}'`);
    return { anonymous: spec };
  }
  if (parts.length > 3 || parts[1] === '' || !parts[1]!.startsWith('/')) {
    throw new ConfigError(`invalid spec: ${spec}: invalid volume specification: '${spec}'`);
  }
  return { bind: spec };
}

/** --device /dev/x[:/dev/y[:rwm]]. */
export function parseDevice(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = spec.split(':');
  const host = parts[0]!;
  let inContainer = host;
  let perms = 'rwm';
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1]!)) perms = parts[1]!;
    else inContainer = parts[1]!;
  } else if (parts.length === 3) {
    inContainer = parts[1]!;
    perms = parts[2]!;
  } else if (parts.length > 3) throw new ConfigError(`invalid device specification: ${spec}`);
  return { PathOnHost: host, PathInContainer: inContainer, CgroupPermissions: perms };
}

export function parseRestart(s: string): { Name: string; MaximumRetryCount: number } {
  const [name, count] = s.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure', ''].includes(name!)) throw new ConfigError(`invalid restart policy format: ${s}`);
  if (count !== undefined && name !== 'on-failure') throw new ConfigError(`maximum retry count cannot be used with restart policy '${name}'`);
  if (count !== undefined && !/^\d+$/.test(count)) throw new ConfigError(`invalid restart policy format: maximum retry count must be an integer`);
  return { Name: name === '' ? 'no' : name!, MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (what === 'sysctl' && i < 0) throw new ConfigError(`invalid argument "${kv}" for "--sysctl" flag: ${kv} is not a key=value pair`);
    out[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? '' : kv.slice(i + 1);
  }
  return out;
}

export interface CreateRequest {
  body: Record<string, unknown>;
  name?: string | undefined;
  platform?: string | undefined;
  pull: 'missing' | 'always' | 'never';
  attach: { stdin: boolean; stdout: boolean; stderr: boolean };
}

/** Builds the create request from run/create flags and arguments (IMAGE [COMMAND] [ARG...]). */
export function buildCreate(f: Flags, args: string[], detach: boolean, env: NodeJS.ProcessEnv = process.env): CreateRequest {
  const image = args[0]!;
  const cmd = args.slice(1);
  const config: Record<string, unknown> = {};
  const host: Record<string, unknown> = {};

  // attach streams
  const attachList = f.list('attach').map((s) => s.toLowerCase());
  for (const a of attachList) if (!['stdin', 'stdout', 'stderr'].includes(a)) throw new ConfigError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  if (detach && attachList.length) throw new ConfigError('Conflicting options: -a and -d');
  const interactive = f.bool('interactive');
  let attach = { stdin: false, stdout: false, stderr: false };
  if (!detach) {
    attach = attachList.length
      ? { stdin: attachList.includes('stdin'), stdout: attachList.includes('stdout'), stderr: attachList.includes('stderr') }
      : { stdin: interactive, stdout: true, stderr: true };
  }
  config.Hostname = f.str('hostname') ?? '';
  config.Domainname = f.str('domainname') ?? '';
  config.User = f.str('user') ?? '';
  config.AttachStdin = attach.stdin;
  config.AttachStdout = attach.stdout;
  config.AttachStderr = attach.stderr;

  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const p of f.list('publish')) {
    const r = parsePortSpec(p);
    for (const e of r.exposed) exposed[e] = {};
    for (const [k, v] of Object.entries(r.bindings)) (bindings[k] ??= []).push(...v);
  }
  for (const e of f.list('expose')) for (const x of parseExpose(e)) exposed[x] = {};
  if (Object.keys(exposed).length) config.ExposedPorts = exposed;
  config.Tty = f.bool('tty');
  config.OpenStdin = interactive;
  config.StdinOnce = interactive && attach.stdin;

  let envList: string[] = [];
  for (const file of f.list('env-file')) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new ConfigError(`open ${file}: no such file or directory`);
    }
    envList.push(...parseEnvFile(text, env, file));
  }
  envList = [...envList, ...expandEnv(f.list('env'), env)];
  config.Env = envList;
  if (cmd.length) config.Cmd = cmd;
  const healthFlags = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval'];
  if (f.bool('no-healthcheck') || healthFlags.some((h) => f.has(h))) {
    if (f.bool('no-healthcheck')) {
      if (healthFlags.some((h) => f.has(h))) {
        throw new ConfigError('--no-healthcheck conflicts with --health-* options');
      }
      config.Healthcheck = { Test: ['NONE'] };
    } else {
      const hc: Record<string, unknown> = {};
      if (f.has('health-cmd')) hc.Test = ['CMD-SHELL', f.str('health-cmd')];
      for (const [flag, key] of [
        ['health-interval', 'Interval'],
        ['health-timeout', 'Timeout'],
        ['health-start-period', 'StartPeriod'],
        ['health-start-interval', 'StartInterval'],
      ] as const) {
        const v = f.num(flag);
        if (v !== undefined && v < 0) throw new ConfigError(`--${flag} cannot be negative`);
        if (v) hc[key] = v;
      }
      const retries = f.num('health-retries');
      if (retries !== undefined && retries < 0) throw new ConfigError('--health-retries cannot be negative');
      if (retries) hc.Retries = retries;
      config.Healthcheck = hc;
    }
  }
  config.Image = image;
  const volumes: Record<string, object> = {};
  const binds: string[] = [];
  for (const v of f.list('volume')) {
    const r = parseVolume(v);
    if (r.anonymous) volumes[r.anonymous] = {};
    else binds.push(r.bind!);
  }
  config.Volumes = Object.keys(volumes).length ? volumes : null;
  config.WorkingDir = f.str('workdir') ?? '';
  if (f.has('entrypoint')) config.Entrypoint = [f.str('entrypoint') ?? ''];
  config.OnBuild = null;
  const labels: Record<string, string> = {};
  for (const file of f.list('label-file')) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new ConfigError(`open ${file}: no such file or directory`);
    }
    for (const line of text.split(/\r?\n/)) {
      const l = line.trim();
      if (!l || l.startsWith('#')) continue;
      Object.assign(labels, keyValues([l], 'label'));
    }
  }
  Object.assign(labels, keyValues(f.list('label'), 'label'));
  config.Labels = labels;
  if (f.has('stop-signal')) config.StopSignal = f.str('stop-signal');
  if (f.has('stop-timeout')) config.StopTimeout = f.num('stop-timeout');

  // ---- HostConfig
  host.Binds = binds.length ? binds : null;
  host.ContainerIDFile = f.str('cidfile') ?? '';
  const logOpts = keyValues(f.list('log-opt'), 'log-opt');
  host.LogConfig = { Type: f.str('log-driver') ?? '', Config: logOpts };
  host.NetworkMode = f.str('network') ?? 'default';
  host.PortBindings = bindings;
  host.RestartPolicy = f.has('restart') ? parseRestart(f.str('restart')!) : { Name: 'no', MaximumRetryCount: 0 };
  host.AutoRemove = f.bool('rm');
  if (f.bool('rm') && f.has('restart') && (host.RestartPolicy as { Name: string }).Name !== 'no') {
    throw new ConfigError('Conflicting options: --restart and --rm');
  }
  host.VolumeDriver = f.str('volume-driver') ?? '';
  host.VolumesFrom = f.list('volumes-from').length ? f.list('volumes-from') : null;
  host.ConsoleSize = [0, 0];
  host.CapAdd = f.list('cap-add').length ? f.list('cap-add') : null;
  host.CapDrop = f.list('cap-drop').length ? f.list('cap-drop') : null;
  host.CgroupnsMode = f.str('cgroupns') ?? '';
  host.Dns = f.list('dns');
  host.DnsOptions = f.list('dns-option');
  host.DnsSearch = f.list('dns-search');
  host.ExtraHosts = f.list('add-host').length ? f.list('add-host').map((h) => h.replace(/^([^:=]+)=/, '$1:')) : null;
  host.GroupAdd = f.list('group-add').length ? f.list('group-add') : null;
  host.IpcMode = f.str('ipc') ?? '';
  host.Cgroup = '';
  host.Links = f.list('link').length ? f.list('link') : null;
  host.OomScoreAdj = f.num('oom-score-adj') ?? 0;
  host.PidMode = f.str('pid') ?? '';
  host.Privileged = f.bool('privileged');
  host.PublishAllPorts = f.bool('publish-all');
  host.ReadonlyRootfs = f.bool('read-only');
  host.SecurityOpt = f.list('security-opt').length ? f.list('security-opt') : null;
  if (f.list('storage-opt').length) host.StorageOpt = keyValues(f.list('storage-opt'), 'storage-opt');
  if (f.list('tmpfs').length) {
    const t: Record<string, string> = {};
    for (const x of f.list('tmpfs')) {
      const i = x.indexOf(':');
      t[i < 0 ? x : x.slice(0, i)] = i < 0 ? '' : x.slice(i + 1);
    }
    host.Tmpfs = t;
  }
  host.UTSMode = f.str('uts') ?? '';
  host.UsernsMode = f.str('userns') ?? '';
  host.ShmSize = f.num('shm-size') ?? 0;
  if (f.list('sysctl').length) host.Sysctls = keyValues(f.list('sysctl'), 'sysctl');
  if (f.has('runtime')) host.Runtime = f.str('runtime');
  host.Isolation = '';
  host.CpuShares = f.num('cpu-shares') ?? 0;
  host.Memory = f.num('memory') ?? 0;
  host.NanoCpus = f.has('cpus') ? Math.round(f.num('cpus')! * 1e9) : 0;
  host.CgroupParent = f.str('cgroup-parent') ?? '';
  host.BlkioWeight = f.num('blkio-weight') ?? 0;
  host.CpuPeriod = f.num('cpu-period') ?? 0;
  host.CpuQuota = f.num('cpu-quota') ?? 0;
  host.CpuRealtimePeriod = f.num('cpu-rt-period') ?? 0;
  host.CpuRealtimeRuntime = f.num('cpu-rt-runtime') ?? 0;
  host.CpusetCpus = f.str('cpuset-cpus') ?? '';
  host.CpusetMems = f.str('cpuset-mems') ?? '';
  host.Devices = f.list('device').map(parseDevice);
  host.DeviceCgroupRules = f.list('device-cgroup-rule');
  host.MemoryReservation = f.num('memory-reservation') ?? 0;
  host.MemorySwap = f.num('memory-swap') ?? 0;
  host.MemorySwappiness = f.has('memory-swappiness') ? f.num('memory-swappiness') : null;
  host.OomKillDisable = f.has('oom-kill-disable') ? f.bool('oom-kill-disable') : false;
  host.PidsLimit = f.has('pids-limit') ? f.num('pids-limit') : null;
  host.Ulimits = f.list('ulimit').map(parseUlimit);
  if (f.has('init')) host.Init = f.bool('init');
  const mounts = f.list('mount').map(parseMount);
  if (mounts.length) host.Mounts = mounts;
  if (f.list('annotation').length) host.Annotations = keyValues(f.list('annotation'), 'annotation');
  if (host.Memory && host.MemorySwap && (host.MemorySwap as number) > 0 && (host.MemorySwap as number) < (host.Memory as number)) {
    throw new ConfigError('Minimum memoryswap limit should be larger than memory limit, see usage');
  }

  const body: Record<string, unknown> = { ...config, HostConfig: host, NetworkingConfig: { EndpointsConfig: {} as Record<string, unknown> } };
  const net = f.str('network') ?? 'default';
  if (!['host', 'none'].includes(net) && !net.startsWith('container:')) {
    const ep: Record<string, unknown> = {};
    if (f.list('network-alias').length) ep.Aliases = f.list('network-alias');
    const ipam: Record<string, unknown> = {};
    if (f.has('ip')) ipam.IPv4Address = f.str('ip');
    if (f.has('ip6')) ipam.IPv6Address = f.str('ip6');
    if (Object.keys(ipam).length) ep.IPAMConfig = ipam;
    // On the default bridge these are errors the daemon words (docker's behaviour), not dropped.
    if (Object.keys(ep).length || !['default', 'bridge'].includes(net)) (body.NetworkingConfig as { EndpointsConfig: Record<string, unknown> }).EndpointsConfig[net] = ep;
  } else if (f.list('network-alias').length || f.has('ip')) {
    throw new ConfigError(`conflicting options: --network-alias/--ip and the network mode ${net}`);
  }
  if (f.has('mac-address')) body.MacAddress = f.str('mac-address');
  const pull = (f.str('pull') ?? 'missing') as CreateRequest['pull'];
  if (!['missing', 'always', 'never'].includes(pull)) throw new ConfigError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  return { body, name: f.str('name') || undefined, platform: f.str('platform') || undefined, pull, attach };
}
