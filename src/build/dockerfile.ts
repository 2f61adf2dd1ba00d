// The Dockerfile parser (docker's classic builder syntax, as dockerd 20.10 reads it): parser
// directives (`# escape=`), comments, line continuations, instructions with their leading
// `--flag=value` words, the exec (JSON) and shell forms, and the stages (`FROM … AS name`) with
// the ARGs declared before the first FROM. Pure: no files, no engine. Words are expanded later,
// when the builder knows the variables (expandWord/rawWords in ../image/changes.ts).
import { invalid, HakoError } from '../common/errors.js';
import { extractFlags, jsonList, rawWords } from '../image/changes.js';
import { checkPlatformSpecifier } from '../image/platform.js';

export interface Instruction {
  /** Upper case: RUN, COPY, … */
  name: string;
  /** The text after the instruction and its flags (continuations joined). */
  args: string;
  /** Leading `--name=value` flags (value undefined for a bare `--name`). */
  flags: Map<string, string | undefined>;
  /** The exec form's words when `args` is a JSON array of strings. */
  json?: string[];
  /** 1-based line of the instruction's first line. */
  line: number;
  /** The instruction as written, continuations joined (docker's `Step n/m : …` text). */
  original: string;
}

export interface Stage {
  /** The FROM instruction. */
  from: Instruction;
  /** The image (or earlier stage) named by FROM, before ARG expansion. */
  base: string;
  /** `AS name`, lower case; undefined when unnamed. */
  name?: string;
  /** The instructions after FROM. */
  commands: Instruction[];
}

export interface Dockerfile {
  /** The escape character (`\` or `` ` ``). */
  escape: string;
  /** ARG instructions before the first FROM. */
  metaArgs: Instruction[];
  stages: Stage[];
}

