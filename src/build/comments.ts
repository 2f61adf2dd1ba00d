// The text dockerd's classic builder records for a config-only step (`#(nop)  ENV A=b`): each
// instruction as dockerd renders it, with Go's %q for lists and the HealthConfig struct. Pure.
import { expandWord, nameValues, rawWords } from '../image/changes.js';
import type { Instruction } from './dockerfile.js';

type Json = Record<string, unknown>;

/** The comment for `ins`, given the config after it (`cfg`), the variables its words expand from and the Dockerfile's escape character. */
export function stepComment(ins: Instruction, cfg: Json, env: readonly string[], escape = '\\'): string {
  const q = (a: unknown): string => `[${Array.isArray(a) ? a.map((x) => JSON.stringify(x)).join(' ') : ''}]`;
  switch (ins.name) {
    case 'ENV':
    case 'LABEL':
      return `${ins.name} ${nameValues(ins.name, ins.args, env, escape).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'CMD':
      return `CMD ${q(cfg.Cmd)}`;
    case 'ENTRYPOINT':
      return `ENTRYPOINT ${q(cfg.Entrypoint)}`;
    case 'HEALTHCHECK': {
      const h = (cfg.Healthcheck ?? {}) as Json;
      const d = (k: string): string => JSON.stringify(goDuration(Number(h[k] ?? 0)));
      return `HEALTHCHECK &{${q(h.Test)} ${d('Interval')} ${d('Timeout')} ${d('StartPeriod')} '\\x${Number(h.Retries ?? 0).toString(16).padStart(2, '0')}'}`;
    }
    case 'EXPOSE':
      return `EXPOSE ${rawWords(ins.args, escape).map((w) => expandWord(w, env, escape)).join(' ')}`;
    case 'VOLUME':
      return `VOLUME [${(ins.json ?? rawWords(ins.args, escape).map((w) => expandWord(w, env, escape))).join(' ')}]`;
    case 'USER':
    case 'STOPSIGNAL':
      return `${ins.name} ${expandWord(ins.args, env, escape)}`;
    default:
      return `${ins.name} ${ins.args}`;
  }
}

/** Go's time.Duration String() for whole nanoseconds (`30s`, `1m30s`, `500ms`, `0s`). */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${ns / 1e3}µs`;
  if (ns < 1e9) return `${ns / 1e6}ms`;
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
