// docker's create-time rules: the image config merged into the container's Config (Env by key,
// Entrypoint/Cmd, WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal, Healthcheck) and a
// HostConfig with docker's defaults filled in. Pure functions: unit-tested without a kernel.
import { mergeHealthcheck, validateHealthcheck } from '../health.js';
import { posix } from 'node:path';
import { readFileSync } from 'node:fs';
import { availableParallelism, constants as osConstants } from 'node:os';
import { parseLogSize } from '../logs/json-file.js';
import { CAPABILITIES } from '../../runtime/security/capabilities.js';
import { DOCKER_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../runtime/spec/defaults.js';
import { invalid } from '../../common/errors.js';
import type { Json } from '../api-types.js';
import type { MountPoint } from './record.js';

type Obj = Record<string, unknown>;

const CONFIG_KEYS = [
  'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce',
  'Env', 'Cmd', 'Healthcheck', 'ArgsEscaped', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'NetworkDisabled', 'MacAddress',
  'OnBuild', 'Labels', 'StopSignal', 'StopTimeout', 'Shell',
];

function strArray(v: unknown, what: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(`invalid ${what}: must be an array of strings`);
  return v as string[];
}

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/**
 * dockerd's merge (runconfig Merge): the container's env as given, then each image entry whose
 * key it does not name (a bare `KEY` names it too: kept as given, the process then goes without K).
 */
export function mergeEnv(image: string[], container: string[]): string[] {
  if (container.length === 0) return [...image];
  const keys = new Set(container.map(envKey));
  return [...container, ...image.filter((e) => !keys.has(envKey(e)))];
}

export interface MergedConfig {
  Config: Json;
  HostConfig: Json;
  Path: string;
  Args: string[];
  Warnings: string[];
}

/**
 * Merges the image's config (`image.config` of the OCI config) into the create body like docker:
 * a user Entrypoint replaces the image's and drops the image's Cmd; `Entrypoint: [""]` clears it.
 */
export function mergeConfig(body: Obj, imageCfg: Obj, id: string): MergedConfig {
  const warnings: string[] = [];
  const cfg: Obj = {};
  for (const k of CONFIG_KEYS) if (body[k] !== undefined) cfg[k] = body[k];
  if (typeof cfg.Image !== 'string' || cfg.Image === '') throw invalid('Config.Image is required', 'name the image to create the container from');

  const imgEnv = strArray(imageCfg.Env, 'image Env') ?? [];
  const env = strArray(body.Env, 'Env') ?? [];
  const merged = mergeEnv(imgEnv, env);
  // dockerd leaves Config.Env null when neither the image nor the request sets any.
  cfg.Env = merged.length > 0 ? merged : null;

  let entrypoint = strArray(body.Entrypoint, 'Entrypoint');
  let cmd = strArray(body.Cmd, 'Cmd');
  if (entrypoint !== null) {
    if (entrypoint.length === 1 && entrypoint[0] === '') entrypoint = [];
    if (cmd === null) cmd = [];
  } else {
    entrypoint = strArray(imageCfg.Entrypoint, 'image Entrypoint');
    if (cmd === null || cmd.length === 0) cmd = strArray(imageCfg.Cmd, 'image Cmd');
  }
  cfg.Entrypoint = entrypoint && entrypoint.length > 0 ? entrypoint : null;
  cfg.Cmd = cmd && cmd.length > 0 ? cmd : null;
  const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (argv.length === 0) throw invalid('No command specified');

  const wd = (body.WorkingDir as string | undefined) || (imageCfg.WorkingDir as string | undefined) || '';
  if (wd !== '' && !wd.startsWith('/')) throw invalid(`the working directory '${wd}' is invalid, it needs to be an absolute path`);
  cfg.WorkingDir = wd === '' ? '' : posix.normalize(wd);
  cfg.User = (body.User as string | undefined) || (imageCfg.User as string | undefined) || '';
  // Go writes a map's keys sorted: dockerd's Labels, ExposedPorts and Volumes come out so.
  cfg.Labels = sortedKeys({ ...((imageCfg.Labels as Obj | null) ?? {}), ...((body.Labels as Obj | null) ?? {}) });
  const ports = { ...((imageCfg.ExposedPorts as Obj | null) ?? {}), ...((body.ExposedPorts as Obj | null) ?? {}) };
  if (Object.keys(ports).length > 0) cfg.ExposedPorts = sortedKeys(Object.fromEntries(Object.keys(ports).map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])));
  const vols = { ...((imageCfg.Volumes as Obj | null) ?? {}), ...((body.Volumes as Obj | null) ?? {}) };
  cfg.Volumes = Object.keys(vols).length > 0 ? sortedKeys(Object.fromEntries(Object.keys(vols).map((v) => [v, {}]))) : null;
  const stopSignal = (body.StopSignal as string | undefined) || (imageCfg.StopSignal as string | undefined);
  if (stopSignal) {
    if (!isSignal(stopSignal)) throw invalid(`Invalid signal: ${stopSignal}`);
    cfg.StopSignal = stopSignal;
  }
  const shell = strArray(body.Shell, 'Shell') ?? strArray(imageCfg.Shell, 'image Shell');
  if (shell && shell.length > 0) cfg.Shell = shell;
  else delete cfg.Shell;
  validateHealthcheck(body.Healthcheck);
  const hc = mergeHealthcheck(body.Healthcheck, imageCfg.Healthcheck);
  if (hc) cfg.Healthcheck = goHealthConfig(hc);
  // Go's omitempty fields of container.Config: absent when false, empty or null, whatever the
  // client sent (docker-py sends `NetworkDisabled: false`; dockerd does not show it).
  if (cfg.NetworkDisabled !== true) delete cfg.NetworkDisabled;
  if (cfg.ArgsEscaped !== true) delete cfg.ArgsEscaped;
  if (!cfg.MacAddress) delete cfg.MacAddress;
  if (cfg.StopTimeout === null) delete cfg.StopTimeout;
  if (imageCfg.OnBuild !== undefined) cfg.OnBuild = imageCfg.OnBuild;
  else cfg.OnBuild = null;
  cfg.Hostname = (body.Hostname as string | undefined) || id.slice(0, 12);
  cfg.Domainname = (body.Domainname as string | undefined) ?? '';
  for (const k of ['AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce'] as const) cfg[k] = body[k] === true;

  const HostConfig = normalizeHostConfig((body.HostConfig as Obj | undefined) ?? {}, warnings);
  // container.Config's field order (CONFIG_KEYS), as dockerd writes it, whatever the client's.
  const ordered: Obj = {};
  for (const k of CONFIG_KEYS) if (k in cfg) ordered[k] = cfg[k];
  return { Config: ordered, HostConfig, Path: argv[0]!, Args: argv.slice(1), Warnings: warnings };
}

