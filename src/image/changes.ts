// Dockerfile-style `--change` instructions for `import` and `commit`, applied to an image
// config's `config` object the way dockerd's BuildFromConfig does. The changes are one small
// Dockerfile (docker joins the list with newlines): `\` continues a line, `#` lines are comments.
//
// Allowed (docker's list): CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL,
// USER, VOLUME, WORKDIR. Anything else fails with docker's text, `run is not a valid change
// command` (the instruction lower-cased, as dockerd's parser keeps it). Checked against dockerd
// 20.10 (texts) and moby's current parser (HEALTHCHECK --start-interval, `--retries=0` and
// zero durations allowed, as in docker ≥ 25, the API version hako speaks).
//
//   ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR   $VAR / ${VAR} / ${VAR:-x} / ${VAR:+x}
//                                   expanded from the config's Env, quotes removed
//   CMD, ENTRYPOINT, HEALTHCHECK CMD  JSON array = exec form, else the text for `/bin/sh -c`
//   ENTRYPOINT                      clears Cmd unless a CMD came earlier in the same changes
//   EXPOSE 80-82/udp                one key per port, like docker (80/udp, 81/udp, 82/udp)
//   WORKDIR rel                     relative to the current WorkingDir (default /)
//   HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D]
//               [--retries=N] CMD …|NONE     durations in Go syntax, stored in nanoseconds
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import { invalid } from '../common/errors.js';

type Json = Record<string, unknown>;

const ALLOWED = new Set(['cmd', 'entrypoint', 'env', 'expose', 'healthcheck', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir']);
const MS = 1_000_000; // ns

/** The instructions of a `--change` list: [name (upper case), rest of the line]. */
export function changeLines(changes: readonly string[]): Array<[string, string]> {
  const physical = changes.join('\n').split(/\r?\n/);
  const out: Array<[string, string]> = [];
  let cur = '';
  for (const raw of physical) {
    if (cur === '' && /^\s*#/.test(raw)) continue; // a comment line (not inside a continuation)
    if (/\\\s*$/.test(raw)) {
      cur += raw.replace(/\\\s*$/, '');
      continue;
    }
    cur += raw;
    if (cur.trim() !== '') out.push(splitInstruction(cur));
    cur = '';
  }
  if (cur.trim() !== '') out.push(splitInstruction(cur));
  if (out.length === 0) throw invalid('file with no instructions');
  return out;
}

function splitInstruction(line: string): [string, string] {
  const m = /^\s*(\S+)\s*(.*)$/s.exec(line)!;
  return [m[1]!.toUpperCase(), m[2]!.trim()];
}

/** Leading `--name=value` words (docker's builder flags); returns them and the rest. */
export function extractFlags(arg: string): { flags: Map<string, string | undefined>; rest: string } {
  const flags = new Map<string, string | undefined>();
  let rest = arg;
  for (;;) {
    const m = /^--([^\s=]*)(=(\S*))?(\s+|$)/.exec(rest);
    if (!m || m[1] === '') break;
    if (flags.has(m[1]!)) throw invalid(`Duplicate flag specified: ${m[1]}`);
    flags.set(m[1]!, m[2] === undefined ? undefined : m[3]!);
    rest = rest.slice(m[0].length);
  }
  return { flags, rest: rest.trim() };
}

export function takeFlags(flags: Map<string, string | undefined>, known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of flags) {
    if (!known.includes(k)) throw invalid(`Unknown flag: ${k}`);
    if (v === undefined) throw invalid(`Missing a value on flag: ${k}`);
    out.set(k, v);
  }
  return out;
}

/**
 * Words split on unquoted whitespace; quotes and escapes kept (expandWord removes them). `escape`
 * is the Dockerfile's escape character (`\\`, or `` ` `` after `# escape=```): it escapes the next
 * character outside quotes and inside double quotes, never inside single quotes (docker's parseWords).
 */
export function rawWords(s: string, escape = '\\'): string[] {
  const out: string[] = [];
  let word = '';
  let quote: string | undefined;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      word += c;
      if (c === escape && quote === '"' && i + 1 < s.length) word += s[++i];
      else if (c === quote) quote = undefined;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    word += c;
    if (c === '"' || c === "'") quote = c;
    else if (c === escape && i + 1 < s.length) word += s[++i];
  }
  if (quote) throw invalid(`unexpected end of statement while looking for matching ${quote}`);
  if (inWord) out.push(word);
  return out;
}

function envLookup(env: readonly string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    const e = env[i]!;
    const eq = e.indexOf('=');
    if ((eq < 0 ? e : e.slice(0, eq)) === name) return eq < 0 ? '' : e.slice(eq + 1);
  }
  return undefined;
}

