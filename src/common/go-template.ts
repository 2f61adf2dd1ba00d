// A subset of Go's text/template, shared by the CLI's --format strings and the daemon's log tags
// (`--log-opt tag=…`, moby's loggerutils.ParseLogTag): fields (`{{.State.Status}}`), variables,
// pipelines, parentheses, if/else if/else, range (with `$i, $v :=`), with, comments, trim markers,
// and the functions docker adds (moby's templates package: json, join, split, lower, upper, title,
// pad, truncate) plus Go's builtins (index, len, slice, eq/ne/lt/le/gt/ge, and/or/not,
// print/printf/println, html, js, urlquery), and define/block/template as Go's (a set of named
// templates parsed with the main one; a call runs with its own `$`).
// Errors read like Go's: `template: NAME:1: function "foo" not defined` when parsing,
// `template: NAME:1:7: executing "NAME" at <.Name.Foo>: can't evaluate field Foo in type string`
// when executing (line:column of the node, byte-wise, as Go's ErrorContext).

export class TemplateError extends Error {}

type Node =
  | { k: 'text'; text: string }
  | { k: 'action'; pipe: Pipe; line: number }
  | { k: 'template'; name: string; pos: number; text: string; pipe: Pipe | null; line: number }
  | { k: 'if' | 'with'; pipe: Pipe; body: Node[]; else: Node[] | null; line: number }
  | { k: 'range'; pipe: Pipe; body: Node[]; else: Node[] | null; line: number };

interface Pipe {
  decl: string[];
  cmds: Operand[][];
}

/** Each operand knows where it starts in the source (`pos`, for Go's line:column) and its text (Go's Node.String()). */
type Operand = { pos: number; text: string } & (
  | { k: 'field'; base: 'dot' | string; path: string[] } // base: dot or $var
  | { k: 'func'; name: string }
  | { k: 'lit'; v: unknown }
  | { k: 'pipe'; pipe: Pipe }
);

type Fn = (...args: unknown[]) => unknown;

/**
 * A function's Go signature, for Go's checks of a call (strict templates): the parameter types
 * (`any` takes anything) and, for a variadic function, the type of the rest.
 */
interface Sig {
  params: Array<'string' | 'int' | '[]string' | 'any'>;
  rest?: 'any';
}

/** Go's signatures of the functions above (moby's templates package and text/template's builtins). */
const signatures: Record<string, Sig> = {
  json: { params: ['any'] },
  split: { params: ['string', 'string'] },
  join: { params: ['[]string', 'string'] },
  title: { params: ['string'] },
  lower: { params: ['string'] },
  upper: { params: ['string'] },
  pad: { params: ['string', 'int', 'int'] },
  truncate: { params: ['string', 'int'] },
  and: { params: ['any'], rest: 'any' },
  or: { params: ['any'], rest: 'any' },
  not: { params: ['any'] },
  len: { params: ['any'] },
  index: { params: ['any'], rest: 'any' },
  slice: { params: ['any'], rest: 'any' },
  eq: { params: ['any'], rest: 'any' },
  ne: { params: ['any', 'any'] },
  lt: { params: ['any', 'any'] },
  le: { params: ['any', 'any'] },
  gt: { params: ['any', 'any'] },
  ge: { params: ['any', 'any'] },
  print: { params: [], rest: 'any' },
  println: { params: [], rest: 'any' },
  printf: { params: ['string'], rest: 'any' },
  html: { params: [], rest: 'any' },
  js: { params: [], rest: 'any' },
  urlquery: { params: [], rest: 'any' },
};

/**
 * An object whose fields are a Go struct's (strict templates): a field it lacks is Go's "can't
 * evaluate field X in type <goType>" instead of <no value>. Methods are functions on it.
 */
export const goType: unique symbol = Symbol('goType');

/** Go's name of a value's type, as its errors print it (approximate for JSON-ish values). */
function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'interface {}';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? '[]string' : '[]interface {}';
  if (typeof v === 'object') {
    const t = (v as { [goType]?: string })[goType];
    if (t) return t;
    return Object.values(v).every((x) => typeof x === 'string') ? 'map[string]string' : 'map[string]interface {}';
  }
  return typeof v;
}