/** `o` with its keys in Go's map order (sorted). */
export function sortedKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}

/**
 * A Healthcheck as dockerd stores and shows it (container.HealthConfig): its own keys only, in its
 * order, each omitted when empty or 0 (compose 1.29 sends `StartPeriod: null`).
 */
function goHealthConfig(hc: Json): Json {
  const out: Json = {};
  if (Array.isArray(hc.Test) && hc.Test.length > 0) out.Test = hc.Test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    if (typeof hc[k] === 'number' && hc[k] !== 0) out[k] = hc[k];
  }
  return out;
}

// moby's ValidateLogOpts for the drivers hako has: unknown options are refused at create.
const LOG_OPTS: Record<string, string[]> = {
  'json-file': ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'],
  local: ['max-file', 'max-size', 'compress', 'mode', 'max-buffer-size'],
};

function validateLogOpts(driver: string, cfg: Record<string, unknown>): void {
  const known = LOG_OPTS[driver];
  if (!known) return; // none: the client refuses options
  // dockerd's two drivers word it differently (json-file: "for json-file log driver").
  for (const k of Object.keys(cfg)) if (!known.includes(k)) throw invalid(driver === 'local' ? `unknown log opt '${k}' for log driver local` : `unknown log opt '${k}' for ${driver} log driver`);
  const size = cfg['max-size'];
  if (size !== undefined && size !== '') parseLogSize(String(size));
  const files = cfg['max-file'];
  if (files !== undefined && files !== '') {
    if (!/^-?\d+$/.test(String(files))) throw invalid(`invalid value for log opt max-file: ${JSON.stringify(files)}`, 'use a whole number');
    if (Number(files) < 1) throw invalid('max-file cannot be less than 1');
  }
  // What dockerd checks at create (ValidateLogOpts), in its words.
  const mode = cfg.mode === undefined ? '' : String(cfg.mode);
  if (mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') throw invalid(`logger: logging mode not supported: ${mode}`);
  const buffer = cfg['max-buffer-size'];
  if (buffer !== undefined && buffer !== '') {
    if (mode !== 'non-blocking') throw invalid("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    if (!/^\d+(\.\d+)?\s*([kmgtp]i?)?b?$/i.test(String(buffer))) throw invalid(`error parsing option max-buffer-size: invalid size: '${String(buffer)}'`);
  }
  // What dockerd's drivers refuse when a start opens the log; hako refuses them at create (the
  // container would never start).
  let compress: boolean | undefined;
  if (cfg.compress !== undefined && cfg.compress !== '') {
    const v = String(cfg.compress);
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) compress = true;
    else if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) compress = false;
    else throw invalid(`${driver === 'local' ? 'error reading compress log option: ' : ''}strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`, 'use true or false');
  }
  const fileCount = files !== undefined && files !== '' ? Number(files) : undefined;
  if (driver === 'json-file' && compress === true && ((fileCount ?? 1) < 2 || size === undefined || size === '')) throw invalid('compress cannot be true when max-file is less than 2 or max-size is not set');
  // The local driver compresses by default and keeps 5 files.
  if (driver === 'local' && compress !== false && fileCount === 1) throw invalid('compression cannot be enabled when max file count is 1');
  for (const k of ['labels-regex', 'env-regex']) {
    if (cfg[k] === undefined || cfg[k] === '') continue;
    try {
      new RegExp(String(cfg[k]));
    } catch (err) {
      throw invalid(`invalid ${k} ${JSON.stringify(String(cfg[k]))}: ${(err as Error).message}`);
    }
  }
}

