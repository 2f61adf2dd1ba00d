// dockerd's words for a registry's refusal, so that the docker CLI and docker-py pointed at hakod
// see what they see from dockerd 20.10 (issues #3/#4).
//
// A registry answers errors as `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest
// unknown",…}]}`; dockerd prints such an error as `<code in lower case, _ as space>: <message>`
// (`manifest unknown: manifest unknown`), and names a missing manifest or repository around it:
// `manifest for 127.0.0.1:5000/x:y not found: manifest unknown: manifest unknown` (404). A request
// that never got an answer is Go's `Get "http://…/v2/…": dial tcp …: connect: connection refused`.
//
// hako's own messages stay on its errors (in-process callers use them); the docker wording is
// carried beside them and used where a pull, a pull of all tags, a push or POST /auth answers the API.
import { STATUS_CODES } from 'node:http';
import { HakoError, type HakoErrorKind } from '../../common/errors.js';
import { familiarName, familiarString, type Reference } from '../reference.js';
import type { Challenge } from './www-authenticate.js';

/** What dockerd would say for a failure. */
export interface DockerWords {
  /** dockerd's text: `unauthorized: authentication required`, `Head "http://…": no basic auth credentials`. */
  text: string;
  /** The text without the request, as dockerd's push says it: `no basic auth credentials`. */
  bare?: string;
  /** The registry's error code, if it gave one it knows (`MANIFEST_UNKNOWN`), else `UNKNOWN`. */
  code?: string;
  /** The registry's own answer to the request (not a token server's): its status and URL. */
  answer?: { status: number; url: string };
}

/**
 * The codes distribution's client knows (errcode's own and the v2 API's) and the message it
 * fills in when the registry gives none. Any other code reads as `unknown`.
 */
const KNOWN_CODES: Record<string, string> = {
  UNKNOWN: 'unknown error',
  UNSUPPORTED: 'The operation is unsupported.',
  UNAUTHORIZED: 'authentication required',
  DENIED: 'requested access to the resource is denied',
  UNAVAILABLE: 'service unavailable',
  TOOMANYREQUESTS: 'too many requests',
  DIGEST_INVALID: 'provided digest did not match uploaded content',
  SIZE_INVALID: 'provided length did not match content length',
  NAME_INVALID: 'invalid repository name',
  TAG_INVALID: 'manifest tag did not match URI',
  NAME_UNKNOWN: 'repository name not known to registry',
  MANIFEST_UNKNOWN: 'manifest unknown',
  MANIFEST_INVALID: 'manifest invalid',
  MANIFEST_UNVERIFIED: 'manifest failed signature verification',
  MANIFEST_BLOB_UNKNOWN: 'blob unknown to registry',
  BLOB_UNKNOWN: 'blob unknown to registry',
  BLOB_UPLOAD_UNKNOWN: 'blob upload unknown to registry',
  BLOB_UPLOAD_INVALID: 'blob upload invalid',
  PAGINATION_NUMBER_INVALID: 'invalid number of results requested',
  RANGE_INVALID: 'invalid content range',
};

/**
 * dockerd's text for an answer of 500 or above: distribution's client reads no body of it
 * (HandleErrorResponse: UnexpectedHTTPStatusError) and says `received unexpected HTTP status: 503
 * Service Unavailable`, Go's resp.Status: the code and the reason phrase the registry sent.
 */
export function unexpectedStatusWords(status: number, reason: string | undefined): DockerWords {
  const text = `received unexpected HTTP status: ${status} ${reason || STATUS_CODES[status] || ''}`.trimEnd();
  return { text, bare: text };
}

/**
 * dockerd's text for a registry's error body: its first error as `<code words>: <message>`, or
 * the old `{"details":"…"}` form (`unauthorized: …` on a 401, `unknown: …` otherwise); a 401
 * with neither (a HEAD's empty body) is `unauthorized: authentication required`.
 * Undefined when the body is neither, or for a 5xx (unexpectedStatusWords is dockerd's text then).
 */
