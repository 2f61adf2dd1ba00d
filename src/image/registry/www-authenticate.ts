// Parses WWW-Authenticate headers (RFC 7235): `Bearer realm="…",service="…",scope="…"`,
// possibly several challenges in one header (`Basic realm="x", Bearer realm="y"`).

export interface Challenge {
  /** Lower case: `bearer`, `basic`. */
  scheme: string;
  /** Parameter names lower-cased; values unquoted. */
  params: Record<string, string>;
}

export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseWwwAuthenticate(h));
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && !/[\s,=";]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const save = i;
    const t = token();
    if (t.length === 0) {
      i++; // junk character: skip it
      continue;
    }
    skipWs();
    if (header[i] === '=' && current) {
      // A parameter of the current challenge (token68 values like `abc==` are not used by registries).
      i++;
      skipWs();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        value = token();
      }
      current.params[t.toLowerCase()] = value;
    } else {
      if (header[i] === '=' && !current) {
        i = save + t.length + 1; // a parameter with no scheme before it: ignore it
        token();
        continue;
      }
      current = { scheme: t.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