/**
 * Docker's shell-word processing (its shell.Lex): quotes removed, escapes (`\x`, or `` `x `` with
 * `# escape=```) taken, `$VAR` expansion from `env`. Inside double quotes only `"`, `$` and the
 * escape character itself are escaped; an escape at the very end is dropped.
 */
export function expandWord(word: string, env: readonly string[], escape = '\\'): string {
  let out = '';
  let i = 0;
  const n = word.length;
  const variable = (): string => {
    // at word[i] === '$'
    i++;
    if (word[i] === '{') {
      const close = word.indexOf('}', i);
      if (close < 0) throw invalid(`missing '}' in ${JSON.stringify(word)}`);
      const body = word.slice(i + 1, close);
      i = close + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+?])(.*))?$/s.exec(body);
      if (!m) throw invalid(`bad substitution: \${${body}}`);
      const v = envLookup(env, m[1]!);
      if (m[2] === '-') return v === undefined || v === '' ? expandWord(m[3]!, env, escape) : v;
      if (m[2] === '+') return v === undefined || v === '' ? '' : expandWord(m[3]!, env, escape);
      if (m[2] === '?') {
        if (v === undefined || v === '') throw invalid(`${m[1]}: ${m[3] || 'is not allowed to be unset'}`);
        return v;
      }
      return v ?? '';
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i));
    if (!m) return '$';
    i += m[0].length;
    return envLookup(env, m[0]) ?? '';
  };
  while (i < n) {
    const c = word[i]!;
    if (c === "'") {
      const close = word.indexOf("'", i + 1);
      if (close < 0) throw invalid(`unexpected end of statement while looking for matching '`);
      out += word.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      while (i < n && word[i] !== '"') {
        if (word[i] === escape && i + 1 < n && (word[i + 1] === '"' || word[i + 1] === '$' || word[i + 1] === escape)) {
          out += word[i + 1];
          i += 2;
        } else if (word[i] === '$') out += variable();
        else out += word[i++];
      }
      if (i >= n) throw invalid('unexpected end of statement while looking for matching "');
      i++;
    } else if (c === escape) {
      if (i + 1 < n) out += word[i + 1];
      i += 2;
    } else if (c === '$') out += variable();
    else {
      out += c;
      i++;
    }
  }
  return out;
}

/** ENV/LABEL `k=v k2="v 2"` or the legacy `k value`: pairs, expanded. */
export function nameValues(instr: string, arg: string, env: readonly string[], escape = '\\'): Array<[string, string]> {
  const words = rawWords(arg, escape);
  if (words.length === 0) throw invalid(`${instr} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    // Legacy form: the first word is the name, the rest of the line the value.
    const m = /^(\S+)\s+(.*)$/s.exec(arg);
    if (!m) throw invalid(`${instr} must have two arguments`);
    return [[expandWord(m[1]!, env, escape), expandWord(m[2]!, env, escape)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw invalid(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    const key = expandWord(w.slice(0, eq), env, escape);
    if (key === '') throw invalid(`${instr} names can not be blank`);
    return [key, expandWord(w.slice(eq + 1), env, escape)];
  });
}

/** The exec form (a JSON array of strings) or undefined for the shell form. */
export function jsonList(arg: string): string[] | undefined {
  if (!arg.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(arg) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* not JSON: docker then takes the text as a shell command */
  }
  return undefined;
}

const GO_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration in nanoseconds, with Go's error texts. */
export function parseGoDuration(s: string): number {
  const bad = (): never => {
    throw invalid(`time: invalid duration ${JSON.stringify(s)}`);
  };
  let rest = s;
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') bad();
  let total = 0;
  while (rest !== '') {
    const num = /^(\d*)(\.(\d*))?/.exec(rest)!;
    if (num[1] === '' && (num[3] ?? '') === '') bad();
    rest = rest.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (unit === '') throw invalid(`time: missing unit in duration ${JSON.stringify(s)}`);
    const mult = GO_UNITS[unit];
    if (mult === undefined) throw invalid(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(s)}`);
    total += Number(`${num[1] || '0'}.${num[3] ?? ''}0`) * mult;
    rest = rest.slice(unit.length);
  }
  return Math.round(sign * total);
}

