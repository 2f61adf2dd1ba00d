// Registry credentials in a Docker-compatible config.json (`auths`), as `docker login` writes it:
// { "auths": { "127.0.0.1:5000": { "auth": base64("user:password") } } }.
// Credential helpers (credsStore/credHelpers) are not supported: such entries are ignored.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HakoError, fromSystemError } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/atomic-file.js';

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token (docker's identitytoken); used as the password for token requests. */
  identityToken?: string | undefined;
}

/** Default: $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
export function defaultDockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  return join(dir, 'config.json');
}

/** The key docker uses for a registry domain (docker.io keeps its legacy URL). */
export function configKey(domain: string): string {
  return domain === 'docker.io' ? 'https://index.docker.io/v1/' : domain;
}

/** `https://host:5000/v1/` → `host:5000`; `index.docker.io` → `docker.io`. */
function normalizeKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//i, '');
  k = k.split('/')[0] ?? k;
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k.toLowerCase();
}

interface ConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  [key: string]: unknown;
}

export class DockerConfig {
  constructor(readonly path: string = defaultDockerConfigPath()) {}

  private read(): ConfigFile {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw fromSystemError(`read ${this.path}`, err, this.path);
    }
    try {
      const v = JSON.parse(text) as unknown;
      return typeof v === 'object' && v !== null ? (v as ConfigFile) : {};
    } catch (err) {
      throw new HakoError({ step: `read ${this.path}`, path: this.path, hint: `invalid JSON: ${(err as Error).message}` });
    }
  }

  /** Credentials stored for `domain`, if any. */
  get(domain: string): Credentials | undefined {
    const auths = this.read().auths ?? {};
    const want = normalizeKey(domain);
    for (const [key, entry] of Object.entries(auths)) {
      if (normalizeKey(key) !== want || !entry) continue;
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), identityToken: entry.identitytoken };
      }
      if (entry.username && entry.password) return { username: entry.username, password: entry.password, identityToken: entry.identitytoken };
    }
    return undefined;
  }

  /** Saves credentials for `domain` (file mode 0600, other keys kept). */
  async set(domain: string, creds: Credentials): Promise<void> {
    const cfg = this.read();
    const auths = (cfg.auths ??= {});
    for (const key of Object.keys(auths)) if (normalizeKey(key) === normalizeKey(domain)) delete auths[key];
    auths[configKey(domain)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
    await this.write(cfg);
  }

  /** Removes credentials for `domain`; false when there were none. */
  async remove(domain: string): Promise<boolean> {
    const cfg = this.read();
    const auths = cfg.auths ?? {};
    let found = false;
    for (const key of Object.keys(auths)) {
      if (normalizeKey(key) === normalizeKey(domain)) {
        delete auths[key];
        found = true;
      }
    }
    if (found) await this.write(cfg);
    return found;
  }

  private async write(cfg: ConfigFile): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  }
}
