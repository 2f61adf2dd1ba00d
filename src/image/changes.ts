// Dockerfile-style `--change` instructions for `import` and `commit`: CMD, ENTRYPOINT, ENV,
// EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK NONE (docker's list),
// applied to an image config's `config` object.
import { invalid } from '../common/errors.js';

type Json = Record<string, unknown>;

/** Splits `a=1 b="two words" c='x'` into [key, value] pairs, unquoting like the Dockerfile parser. */
export function parseKeyValues(arg: string, instr: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const n = arg.length;
  while (i < n) {
    while (i < n && /\s/.test(arg[i]!)) i++;
    if (i >= n) break;
    let word = '';
    let quote: string | undefined;
    for (; i < n; i++) {
      const c = arg[i]!;
      if (quote) {
        if (c === quote) quote = undefined;
        else if (c === '\\' && quote === '"' && i + 1 < n) word += arg[++i];
        else word += c;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '\\' && i + 1 < n) word += arg[++i];
      else if (/\s/.test(c)) break;
      else word += c;
    }
    if (quote) throw invalid(`${instr}: unterminated quote in ${JSON.stringify(arg)}`);
    const eq = word.indexOf('=');
    if (eq <= 0) throw invalid(`${instr} names must be followed by =: ${JSON.stringify(word)}`);
    out.push([word.slice(0, eq), word.slice(eq + 1)]);
  }
  return out;
}

function jsonList(arg: string): string[] | undefined {
  if (!arg.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(arg) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* not JSON: docker then takes the text as a shell command */
  }
  return undefined;
}

/** Applies `changes` (e.g. `CMD ["/bin/sh"]`, `ENV A=1`) to `cfg` in place. */
export function applyChanges(cfg: Json, changes: readonly string[]): void {
  for (const line of changes) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(line);
    if (!m) throw invalid(`invalid change: ${JSON.stringify(line)}`);
    const instr = m[1]!.toUpperCase();
    const arg = m[2]!.trim();
    const needArg = (): void => {
      if (arg === '') throw invalid(`${instr} requires at least one argument`);
    };
    const shellOrExec = (): string[] => jsonList(arg) ?? ['/bin/sh', '-c', arg];
    switch (instr) {
      case 'CMD':
        needArg();
        cfg.Cmd = shellOrExec();
        break;
      case 'ENTRYPOINT':
        needArg();
        cfg.Entrypoint = shellOrExec();
        break;
      case 'ENV': {
        needArg();
        const env = [...((cfg.Env as string[] | null | undefined) ?? [])];
        // `ENV key value` (legacy: the rest of the line is the value) or `ENV k=v k2="v 2"`.
        const legacy = /^([^\s=]+)\s+(.*)$/s.exec(arg);
        const pairs: Array<[string, string]> = !arg.split(/\s/)[0]!.includes('=') && legacy ? [[legacy[1]!, legacy[2]!]] : parseKeyValues(arg, 'ENV');
        for (const [k, v] of pairs) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        cfg.Env = env;
        break;
      }
      case 'EXPOSE': {
        needArg();
        const ports = { ...((cfg.ExposedPorts as Json | null | undefined) ?? {}) };
        for (const p of arg.split(/\s+/)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw invalid(`EXPOSE: invalid port ${JSON.stringify(p)}`);
          ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        cfg.ExposedPorts = ports;
        break;
      }
      case 'LABEL': {
        needArg();
        const labels = { ...((cfg.Labels as Record<string, string> | null | undefined) ?? {}) };
        for (const [k, v] of parseKeyValues(arg, 'LABEL')) labels[k] = v;
        cfg.Labels = labels;
        break;
      }
      case 'USER':
        needArg();
        cfg.User = arg;
        break;
      case 'WORKDIR':
        needArg();
        cfg.WorkingDir = arg;
        break;
      case 'STOPSIGNAL':
        needArg();
        cfg.StopSignal = arg;
        break;
      case 'VOLUME': {
        needArg();
        const vols = jsonList(arg) ?? arg.split(/\s+/);
        cfg.Volumes = { ...((cfg.Volumes as Json | null | undefined) ?? {}), ...Object.fromEntries(vols.map((v) => [v, {}])) };
        break;
      }
      case 'ONBUILD':
        needArg();
        cfg.OnBuild = [...((cfg.OnBuild as string[] | null | undefined) ?? []), arg];
        break;
      case 'HEALTHCHECK':
        if (arg.toUpperCase() !== 'NONE') throw invalid('HEALTHCHECK: only HEALTHCHECK NONE is supported in --change');
        cfg.Healthcheck = { Test: ['NONE'] };
        break;
      default:
        throw invalid(`${instr} is not a valid change command`);
    }
  }
}
