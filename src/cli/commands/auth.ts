// Registry credentials in the docker config file ($DOCKER_CONFIG/config.json, or
// ~/.docker/config.json), read and written as the docker CLI does (src/image/registry/credentials.ts:
// `auths` entries, identity tokens, credential helpers).
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Ctx } from '../main.js';
import { DockerConfig, type Credentials } from '../../image/registry/credentials.js';

export function configPath(ctx: Ctx): string {
  return join(ctx.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

/** The credentials for `registry` (a host or docker's index URL), or undefined. */
export async function lookupAuth(ctx: Ctx, registry: string): Promise<Credentials | undefined> {
  return new DockerConfig(configPath(ctx)).lookup(registry);
}

/** Saves credentials after a login; true when a credential helper holds them (not the file). */
export async function saveAuth(ctx: Ctx, registry: string, username: string, password: string, identityToken?: string): Promise<boolean> {
  const cfg = new DockerConfig(configPath(ctx));
  await cfg.set(registry, identityToken ? { username, password: '', identityToken } : { username, password });
  return cfg.helperFor(registry) !== undefined;
}

/** Removes the credentials for `registry`; false when there were none. */
export async function forgetAuth(ctx: Ctx, registry: string): Promise<boolean> {
  return new DockerConfig(configPath(ctx)).remove(registry);
}
