// Detach keys: the key sequence that ends an attach to a TTY container (or exec) without
// affecting it. docker's format: comma-separated keys, each a single character or ctrl-<c> with
// <c> one of @ a–z [ \ ] ^ _ (ctrl-p,ctrl-q by default). The scanner passes stdin through and
// holds back a partial match until it is complete (detach) or broken (the held bytes go on).
import { invalid } from '../common/errors.js';

export const DEFAULT_DETACH_KEYS = Buffer.from([16, 17]); // ctrl-p, ctrl-q

const CTRL = '@abcdefghijklmnopqrstuvwxyz[\\]^_';

/** "ctrl-p,ctrl-q" → <10 11>; an empty or absent value gives the default. */
export function parseDetachKeys(spec: string | undefined | null): Buffer {
  if (spec === undefined || spec === null || spec === '') return DEFAULT_DETACH_KEYS;
  const codes: number[] = [];
  for (const key of spec.split(',')) {
    const bytes = Buffer.from(key, 'utf8');
    if (bytes.length === 1) {
      codes.push(bytes[0]!);
      continue;
    }
    const m = /^ctrl-(.)$/.exec(key);
    const i = m ? CTRL.indexOf(m[1]!) : -1;
    if (i < 0) throw invalid(`Invalid detach keys (${spec}) provided`, `${key === '' ? 'an empty key' : `'${key}'`} is neither one character nor ctrl-<one of @a-z[\\]^_>`);
    codes.push(i);
  }
  return Buffer.from(codes);
}

export class DetachScanner {
  private matched = 0;

  constructor(private readonly keys: Buffer) {}

  /** The bytes to pass on, and whether the sequence completed (bytes after it are dropped). */
  push(chunk: Buffer): { pass: Buffer; detach: boolean } {
    const keys = this.keys;
    const out: number[] = [];
    for (const b of chunk) {
      if (b === keys[this.matched]) {
        this.matched++;
        if (this.matched === keys.length) {
          this.matched = 0;
          return { pass: Buffer.from(out), detach: true };
        }
        continue;
      }
      if (this.matched > 0) {
        for (let i = 0; i < this.matched; i++) out.push(keys[i]!);
        this.matched = 0;
        if (b === keys[0]) {
          this.matched = 1;
          if (keys.length === 1) return { pass: Buffer.from(out), detach: true };
          continue;
        }
      }
      out.push(b);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}