/** Go's fmt %v for the JSON-ish values templates see. */
export function goString(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(inner).join(' ')}]`;
  if (typeof v === 'function') return '<func>';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.toString === 'function' && o.toString !== Object.prototype.toString) return o.toString();
    return `map[${Object.keys(o)
      .sort()
      .map((k) => `${k}:${inner(o[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}
function inner(v: unknown): string {
  return v === null || v === undefined ? '<nil>' : goString(v);
}
function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goString(a);
  });
  return out;
}

function sprintf(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(/%([-+ #0]*)(\d*)(?:\.(\d+))?([svdqtfx%])/g, (_m, flags: string, width: string, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    let s: string;
    switch (verb) {
      case 'q':
        s = JSON.stringify(goString(a));
        break;
      case 'f':
        s = Number(a).toFixed(prec === undefined ? 6 : Number(prec));
        break;
      case 'x':
        s = typeof a === 'number' ? a.toString(16) : Buffer.from(goString(a)).toString('hex');
        break;
      case 'd':
        s = String(Math.trunc(Number(a)));
        break;
      default:
        s = goString(a);
        if (prec !== undefined && verb === 's') s = s.slice(0, Number(prec));
    }
    const w = Number(width || 0);
    if (s.length < w) s = flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb !== 's' ? '0' : ' ');
    return s;
  });
}

function compare(name: string, a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b && !(a == null && b == null)) throw new Error('incompatible types for comparison');
  if (name === 'lt') return (a as number) < (b as number);
  if (name === 'le') return (a as number) <= (b as number);
  if (name === 'gt') return (a as number) > (b as number);
  return (a as number) >= (b as number);
}

function title(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, c: string) => pre + c.toUpperCase());
}

export const builtinFuncs: Record<string, Fn> = {
  json: (v) => (v === undefined ? 'null' : JSON.stringify(v)),
  join: (a, sep) => (Array.isArray(a) ? a.map((x) => goString(x)).join(String(sep)) : goString(a)),
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => goString(s).toLowerCase(),
  upper: (s) => goString(s).toUpperCase(),
  title: (s) => title(goString(s)),
  pad: (s, l, r) => ' '.repeat(Number(l)) + goString(s) + ' '.repeat(Number(r)),
  truncate: (s, n) => {
    const str = goString(s);
    return str.length > Number(n) ? str.slice(0, Number(n)) : str;
  },
  println: (...a) => `${a.map((x) => goString(x)).join(' ')}\n`,
  html: (...a) => sprint(a).replace(/[\0"'&<>]/g, (c) => ({ '\0': '\uFFFD', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!),
  js: (...a) =>
    sprint(a).replace(/[\\'"<>&=\u0000-\u001f]/g, (c) => {
      if (c === '\\' || c === "'" || c === '"') return `\\${c}`;
      return `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    }),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+'),
  print: (...a) => sprint(a),
  printf: (f, ...a) => sprintf(String(f), a),
  len: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new Error(`len of type ${goTypeName(v)}`);
  },
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (cur === null || cur === undefined) throw new Error('index of untyped nil');
      if (Array.isArray(cur)) {
        const i = Number(k);
        if (!(i >= 0 && i < cur.length)) throw new Error(`index out of range: ${i}`);
        cur = cur[i];
      } else if (typeof cur === 'string') {
        // a byte (uint8), as Go indexes a string
        const b = Buffer.from(cur);
        const i = Number(k);
        if (!(i >= 0 && i < b.length)) throw new Error(`index out of range: ${i}`);
        cur = b[i];
      } else if (typeof cur === 'object') {
        cur = (cur as Record<string, unknown>)[String(k)];
        if (cur === undefined) cur = '';
      } else throw new Error(`can't index item of type ${typeof cur}`);
    }
    return cur;
  },
  slice: (v, a, b) => (typeof v === 'string' || Array.isArray(v) ? v.slice(Number(a ?? 0), b === undefined ? undefined : Number(b)) : v),
  eq: (a, ...bs) =>
    bs.some((b) => {
      if (a != null && b != null && typeof a !== typeof b) throw new Error('incompatible types for comparison');
      return a === b || (a == null && b == null);
    }),
  ne: (a, b) => a !== b,
  lt: (a, b) => compare('lt', a, b),
  le: (a, b) => compare('le', a, b),
  gt: (a, b) => compare('gt', a, b),
  ge: (a, b) => compare('ge', a, b),
  not: (a) => !truthy(a),
  // and/or are short-circuit in Go; evaluated eagerly here, with Go's return-the-operand semantics.
  and: (...a) => {
    for (const x of a) if (!truthy(x)) return x;
    return a[a.length - 1];
  },
  or: (...a) => {
    for (const x of a) if (truthy(x)) return x;
    return a[a.length - 1];
  },
};

