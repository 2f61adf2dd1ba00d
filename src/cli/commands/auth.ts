// Registry credentials in the docker config file ($DOCKER_CONFIG/config.json, or
// ~/.docker/config.json), read and written as the docker CLI does (src/image/registry/credentials.ts:
// `auths` entries, identity tokens, credential helpers).
// credentials.ts is loaded only when there is a config file: it brings the atomic-write code and
// node:fs/promises with it (1–2.5 ms), which a `pull` of a public image without one would wait
// for before its request.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Ctx } from '../main.js';
import type { Credentials } from '../../image/registry/credentials.js';
import { builtin } from '../builtin.js';

export function configPath(ctx: Ctx): string {
  // $HOME as os.homedir() takes it when set (libuv's uv_os_homedir), without loading node:os
  // for every pull and push; the passwd entry otherwise.
  const home = () => ctx.env.HOME || (builtin('node:os') as typeof import('node:os')).homedir();
  return join(ctx.env.DOCKER_CONFIG || join(home(), '.docker'), 'config.json');
}

/** The credentials for `registry` (a host or docker's index URL), or undefined. */
export async function lookupAuth(ctx: Ctx, registry: string): Promise<Credentials | undefined> {
  const path = configPath(ctx);
  // No file: no `auths`, no credential helper (what DockerConfig.lookup finds in an empty config).
  // Any other error (EACCES, ENOTDIR) is DockerConfig's to report.
  try {
    statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  }
  const { DockerConfig } = await import('../../image/registry/credentials.js');
  return new DockerConfig(path).lookup(registry);
}

/**
 * Every registry's credentials in the config (its `auths` and credential-helper entries), as the
 * docker CLI sends them with a build (X-Registry-Config: the daemon may pull any FROM image).
 */
export async function allAuths(ctx: Ctx): Promise<Record<string, Credentials>> {
  const path = configPath(ctx);
  let raw: { auths?: Record<string, unknown>; credHelpers?: Record<string, unknown> };
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as typeof raw;
  } catch {
    return {};
  }
  const out: Record<string, Credentials> = {};
  for (const registry of new Set([...Object.keys(raw.auths ?? {}), ...Object.keys(raw.credHelpers ?? {})])) {
    const c = await lookupAuth(ctx, registry).catch(() => undefined);
    if (c) out[registry] = c;
  }
  return out;
}

/**
 * Saves credentials after a login. `helper`: a credential helper holds them; `unchanged`: the
 * file already held exactly these (the docker CLI 28 then warns of nothing); `file`: written
 * into the file, unencrypted.
 */
export async function saveAuth(ctx: Ctx, registry: string, username: string, password: string, identityToken?: string): Promise<'helper' | 'unchanged' | 'file'> {
  const { DockerConfig } = await import('../../image/registry/credentials.js');
  const cfg = new DockerConfig(configPath(ctx));
  const creds = identityToken ? { username, password: '', identityToken } : { username, password };
  if (cfg.holds(registry, creds)) return 'unchanged';
  await cfg.set(registry, creds);
  return cfg.helperFor(registry) !== undefined ? 'helper' : 'file';
}

/** Removes the credentials for `registry`; false when there were none. */
export async function forgetAuth(ctx: Ctx, registry: string): Promise<boolean> {
  const { DockerConfig } = await import('../../image/registry/credentials.js');
  return new DockerConfig(configPath(ctx)).remove(registry);
}