/** moby's parseOptInterval: empty or 0 → 0 (the default), otherwise at least 1ms. */
function interval(name: string, v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  const d = parseGoDuration(v);
  if (d === 0) return 0;
  if (d < MS) throw invalid(`Interval ${JSON.stringify(name)} cannot be less than 1ms`);
  return d;
}

/** HEALTHCHECK's config (docker's HealthConfig: Test plus the set durations and Retries). */
export function parseHealthcheck(arg: string): Json {
  const { flags, rest } = extractFlags(arg);
  if (rest === '') throw invalid('HEALTHCHECK requires at least one argument');
  const m = /^(\S+)\s*(.*)$/s.exec(rest)!;
  const type = m[1]!.toUpperCase();
  const cmd = m[2]!.trim();
  if (type === 'NONE') {
    if (cmd !== '') throw invalid('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  const f = takeFlags(flags, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
  if (type !== 'CMD') throw invalid(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  const exec = jsonList(cmd);
  if (exec ? exec.length === 0 : cmd === '') throw invalid('Missing command after HEALTHCHECK CMD');
  const hc: Json = { Test: exec ? ['CMD', ...exec] : ['CMD-SHELL', cmd] };
  const durations: Array<[string, string]> = [
    ['Interval', 'interval'],
    ['Timeout', 'timeout'],
    ['StartPeriod', 'start-period'],
    ['StartInterval', 'start-interval'],
  ];
  for (const [key, flag] of durations) {
    const d = interval(flag, f.get(flag));
    if (d !== 0) hc[key] = d;
  }
  const r = f.get('retries');
  if (r !== undefined && r !== '') {
    if (!/^[-+]?\d+$/.test(r)) throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(r)}: invalid syntax`);
    const n = Number(r);
    if (n < -(2 ** 31) || n >= 2 ** 31) throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(r)}: value out of range`);
    if (n < 0) throw invalid(`--retries cannot be negative (${n})`);
    if (n > 0) hc.Retries = n;
  }
  return hc;
}

/** EXPOSE's port specs → ExposedPorts keys (`80/tcp`), ranges expanded like docker's nat.ParsePortSpecs. */
export function exposedPorts(specs: readonly string[]): string[] {
  const out: string[] = [];
  for (const spec of specs) {
    const slash = spec.lastIndexOf('/');
    const port = slash >= 0 ? spec.slice(0, slash) : spec;
    const proto = (slash >= 0 ? spec.slice(slash + 1) : 'tcp').toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw invalid(`Invalid proto: ${spec.slice(slash + 1)}`);
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    const start = m ? Number(m[1]) : NaN;
    const end = m?.[2] !== undefined ? Number(m[2]) : start;
    if (!m || start > 65535 || end > 65535 || end < start) throw invalid(`Invalid containerPort: ${port}`);
    for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

/** docker's signal.ParseSignal: a number (not 0) or a name with or without SIG, RTMIN+n too. */
export function checkSignal(sig: string): void {
  if (/^\d+$/.test(sig)) {
    if (Number(sig) !== 0) return;
  } else {
    const name = sig.toUpperCase().replace(/^SIG/, '');
    if (`SIG${name}` in osConstants.signals) return;
    const rt = /^RTM(IN|AX)([+-](\d+))?$/.exec(name);
    if (rt && Number(rt[3] ?? 0) <= 15) return;
  }
  throw invalid(`Invalid signal: ${sig}`);
}

/** Applies `changes` (e.g. `CMD ["/bin/sh"]`, `ENV A=1`) to `cfg` in place; throws, changing nothing, on any bad one. */
export function applyChanges(target: Json, changes: readonly string[]): void {
  if (changes.length === 0) return;
  const cfg: Json = { ...target };
  const state = { cmdSet: false };
  for (const [instr, rawArg] of changeLines(changes)) {
    const lower = instr.toLowerCase();
    if (!ALLOWED.has(lower)) throw invalid(`${lower} is not a valid change command`);
    applyChange(cfg, instr, rawArg, state);
  }
  for (const k of Object.keys(target)) delete target[k];
  Object.assign(target, cfg);
}

/** How one instruction is applied: the variables its words expand from (default: the config's Env), the shell of shell-form CMD/ENTRYPOINT. */
export interface ChangeState {
  /** A CMD came earlier (in the same changes, or the same build stage): ENTRYPOINT keeps it. */
  cmdSet: boolean;
  env?: readonly string[];
  shell?: readonly string[];
  /** The Dockerfile's escape character (default `\\`). */
  escape?: string;
}

/** Applies one config instruction (CMD … WORKDIR, upper-case `instr`) to `cfg` in place (the Dockerfile builder shares it). */
export function applyChange(cfg: Json, instr: string, rawArg: string, state: ChangeState): void {
  const env = (): readonly string[] => state.env ?? (cfg.Env as string[] | null | undefined) ?? [];
  const shell = state.shell ?? ['/bin/sh', '-c'];
  const esc = state.escape ?? '\\';
  const expand = (w: string): string => expandWord(w, env(), esc);
  {
    if (instr === 'HEALTHCHECK') {
      cfg.Healthcheck = parseHealthcheck(rawArg);
      return;
    }
    const { flags, rest: arg } = extractFlags(rawArg);
    takeFlags(flags, []);
    const needArg = (): void => {
      if (arg === '') throw invalid(`${instr} requires at least one argument`);
    };
    switch (instr) {
      case 'CMD':
        // dockerd: an empty CMD is the shell alone; CMD [] clears it.
        cfg.Cmd = jsonList(arg) ?? [...shell, ...(arg === '' ? [] : [arg])];
        state.cmdSet = true;
        break;
      case 'ENTRYPOINT': {
        const exec = jsonList(arg);
        cfg.Entrypoint = exec ? (exec.length ? exec : null) : arg === '' ? null : [...shell, arg];
        if (!state.cmdSet) cfg.Cmd = null;
        break;
      }
      case 'ENV': {
        const next = [...((cfg.Env as string[] | null | undefined) ?? [])];
        for (const [k, v] of nameValues('ENV', arg, env(), esc)) {
          const i = next.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) next[i] = `${k}=${v}`;
          else next.push(`${k}=${v}`);
        }
        cfg.Env = next;
        break;
      }
      case 'LABEL': {
        const labels = { ...((cfg.Labels as Record<string, string> | null | undefined) ?? {}) };
        for (const [k, v] of nameValues('LABEL', arg, env(), esc)) labels[k] = v;
        cfg.Labels = labels;
        break;
      }
      case 'EXPOSE': {
        needArg();
        const ports = { ...((cfg.ExposedPorts as Json | null | undefined) ?? {}) };
        for (const p of exposedPorts(rawWords(arg, esc).map(expand))) ports[p] = {};
        cfg.ExposedPorts = ports;
        break;
      }
      case 'USER':
        needArg();
        cfg.User = expand(arg);
        break;
      case 'WORKDIR': {
        needArg();
        const dir = expand(arg);
        cfg.WorkingDir = posix.isAbsolute(dir) ? posix.normalize(dir) : posix.join('/', (cfg.WorkingDir as string | undefined) || '/', dir);
        break;
      }
      case 'STOPSIGNAL': {
        needArg();
        const sig = expand(arg);
        checkSignal(sig);
        cfg.StopSignal = sig;
        break;
      }
      case 'VOLUME': {
        needArg();
        const vols = jsonList(arg) ?? rawWords(arg, esc).map(expand);
        if (vols.length === 0) throw invalid('VOLUME requires at least one argument');
        const next = { ...((cfg.Volumes as Json | null | undefined) ?? {}) };
        for (const v of vols) {
          if (v.trim() === '') throw invalid('VOLUME specified can not be an empty string');
          next[v.trim()] = {};
        }
        cfg.Volumes = next;
        break;
      }
      case 'ONBUILD': {
        needArg();
        const trigger = arg.split(/\s/)[0]!.toUpperCase();
        if (trigger === 'ONBUILD') throw invalid('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
        if (trigger === 'FROM' || trigger === 'MAINTAINER') throw invalid(`${trigger} isn't allowed as an ONBUILD trigger`);
        cfg.OnBuild = [...((cfg.OnBuild as string[] | null | undefined) ?? []), arg];
        break;
      }
      default:
        throw invalid(`${instr.toLowerCase()} is not a valid change command`);
    }
  }
}
