// API version negotiation, like dockerd: we advertise 1.44 and accept 1.24…1.44 as a `/vX.Y`
// path prefix (or no prefix: the newest). Other versions get docker's own 400 messages.
import { invalid } from '../common/errors.js';

export const API_VERSION = '1.44';
export const MIN_API_VERSION = '1.24';

/** Compares dotted versions numerically: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export interface VersionedPath {
  /** The version the client asked for (API_VERSION when the path had none). */
  version: string;
  /** The path without the `/vX.Y` prefix, e.g. `/containers/json`. */
  path: string;
}

/**
 * Splits `/v1.41/containers/json` into version and path. Throws invalid-argument (400) with
 * docker's message for a version out of range; a path that merely looks odd is returned as is
 * (the router answers 404).
 */
export function splitVersion(pathname: string): VersionedPath {
  const m = /^\/v([0-9]+(?:\.[0-9]+)?)(\/.*)?$/.exec(pathname);
  if (!m) return { version: API_VERSION, path: pathname };
  const version = m[1]!;
  const path = m[2] ?? '/';
  if (accepted.has(version)) return { version, path };
  if (compareVersions(version, API_VERSION) > 0) {
    throw invalid(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw invalid(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  if (accepted.size < 64) accepted.add(version);
  return { version, path };
}

/** Versions already found in range (clients send one or two; bounded all the same). */
const accepted = new Set<string>();
