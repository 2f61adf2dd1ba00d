// The credentials a client sends with a pull or push in the X-Registry-Auth header, as the docker
// CLI does: base64url of an AuthConfig JSON object
//   { "username", "password", "auth" (base64 "user:password"), "email", "serveraddress",
//     "identitytoken" (an OAuth2 refresh token), "registrytoken" (a bearer token for the registry) }
// An absent header, an empty object (`{}`, what the docker CLI sends when it has nothing for the
// registry) or one with no secret in it means "no credentials".
import { invalid } from '../../common/errors.js';
import { registryDomainOfKey, type Credentials } from './credentials.js';

export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

const FIELDS = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const;

/**
 * Decodes the header's value. Standard and URL-safe base64 are both accepted (older clients send
 * the former); malformed input is a 400 naming the header.
 */
export function decodeRegistryAuth(header: string | undefined): AuthConfig | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(header.trim(), 'base64').toString('utf8'));
  } catch {
    throw invalid('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
  return authConfigOf(v, 'X-Registry-Auth header');
}

/** An AuthConfig from decoded JSON (`what` names its source in errors). */
export function authConfigOf(v: unknown, what: string): AuthConfig {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(`invalid ${what}: not a JSON object`);
  const o = v as Record<string, unknown>;
  const out: AuthConfig = {};
  for (const k of FIELDS) {
    // Field names are case-insensitive in Go's JSON decoding, which docker uses.
    const key = Object.keys(o).find((x) => x.toLowerCase() === k);
    const val = key === undefined ? undefined : o[key];
    if (val === undefined || val === null || val === '') continue;
    if (typeof val !== 'string') throw invalid(`invalid ${what}: ${k} must be a string`);
    out[k] = val;
  }
  return out;
}

/**
 * The X-Registry-Config header (build): base64url JSON of registry key → AuthConfig, keys as in a
 * docker config (`https://index.docker.io/v1/`, `host:5000`, `http://host:5000/v2/`). dockerd
 * ignores a header it cannot decode, and so does this (no credentials).
 */
export function decodeRegistryConfig(header: string | undefined): Map<string, AuthConfig> {
  const out = new Map<string, AuthConfig>();
  if (!header) return out;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    return out;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return out;
  for (const [key, entry] of Object.entries(v as Record<string, unknown>)) {
    try {
      out.set(registryDomainOfKey(key), authConfigOf(entry, `X-Registry-Config entry ${key}`));
    } catch {
      // an entry of the wrong shape: no credentials for that registry
    }
  }
  return out;
}

/** The credentials an AuthConfig carries, or undefined when it has none. */
export function credentialsFromAuthConfig(a: AuthConfig | undefined): Credentials | undefined {
  if (!a) return undefined;
  let username = a.username ?? '';
  let password = a.password ?? '';
  if (!username && !password && a.auth) {
    const decoded = Buffer.from(a.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalid('invalid X-Registry-Auth header: auth is not base64 of "username:password"');
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (!password && !a.identitytoken && !a.registrytoken) return undefined;
  return { username, password, ...(a.identitytoken ? { identityToken: a.identitytoken } : {}), ...(a.registrytoken ? { registryToken: a.registrytoken } : {}) };
}

// The client's side (X-Registry-Auth as the docker CLI encodes it) is in auth-encode.ts.
export { encodeRegistryAuth } from './auth-encode.js';
