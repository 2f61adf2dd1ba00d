// Command-line flag parsing with pflag's (and so docker's) rules: `--name value`, `--name=value`,
// combined short booleans `-it`, a short flag with its value attached (`-p8080:80`, `-e=A=b`),
// `--` ends flags, and flags may follow arguments unless the command stops at its first
// argument (run/create/exec: everything after the image is the container's command).
import type { CommandSpec, FlagRow } from './specs.js';
import { parseBytes, parseDuration } from './units.js';

/** A usage error: printed with the command's usage and exit code 125 (flag errors) or 1 (argument counts). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly hint: 'See' | 'Run' = 'Run',
  ) {
    super(message);
  }
}

export type FlagValue = string | boolean | number | string[];

export interface ParsedFlags {
  /** Long name → value; only flags given on the command line. */
  values: Map<string, FlagValue>;
  args: string[];
  help: boolean;
}

const listTypes = new Set(['list', 'strings', 'stringArray', 'filter', 'map', 'ulimit', 'mount', 'network', 'gpu-request', 'external-ca', 'command', 'pem-file']);

function flagLabel(row: FlagRow): string {
  return row[1] ? `-${row[1]}, --${row[0]}` : `--${row[0]}`;
}

function convert(row: FlagRow, raw: string): FlagValue {
  const type = row[2];
  const bad = (why: string) => new UsageError(`invalid argument "${raw}" for "${flagLabel(row)}" flag: ${why}`, 125);
  switch (type) {
    case 'bool': {
      if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
      if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw)) return false;
      throw bad(`strconv.ParseBool: parsing "${raw}": invalid syntax`);
    }
    case 'int':
    case 'int64':
    case 'uint':
    case 'uint16':
    case 'uint64': {
      if (!/^[-+]?\d+$/.test(raw) || (type.startsWith('uint') && raw.startsWith('-'))) {
        throw bad(`strconv.Parse${type.startsWith('uint') ? 'Uint' : 'Int'}: parsing "${raw}": invalid syntax`);
      }
      return Number(raw);
    }
    case 'decimal': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw bad(`failed to parse ${raw} as a rational number`);
      return n;
    }
    case 'bytes': {
      if (raw === '') return 0;
      if (raw === '-1' && row[0] === 'memory-swap') return -1;
      const n = parseBytes(raw);
      if (n === null) throw bad(`invalid size: '${raw}'`);
      return n;
    }
    case 'duration': {
      const n = parseDuration(raw);
      if (n === null) throw bad(`time: invalid duration "${raw}"`);
      return n;
    }
    default:
      return raw;
  }
}

function store(values: Map<string, FlagValue>, row: FlagRow, raw: string): void {
  if (listTypes.has(row[2])) {
    const prev = (values.get(row[0]) as string[] | undefined) ?? [];
    // pflag's "strings" type splits on commas like a CSV field.
    const parts = row[2] === 'strings' ? raw.split(',') : [raw];
    values.set(row[0], [...prev, ...parts]);
  } else {
    values.set(row[0], convert(row, raw));
  }
}

/**
 * Parses `argv` against the command's flags. `interspersed` false stops at the first
 * non-flag argument (docker run/create/exec).
 */
export function parseFlags(spec: Pick<CommandSpec, 'flags'>, argv: string[], interspersed = true): ParsedFlags {
  const byLong = new Map<string, FlagRow>();
  const byShort = new Map<string, FlagRow>();
  for (const row of spec.flags) {
    byLong.set(row[0], row);
    if (row[1]) byShort.set(row[1], row);
  }
  const values = new Map<string, FlagValue>();
  const args: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (name === 'help' && eq < 0) {
        help = true;
        continue;
      }
      const row = byLong.get(name);
      if (!row) {
        throw new UsageError(`unknown flag: --${name}`, 125);
      }
      if (eq >= 0) store(values, row, a.slice(eq + 1));
      else if (row[2] === 'bool') values.set(row[0], true);
      else if (i + 1 < argv.length) store(values, row, argv[++i]!);
      else throw new UsageError(`flag needs an argument: --${name}`, 125);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const row = byShort.get(c);
        if (!row) {
          if (c === 'h') {
            help = true;
            continue;
          }
          throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`, 125);
        }
        if (row[2] === 'bool') {
          if (a[j + 1] === '=') {
            values.set(row[0], convert(row, a.slice(j + 2)));
            break;
          }
          values.set(row[0], true);
          continue;
        }
        let rest = a.slice(j + 1);
        if (rest.startsWith('=')) rest = rest.slice(1);
        if (rest !== '' || a[j + 1] === '=') store(values, row, rest);
        else if (i + 1 < argv.length) store(values, row, argv[++i]!);
        else throw new UsageError(`flag needs an argument: '${c}' in -${c}`, 125);
        break;
      }
      continue;
    }
    args.push(a);
    if (!interspersed) {
      args.push(...argv.slice(i + 1));
      break;
    }
  }
  return { values, args, help };
}

/** Checks the argument count like docker's cli.RequiresMinArgs/ExactArgs/… and returns the message. */
export function checkArgs(command: string, rule: [number, number] | undefined, count: number): UsageError | null {
  if (!rule) return null;
  const [min, max] = rule;
  const plural = (n: number) => (n === 1 ? 'argument' : 'arguments');
  if (min === 0 && max === 0) {
    return count > 0 ? new UsageError(`'hako ${command}' accepts no arguments`, 1) : null;
  }
  if (min === max) {
    return count !== min ? new UsageError(`'hako ${command}' requires ${min} ${plural(min)}`, 1) : null;
  }
  if (max < 0) {
    return count < min ? new UsageError(`'hako ${command}' requires at least ${min} ${plural(min)}`, 1, 'See') : null;
  }
  if (min === 0) {
    return count > max ? new UsageError(`'hako ${command}' requires at most ${max} ${plural(max)}`, 1) : null;
  }
  return count < min || count > max ? new UsageError(`'hako ${command}' requires at least ${min} and at most ${max} ${plural(max)}`, 1) : null;
}

/** Typed accessors over parsed flags, with the spec's defaults. */
export class Flags {
  /** The rows by name, made on the first look-up of a default (run's ~100 flags, each looked up). */
  private byName: Map<string, FlagRow> | null = null;

  constructor(
    readonly parsed: ParsedFlags,
    private readonly rows: FlagRow[],
  ) {}
  has(name: string): boolean {
    return this.parsed.values.has(name);
  }
  private row(name: string): FlagRow | undefined {
    if (!this.byName) {
      this.byName = new Map();
      for (const r of this.rows) if (!this.byName.has(r[0])) this.byName.set(r[0], r);
    }
    return this.byName.get(name);
  }
  bool(name: string): boolean {
    const v = this.parsed.values.get(name);
    if (v === undefined) return this.row(name)?.[4] === 'true';
    return v === true;
  }
  str(name: string): string | undefined {
    const v = this.parsed.values.get(name);
    if (v !== undefined) return String(v);
    const d = this.row(name)?.[4];
    if (d === undefined) return undefined;
    return d.startsWith('"') && d.endsWith('"') ? d.slice(1, -1) : d;
  }
  num(name: string): number | undefined {
    const v = this.parsed.values.get(name);
    if (typeof v === 'number') return v;
    const d = this.row(name)?.[4];
    if (d !== undefined && /^-?\d+(\.\d+)?$/.test(d)) return Number(d);
    return undefined;
  }
  list(name: string): string[] {
    const v = this.parsed.values.get(name);
    return Array.isArray(v) ? v : [];
  }
}
