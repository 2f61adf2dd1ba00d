// A subset of Go's text/template, enough for docker's --format strings: fields (`{{.State.Status}}`),
// variables, pipelines, parentheses, if/else if/else, range (with `$i, $v :=`), with, and the
// functions docker adds (json, join, split, lower, upper, title, pad, truncate, println) plus Go's
// builtins (index, len, eq/ne/lt/le/gt/ge, and/or/not, print/printf/println, slice).
// Errors read like Go's: `template: :1: function "foo" not defined`.

export class TemplateError extends Error {}

type Node =
  | { k: 'text'; text: string }
  | { k: 'action'; pipe: Pipe; line: number }
  | { k: 'if' | 'with'; pipe: Pipe; body: Node[]; else: Node[] | null; line: number }
  | { k: 'range'; pipe: Pipe; body: Node[]; else: Node[] | null; line: number };

interface Pipe {
  decl: string[];
  cmds: Operand[][];
}

type Operand =
  | { k: 'field'; base: 'dot' | string | Operand[][]; path: string[] } // base: dot, $var, or a parenthesised pipeline
  | { k: 'func'; name: string }
  | { k: 'lit'; v: unknown }
  | { k: 'pipe'; pipe: Pipe };

type Fn = (...args: unknown[]) => unknown;

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
  if (typeof a !== typeof b && !(a == null && b == null)) throw new Error(`${name}: incompatible types for comparison`);
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
  print: (...a) => sprint(a),
  printf: (f, ...a) => sprintf(String(f), a),
  len: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new Error(`len of type ${typeof v}`);
  },
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (cur === null || cur === undefined) throw new Error('index of untyped nil');
      if (Array.isArray(cur)) {
        const i = Number(k);
        if (!(i >= 0 && i < cur.length)) throw new Error(`error calling index: index out of range: ${i}`);
        cur = cur[i];
      } else if (typeof cur === 'object') {
        cur = (cur as Record<string, unknown>)[String(k)];
        if (cur === undefined) cur = '';
      } else throw new Error(`can't index item of type ${typeof cur}`);
    }
    return cur;
  },
  slice: (v, a, b) => (typeof v === 'string' || Array.isArray(v) ? v.slice(Number(a ?? 0), b === undefined ? undefined : Number(b)) : v),
  eq: (a, ...bs) => bs.some((b) => a === b || (a == null && b == null)),
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

type Tok = { t: 'str' | 'num' | 'ident' | 'field' | 'var' | 'op'; v: string };