// ---------------------------------------------------------------- lexing

/** A token of an action; `p` is where it starts in the whole template. */
type Tok = { t: 'str' | 'num' | 'ident' | 'field' | 'var' | 'op'; v: string; raw: string; p: number };

function lexAction(src: string, line: number, base: number, name: string): Tok[] {
  const toks: Tok[] = [];
  const err = (m: string) => new TemplateError(`template: ${name}:${line}: ${m}`);
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) throw err('unterminated quoted string');
      toks.push({ t: 'str', v: JSON.parse(src.slice(i, j + 1)) as string, raw: src.slice(i, j + 1), p: base + i });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw err('unterminated raw quoted string');
      toks.push({ t: 'str', v: src.slice(i + 1, j), raw: src.slice(i, j + 1), p: base + i });
      i = j + 1;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') {
      toks.push({ t: 'op', v: ':=', raw: ':=', p: base + i });
      i += 2;
      continue;
    }
    if ('|(),='.includes(c)) {
      toks.push({ t: 'op', v: c, raw: c, p: base + i });
      i++;
      continue;
    }
    const m = /^(?:\$[\w]*(?:\.[\w]+)*|\.(?:[\w]+(?:\.[\w]+)*)?|[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|[A-Za-z_]\w*(?:\.[\w]+)*)/.exec(src.slice(i));
    if (!m || m[0] === '') throw err(`unexpected "${c}" in command`);
    const w = m[0];
    const t = w.startsWith('$') ? 'var' : w.startsWith('.') ? 'field' : /^[-+\d]/.test(w) ? 'num' : 'ident';
    toks.push({ t, v: w, raw: w, p: base + i });
    i += w.length;
  }
  return toks;
}

/** Go's String() of a command: its operands, a parenthesised pipeline as `(…)`. */
function cmdText(cmd: Operand[]): string {
  return cmd.map((o) => o.text).join(' ');
}
function pipeText(pipe: Pipe): string {
  return (pipe.decl.length ? `${pipe.decl.join(', ')} := ` : '') + pipe.cmds.map(cmdText).join(' | ');
}

// ---------------------------------------------------------------- parsing

export interface TemplateOptions {
  /** The template's name in its errors (Go's template.New(name)); the CLI's is "". */
  name?: string;
  /** Extra functions (by name), taken as they are (no Go signature checks). */
  funcs?: Record<string, Fn>;
  /**
   * Go's checks of each call: the number of arguments and their types (a constant of the wrong
   * kind: `expected integer; found "x"`; a value: `wrong type for value; expected string; got
   * []string`), as Go refuses them at execution. The log tag is checked so; the CLI's --format
   * keeps its lenient calls.
   */
  strict?: boolean;
}

/**
 * How deep template calls may nest. Go's limit is 100000 (maxExecDepth); each call here takes a
 * few JS frames, so the stack would overflow long before: this one stops infinite recursion
 * with Go's error text and this number.
 */
const MAX_TEMPLATE_DEPTH = 1000;

