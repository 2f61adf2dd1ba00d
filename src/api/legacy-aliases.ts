// Container inspect's network Aliases for clients of API versions before 1.45.
//
// Up to docker 25 the daemon stored the container's short ID (and, on start, its hostname) in the
// Aliases of every endpoint on a user-defined network. Docker 26 (API 1.45) stopped: Aliases are
// what the client sent, and the endpoint's DNSNames (API 1.44) list every name the embedded DNS
// answers. For older clients current moby puts them back when it answers GET /containers/{id}/json
// (api/server/router/container/inspect.go: for a version below 1.45, every network whose name is
// user-defined gets `Dedup(append(Aliases, shortID, Config.Hostname))`). Only container inspect
// does it: the container list, network inspect and the events carry no Aliases there.
// docker-compose 1.x relies on it: a short ID among a network's Aliases tells it the container is
// connected as it wants (otherwise it disconnects and connects it again at every start).
import { compareVersions } from './version.js';

type Json = Record<string, unknown>;

/** The first API version whose container inspect shows Aliases as the client sent them. */
export const ALIASES_AS_SENT_FROM = '1.45';

/**
 * moby's NetworkMode(name).IsUserDefined() on Linux: not `default`, `bridge`, `host`, `none`
 * nor `container:<x>` (a network's name, whatever its driver).
 */
export function isUserDefinedNetworkName(name: string): boolean {
  return name !== 'default' && name !== 'bridge' && name !== 'host' && name !== 'none' && !name.startsWith('container:');
}

/**
 * Inspect's answer for API `version`: below 1.45, each user-defined network's Aliases gain the
 * short ID and Config.Hostname, each value once, first occurrences kept in order (Go's
 * append to a null list makes one). Returns `inspect` itself (its endpoint objects given new
 * Aliases lists) or, for 1.45 and later, unchanged.
 */
export function withLegacyAliases(inspect: Json, version: string): Json {
  if (compareVersions(version, ALIASES_AS_SENT_FROM) >= 0) return inspect;
  const networks = (inspect.NetworkSettings as Json | undefined)?.Networks as Record<string, Json | null> | undefined;
  if (!networks) return inspect;
  const id = typeof inspect.Id === 'string' ? inspect.Id : '';
  const hostname = (inspect.Config as Json | undefined)?.Hostname;
  const added = [id.slice(0, 12), typeof hostname === 'string' ? hostname : ''];
  for (const [name, ep] of Object.entries(networks)) {
    if (!ep || !isUserDefinedNetworkName(name)) continue;
    const before = Array.isArray(ep.Aliases) ? (ep.Aliases as string[]) : [];
    ep.Aliases = [...new Set([...before, ...added])];
  }
  return inspect;
}
