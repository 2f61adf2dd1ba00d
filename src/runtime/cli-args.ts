// A small getopt for runc-style command lines: `--flag value`, `--flag=value`, `-f value`,
// booleans, repeatable flags, and `--` to end the flags. Unknown flags are errors that name them.
import { invalid } from '../common/errors.js';

export interface FlagSpec {
  name: string;
  alias?: string;
  type: 'bool' | 'string' | 'int' | 'list';
}

export interface Parsed {
  flags: Record<string, string | boolean | number | string[] | undefined>;
  args: string[];
}

export function parseArgs(argv: string[], specs: FlagSpec[], command: string, opts: { stopAtFirstArg?: boolean } = {}): Parsed {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.alias) byName.set(s.alias, s);
  }
  const flags: Parsed['flags'] = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-' && !(opts.stopAtFirstArg && args.length > 0)) {
      const body = a.replace(/^--?/, '');
      const eq = body.indexOf('=');
      const key = eq >= 0 ? body.slice(0, eq) : body;
      const spec = byName.get(key);
      if (!spec) throw invalid(`${command}: unknown flag ${a.split('=')[0]}`, `see ${command} --help`);
      let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
      if (spec.type === 'bool') {
        flags[spec.name] = value === undefined ? true : !['false', '0', 'no'].includes(value);
        continue;
      }
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw invalid(`${command}: flag ${a} needs a value`);
      }
      if (spec.type === 'int') {
        if (!/^-?\d+$/.test(value)) throw invalid(`${command}: flag ${a} takes a whole number, not "${value}"`);
        flags[spec.name] = Number(value);
      } else if (spec.type === 'list') {
        const prev = (flags[spec.name] as string[] | undefined) ?? [];
        prev.push(value);
        flags[spec.name] = prev;
      } else {
        flags[spec.name] = value;
      }
      continue;
    }
    args.push(a);
  }
  return { flags, args };
}