function lexAction(src: string, line: number): Tok[] {
  const toks: Tok[] = [];
  const err = (m: string) => new TemplateError(`template: :${line}: ${m}`);
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
      toks.push({ t: 'str', v: JSON.parse(src.slice(i, j + 1)) as string });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw err('unterminated raw quoted string');
      toks.push({ t: 'str', v: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') {
      toks.push({ t: 'op', v: ':=' });
      i += 2;
      continue;
    }
    if ('|(),='.includes(c)) {
      toks.push({ t: 'op', v: c });
      i++;
      continue;
    }
    const m = /^(?:\$[\w]*(?:\.[\w]+)*|\.(?:[\w]+(?:\.[\w]+)*)?|[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|[A-Za-z_]\w*(?:\.[\w]+)*)/.exec(src.slice(i));
    if (!m || m[0] === '') throw err(`unexpected "${c}" in command`);
    const w = m[0];
    if (w.startsWith('$')) toks.push({ t: 'var', v: w });
    else if (w.startsWith('.')) toks.push({ t: 'field', v: w });
    else if (/^[-+\d]/.test(w)) toks.push({ t: 'num', v: w });
    else toks.push({ t: 'ident', v: w });
    i += w.length;
  }
  return toks;
}

// ---------------------------------------------------------------- parsing

export class Template {
  private constructor(
    private readonly nodes: Node[],
    private readonly funcs: Record<string, Fn>,
  ) {}

  static parse(src: string, extraFuncs: Record<string, Fn> = {}): Template {
    const funcs = { ...builtinFuncs, ...extraFuncs };
    // Split into text and actions, honouring {{- and -}} trim markers.
    type Piece = { text: string } | { action: string; line: number };
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
      if (close < 0) throw new TemplateError(`template: :${line}: unclosed action`);
      let body = src.slice(start, close);
      if (/\s-$/.test(body)) {
        body = body.slice(0, -1);
        trimNext = true;
      }
      pieces.push({ action: body, line });
      i = close + 2;
    }

    let pos = 0;
    const parseList = (enders: string[]): { nodes: Node[]; end: string; line: number; rest: string } => {
      const nodes: Node[] = [];
      while (pos < pieces.length) {
        const p = pieces[pos++]!;
        if ('text' in p) {
          if (p.text) nodes.push({ k: 'text', text: p.text });
          continue;
        }
        const body = p.action.trim();
        if (body.startsWith('/*')) continue;
        const kw = /^(\w+)\b\s*([\s\S]*)$/.exec(body);
        const word = kw?.[1] ?? '';
        if (word === 'end' || word === 'else') {
          if (!enders.includes(word)) throw new TemplateError(`template: :${p.line}: unexpected {{${word}}}`);
          return { nodes, end: word, line: p.line, rest: kw![2]! };
        }
        if (word === 'if' || word === 'with' || word === 'range') {
          nodes.push(parseControl(word, kw![2]!, p.line));
          continue;
        }
        if (word === 'define' || word === 'template' || word === 'block') {
          throw new TemplateError(`template: :${p.line}: {{${word}}} is not supported by hako`);
        }
        if (body === '') throw new TemplateError(`template: :${p.line}: missing value for command`);
        nodes.push({ k: 'action', pipe: parsePipe(lexAction(body, p.line), p.line, true), line: p.line });
      }
      if (enders.length) throw new TemplateError(`template: :${pieces.length ? (pieces[pieces.length - 1] as { line?: number }).line ?? 1 : 1}: unexpected EOF`);
      return { nodes, end: '', line: 0, rest: '' };
    };
    const parseControl = (word: 'if' | 'with' | 'range', rest: string, line: number): Node => {
      if (!rest.trim()) throw new TemplateError(`template: :${line}: missing value for ${word}`);
      const pipe = parsePipe(lexAction(rest, line), line, true);
      const body = parseList(['end', 'else']);
      let elseNodes: Node[] | null = null;
      if (body.end === 'else') {
        const r = body.rest.trim();
        const elif = /^(if|with)\b\s*([\s\S]*)$/.exec(r);
        if (elif && elif[1] === word) {
          // {{else if …}} chains: the nested control consumes the shared {{end}}.
          elseNodes = [parseControl(word, elif[2]!, body.line)];
        } else {
          elseNodes = parseList(['end']).nodes;
        }
      }
      return { k: word, pipe, body: body.nodes, else: elseNodes, line } as Node;
    };
    const parsePipe = (toks: Tok[], line: number, top: boolean): Pipe => {
      const err = (m: string) => new TemplateError(`template: :${line}: ${m}`);
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
          // A field chain right after the paren: (index . 0).Name
          return { k: 'pipe', pipe: inner };
        }
        if (t.t === 'str') return { k: 'lit', v: t.v };
        if (t.t === 'num') return { k: 'lit', v: Number(t.v) };
        if (t.t === 'field') return { k: 'field', base: 'dot', path: t.v === '.' ? [] : t.v.slice(1).split('.') };
        if (t.t === 'var') {
          const [name, ...path] = t.v.split('.');
          return { k: 'field', base: name!, path };
        }
        if (t.t === 'ident') {
          if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
          if (t.v === 'nil') return { k: 'lit', v: null };
          const [name] = t.v.split('.');
          if (!(name! in funcs)) throw err(`function "${name}" not defined`);
          return { k: 'func', name: name! };
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
    return new Template(nodes, funcs);
  }

  execute(data: unknown): string {
    const out: string[] = [];
    const vars: Map<string, unknown>[] = [new Map([['$', data]])];
    const lookupVar = (name: string, line: number): unknown => {
      for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.has(name)) return vars[i]!.get(name);
      throw new TemplateError(`template: :${line}: undefined variable "${name}"`);
    };
    const evalField = (base: unknown, path: string[], args: unknown[], line: number, final: boolean): unknown => {
      let cur = base;
      for (let i = 0; i < path.length; i++) {
        const name = path[i]!;
        if (cur === null || cur === undefined) {
          if (i === 0 || cur === undefined) return undefined;
          throw new TemplateError(`template: :${line}: executing "" at <.${path.slice(0, i + 1).join('.')}>: nil pointer evaluating interface {}.${name}`);
        }
        if (typeof cur !== 'object') {
          throw new TemplateError(`template: :${line}: executing "" at <.${path.slice(0, i + 1).join('.')}>: can't evaluate field ${name} in type ${typeof cur}`);
        }
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
        if (op.k === 'func') return callFunc(op.name, [], line);
        return evalField(op.base === 'dot' ? dot : lookupVar(op.base as string, line), op.path, [], line, false);
      };
      const head = cmd[0]!;
      const rest = () => {
        const a = cmd.slice(1).map(evalArg);
        if (hasPrev) a.push(prev);
        return a;
      };
      if (head.k === 'func') return callFunc(head.name, rest(), line);
      if (head.k === 'field') {
        const base = head.base === 'dot' ? dot : lookupVar(head.base as string, line);
        const args = rest();
        return evalField(base, head.path, args, line, true);
      }
      if (cmd.length > 1 || hasPrev) throw new TemplateError(`template: :${line}: can't give argument to non-function ${goString(evalArg(head))}`);
      return evalArg(head);
    };
    const callFunc = (name: string, args: unknown[], line: number): unknown => {
      try {
        return this.funcs[name]!(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        throw new TemplateError(`template: :${line}: executing "" at <${name}>: error calling ${name}: ${(e as Error).message}`);
      }
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
          else if (v !== null && v !== undefined) throw new TemplateError(`template: :${n.line}: range can't iterate over ${goString(v)}`);
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
    run(this.nodes, data);
    return out.join('');
  }
}