export function registryErrorWords(status: number, body: Buffer): DockerWords | undefined {
  if (status >= 500) return undefined;
  const other = status === 401 ? words('UNAUTHORIZED', KNOWN_CODES.UNAUTHORIZED!) : undefined;
  let o: unknown;
  try {
    o = JSON.parse(body.toString('utf8'));
  } catch {
    return other;
  }
  if (typeof o !== 'object' || o === null) return other;
  const details = (o as { details?: unknown }).details;
  if (typeof details === 'string' && details !== '') {
    const code = status === 401 ? 'UNAUTHORIZED' : status === 429 ? 'TOOMANYREQUESTS' : 'UNKNOWN';
    return words(code, details);
  }
  const errors = (o as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return other;
  const first = errors[0] as { code?: unknown; message?: unknown } | null;
  const given = typeof first?.code === 'string' ? first.code : '';
  const code = given in KNOWN_CODES ? given : 'UNKNOWN';
  const message = typeof first?.message === 'string' && first.message !== '' ? first.message : KNOWN_CODES[code]!;
  return words(code, message);
}

function words(code: string, message: string): DockerWords {
  const text = `${code.toLowerCase().replace(/_/g, ' ')}: ${message}`;
  return { text, bare: text, code };
}

/**
 * dockerd's words for a 401's Bearer challenge that names an error: `insufficient_scope` (a
 * token without access: `denied: requested access to the resource is denied`) or `invalid_token`
 * (`unauthorized: …`), its error_description as the message. Undefined for any other.
 */
export function bearerChallengeWords(challenges: Challenge[]): DockerWords | undefined {
  for (const c of challenges) {
    if (c.scheme !== 'bearer') continue;
    const code = c.params.error === 'insufficient_scope' ? 'DENIED' : c.params.error === 'invalid_token' ? 'UNAUTHORIZED' : undefined;
    if (code) return words(code, c.params.error_description || KNOWN_CODES[code]!);
  }
  return undefined;
}

/** Go's name of a request in its errors: `Get`, `Head`, `Post`. */
export function goMethod(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

/** Go's `url.Error` text: `Get "http://127.0.0.1:5000/v2/": <why>`. */
export function requestWords(method: string, url: URL, why: string): DockerWords {
  return { text: `${goMethod(method)} "${url.href}": ${why}`, bare: why };
}

/**
 * dockerd's words for a failed login check (POST /auth; its 20.10 lab answers, all 500): the
 * registry's own refusal of GET /v2/ is `login attempt to http://H/v2/ failed with status: 401
 * Unauthorized`; a token server's refusal and a connection failure are Go's request error
 * (`Get "http://H/v2/": unauthorized: incorrect username or password`, `… connection refused`).
 */
export function loginWords(err: unknown): DockerWords | undefined {
  const w = dockerWordsOf(err);
  if (!w?.answer) return w;
  const { status, url } = w.answer;
  return { text: `login attempt to ${url} failed with status: ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() };
}

/** Puts dockerd's words on `err` (returned). */
export function withDockerWords<E extends Error>(err: E, w: DockerWords | undefined): E {
  if (w) (err as E & { dockerWords?: DockerWords }).dockerWords = w;
  return err;
}

/** dockerd's words of `err` itself (not of its causes: a wrapped error has context of hako's). */
export function dockerWordsOf(err: unknown): DockerWords | undefined {
  return (err as { dockerWords?: DockerWords } | undefined)?.dockerWords;
}

/**
 * The error a pull (or a pull of all tags: `ref` without tag nor digest) answers for `err`, in
 * dockerd's words when it has them: a missing manifest or repository and an access refusal are
 * 404s that name the reference, anything else the registry or the connection said is a 500 with
 * its text alone. Undefined: no docker words, hako's message stands.
 */
export function pullError(err: unknown, ref: Reference): HakoError | undefined {
  const w = dockerWordsOf(err);
  if (!w) return undefined;
  let step: string;
  let kind: HakoErrorKind = (err as HakoError).kind === 'unauthorized' ? 'unauthorized' : 'internal';
  switch (w.code) {
    case 'MANIFEST_UNKNOWN':
      step = `manifest for ${familiarString(ref)} not found: ${w.text}`;
      kind = 'not-found';
      break;
    case 'NAME_UNKNOWN':
      step = `repository ${familiarName(ref)} not found: ${w.text}`;
      kind = 'not-found';
      break;
    case 'DENIED':
      step = `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${w.text}`;
      kind = 'not-found';
      break;
    default:
      step = w.text;
  }
  return new HakoError({ step, kind, cause: err });
}

/** The error a push answers for `err` in dockerd's words (the request left out), if it has them. */
export function pushError(err: unknown): HakoError | undefined {
  const w = dockerWordsOf(err);
  if (!w) return undefined;
  return new HakoError({ step: w.bare ?? w.text, kind: (err as HakoError).kind === 'unauthorized' ? 'unauthorized' : 'internal', cause: err });
}
