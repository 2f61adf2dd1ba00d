// The X-Registry-Auth header's value as a client sends it (the docker CLI's encoding: base64url
// of an AuthConfig JSON object; auth-config.ts has the daemon's decoding). Apart from
// auth-config.ts, which brings the error types (node:os and the errno tables) and the docker
// config code (node:fs/promises) with it: the CLI encodes this header before every pull and
// push request, and waited ~0.5–2 ms for those modules before writing it.
import type { AuthConfig } from './auth-config.js';
import type { Credentials } from './credentials.js';

/** What a client sends for `creds` (the docker CLI's encoding: base64url JSON). */
export function encodeRegistryAuth(creds: Credentials | undefined, serveraddress: string): string {
  const a: AuthConfig = creds ? { username: creds.username, password: creds.password, serveraddress } : {};
  if (creds?.identityToken) a.identitytoken = creds.identityToken;
  if (creds?.registryToken) a.registrytoken = creds.registryToken;
  return Buffer.from(JSON.stringify(a)).toString('base64url');
}