/** moby's ParseSignal: any number but 0 (a kill checks it is Linux's), or a name with or without SIG (RTMIN+n, RTMAX-n too). */
function isSignal(sig: string): boolean {
  if (/^-?\d+$/.test(sig)) return Number(sig) !== 0;
  const name = sig.toUpperCase().replace(/^SIG/, '');
  if (/^RTM(IN|AX)([+-]\d+)?$/.test(name)) return true;
  return (osConstants.signals as Record<string, number | undefined>)[`SIG${name}`] !== undefined;
}

/** A cpuset list (`0-2,4`) as a set of numbers; undefined when malformed. */
function parseCpuList(text: string): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 4096) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

/** dockerd refuses at create a --cpuset-cpus/--cpuset-mems the host does not have (the cgroup write would fail at start with ERANGE). */
function checkCpuset(value: string, what: 'cpus' | 'mems', onlineFile: string, label: string): void {
  if (value === '') return;
  const wanted = parseCpuList(value);
  if (!wanted) throw invalid(`Invalid value ${value} for cpuset ${what}`);
  let online: string;
  try {
    online = readFileSync(onlineFile, 'utf8').trim();
  } catch {
    return; // no such sysfs file (no NUMA info): the kernel decides at start
  }
  const have = parseCpuList(online);
  if (have && [...wanted].some((n) => !have.has(n))) throw invalid(`Requested ${label} are not available - requested ${value}, available: ${online}`);
}

/**
 * dockerd's network-mode conflicts, checked as it decodes a create request (before the image is
 * looked up): a `container:<name>` mode takes none of the settings of a network namespace of its
 * own (hostname, links, DNS servers, extra hosts, published or exposed ports), `--uts host` no
 * hostname, host networking no links. `config` is the request's Config part (not the image's).
 */
export function checkNetworkModeConflicts(config: Obj, hc: Obj): void {
  const mode = typeof hc.NetworkMode === 'string' ? hc.NetworkMode : '';
  const parts = mode.split(':');
  if (parts[0] === 'container' && (parts.length < 2 || parts[1] === '')) throw invalid('Invalid network mode: invalid container format container:<name|id>');
  const joined = parts.length > 1 && parts[0] === 'container';
  const some = (v: unknown): boolean => (Array.isArray(v) ? v.length > 0 : v !== null && typeof v === 'object' ? Object.keys(v).length > 0 : false);
  if (joined) {
    if (typeof config.Hostname === 'string' && config.Hostname !== '') throw invalid('conflicting options: hostname and the network mode');
    if (some(hc.Links)) throw invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    if (some(hc.Dns)) throw invalid('conflicting options: dns and the network mode');
    if (some(hc.ExtraHosts)) throw invalid('conflicting options: custom host-to-IP mapping and the network mode');
    if (some(hc.PortBindings) || hc.PublishAllPorts === true) throw invalid('conflicting options: port publishing and the container type network mode');
    if (some(config.ExposedPorts)) throw invalid('conflicting options: port exposing and the container type network mode');
  }
  if (hc.UTSMode === 'host' && typeof config.Hostname === 'string' && config.Hostname !== '') throw invalid('conflicting options: hostname and the UTS mode');
  if (mode === 'host' && some(hc.Links)) throw invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
}

const RESTART_POLICIES = ['', 'no', 'always', 'unless-stopped', 'on-failure'];

/** The OCI runtimes a container can name (HostConfig.Runtime), as info's Runtimes lists them. */
export const RUNTIMES: Readonly<Record<string, { path: string }>> = { hako: { path: 'hako-runtime' }, runc: { path: 'hako-runtime' } };