/** Go's parse.IsEmptyTree: only blank text (and comments). */
function isEmptyTree(nodes: Node[]): boolean {
  return nodes.every((n) => n.k === 'text' && n.text.trim() === '');
}

/** Go's %q of a lexer item (item.String()): longer than 10 characters, its first 10 and `...`. */
function itemText(raw: string): string {
  const chars = [...raw];
  return chars.length > 10 ? `${JSON.stringify(chars.slice(0, 10).join(''))}...` : JSON.stringify(raw);
}

export class Template {
  private constructor(
    /** The named templates (Go's treeSet): the main one under `name`, and each define/block. */
    private readonly trees: Map<string, Node[]>,
    private readonly funcs: Record<string, Fn>,
    private readonly src: string,
    private readonly name: string,
    private readonly strict: boolean,
  ) {}

  static parse(src: string, o: TemplateOptions = {}): Template {
    const name = o.name ?? '';
    const funcs = { ...builtinFuncs, ...(o.funcs ?? {}) };
    const perr = (line: number, m: string) => new TemplateError(`template: ${name}:${line}: ${m}`);
    const trees = new Map<string, Node[]>();
    /**
     * Go's Tree.add: a template replaces one of the same name only if that one is empty; two
     * non-empty ones are an error (within one parse).
     */
    const addTree = (tname: string, nodes: Node[], line: number): void => {
      const had = trees.get(tname);
      if (had === undefined || isEmptyTree(had)) trees.set(tname, nodes);
      else if (!isEmptyTree(nodes)) throw perr(line, `template: multiple definition of template ${JSON.stringify(tname)}`);
    };
    // Split into text and actions, honouring {{- and -}} trim markers.
    type Piece = { text: string } | { action: string; line: number; at: number };
    const pieces: Piece[] = [];
    let i = 0;
    let trimNext = false;
    while (i < src.length) {
      const open = src.indexOf('{{', i);
      let text = open < 0 ? src.slice(i) : src.slice(i, open);
      if (trimNext) text = text.replace(/^\s+/, '');
      trimNext = false;
      if (open < 0) {
        pieces.push({ text });
        break;
      }
      let start = open + 2;
      if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
        text = text.replace(/\s+$/, '');
        start += 1;
      }
      pieces.push({ text });
      const line = src.slice(0, open).split('\n').length;
      let close = -1;
      let q: string | null = null;
      for (let j = start; j < src.length - 1; j++) {
        const c = src[j]!;
        if (q) {
          if (c === '\\' && q === '"') j++;
          else if (c === q) q = null;
          continue;
        }
        if (c === '"' || c === '`') q = c;
        else if (c === '}' && src[j + 1] === '}') {
          close = j;
          break;
        }
      }
      if (close < 0) {
        // Go's lexer reports a quote left open before the missing }}.
        if (q === '"') throw perr(line, 'unterminated quoted string');
        if (q === '`') throw perr(line, 'unterminated raw quoted string');
        throw perr(line, 'unclosed action');
      }
      let body = src.slice(start, close);
      if (/\s-$/.test(body)) {
        body = body.slice(0, -1);
        trimNext = true;
      }
      pieces.push({ action: body, line, at: start });
      i = close + 2;
    }

