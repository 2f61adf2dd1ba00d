// Registry credentials in the docker config file (~/.docker/config.json, or $DOCKER_CONFIG).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import type { Ctx } from '../main.js';
import { DockerConfig, type Credentials } from '../../image/registry/credentials.js';

export function configPath(ctx: Ctx): string {
  return join(ctx.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

function load(ctx: Ctx): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    return JSON.parse(readFileSync(configPath(ctx), 'utf8'));
  } catch {
    return {};
  }
}

/** The credentials for `registry` (a host or docker's index URL): `auths`, identity tokens, credential helpers. */
export async function lookupAuth(ctx: Ctx, registry: string): Promise<Credentials | undefined> {
  return new DockerConfig(configPath(ctx)).lookup(registry);
}

export function readAuth(ctx: Ctx, registry: string): { username: string; password: string; serveraddress: string } | null {
  const cfg = load(ctx);
  const entry = cfg.auths?.[registry];
  if (!entry?.auth) return null;
  const [username, ...rest] = Buffer.from(entry.auth, 'base64').toString('utf8').split(':');
  return { username: username ?? '', password: rest.join(':'), serveraddress: registry };
}

export function storeAuth(ctx: Ctx, registry: string, username: string, password: string | null): void {
  const cfg = load(ctx);
  cfg.auths ??= {};
  if (password === null) delete cfg.auths[registry];
  else cfg.auths[registry] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  const p = configPath(ctx);
  mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
  writeFileSync(p, `${JSON.stringify(cfg, null, '\t')}\n`, { mode: 0o600 });
}
