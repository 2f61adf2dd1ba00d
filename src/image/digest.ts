// Content digests (`sha256:<64 hex>`): parsing, validation and hashing helpers.
import { createHash, type Hash } from 'node:crypto';
import { invalid } from '../common/errors.js';

export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/** Validates a digest string; only sha256 is supported (as by docker and the registry). */
export function parseDigest(s: string, what = 'digest'): Digest {
  if (isDigest(s)) return s;
  if (ANY_DIGEST_RE.test(s) && !s.startsWith('sha256:')) {
    throw invalid(`invalid ${what} ${JSON.stringify(s)}`, `unsupported digest algorithm ${s.split(':')[0]}; only sha256 is supported`);
  }
  throw invalid(`invalid ${what} ${JSON.stringify(s)}`, 'expected sha256:<64 lowercase hex digits>');
}

export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

export function sha256(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function newHasher(): Hash {
  return createHash('sha256');
}

export function hasherDigest(h: Hash): Digest {
  return `sha256:${h.digest('hex')}`;
}

/** `sha256:0123456789ab` (12 hex digits, as docker prints image IDs). */
export function shortId(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