/**
 * HostConfig with docker's defaults for the fields clients read back, checked as dockerd checks it.
 * `update`: the checks of an update's values (dockerd's verifyContainerSettings for an update);
 * `merged`: the recorded HostConfig with an update applied, whose values were checked already.
 */
export function normalizeHostConfig(hc: Obj, warnings: string[], opts: { update?: boolean; merged?: boolean } = {}): Json {
  const out: Obj = { ...hc };
  const rp = (hc.RestartPolicy as Obj | undefined) ?? {};
  const rpName = (rp.Name as string | undefined) ?? '';
  if (!RESTART_POLICIES.includes(rpName)) throw invalid(`invalid restart policy: unknown policy '${rpName}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  const retries = Number(rp.MaximumRetryCount ?? 0);
  if (retries < 0) throw invalid('invalid restart policy: maximum retry count cannot be negative');
  if (retries > 0 && rpName !== 'on-failure') throw invalid(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  out.RestartPolicy = { Name: rpName === '' ? 'no' : rpName, MaximumRetryCount: retries };
  // dockerd records the runtime (its default when none is asked) and refuses one it does not
  // have. hako has one OCI runtime, `hako`; `runc`, the name docker users and compose files give
  // the default runtime, is accepted as another name of it (info lists both, as RUNTIMES).
  const runtime = (hc.Runtime as string | undefined) || 'hako';
  if (!Object.hasOwn(RUNTIMES, runtime)) throw invalid(`Unknown runtime specified ${runtime}`);
  out.Runtime = runtime;
  // dockerd's words (its validateHostConfig); `conflicting options: …` is the docker CLI's own, before any request
  if (hc.AutoRemove === true && rpName !== '' && rpName !== 'no') throw invalid("can't create 'AutoRemove' container with restart policy");
  const nm = (hc.NetworkMode as string | undefined) ?? '';
  out.NetworkMode = nm === '' || nm === 'default' ? 'bridge' : nm;
  const lc = (hc.LogConfig as Obj | undefined) ?? {};
  const logType = (lc.Type as string | undefined) || 'json-file';
  if (logType !== 'json-file' && logType !== 'none' && logType !== 'local') throw invalid(`logging driver "${logType}" is not supported`, 'use json-file or none');
  out.LogConfig = { Type: logType, Config: (lc.Config as Obj | undefined) ?? {} };
  validateLogOpts(logType, (lc.Config as Record<string, unknown> | undefined) ?? {});
  out.Binds = hc.Binds ?? null;
  out.Mounts = hc.Mounts ?? undefined;
  if (out.Mounts === undefined) delete out.Mounts;
  out.Privileged = hc.Privileged === true;
  out.ReadonlyRootfs = hc.ReadonlyRootfs === true;
  out.AutoRemove = hc.AutoRemove === true;
  out.CapAdd = hc.CapAdd ?? null;
  out.CapDrop = hc.CapDrop ?? null;
  for (const [field, list] of [['CapAdd', out.CapAdd], ['CapDrop', out.CapDrop]] as const) {
    if (list === null) continue;
    if (!Array.isArray(list) || !list.every((c) => typeof c === 'string')) throw invalid(`bad parameter: ${field} must be a list of strings`);
    for (const c of list as string[]) {
      // moby's NormalizeLegacyCapabilities: case-insensitive, CAP_ prefix optional, ALL allowed.
      const name = c.trim().toUpperCase();
      if (name === 'ALL' || name === 'CAP_ALL') continue;
      if (!CAPABILITIES.includes(name.startsWith('CAP_') ? name : `CAP_${name}`)) throw invalid(`invalid ${field}: unknown capability: ${JSON.stringify(name.startsWith('CAP_') ? name : `CAP_${name}`)}`);
    }
  }
  // null when the client sent none (docker-py), [] when it sent [] (the docker CLI), as dockerd.
  out.Dns = hc.Dns ?? null;
  out.DnsOptions = hc.DnsOptions ?? null;
  out.DnsSearch = hc.DnsSearch ?? null;
  out.ExtraHosts = hc.ExtraHosts ?? null;
  out.SecurityOpt = hc.SecurityOpt ?? null;
  out.Tmpfs = hc.Tmpfs ?? undefined;
  if (out.Tmpfs === undefined) delete out.Tmpfs;
  out.ShmSize = Number(hc.ShmSize ?? 0) > 0 ? Number(hc.ShmSize) : 64 * 1024 * 1024;
  out.Memory = Number(hc.Memory ?? 0);
  out.MemorySwap = Number(hc.MemorySwap ?? 0);
  out.MemoryReservation = Number(hc.MemoryReservation ?? 0);
  if ((out.Memory as number) > 0 && (out.Memory as number) < 6 * 1024 * 1024) throw invalid('Minimum memory limit allowed is 6MB');
  if ((out.MemorySwap as number) > 0 && (out.Memory as number) > 0 && (out.MemorySwap as number) < (out.Memory as number)) {
    throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  // dockerd's other resource checks (verifyPlatformContainerResources), in its order and words.
  if (!opts.update && out.Memory === 0 && (out.MemorySwap as number) > 0) throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage');
  const reservation = out.MemoryReservation as number;
  if (reservation > 0 && reservation < 6 * 1024 * 1024) throw invalid('Minimum memory reservation allowed is 6MB');
  // An update checks this within its own values only (dockerd: `update --memory-reservation`
  // above a recorded memory limit is taken; the kernel allows a soft limit above the hard one).
  if (!opts.merged && (out.Memory as number) > 0 && reservation > 0 && (out.Memory as number) < reservation) throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage');
  // dockerd records the default it applies (memory + as much swap, see spec.ts): inspect shows MemorySwap = 2 × Memory.
  if ((out.Memory as number) > 0 && out.MemorySwap === 0) out.MemorySwap = (out.Memory as number) * 2;
  out.NanoCpus = Number(hc.NanoCpus ?? 0);
  out.CpuShares = Number(hc.CpuShares ?? 0);
  out.CpuQuota = Number(hc.CpuQuota ?? 0);
  out.CpuPeriod = Number(hc.CpuPeriod ?? 0);
  if ((out.NanoCpus as number) > 0 && (out.CpuPeriod as number) > 0) throw invalid('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if ((out.NanoCpus as number) > 0 && (out.CpuQuota as number) > 0) throw invalid('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  const ncpu = availableParallelism();
  if (!Number.isFinite(out.NanoCpus as number) || (out.NanoCpus as number) < 0 || (out.NanoCpus as number) > ncpu * 1e9) {
    throw invalid(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  }
  // A negative CpuShares is recorded as given (dockerd 20.10): the start fails (spec.ts).
  const period = out.CpuPeriod as number;
  if (period !== 0 && (period < 1000 || period > 1000000)) throw invalid('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if ((out.CpuQuota as number) > 0 && (out.CpuQuota as number) < 1000) throw invalid('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const rtPeriod = Number(hc.CpuRealtimePeriod ?? 0);
  const rtRuntime = Number(hc.CpuRealtimeRuntime ?? 0);
  if (rtPeriod !== 0 && rtRuntime !== 0 && rtRuntime > rtPeriod) throw invalid('cpu real-time runtime cannot be higher than cpu real-time period');
  out.CpusetCpus = hc.CpusetCpus ?? '';
  out.CpusetMems = hc.CpusetMems ?? '';
  checkCpuset(String(out.CpusetCpus), 'cpus', '/sys/devices/system/cpu/online', 'CPUs');
  checkCpuset(String(out.CpusetMems), 'mems', '/sys/devices/system/node/online', 'memory nodes');
  // 0 and any negative value are "not set" at create: null, as dockerd shows it (the docker CLI
  // sends -1 for --pids-limit -1); an update records 0 for unlimited (engine.updateContainer).
  out.PidsLimit = typeof hc.PidsLimit === 'number' && hc.PidsLimit <= 0 ? (opts.update && hc.PidsLimit === 0 ? 0 : null) : (hc.PidsLimit ?? null);
  // units.Ulimit's field order (docker-py sends Soft before Hard).
  out.Ulimits = Array.isArray(hc.Ulimits) ? hc.Ulimits.map((u: unknown) => (u && typeof u === 'object' && !Array.isArray(u) ? { Name: (u as Obj).Name, Hard: (u as Obj).Hard, Soft: (u as Obj).Soft, ...(u as Obj) } : u)) : (hc.Ulimits ?? null);
  out.Devices = hc.Devices ?? null;
  out.Sysctls = hc.Sysctls ?? undefined;
  if (out.Sysctls === undefined) delete out.Sysctls;
  out.OomScoreAdj = Number(hc.OomScoreAdj ?? 0);
  if ((out.OomScoreAdj as number) < -1000 || (out.OomScoreAdj as number) > 1000) throw invalid(`Invalid value ${out.OomScoreAdj as number}, range for oom score adj is [-1000, 1000]`);
  out.OomKillDisable = hc.OomKillDisable ?? false;
  // dockerd omits an unset Init (omitempty), and shows true or false when the client set it.
  if (typeof hc.Init === 'boolean') out.Init = hc.Init;
  else if (hc.Init === undefined || hc.Init === null) delete out.Init;
  else throw invalid('bad parameter: Init must be a boolean');
  // null when the client sent none (docker-py, dockerode), as dockerd shows it; the CLI sends {}.
  out.PortBindings = hc.PortBindings ?? null;
  out.VolumesFrom = hc.VolumesFrom ?? null;
  out.GroupAdd = hc.GroupAdd ?? null;
  out.IpcMode = (hc.IpcMode as string | undefined) || 'private';
  out.PidMode = hc.PidMode ?? '';
  // dockerd's generateSecurityOpt: sharing the host's IPC or PID namespace, or --privileged, turns
  // SELinux labelling off unless the client named a label option: "label=disable" is recorded.
  if ((out.IpcMode === 'host' || out.PidMode === 'host' || out.Privileged === true) && !((out.SecurityOpt as string[] | null) ?? []).some((o) => /^label[=:]/.test(o))) {
    out.SecurityOpt = [...((out.SecurityOpt as string[] | null) ?? []), 'label=disable'];
  }
  out.UTSMode = hc.UTSMode ?? '';
  out.UsernsMode = hc.UsernsMode ?? '';
  out.CgroupnsMode = (hc.CgroupnsMode as string | undefined) || 'host';
  out.Cgroup = hc.Cgroup ?? '';
  out.CgroupParent = hc.CgroupParent ?? '';
  out.ConsoleSize = hc.ConsoleSize ?? [0, 0];
  out.Isolation = hc.Isolation ?? '';
  if (out.Isolation !== '' && out.Isolation !== 'default') throw invalid(`Invalid isolation: ${JSON.stringify(out.Isolation)} - linux only supports 'default'`);
  // dockerd's overlay2 takes storage options only over xfs with project quotas; hako's snapshots
  // have no quotas at all: refused in its words, not dropped.
  if (hc.StorageOpt !== null && typeof hc.StorageOpt === 'object' && Object.keys(hc.StorageOpt).length > 0) throw invalid("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  out.BlkioWeight = hc.BlkioWeight ?? 0;
  out.KernelMemory = undefined;
  delete out.KernelMemory;
  // dockerd records the default masked and read-only paths in HostConfig at create (null when privileged).
  out.MaskedPaths = hc.MaskedPaths ?? (out.Privileged ? null : [...DOCKER_MASKED_PATHS]);
  out.ReadonlyPaths = hc.ReadonlyPaths ?? (out.Privileged ? null : [...DEFAULT_READONLY_PATHS]);
  // dockerd: -1 (the CLI's "not set") is no swappiness setting: null.
  out.MemorySwappiness = hc.MemorySwappiness === undefined || hc.MemorySwappiness === -1 ? null : hc.MemorySwappiness;
  // dockerd shows the links it made (its link graph): null for none, though compose sends [].
  out.Links = Array.isArray(hc.Links) && hc.Links.length > 0 ? hc.Links : null;
  out.PublishAllPorts = hc.PublishAllPorts === true;
  out.ContainerIDFile = hc.ContainerIDFile ?? '';
  // Fields of dockerd's HostConfig without omitempty: a client that leaves them out (docker-py,
  // compose) sees their zero values, as one that sends them all (the docker CLI).
  for (const k of ['BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'DeviceCgroupRules', 'DeviceRequests']) {
    if (out[k] === undefined) out[k] = null;
  }
  for (const k of ['CpuCount', 'CpuPercent', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'IOMaximumIOps', 'IOMaximumBandwidth']) {
    if (out[k] === undefined) out[k] = 0;
  }
  if (out.VolumeDriver === undefined) out.VolumeDriver = '';
  return out;
}

/**
 * A --volumes-from entry, `container[:mode]`, as dockerd's ParseVolumesFrom reads it: the mode is
 * ro or rw and/or an SELinux label (z, Z), no propagation or copy mode; its error texts.
 */
export function parseVolumesFrom(spec: string): { ref: string; readOnly: boolean } {
  if (spec === '') throw invalid('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  if (i < 0) return { ref: spec, readOnly: false };
  const mode = spec.slice(i + 1);
  const parts = mode.split(',');
  const rw = parts.filter((p) => p === 'ro' || p === 'rw');
  const label = parts.filter((p) => p === 'z' || p === 'Z');
  if (rw.length + label.length !== parts.length || rw.length > 1 || label.length > 1) throw invalid(`invalid mode: ${mode}`);
  return { ref: spec.slice(0, i), readOnly: rw[0] === 'ro' };
}

const MODE_GROUPS: ReadonlyArray<readonly string[]> = [
  ['ro', 'rw'],
  ['z', 'Z'],
  ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'],
  ['nocopy'],
  ['consistent', 'cached', 'delegated'], // (Docker Desktop's; dockerd on Linux takes and ignores them)
];

/** A -v mode as dockerd's linux parser takes it: comma-separated, known, at most one of each group. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = MODE_GROUPS.map(() => 0);
  for (const o of mode.split(',')) {
    const g = MODE_GROUPS.findIndex((group) => group.includes(o));
    if (g < 0) return false;
    counts[g]!++;
  }
  return counts.every((n) => n <= 1);
}

/**
 * Splits `src:dst[:opts]` of a -v/Binds entry. A first part that is not absolute names a volume,
 * of `volumeDriver` (HostConfig.VolumeDriver; dockerd applies it to Binds' volumes and the
 * anonymous ones of Config.Volumes, never to --mount ones, which name their own).
 */
export function parseBind(spec: string, volumeDriver = ''): MountPoint {
  const parts = spec.split(':');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => p === '')) throw invalid(`invalid volume specification: '${spec}'`);
  let src = '';
  let dst: string;
  let mode = '';
  if (parts.length === 1) dst = parts[0]!;
  else if (parts.length === 2 && validMountMode(parts[1]!)) {
    // dockerd: `dst:mode` is no volume (an anonymous one takes no mode): refused as it stands.
    throw invalid(`invalid volume specification: '${spec}'`);
  } else {
    src = parts[0]!;
    dst = parts[1]!;
    mode = parts[2] ?? '';
  }
  if (!validMountMode(mode)) throw invalid(`invalid mode: ${mode}`);
  // dockerd's words, naming the mount type: `invalid mount config for type "bind": …`.
  const type = src.startsWith('/') ? 'bind' : 'volume';
  if (!dst.startsWith('/')) throw invalid(`invalid volume specification: '${spec}': invalid mount config for type "${type}": invalid mount path: '${dst}' mount path must be absolute`);
  if (dst === '/') throw invalid(`invalid volume specification: '${spec}': invalid mount config for type "${type}": invalid specification: destination can't be '/'`);
  const opts = mode === '' ? [] : mode.split(',');
  // dockerd makes nocopy a VolumeOptions and a propagation a BindOptions, which the other type refuses.
  if (type === 'bind' && opts.includes('nocopy')) throw invalid(`invalid volume specification: '${spec}': invalid mount config for type "bind": field VolumeOptions must not be specified`);
  if (type === 'volume' && opts.some((o) => PROPAGATION_MODES.includes(o))) throw invalid(`invalid volume specification: '${spec}': invalid mount config for type "volume": field BindOptions must not be specified`);
  const rw = !opts.includes('ro');
  const propagation = opts.find((o) => /private|shared|slave/.test(o)) ?? 'rprivate';
  const driver = volumeDriver || 'local';
  if (src === '') return { Type: 'volume', Name: '', Source: '', Destination: posix.normalize(dst), Driver: driver, Mode: mode, RW: rw, Propagation: '', Anonymous: true };
  if (src.startsWith('/')) return { Type: 'bind', Source: posix.normalize(src), Destination: posix.normalize(dst), Mode: mode, RW: rw, Propagation: propagation };
  // dockerd's Mode of a named volume given without a mode is "z" (as with --mount); an anonymous one keeps "".
  return { Type: 'volume', Name: src, Source: '', Destination: posix.normalize(dst), Driver: driver, Mode: mode === '' ? 'z' : mode, RW: rw, Propagation: '', NoCopy: opts.includes('nocopy') };
}

const PROPAGATION_MODES = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

/**
 * dockerd's checks of a HostConfig.Mounts entry, in its order and words (moby's
 * validateMountConfig): `invalid mount config for type "T": …`. An option block of another
 * type (VolumeOptions on a bind, …) is refused when present, even empty; null is absent.
 */
export function validateMount(m: Obj): void {
  const type = typeof m.Type === 'string' ? m.Type : '';
  const fail = (why: string): never => {
    throw invalid(`invalid mount config for type "${type}": ${why}`);
  };
  const has = (k: string): boolean => m[k] !== undefined && m[k] !== null;
  const str = (k: string): string => (typeof m[k] === 'string' ? (m[k] as string) : '');
  const absolute = (p: string): void => {
    if (!p.startsWith('/')) fail(`invalid mount path: '${p}' mount path must be absolute`);
  };
  const target = str('Target');
  if (target === '') fail('field Target must not be empty');
  if (posix.normalize(target.replace(/\\/g, '/')).replace(/(.)\/+$/, '$1') === '/') fail("invalid specification: destination can't be '/'");
  absolute(target);
  switch (type) {
    case 'bind': {
      if (str('Source') === '') fail('field Source must not be empty');
      const prop = (m.BindOptions as Obj | null | undefined)?.Propagation;
      if (typeof prop === 'string' && prop !== '' && !PROPAGATION_MODES.includes(prop)) fail(`invalid propagation mode: ${prop}`);
      if (has('VolumeOptions')) fail('field VolumeOptions must not be specified');
      if (has('TmpfsOptions')) fail('field TmpfsOptions must not be specified');
      absolute(str('Source'));
      break;
    }
    case 'volume':
      if (has('BindOptions')) fail('field BindOptions must not be specified');
      if (m.ReadOnly === true && str('Source') === '') fail('must not set ReadOnly mode when using anonymous volumes');
      break;
    case 'tmpfs':
      if (has('BindOptions')) fail('field BindOptions must not be specified');
      if (str('Source') !== '') fail('field Source must not be specified');
      break;
    default:
      fail('mount type unknown');
  }
}

/** HostConfig.Mounts entry (`--mount`) → MountPoint. */
export function parseMount(m: Obj): MountPoint {
  validateMount(m);
  const type = m.Type as string;
  const target = m.Target as string;
  const rw = m.ReadOnly !== true;
  if (type === 'bind') {
    const src = m.Source as string;
    const prop = ((m.BindOptions as Obj | undefined)?.Propagation as string | undefined) ?? 'rprivate';
    return { Type: 'bind', Source: posix.normalize(src), Destination: posix.normalize(target), Mode: '', RW: rw, Propagation: prop };
  }
  if (type === 'volume') {
    const name = (m.Source as string | undefined) ?? '';
    const vo = m.VolumeOptions as Obj | undefined;
    const noCopy = (vo?.NoCopy as boolean | undefined) === true;
    const driverOpts = (vo?.DriverConfig as Obj | undefined)?.Options as Record<string, string> | null | undefined;
    const driver = ((vo?.DriverConfig as Obj | undefined)?.Name as string | undefined) || 'local';
    return { Type: 'volume', Name: name, Source: '', Destination: posix.normalize(target), Driver: driver, Mode: 'z', RW: rw, Propagation: '', Anonymous: name === '', NoCopy: noCopy, ...(driverOpts && Object.keys(driverOpts).length > 0 ? { DriverOpts: { ...driverOpts } } : {}) };
  }
  if (type === 'tmpfs') {
    const t = (m.TmpfsOptions as Obj | undefined) ?? {};
    const opts: string[] = [];
    if (t.SizeBytes) opts.push(`size=${Number(t.SizeBytes)}`);
    if (t.Mode) opts.push(`mode=${Number(t.Mode).toString(8)}`);
    return { Type: 'tmpfs', Source: '', Destination: posix.normalize(target), Mode: '', RW: rw, Propagation: '', TmpfsOptions: opts };
  }
  throw invalid(`invalid mount config for type "${type}": mount type unknown`);
}

/** All the container's mounts from Binds, Mounts, Tmpfs and the image's Volumes (later ones win per destination). */
export function collectMounts(cfg: Obj, hc: Obj, inherited: MountPoint[] = []): MountPoint[] {
  const byDest = new Map<string, MountPoint>();
  for (const v of Object.keys((cfg.Volumes as Obj | null) ?? {})) {
    const dest = posix.normalize(v);
    byDest.set(dest, { Type: 'volume', Name: '', Source: '', Destination: dest, Driver: (hc.VolumeDriver as string | undefined) || 'local', Mode: '', RW: true, Propagation: '', Anonymous: true });
  }
  // --volumes-from: over the image's volumes, under the container's own -v/--mount (dockerd).
  for (const m of inherited) byDest.set(m.Destination, m);
  const seen = new Set<string>();
  const add = (m: MountPoint) => {
    if (seen.has(m.Destination)) throw invalid(`Duplicate mount point: ${m.Destination}`);
    seen.add(m.Destination);
    byDest.set(m.Destination, m);
  };
  for (const b of (hc.Binds as string[] | null) ?? []) add(parseBind(b, (hc.VolumeDriver as string | undefined) ?? ''));
  for (const m of (hc.Mounts as Obj[] | undefined) ?? []) add(parseMount(m));
  for (const [dest, opts] of Object.entries((hc.Tmpfs as Record<string, string> | undefined) ?? {})) {
    // dockerd's ValidateTmpfsMountDestination (a tmpfs on / hid the whole rootfs).
    if (dest.startsWith('/') && posix.normalize(dest) === '/') throw invalid("invalid specification: destination can't be '/'");
    if (!dest.startsWith('/')) throw invalid(`invalid mount path: '${dest}' mount path must be absolute`);
    add({ Type: 'tmpfs', Source: '', Destination: posix.normalize(dest), Mode: opts, RW: !opts.split(',').includes('ro'), Propagation: '', TmpfsOptions: opts === '' ? [] : opts.split(',') });
  }
  return [...byDest.values()];
}
