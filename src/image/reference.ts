// Image references, `name[:tag][@digest]`, normalized the way docker does:
// `busybox` → `docker.io/library/busybox:latest`, `localhost:5000/x` keeps its domain.
import { HakoError, invalid } from '../common/errors.js';
import { isDigest, type Digest } from './digest.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domain = `(?:${domainComponent}(?:\\.${domainComponent})*|${ipv6})(?::[0-9]+)?`;
const PATH_RE = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const DOMAIN_RE = new RegExp(`^${domain}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** Whether `tag` is a valid tag (docker's `[\w][\w.-]{0,127}`). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}
const ANY_DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const ID_RE = /^[a-f0-9]{64}$/;

/** A fully-qualified reference: domain, repository path, optional tag and digest. */
export interface Reference {
  /** Registry host, with port: `docker.io`, `127.0.0.1:5000`. */
  readonly domain: string;
  /** Repository path below the domain: `library/busybox`. */
  readonly path: string;
  readonly tag?: string | undefined;
  readonly digest?: Digest | undefined;
}

/**
 * dockerd's (distribution/reference's) words, which name neither the input nor most reasons;
 * hako's reason is the error's cause.
 */
function fail(input: string, why: string): never {
  const message = why === 'repository name must be lowercase' ? 'invalid reference format: repository name must be lowercase' : why.startsWith('repository name must not be longer') ? `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters` : 'invalid reference format';
  throw new HakoError({ step: message, kind: 'invalid-argument', cause: new Error(`${JSON.stringify(input)}: ${why}`) });
}

/** Splits `name` into domain and remainder by docker's rule for the first component. */
function splitDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let dom: string;
  let rest: string;
  if (i === -1) {
    dom = DEFAULT_DOMAIN;
    rest = name;
  } else {
    const first = name.slice(0, i);
    // The first component is a registry when it looks like a host: has a dot or a port, is
    // `localhost`, or has upper case letters (which a repository path cannot).
    if (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first) {
      dom = DEFAULT_DOMAIN;
      rest = name;
    } else {
      dom = first;
      rest = name.slice(i + 1);
    }
  }
  if (dom === LEGACY_DEFAULT_DOMAIN) dom = DEFAULT_DOMAIN;
  if (dom === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_REPO_PREFIX + rest;
  return [dom, rest];
}

export interface ParseOptions {
  /** Add `:latest` when neither tag nor digest is given (default true). */
  defaultTag?: boolean;
}

/**
 * Parses and normalizes a reference the way `docker pull` does. Throws a HakoError
 * (`invalid reference format "Foo": repository name must be lowercase`) otherwise.
 */
export function parseReference(input: string, opts: ParseOptions = {}): Reference {
  if (input.length === 0) fail(input, 'empty reference');
  if (ID_RE.test(input)) fail(input, 'cannot use a 64-character hexadecimal string as a repository name; it is an image ID');
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const d = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!ANY_DIGEST_RE.test(d)) fail(input, `invalid digest ${JSON.stringify(d)}`);
    if (!isDigest(d)) fail(input, `unsupported digest ${JSON.stringify(d)}: only sha256 with 64 lowercase hex digits`);
    digest = d;
  }
  let tag: string | undefined;
  // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) fail(input, `invalid tag ${JSON.stringify(tag)}`);
  }
  if (rest.length === 0) fail(input, 'missing repository name');
  const [dom, path] = splitDomain(rest);
  if (!DOMAIN_RE.test(dom)) fail(input, `invalid registry host ${JSON.stringify(dom)}`);
  if (path.toLowerCase() !== path) fail(input, 'repository name must be lowercase');
  if (!PATH_RE.test(path)) fail(input, `invalid repository name ${JSON.stringify(path)}`);
  if (rest.length > NAME_TOTAL_LENGTH_MAX) fail(input, `repository name must not be longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  if (tag === undefined && digest === undefined && opts.defaultTag !== false) tag = DEFAULT_TAG;
  return { domain: dom, path, tag, digest };
}

/** True for `sha256:<hex>`, a full 64-hex ID, or a 12+ hex prefix (a candidate image ID). */
export function looksLikeId(s: string): boolean {
  return /^(sha256:)?[a-f0-9]{12,64}$/.test(s);
}

/** `docker.io/library/busybox` */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** `docker.io/library/busybox:latest@sha256:…` */
export function formatReference(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The short form docker prints: `busybox:latest`, `user/app:1`, `127.0.0.1:5000/x:y`. */
export function familiarName(ref: Reference): string {
  let name = repositoryName(ref);
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path.startsWith(OFFICIAL_REPO_PREFIX) ? ref.path.slice(OFFICIAL_REPO_PREFIX.length) : ref.path;
  }
  return name;
}

export function familiarString(ref: Reference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** Same repository, with a tag or digest. */
export function withTag(ref: Reference, tag: string): Reference {
  if (!TAG_RE.test(tag)) fail(tag, `invalid tag ${JSON.stringify(tag)}`);
  return { domain: ref.domain, path: ref.path, tag };
}

export function withDigest(ref: Reference, digest: Digest): Reference {
  return { domain: ref.domain, path: ref.path, digest };
}

/** A reference as dockerd names it in errors (`No such image: …`): familiar form with the default tag (`nosuch` → `nosuch:latest`); IDs and digests as given. */
export function dockerErrorName(name: string): string {
  if (/^[0-9a-f]{64}$/.test(name)) return `sha256:${name}`;
  if (name.startsWith('sha256:')) return name;
  try {
    return familiarString(parseReference(name));
  } catch {
    return name;
  }
}
