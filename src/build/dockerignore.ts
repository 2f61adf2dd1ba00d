// .dockerignore: which context paths are left out, with docker's pattern rules. Each line is a
// pattern cleaned like a path (leading `/` and `./` dropped); `#` lines are comments; `!` makes an
// exception; `*` and `?` stay within one path element, `**` spans any number of them; the last
// pattern that matches decides. A pattern with N elements also matches a path whose first N
// elements match it (`dir` excludes `dir/a/b`). Pure.
import { posix } from 'node:path';

interface Pattern {
  re: RegExp;
  exclusion: boolean;
  /** How many path elements the pattern has. */
  depth: number;
}

/** One pattern as a regular expression over slash-separated relative paths. */
function patternRegex(p: string): RegExp {
  let re = '^';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') {
      if (p[i + 1] === '*') {
        i++;
        // `**/` matches zero or more directories; a final `**` anything.
        if (p[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = p.indexOf(']', i + 1);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let cls = p.slice(i + 1, close).replace(/\\/g, '\\\\');
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls}]`;
      i = close;
    } else if (c === '\\' && i + 1 < p.length) re += escapeRe(p[++i]!);
    else re += escapeRe(c);
  }
  return new RegExp(re + '$', 's');
}

function escapeRe(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** The patterns of a .dockerignore file's text. */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let line = raw.trim();
    if (line === '') continue;
    let neg = '';
    if (line.startsWith('!')) {
      neg = '!';
      line = line.slice(1).trim();
    }
    let clean = posix.normalize(line);
    clean = clean.replace(/^\/+/, '').replace(/\/+$/, '');
    if (clean === '' || clean === '.') continue;
    out.push(neg + clean);
  }
  return out;
}

/** A predicate: whether a context-relative path (`a/b`, no leading `./`) is left out. */
export function ignoreMatcher(patterns: readonly string[]): (path: string) => boolean {
  const compiled: Pattern[] = patterns.map((p) => {
    const exclusion = p.startsWith('!');
    const body = exclusion ? p.slice(1) : p;
    return { re: patternRegex(body), exclusion, depth: body.split('/').length };
  });
  if (compiled.length === 0) return () => false;
  return (path: string) => {
    const parts = path.split('/');
    let matched = false;
    for (const pat of compiled) {
      let m = pat.re.test(path);
      if (!m && parts.length > 1 && pat.depth < parts.length) m = pat.re.test(parts.slice(0, pat.depth).join('/'));
      if (m) matched = !pat.exclusion;
    }
    return matched;
  };
}

/** Whether any exception (`!pattern`) could bring back something beneath an excluded `dir`. */
export function hasExceptions(patterns: readonly string[]): boolean {
  return patterns.some((p) => p.startsWith('!'));
}
