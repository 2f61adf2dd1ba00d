// Registry credentials in a Docker-compatible config.json, as `docker login` writes it:
//   { "auths": { "127.0.0.1:5000": { "auth": base64("user:password") } },
//     "credHelpers": { "registry.example": "pass" },   per registry: docker-credential-pass
//     "credsStore": "secretservice" }                   every other registry: docker-credential-secretservice
// A helper is run as `docker-credential-<name> get|store|erase` with the server URL (or the
// credentials as JSON) on stdin, the credential-helper protocol docker uses. A helper's user
// `<token>` means the secret is an identity token (OAuth2 refresh token).
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
  /** A bearer token for the registry itself (X-Registry-Auth's registrytoken), sent as is. */
  registryToken?: string | undefined;
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

/** A docker config key's registry domain: `https://host:5000/v1/` → `host:5000`; `index.docker.io` → `docker.io`. */
export function registryDomainOfKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//i, '');
  k = k.split('/')[0] ?? k;
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k.toLowerCase();
}

interface ConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

const NOT_FOUND = 'credentials not found in native keychain';

/** Runs a credential helper (credential-helper.ts, loaded only when a helper is configured). */
async function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<{ ok: boolean; out: string }> {
  const { runCredentialHelper } = await import('./credential-helper.js');
  return runCredentialHelper(helper, action, input);
}

/** The `auths` entry of `creds` in the file (an identity token replaces the password). */
function entryFor(creds: Credentials): { auth: string; identitytoken?: string } {
  const token = creds.identityToken;
  return token ? { auth: Buffer.from(`${creds.username}:`).toString('base64'), identitytoken: token } : { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
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

  /** The helper that holds `domain`'s credentials: its credHelpers entry, else credsStore. */
  helperFor(domain: string, cfg: ConfigFile = this.read()): string | undefined {
    const want = registryDomainOfKey(domain);
    for (const [key, helper] of Object.entries(cfg.credHelpers ?? {})) {
      if (registryDomainOfKey(key) === want && typeof helper === 'string' && helper !== '') return helper;
    }
    return typeof cfg.credsStore === 'string' && cfg.credsStore !== '' ? cfg.credsStore : undefined;
  }

  /**
   * Credentials for `domain`: from its credential helper when one is configured (none found →
   * anonymous, as docker does), else from `auths`.
   */
  async lookup(domain: string): Promise<Credentials | undefined> {
    const cfg = this.read();
    const helper = this.helperFor(domain, cfg);
    if (!helper) return this.get(domain, cfg);
    const server = configKey(domain);
    const r = await runHelper(helper, 'get', server);
    if (!r.ok) {
      if (r.out.includes(NOT_FOUND)) return undefined;
      throw new HakoError({ step: `credential helper docker-credential-${helper} get ${server}: ${r.out || 'failed'}`, kind: 'unauthorized' });
    }
    let o: { Username?: unknown; Secret?: unknown };
    try {
      o = JSON.parse(r.out) as typeof o;
    } catch {
      throw new HakoError({ step: `credential helper docker-credential-${helper} get ${server}: the answer is not JSON`, kind: 'unauthorized' });
    }
    const username = typeof o.Username === 'string' ? o.Username : '';
    const secret = typeof o.Secret === 'string' ? o.Secret : '';
    if (secret === '') return undefined;
    if (username === '<token>') return { username: '', password: '', identityToken: secret };
    return { username, password: secret };
  }

  /** Credentials stored for `domain` in `auths` (helpers are not consulted: see lookup). */
  get(domain: string, cfg: ConfigFile = this.read()): Credentials | undefined {
    const auths = cfg.auths ?? {};
    const want = registryDomainOfKey(domain);
    for (const [key, entry] of Object.entries(auths)) {
      if (registryDomainOfKey(key) !== want || !entry) continue;
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), identityToken: entry.identitytoken };
      }
      if (entry.username && entry.password) return { username: entry.username, password: entry.password, identityToken: entry.identitytoken };
    }
    return undefined;
  }

  /**
   * Whether `auths` already holds exactly what set() would write for `domain` (its entry has
   * nothing else: no email, no other token) and no helper is configured: a login that changes
   * nothing, which the docker CLI 28 does not warn about.
   */
  holds(domain: string, creds: Credentials): boolean {
    const cfg = this.read();
    if (this.helperFor(domain, cfg)) return false;
    const entries = Object.entries(cfg.auths ?? {}).filter(([key]) => registryDomainOfKey(key) === registryDomainOfKey(domain));
    if (entries.length !== 1) return false;
    const have = entries[0]![1] as Record<string, unknown> | null;
    const want = entryFor(creds);
    if (!have || typeof have !== 'object') return false;
    const keys = Object.keys(have).filter((k) => have[k] !== '' && have[k] !== undefined && have[k] !== null);
    return keys.length === Object.keys(want).length && keys.every((k) => have[k] === (want as Record<string, unknown>)[k]);
  }

  /**
   * Saves credentials for `domain`: in its credential helper when one is configured (the
   * config then keeps only an empty `auths` entry, as docker does), else in `auths` (file mode
   * 0600, other keys kept).
   */
  async set(domain: string, creds: Credentials): Promise<void> {
    const cfg = this.read();
    const auths = (cfg.auths ??= {});
    for (const key of Object.keys(auths)) if (registryDomainOfKey(key) === registryDomainOfKey(domain)) delete auths[key];
    const helper = this.helperFor(domain, cfg);
    // An identity token replaces the password, as the docker CLI stores it: a helper gets the
    // user `<token>`, the file keeps `auth` with an empty password and `identitytoken`.
    const token = creds.identityToken;
    if (helper) {
      const r = await runHelper(helper, 'store', JSON.stringify({ ServerURL: configKey(domain), Username: token ? '<token>' : creds.username, Secret: token ?? creds.password }));
      if (!r.ok) throw new HakoError({ step: `credential helper docker-credential-${helper} store ${configKey(domain)}: ${r.out || 'failed'}`, kind: 'unauthorized' });
      auths[configKey(domain)] = {};
    } else {
      auths[configKey(domain)] = entryFor(creds);
    }
    await this.write(cfg);
  }

  /** Removes credentials for `domain` (from its helper too); false when there were none. */
  async remove(domain: string): Promise<boolean> {
    const cfg = this.read();
    const helper = this.helperFor(domain, cfg);
    let erased = false;
    if (helper) {
      const r = await runHelper(helper, 'erase', configKey(domain));
      if (!r.ok && !r.out.includes(NOT_FOUND)) throw new HakoError({ step: `credential helper docker-credential-${helper} erase ${configKey(domain)}: ${r.out || 'failed'}`, kind: 'unauthorized' });
      erased = r.ok;
    }
    const auths = cfg.auths ?? {};
    let found = false;
    for (const key of Object.keys(auths)) {
      if (registryDomainOfKey(key) === registryDomainOfKey(domain)) {
        delete auths[key];
        found = true;
      }
    }
    if (found) await this.write(cfg);
    return found || erased;
  }

  private async write(cfg: ConfigFile): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  }
}