    let pos = 0;
    /** {{define}} is only at the top (Go's parse()); elsewhere it is an unexpected keyword. */
    let depth = 0;
    /** `{{define "name"}}` / `{{block "name" pipeline}}`: the name (a string constant) and its tokens after it. */
    const clauseName = (word: 'define' | 'block' | 'template', rest: string, line: number, restAt: number): { tname: string; after: Tok[]; at: number } => {
      const toks = lexAction(rest, line, restAt, name);
      const first = toks[0];
      if (first?.t !== 'str') throw perr(line, `unexpected ${first ? itemText(first.raw) : '"}}"'} in ${word} clause`);
      return { tname: first.v, after: toks.slice(1), at: first.p };
    };
    /** The body of a define or block up to its {{end}}, added to the set. */
    const parseDefinition = (word: 'define' | 'block', tname: string): void => {
      depth++;
      const body = parseList(['end', 'else']);
      depth--;
      if (body.end === 'else') throw perr(body.line, `unexpected {{else}} in ${word} clause`);
      addTree(tname, body.nodes, body.line);
    };
    const parseList = (enders: string[]): { nodes: Node[]; end: string; line: number; rest: string; restAt: number } => {
      const nodes: Node[] = [];
      while (pos < pieces.length) {
        const p = pieces[pos++]!;
        if ('text' in p) {
          if (p.text) nodes.push({ k: 'text', text: p.text });
          continue;
        }
        const lead = p.action.length - p.action.trimStart().length;
        const body = p.action.trim();
        if (body.startsWith('/*')) continue;
        const kw = /^(\w+)\b\s*([\s\S]*)$/.exec(body);
        const word = kw?.[1] ?? '';
        const restAt = p.at + lead + body.length - (kw?.[2]?.length ?? 0);
        if (word === 'end' || word === 'else') {
          if (!enders.includes(word)) throw perr(p.line, `unexpected {{${word}}}`);
          return { nodes, end: word, line: p.line, rest: kw![2]!, restAt };
        }
        if (word === 'if' || word === 'with' || word === 'range') {
          depth++;
          nodes.push(parseControl(word, kw![2]!, p.line, restAt));
          depth--;
          continue;
        }
        if (word === 'template' || word === 'block') {
          const { tname, after, at } = clauseName(word, kw![2]!, p.line, restAt);
          // {{block "x" pipeline}}…{{end}} is {{define "x"}}…{{end}}{{template "x" pipeline}}.
          if (word === 'block' && !after.length) throw perr(p.line, 'missing value for block clause');
          const pipe = after.length ? parsePipe(after, p.line, true) : null;
          const raw = JSON.stringify(tname);
          nodes.push({ k: 'template', name: tname, pos: at, text: `{{template ${raw}${pipe ? ` ${pipeText(pipe)}` : ''}}}`, pipe, line: p.line });
          if (word === 'block') parseDefinition('block', tname);
          continue;
        }
        if (word === 'define') {
          if (depth > 0) throw perr(p.line, 'unexpected <define> in command');
          const { tname, after } = clauseName('define', kw![2]!, p.line, restAt);
          if (after.length) throw perr(p.line, `unexpected ${itemText(after[0]!.raw)} in define clause`);
          parseDefinition('define', tname);
          continue;
        }
        if (body === '') throw perr(p.line, 'missing value for command');
        nodes.push({ k: 'action', pipe: parsePipe(lexAction(p.action, p.line, p.at, name), p.line, true), line: p.line });
      }
      if (enders.length) throw perr(pieces.length ? ((pieces[pieces.length - 1] as { line?: number }).line ?? 1) : 1, 'unexpected EOF');
      return { nodes, end: '', line: 0, rest: '', restAt: 0 };
    };
    const parseControl = (word: 'if' | 'with' | 'range', rest: string, line: number, restAt: number): Node => {
      if (!rest.trim()) throw perr(line, `missing value for ${word}`);
      const pipe = parsePipe(lexAction(rest, line, restAt, name), line, true);
      const body = parseList(['end', 'else']);
      let elseNodes: Node[] | null = null;
      if (body.end === 'else') {
        const r = body.rest.trim();
        const elif = /^(if|with)\b\s*([\s\S]*)$/.exec(r);
        if (elif && elif[1] === word) {
          // {{else if …}} chains: the nested control consumes the shared {{end}}.
          elseNodes = [parseControl(word, elif[2]!, body.line, body.restAt + body.rest.length - elif[2]!.length)];
        } else {
          elseNodes = parseList(['end']).nodes;
        }
      }
      return { k: word, pipe, body: body.nodes, else: elseNodes, line } as Node;
    };
    const parsePipe = (toks: Tok[], line: number, top: boolean): Pipe => {
      const err = (m: string) => perr(line, m);
      let k = 0;
      const decl: string[] = [];
      // `$x := …` or `$i, $v := …`
      const declEnd = toks.findIndex((t) => t.t === 'op' && (t.v === ':=' || t.v === '='));
      if (top && declEnd > 0 && toks.slice(0, declEnd).every((t) => t.t === 'var' || (t.t === 'op' && t.v === ','))) {
        for (const t of toks.slice(0, declEnd)) if (t.t === 'var') decl.push(t.v);
        k = declEnd + 1;
      }
      const parseOperand = (): Operand => {
        const t = toks[k++]!;
        if (t.t === 'op' && t.v === '(') {
          const startK = k;
          let depth = 1;
          while (k < toks.length && depth > 0) {
            if (toks[k]!.t === 'op' && toks[k]!.v === '(') depth++;
            if (toks[k]!.t === 'op' && toks[k]!.v === ')') depth--;
            k++;
          }
          if (depth) throw err('unclosed left paren');
          const inner = parsePipe(toks.slice(startK, k - 1), line, false);
          return { k: 'pipe', pipe: inner, pos: t.p, text: `(${pipeText(inner)})` };
        }
        if (t.t === 'str') return { k: 'lit', v: t.v, pos: t.p, text: JSON.stringify(t.v) };
        if (t.t === 'num') return { k: 'lit', v: Number(t.v), pos: t.p, text: t.raw };
        // A chain's node is where its second field starts (Go's parser: newChain at the next field).
        const chainAt = (w: string, from: number) => {
          const dot = w.indexOf('.', from);
          return dot < 0 ? 0 : dot;
        };
        if (t.t === 'field') return { k: 'field', base: 'dot', path: t.v === '.' ? [] : t.v.slice(1).split('.'), pos: t.p + chainAt(t.v, 1), text: t.v };
        if (t.t === 'var') {
          const [vname, ...path] = t.v.split('.');
          return { k: 'field', base: vname!, path, pos: t.p + chainAt(t.v, 0), text: t.v };
        }
        if (t.t === 'ident') {
          if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true', pos: t.p, text: t.v };
          if (t.v === 'nil') return { k: 'lit', v: null, pos: t.p, text: t.v };
          const [fname] = t.v.split('.');
          if (!(fname! in funcs)) throw err(`function "${fname}" not defined`);
          return { k: 'func', name: fname!, pos: t.p, text: fname! };
        }
        throw err(`unexpected "${t.v}" in operand`);
      };
      const cmds: Operand[][] = [];
      let cur: Operand[] = [];
      while (k < toks.length) {
        const t = toks[k]!;
        if (t.t === 'op' && t.v === '|') {
          if (!cur.length) throw err('missing command');
          cmds.push(cur);
          cur = [];
          k++;
          continue;
        }
        if (t.t === 'op' && (t.v === ')' || t.v === ',' || t.v === ':=' || t.v === '=')) throw err(`unexpected "${t.v}" in command`);
        cur.push(parseOperand());
      }
      if (!cur.length) throw err('missing command');
      cmds.push(cur);
      return { decl, cmds };
    };