const KNOWN = new Set(['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);
/** Instructions whose arguments may be a JSON array (exec form). */
const JSON_FORMS = new Set(['ADD', 'CMD', 'COPY', 'ENTRYPOINT', 'RUN', 'SHELL', 'VOLUME']);
/** Which flags each instruction takes (others fail as docker: `Unknown flag: x`). */
const FLAGS: Record<string, readonly string[]> = {
  FROM: ['platform'],
  COPY: ['from', 'chown', 'chmod'],
  ADD: ['chown', 'chmod'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

/** An error about one line of the Dockerfile, in dockerd 20.10's words: `dockerfile parse error line 3: unknown instruction: FOO`. */
export function lineError(line: number, message: string): HakoError {
  return invalid(`dockerfile parse error line ${line}: ${message}`);
}

/**
 * Parser directives: `# name=value` lines at the very top. dockerd 20.10 knows `escape` and
 * `syntax`; the first line that is not one of them (another `# x=y` too) ends them, and what
 * follows is ordinary comments. The names are case-insensitive.
 */
function directives(lines: string[]): { escape: string; skip: number } {
  let escape = '\\';
  let i = 0;
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(lines[i]!);
    if (!m) break;
    const name = m[1]!.toLowerCase();
    if (name !== 'escape' && name !== 'syntax') break;
    if (seen.has(name)) throw invalid(`only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw invalid(`invalid ESCAPE '${m[2]}'. Must be \` or \\`);
      escape = m[2]!;
    }
  }
  return { escape, skip: i };
}

/** Logical lines: comments dropped, continuations joined; each with its first line number. */
function logicalLines(text: string): { escape: string; lines: Array<{ line: number; text: string }> } {
  const physical = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const { escape, skip } = directives(physical);
  const cont = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const out: Array<{ line: number; text: string }> = [];
  let cur: { line: number; text: string } | undefined;
  for (let i = skip; i < physical.length; i++) {
    const raw = physical[i]!;
    // A comment line, also inside a continuation (docker drops it there too); blank lines inside
    // a continuation are skipped.
    if (/^\s*#/.test(raw)) continue;
    if (cur && raw.trim() === '') continue;
    // docker strips the leading blanks of an instruction's first line only.
    const piece = cur ? raw : raw.replace(/^\s+/, '');
    if (cont.test(piece)) {
      const t = piece.replace(cont, '');
      cur = cur ? { line: cur.line, text: cur.text + t } : { line: i + 1, text: t };
      continue;
    }
    const joined = cur ? { line: cur.line, text: cur.text + piece } : { line: i + 1, text: piece };
    cur = undefined;
    if (joined.text.trim() !== '') out.push(joined);
  }
  if (cur && cur.text.trim() !== '') out.push(cur);
  return { escape, lines: out };
}

/** Parses one logical line into an instruction. */
export function parseInstruction(text: string, line: number): Instruction {
  const m = /^\s*(\S+)\s*(.*)$/s.exec(text)!;
  const name = m[1]!.toUpperCase();
  if (!KNOWN.has(name)) throw lineError(line, `unknown instruction: ${name}`);
  const rest = m[2]!.trim();
  // Flags lead only where docker takes them; elsewhere `--x` is part of the arguments (RUN --rm …).
  const { flags, rest: args } = name in FLAGS ? extractFlags(rest) : { flags: new Map<string, string | undefined>(), rest };
  const known = FLAGS[name] ?? [];
  for (const [k, v] of flags) {
    if (!known.includes(k)) throw lineError(line, `Unknown flag: ${k}`);
    if (v === undefined) throw lineError(line, `Missing a value on flag: ${k}`);
  }
  const json = JSON_FORMS.has(name) ? jsonList(args) : undefined;
  return { name, args, flags, ...(json ? { json } : {}), line, original: text.trim() };
}

/** Parses a Dockerfile's text. */
export function parseDockerfile(text: string): Dockerfile {
  const { escape, lines } = logicalLines(text);
  if (lines.length === 0) throw invalid('failed to parse Dockerfile: file with no instructions');
  const metaArgs: Instruction[] = [];
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const l of lines) {
    const ins = parseInstruction(l.text, l.line);
    check(ins, escape);
    if (ins.name === 'FROM') {
      const words = ins.args.split(/\s+/).filter((w) => w !== '');
      if (words.length !== 1 && !(words.length === 3 && words[1]!.toUpperCase() === 'AS')) {
        throw lineError(ins.line, 'FROM requires either one or three arguments');
      }
      const name = words.length === 3 ? words[2]!.toLowerCase() : undefined;
      if (name !== undefined) {
        if (!/^[a-z][a-z0-9-_.]*$/.test(name)) throw lineError(ins.line, `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
        if (names.has(name)) throw lineError(ins.line, `duplicate name ${name}`);
        names.add(name);
      }
      stages.push({ from: ins, base: words[0]!, ...(name !== undefined ? { name } : {}), commands: [] });
    } else if (stages.length === 0) {
      if (ins.name !== 'ARG') throw invalid('no build stage in current context');
      metaArgs.push(ins);
    } else {
      stages[stages.length - 1]!.commands.push(ins);
    }
  }
  if (stages.length === 0) throw invalid('no build stage in current context');
  return { escape, metaArgs, stages };
}

/** The checks docker's parser makes before anything runs (arguments present, forms allowed). */
function check(ins: Instruction, escape: string): void {
  const fail = (m: string): never => {
    throw lineError(ins.line, m);
  };
  const { name, args } = ins;
  const lower = name.toLowerCase();
  switch (name) {
    case 'CMD':
    case 'ENTRYPOINT':
    case 'HEALTHCHECK':
      if (name === 'HEALTHCHECK' && args === '') fail(`${name} requires at least one argument`);
      break;
    case 'COPY':
    case 'ADD': {
      const n = ins.json ? ins.json.length : args.split(/\s+/).filter((w) => w !== '').length;
      if (n < 2) fail(`${name} requires at least two arguments, but only ${n === 0 ? 'zero were' : 'one was'} provided. Destination could not be determined`);
      break;
    }
    case 'SHELL':
      if (!ins.json) fail('SHELL requires the arguments to be in JSON form');
      if (ins.json!.length === 0) fail('SHELL requires at least one argument');
      break;
    case 'ARG':
      if (rawWords(args, escape).length === 0) fail('ARG requires at least one argument');
      break;
    case 'ONBUILD': {
      if (args === '') fail('ONBUILD requires at least one argument');
      const trigger = args.split(/\s/)[0]!.toUpperCase();
      if (trigger === 'ONBUILD') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'FROM' || trigger === 'MAINTAINER') fail(`${trigger} isn't allowed as an ONBUILD trigger`);
      break;
    }
    case 'RUN':
      break;
    default:
      if (args === '') fail(`${lower === 'from' ? 'FROM' : name} requires ${name === 'FROM' ? 'either one or three arguments' : 'at least one argument'}`);
  }
}

/** ARG's names and defaults: `ARG NAME`, `ARG NAME=default`, several in one (dockerd 20.10 takes `ARG A=1 B`); defaults still unexpanded. */
export function argDeclarations(ins: Instruction, escape = '\\'): Array<{ name: string; value?: string }> {
  return rawWords(ins.args, escape).map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? { name: w } : { name: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

/** Docker counts FROM as a step: the number of `Step n/m` lines. */
export function stepCount(df: Dockerfile): number {
  return df.stages.reduce((n, s) => n + 1 + s.commands.length, 0);
}

/**
 * `FROM --platform=<value>` (after ARG expansion) checked as dockerd 20.10 does it with
 * containerd's platforms.Parse: components of [A-Za-z0-9_-]; one component must be a known OS or
 * architecture; two or three are taken as they are. Returns the value to pull with.
 */
export function checkFromPlatform(value: string): string {
  try {
    checkPlatformSpecifier(value);
  } catch (err) {
    throw invalid(`failed to parse platform ${value}: ${(err as Error).message}`);
  }
  return value;
}