    const { nodes } = parseList([]);
    // The main template joins the set last (Go's Parse: its own add() after the definitions).
    addTree(name, nodes, pieces.length ? ((pieces[pieces.length - 1] as { line?: number }).line ?? 1) : 1);
    return new Template(trees, funcs, src, name, o.strict === true);
  }

  /** Go's ErrorContext location of a node at `pos`: `name:line:column` (column in bytes). */
  private location(pos: number): string {
    const before = this.src.slice(0, pos);
    const nl = before.lastIndexOf('\n');
    const line = before.split('\n').length;
    return `${this.name}:${line}:${Buffer.byteLength(before.slice(nl + 1))}`;
  }

  execute(data: unknown): string {
    const out: string[] = [];
    // A template call runs with variables of its own ($ = its data) and its name in errors.
    let vars: Map<string, unknown>[] = [new Map([['$', data]])];
    let current = this.name;
    let depth = 0;
    const execErr = (pos: number, context: string, m: string) => new TemplateError(`template: ${this.location(pos)}: executing "${current}" at <${context}>: ${m}`);
    const lookupVar = (name: string, line: number): unknown => {
      for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.has(name)) return vars[i]!.get(name);
      throw new TemplateError(`template: ${this.name}:${line}: undefined variable "${name}"`);
    };
    const evalField = (op: Operand & { k: 'field' }, base: unknown, args: unknown[], final: boolean): unknown => {
      const path = op.path;
      let cur = base;
      for (let i = 0; i < path.length; i++) {
        const name = path[i]!;
        if (cur === null || cur === undefined) {
          if (i === 0 || cur === undefined) return undefined;
          throw execErr(op.pos, op.text, `nil pointer evaluating interface {}.${name}`);
        }
        if (typeof cur !== 'object') throw execErr(op.pos, op.text, `can't evaluate field ${name} in type ${goTypeName(cur)}`);
        const typeName = (cur as { [goType]?: string })[goType];
        if (typeName !== undefined && !(name in (cur as object))) throw execErr(op.pos, op.text, `can't evaluate field ${name} in type ${typeName}`);
        const v = (cur as Record<string, unknown>)[name];
        if (typeof v === 'function') {
          const isLast = i === path.length - 1;
          cur = (v as Fn).apply(cur, isLast && final ? args : []);
        } else cur = v;
      }
      return cur;
    };
    const evalCmd = (cmd: Operand[], dot: unknown, prev: unknown, hasPrev: boolean, line: number): unknown => {
      const evalArg = (op: Operand): unknown => {
        if (op.k === 'lit') return op.v;
        if (op.k === 'pipe') return evalPipe(op.pipe, dot, line);
        if (op.k === 'func') return callFunc(op, [op], [], false, line);
        return evalField(op, op.base === 'dot' ? dot : lookupVar(op.base, line), [], false);
      };
      const head = cmd[0]!;
      if (head.k === 'func') return callFunc(head, cmd, cmd.slice(1), hasPrev, line, prev, evalArg);
      const rest = () => {
        const a = cmd.slice(1).map(evalArg);
        if (hasPrev) a.push(prev);
        return a;
      };
      if (head.k === 'field') {
        const base = head.base === 'dot' ? dot : lookupVar(head.base, line);
        const args = rest();
        return evalField(head, base, args, true);
      }
      if (cmd.length > 1 || hasPrev) throw execErr(head.pos, head.text, `can't give argument to non-function ${head.text}`);
      return evalArg(head);
    };
    /** A call as Go's evalCall: the argument count and types checked (strict), then the call. */
    const callFunc = (head: Operand & { k: 'func' }, cmd: Operand[], argOps: Operand[], hasPrev: boolean, line: number, prev?: unknown, evalArg?: (op: Operand) => unknown): unknown => {
      const name = head.name;
      const sig = this.strict ? signatures[name] : undefined;
      const given = argOps.length + (hasPrev ? 1 : 0);
      if (sig) {
        const want = sig.params.length;
        if (sig.rest ? given < want : given !== want) throw execErr(head.pos, head.text, `wrong number of args for ${name}: want ${sig.rest ? 'at least ' : ''}${want} got ${given}`);
      }
      const args: unknown[] = argOps.map((op, i) => {
        const v = evalArg!(op);
        const type = sig ? (sig.params[i] ?? sig.rest ?? 'any') : 'any';
        if (type !== 'any') checkArg(op, v, type);
        return v;
      });
      if (hasPrev) {
        const type = sig ? (sig.params[argOps.length] ?? sig.rest ?? 'any') : 'any';
        if (type !== 'any' && !fits(prev, type)) throw execErr(head.pos, head.text, `wrong type for value; expected ${type}; got ${goTypeName(prev)}`);
        args.push(prev);
      }
      try {
        return this.funcs[name]!(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        throw execErr(head.pos, cmdText(cmd), `error calling ${name}: ${(e as Error).message}`);
      }
    };
    const fits = (v: unknown, type: 'string' | 'int' | '[]string'): boolean =>
      type === 'string' ? typeof v === 'string' : type === 'int' ? typeof v === 'number' && Number.isInteger(v) : Array.isArray(v) && v.every((x) => typeof x === 'string');
    const checkArg = (op: Operand, v: unknown, type: 'string' | 'int' | '[]string'): void => {
      if (fits(v, type)) return;
      if (op.k === 'lit') {
        if (v === null) throw execErr(op.pos, op.text, `cannot assign nil to ${type}`);
        throw execErr(op.pos, op.text, `expected ${type === 'int' ? 'integer' : type}; found ${op.text}`);
      }
      throw execErr(op.pos, op.text, `wrong type for value; expected ${type}; got ${goTypeName(v)}`);
    };
    const evalPipe = (pipe: Pipe, dot: unknown, line: number): unknown => {
      let v: unknown;
      pipe.cmds.forEach((c, i) => {
        v = evalCmd(c, dot, v, i > 0, line);
      });
      if (pipe.decl.length === 1) vars[vars.length - 1]!.set(pipe.decl[0]!, v);
      return v;
    };
    const run = (nodes: Node[], dot: unknown): void => {
      for (const n of nodes) {
        if (n.k === 'text') out.push(n.text);
        else if (n.k === 'template') {
          const tree = this.trees.get(n.name);
          if (!tree) throw execErr(n.pos, n.text, `template ${JSON.stringify(n.name)} not defined`);
          if (depth >= MAX_TEMPLATE_DEPTH) throw execErr(n.pos, n.text, `exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`);
          // No pipeline: no data (Go's invalid value, printed `<no value>`).
          const v = n.pipe ? evalPipe(n.pipe, dot, n.line) : undefined;
          const saved = { vars, current };
          vars = [new Map([['$', v]])];
          current = n.name;
          depth++;
          try {
            run(tree, v);
          } finally {
            depth--;
            ({ vars, current } = saved);
          }
        }
        else if (n.k === 'action') {
          const v = evalPipe(n.pipe, dot, n.line);
          if (!n.pipe.decl.length) out.push(goString(v));
        } else if (n.k === 'if') {
          vars.push(new Map());
          const v = evalPipe(n.pipe, dot, n.line);
          if (truthy(v)) run(n.body, dot);
          else if (n.else) run(n.else, dot);
          vars.pop();
        } else if (n.k === 'with') {
          vars.push(new Map());
          const v = evalPipe({ decl: [], cmds: n.pipe.cmds }, dot, n.line);
          if (n.pipe.decl.length) vars[vars.length - 1]!.set(n.pipe.decl[0]!, v);
          if (truthy(v)) run(n.body, v);
          else if (n.else) run(n.else, dot);
          vars.pop();
        } else {
          const v = evalPipe({ decl: [], cmds: n.pipe.cmds }, dot, n.line);
          let entries: [unknown, unknown][] = [];
          if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
          else if (v && typeof v === 'object') entries = Object.keys(v).sort().map((key) => [key, (v as Record<string, unknown>)[key]]);
          else if (typeof v === 'number') entries = Array.from({ length: v }, (_x, i) => [i, i]);
          else if (v !== null && v !== undefined) throw new TemplateError(`template: ${this.name}:${n.line}: range can't iterate over ${goString(v)}`);
          if (!entries.length) {
            if (n.else) run(n.else, dot);
            continue;
          }
          for (const [key, val] of entries) {
            const scope = new Map<string, unknown>();
            if (n.pipe.decl.length === 1) scope.set(n.pipe.decl[0]!, val);
            else if (n.pipe.decl.length === 2) {
              scope.set(n.pipe.decl[0]!, key);
              scope.set(n.pipe.decl[1]!, val);
            }
            vars.push(scope);
            run(n.body, val);
            vars.pop();
          }
        }
      }
    };
    run(this.trees.get(this.name)!, data);
    return out.join('');
  }
}
