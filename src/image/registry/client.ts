// A Docker Registry HTTP API v2 (OCI distribution) client: ping, manifests, blobs (with Range
// resume and redirects), uploads (monolithic, chunked, cross-repository mount), with anonymous,
// Basic and Bearer-token authentication.
import type { Readable } from 'node:stream';
import { HakoError, type HakoErrorKind } from '../../common/errors.js';
import { isDigest, sha256, type Digest } from '../digest.js';
import { manifestAccept } from '../media-types.js';
import type { Descriptor } from '../manifest.js';
import { markRetryable, isRetryable, sleep, type BlobFetcher } from '../store/content.js';
import type { Credentials } from './credentials.js';
import { agentsWithTls, createAgents, destroyAgents, drain, header, isDialFailure, readBody, registryProxy, send, type HttpAgents, type HttpResponse, type RegistryTls } from './http.js';
import { parseWwwAuthenticate, type Challenge } from './www-authenticate.js';
import { speaksTls } from './tls-probe.js';
import { bearerChallengeWords, dockerWordsOf, registryErrorWords, requestWords, unexpectedStatusWords, withDockerWords } from './errcode.js';

export interface RegistryClientOptions {
  /** Registry domain as in references: `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /**
   * Looked up lazily, when the registry asks for authentication (possibly by running a
   * credential helper); the answer is kept for a minute.
   */
  credentials?: (() => Credentials | undefined | Promise<Credentials | undefined>) | undefined;
  /** Hosts (`host` or `host:port`) allowed over plain HTTP / unverified TLS. */
  insecureRegistries?: readonly string[] | undefined;
  agents?: HttpAgents | undefined;
  /** Extra CA certificates and a client certificate for this registry. */
  tls?: RegistryTls | undefined;
  /** Attempts for idempotent requests failing with network errors or 5xx; default 4. */
  attempts?: number | undefined;
  /**
   * Where the answer to "https or http?" for insecure registries is kept, by domain, when it
   * should outlive this client (the clients of single pulls with a caller's credentials).
   */
  endpoints?: Map<string, URL> | undefined;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string | undefined;
  /** The registry's Docker-Content-Digest header, when sent. */
  headerDigest: Digest | undefined;
}

/** The most bytes of a repository's tags list, all pages together. */
const MAX_TAGS_LIST = 64 << 20;

function isLoopback(domain: string): boolean {
  const host = domain.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

interface RequestOptions {
  scopes: string[];
  headers?: Record<string, string>;
  body?: Buffer | Readable | undefined;
  signal?: AbortSignal | undefined;
  /** Follow redirects (blob downloads); credentials are not sent to another host. */
  followRedirects?: boolean;
}

interface RegistryErrorBody {
  errors?: { code?: string; message?: string; detail?: unknown }[];
}

export class RegistryClient {
  readonly domain: string;
  private base: URL | undefined;
  private readonly insecure: boolean;
  private readonly agents: HttpAgents;
  private readonly ownAgents: boolean;
  private readonly tlsAgents: HttpAgents | undefined;
  private probing: Promise<URL> | undefined;
  private readonly endpoints: Map<string, URL> | undefined;
  private readonly credentials: () => Credentials | undefined | Promise<Credentials | undefined>;
  private credsCache: { value: Promise<Credentials | undefined>; until: number } | undefined;
  private readonly attempts: number;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  /** Set while checkLogin runs (see there). */
  private login: { fetched: boolean; refreshToken?: string | undefined } | undefined;
  private readonly tokenRequests = new Map<string, Promise<string>>();

  constructor(opts: RegistryClientOptions) {
    this.domain = opts.domain;
    // Like docker, loopback registries (127.0.0.0/8, ::1, localhost) are insecure by default.
    this.insecure = isLoopback(opts.domain) || (opts.insecureRegistries ?? []).some((h) => h === opts.domain || h === opts.domain.replace(/:\d+$/, ''));
    const shared = opts.agents ?? createAgents();
    this.ownAgents = opts.agents === undefined;
    this.tlsAgents = opts.tls && (opts.tls.ca?.length || opts.tls.cert) ? agentsWithTls(shared, opts.tls) : undefined;
    this.agents = this.tlsAgents ?? shared;
    this.credentials = opts.credentials ?? (() => undefined);
    this.attempts = opts.attempts ?? 4;
    this.endpoints = opts.endpoints;
    if (opts.domain === 'docker.io') this.base = new URL('https://registry-1.docker.io');
    else if (!this.insecure) this.base = new URL(`https://${opts.domain}`);
    else this.base = this.endpoints?.get(opts.domain);
  }

  close(): void {
    if (this.tlsAgents) {
      this.tlsAgents.https.destroy();
      this.tlsAgents.httpsInsecure.destroy();
    }
    if (this.ownAgents) destroyAgents(this.agents);
  }

  /**
   * Picks https or http for an insecure registry, like docker: TLS without verification when
   * the port speaks TLS; when it does not (a plain-HTTP server, nothing on the port), HTTP.
   */
  private endpoint(signal?: AbortSignal, afterEarly = false): Promise<URL> {
    if (this.base) return Promise.resolve(this.base);
    this.probing ??= (async () => {
      // With a plain-HTTP request just sent ahead (see request), the probe starts on the event
      // loop's next check phase: the request's socket connects (loopback: at once) and the
      // request is written in the poll phase before, instead of after the probe's socket and
      // ClientHello are set up (~1 ms of a fresh daemon's CPU; the answer takes longer).
      if (afterEarly) await new Promise<void>((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
      const tls = new URL(`https://${this.domain}`);
      // Through HTTPS_PROXY when it applies to the registry (a CONNECT tunnel to ask through).
      const tlsOk = await speaksTls(tls.hostname.replace(/^\[|\]$/g, ''), Number(tls.port || 443), signal, registryProxy(this.agents, tls));
      this.base = tlsOk ? tls : new URL(`http://${this.domain}`);
      this.endpoints?.set(this.domain, this.base);
      return this.base;
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  // ---- authentication -------------------------------------------------------------------

  /** The credentials for this registry (cached for a minute; a failed lookup is not cached). */
  private creds(): Promise<Credentials | undefined> {
    const now = Date.now();
    if (!this.credsCache || this.credsCache.until < now) {
      const value = Promise.resolve().then(() => this.credentials());
      this.credsCache = { value, until: now + 60_000 };
      value.catch(() => {
        if (this.credsCache?.value === value) this.credsCache = undefined;
      });
    }
    return this.credsCache.value;
  }

  private async basicHeader(): Promise<string | undefined> {
    const c = await this.creds();
    // Only a username/password pair goes out as Basic (not the empty pair of token-only credentials).
    return c && (c.username || c.password) ? 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64') : undefined;
  }

  private async authorization(scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return await this.basicHeader();
    if (ch.scheme !== 'bearer') return undefined;
    // A registry token (X-Registry-Auth's registrytoken) is the bearer token itself, as docker uses it.
    const registryToken = (await this.creds())?.registryToken;
    if (registryToken) return `Bearer ${registryToken}`;
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    let p = this.tokenRequests.get(key);
    if (!p) {
      p = this.fetchToken(ch, scopes, signal).finally(() => this.tokenRequests.delete(key));
      this.tokenRequests.set(key, p);
    }
    return `Bearer ${await p}`;
  }

  private async fetchToken(ch: Challenge, scopes: string[], signal?: AbortSignal): Promise<string> {
    const login = this.login;
    const answer = await this.fetchTokenAnswer(ch, scopes, signal, login !== undefined);
    if (login) {
      login.fetched = true;
      login.refreshToken = answer.refreshToken ?? login.refreshToken;
    }
    return answer.token;
  }

  /**
   * `offline`: docker's login (its token handler with OfflineAccess): the GET also asks for a
   * refresh token (`offline_token=true&client_id=docker`, and `account`); the answer's
   * `refresh_token`, if any, is what dockerd returns as the IdentityToken.
   */
  private async fetchTokenAnswer(ch: Challenge, scopes: string[], signal?: AbortSignal, offline = false): Promise<{ token: string; refreshToken: string | undefined }> {
    const realm = ch.params.realm;
    if (!realm) throw new HakoError({ step: `authenticate to ${this.domain}: the registry's Bearer challenge has no realm`, kind: 'unauthorized' });
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new HakoError({ step: `authenticate to ${this.domain}: invalid token realm ${JSON.stringify(realm)}`, kind: 'unauthorized' });
    }
    const creds = await this.creds();
    if (creds?.identityToken) return this.fetchOAuthToken(url, ch, scopes, creds.identityToken, signal);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (offline) {
      url.searchParams.set('offline_token', 'true');
      url.searchParams.set('client_id', 'docker');
      if (creds?.username && creds.password) url.searchParams.set('account', creds.username);
    }
    const headers: Record<string, string> = {};
    const basic = await this.basicHeader();
    if (basic) headers.Authorization = basic;
    const res = await send(this.agents, { method: 'GET', url, headers, signal, insecureTls: this.insecure });
    const body = await readBody(res, 1 << 20);
    if (res.status === 401 || res.status === 403) {
      throw withDockerWords(this.authError(basic !== undefined, `token server ${url.origin} refused: ${errorText(body) || res.status}`), registryErrorWords(res.status, body));
    }
    if (res.status !== 200) {
      throw new HakoError({ step: `get a token for ${this.domain} from ${url.origin}: HTTP ${res.status} ${errorText(body)}`.trim(), kind: 'unauthorized' });
    }
    return this.keepToken(body, scopes, url);
  }

  /**
   * OAuth2 with an identity token (what `docker login` stores when the registry gives one, or a
   * credential helper returns for the user `<token>`): POST grant_type=refresh_token to the realm.
   */
  private async fetchOAuthToken(url: URL, ch: Challenge, scopes: string[], refreshToken: string, signal?: AbortSignal): Promise<{ token: string; refreshToken: string | undefined }> {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'hako' });
    if (ch.params.service) form.set('service', ch.params.service);
    if (scopes.length) form.set('scope', scopes.join(' '));
    const body = Buffer.from(form.toString());
    const res = await send(this.agents, { method: 'POST', url, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body, signal, insecureTls: this.insecure });
    const answer = await readBody(res, 1 << 20);
    if (res.status === 401 || res.status === 403 || res.status === 400) {
      throw withDockerWords(this.authError(true, `token server ${url.origin} refused the identity token: ${errorText(answer) || res.status}`), registryErrorWords(res.status, answer));
    }
    if (res.status !== 200) throw new HakoError({ step: `get a token for ${this.domain} from ${url.origin}: HTTP ${res.status} ${errorText(answer)}`.trim(), kind: 'unauthorized' });
    return this.keepToken(answer, scopes, url);
  }

  /** Parses a token answer and caches the token for its scopes; also returns its refresh_token. */
  private keepToken(body: Buffer, scopes: string[], url: URL): { token: string; refreshToken: string | undefined } {
    let token: string | undefined;
    let refreshToken: string | undefined;
    let expiresIn = 60;
    try {
      const o = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string; expires_in?: number; refresh_token?: unknown };
      token = o.token ?? o.access_token;
      if (typeof o.expires_in === 'number' && o.expires_in > 0) expiresIn = o.expires_in;
      if (typeof o.refresh_token === 'string' && o.refresh_token !== '') refreshToken = o.refresh_token;
    } catch {
      /* handled below */
    }
    if (!token) throw new HakoError({ step: `get a token for ${this.domain} from ${url.origin}: the answer has no token`, kind: 'unauthorized' });
    // Renew a little early so that a token does not expire in the middle of a request.
    this.tokens.set([...scopes].sort().join(' '), { token, expires: Date.now() + Math.max(expiresIn - 10, 5) * 1000 });
    return { token, refreshToken };
  }

  private authError(hadCredentials: boolean, detail?: string): HakoError {
    if (!hadCredentials) {
      return new HakoError({ step: `authentication required for ${this.domain}`, hint: 'run hako login', kind: 'unauthorized' });
    }
    return new HakoError({
      step: `authentication failed for ${this.domain}${detail ? `: ${detail}` : ''}`,
      hint: `check the username and password; run hako login ${this.domain}`,
      kind: 'unauthorized',
    });
  }

  // ---- requests ---------------------------------------------------------------------------

  /** One request with authentication: on 401 it learns the challenge and retries once. */
  private async request(method: string, pathOrUrl: string | URL, opts: RequestOptions): Promise<HttpResponse> {
    // The first request to an insecure registry goes out over plain HTTP while the TLS probe
    // runs, and is used when the probe says the port does not speak TLS (otherwise dropped
    // unread): a fresh daemon's first pull from such a registry does not wait for the probe
    // first. Only anonymous, bodiless GET/HEAD requests (no credentials travel over it).
    let early: Promise<HttpResponse> | undefined;
    if (this.base === undefined && this.insecure && typeof pathOrUrl === 'string' && opts.body === undefined && (method === 'GET' || method === 'HEAD') && this.challenge === undefined) {
      early = send(this.agents, { method, url: new URL(pathOrUrl, `http://${this.domain}`), headers: { ...opts.headers }, signal: opts.signal });
      early.catch(() => undefined); // used or dropped below
    }
    const base = await this.endpoint(opts.signal, early !== undefined);
    if (early && base.protocol !== 'http:') {
      early.then((r) => r.body.destroy(), () => undefined);
      early = undefined;
    }
    let url = typeof pathOrUrl === 'string' ? new URL(pathOrUrl, base) : pathOrUrl;
    let triedAuth: string | undefined;
    for (let round = 0; ; round++) {
      // A token server's refusal is, in dockerd's words, this request's:
      // `Head "http://…/v2/x/manifests/y": unauthorized: incorrect username or password`.
      const auth = await this.authorization(opts.scopes, opts.signal).catch((err: unknown) => {
        const w = dockerWordsOf(err);
        throw w && err instanceof HakoError ? withDockerWords(new HakoError({ step: err.step, hint: err.hint, kind: err.kind, cause: err.cause }), requestWords(method, url, w.bare ?? w.text)) : err;
      });
      const headers: Record<string, string> = { ...opts.headers };
      if (auth) headers.Authorization = auth;
      let res: HttpResponse;
      if (early && auth === undefined) res = await early;
      else {
        early?.then((r) => r.body.destroy(), () => undefined);
        res = await send(this.agents, { method, url, headers, body: opts.body, signal: opts.signal, insecureTls: this.insecure });
      }
      early = undefined;
      if (res.status === 401 && round === 0 && (opts.body === undefined || Buffer.isBuffer(opts.body))) {
        const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
        await drain(res);
        const ch = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
        if (!ch) throw this.authError((await this.creds()) !== undefined, 'unsupported authentication scheme');
        // dockerd: `Head "http://…/v2/x/manifests/y": no basic auth credentials` (its push: the
        // last part alone).
        if (ch.scheme === 'basic' && !(await this.creds())) throw withDockerWords(this.authError(false), requestWords(method, url, 'no basic auth credentials'));
        this.challenge = ch;
        // A new challenge invalidates cached tokens for these scopes.
        this.tokens.delete([...opts.scopes].sort().join(' '));
        triedAuth = auth;
        continue;
      }
      if (res.status === 401) {
        const body = await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
        const hadCreds = (await this.creds()) !== undefined;
        // dockerd says what the registry said: `unauthorized: authentication required`, or what
        // its Bearer challenge says first (a token without access: `denied: …`).
        const words = bearerChallengeWords(parseWwwAuthenticate(res.headers['www-authenticate'])) ?? registryErrorWords(401, body);
        throw withDockerWords(this.authError(hadCreds, hadCreds ? errorText(body) || undefined : undefined), words && { ...words, answer: { status: 401, url: url.href } });
      }
      void triedAuth;
      let hops = 0;
      while (opts.followRedirects && [301, 302, 303, 307, 308].includes(res.status) && hops < 5) {
        const loc = header(res.headers, 'location');
        await drain(res);
        if (!loc) break;
        const next = new URL(loc, url);
        const h: Record<string, string> = { ...opts.headers };
        if (next.origin === base.origin && auth) h.Authorization = auth;
        url = next;
        res = await send(this.agents, { method, url, headers: h, signal: opts.signal, insecureTls: this.insecure });
        hops++;
      }
      return res;
    }
  }

  /** `request` for idempotent methods, retried with backoff on network errors, 5xx and 429. */
  private async requestRetry(method: string, path: string, opts: RequestOptions): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.request(method, path, opts);
        if ((res.status >= 500 || res.status === 429) && attempt < this.attempts) {
          await drain(res);
          await sleep(Math.min(200 * 2 ** (attempt - 1), 3000), opts.signal);
          continue;
        }
        return res;
      } catch (err) {
        // A connection never made fails at once, as dockerd's (its pull retries only layers).
        if (!isRetryable(err) || isDialFailure(err) || attempt >= this.attempts || opts.signal?.aborted) throw err;
        await sleep(Math.min(200 * 2 ** (attempt - 1), 3000), opts.signal);
      }
    }
  }

  /**
   * A HakoError for an unexpected answer: `manifest unknown`, `blob unknown to registry`.
   * `docker`: it carries dockerd's words too (errcode.ts), for a pull's manifest and tags list.
   */
  private async failure(res: HttpResponse, what: string, docker = false): Promise<HakoError> {
    const body = await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
    const said = errorText(body);
    const text = said ? (res.status >= 500 || res.status === 429 ? `${said} (HTTP ${res.status})` : said) : res.status === 404 ? 'not found' : `HTTP ${res.status}`;
    let kind: HakoErrorKind = 'internal';
    if (res.status === 404) kind = 'not-found';
    else if (res.status === 403) kind = 'forbidden';
    else if (res.status === 400 || res.status === 405) kind = 'invalid-argument';
    // A 5xx reads the same in dockerd whatever the request was (a pull's manifest, a push's
    // upload or manifest): its status line.
    const words = res.status >= 500 ? unexpectedStatusWords(res.status, res.body.statusMessage) : docker ? registryErrorWords(res.status, body) : undefined;
    const err = withDockerWords(new HakoError({ step: what ? `${what}: ${text}` : text, kind }), words);
    return res.status >= 500 || res.status === 429 ? markRetryable(err) : err;
  }

  // ---- API ---------------------------------------------------------------------------------

  /** GET /v2/: resolves when the registry answers and we may talk to it (credentials checked). */
  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.requestRetry('GET', '/v2/', { scopes: [], signal });
    if (res.status !== 200) throw await this.failure(res, `ping ${this.domain}`);
    await drain(res);
  }

  /**
   * Checks credentials: Basic against /v2/, Bearer by asking the token server with them (as
   * docker's login does, for a refresh token too). Returns the identity token to give the
   * client: a refresh token the token server issued that differs from the one used.
   */
  async checkLogin(signal?: AbortSignal): Promise<{ identityToken?: string }> {
    // Like dockerd's login: the token requests of this check (the /v2/ ping's, after its 401)
    // ask for a refresh token.
    const login: { fetched: boolean; refreshToken?: string | undefined } = { fetched: false };
    this.login = login;
    try {
      const res = await this.requestRetry('GET', '/v2/', { scopes: [], signal });
      if (res.status !== 200) {
        const url = res.url.href;
        const err = await this.failure(res, `ping ${this.domain}`);
        throw withDockerWords(err, { text: '', ...dockerWordsOf(err), answer: { status: res.status, url } });
      }
      await drain(res);
      const creds = await this.creds();
      if (this.challenge?.scheme === 'bearer' && !creds?.registryToken && !login.fetched) await this.fetchToken(this.challenge, [], signal);
      // No challenge: the registry let us in anonymously, nothing to check.
      const rt = login.refreshToken;
      return rt && rt !== creds?.identityToken ? { identityToken: rt } : {};
    } finally {
      this.login = undefined;
    }
  }

  async getManifest(repo: string, ref: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const res = await this.requestRetry('GET', `/v2/${repo}/manifests/${ref}`, {
      scopes: [`repository:${repo}:pull`],
      headers: { Accept: manifestAccept },
      signal,
    });
    if (res.status !== 200) throw await this.failure(res, '', true);
    const bytes = await readBody(res, 4 << 20);
    const hd = header(res.headers, 'docker-content-digest');
    return { bytes, mediaType: header(res.headers, 'content-type'), headerDigest: isDigest(hd) ? hd : undefined };
  }

  /**
   * GET /v2/<repo>/tags/list: every tag of the repository, in the registry's order (lexical for
   * docker-registry), following the `Link: <…>; rel="next"` pages as distribution's client does.
   */
  async listTags(repo: string, signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let path = `/v2/${repo}/tags/list`;
    // All pages together (each at most 16 MiB): a registry whose pages never end (a new `next`
    // each time) grew the list until hakod ran out of memory. A repository of 10^5 tags lists ~4 MB.
    let total = 0;
    for (let page = 0; page < 10_000; page++) {
      const res = await this.requestRetry('GET', path, { scopes: [`repository:${repo}:pull`], signal });
      if (res.status !== 200) throw await this.failure(res, '', true);
      const link = header(res.headers, 'link');
      let body: { tags?: unknown };
      let bytes: Buffer;
      const left = MAX_TAGS_LIST - total;
      try {
        bytes = await readBody(res, Math.min(16 << 20, left));
      } catch (err) {
        if (left < 16 << 20 && err instanceof HakoError && /response larger than/.test(err.message)) {
          throw new HakoError({ step: `tags list of ${repo}: the registry's answer is larger than ${MAX_TAGS_LIST} bytes in all (${page + 1} pages)`, kind: 'internal', cause: err });
        }
        throw err;
      }
      total += bytes.length;
      try {
        body = JSON.parse(bytes.toString('utf8')) as { tags?: unknown };
      } catch (err) {
        throw new HakoError({ step: `tags list of ${repo}: the registry's answer is not JSON`, kind: 'internal', cause: err });
      }
      if (Array.isArray(body.tags)) for (const t of body.tags) if (typeof t === 'string') tags.push(t);
      const next = link?.match(/<([^>]+)>\s*;\s*rel="?next"?/)?.[1];
      if (!next) return tags;
      // The next page's address is relative to the registry (same origin: its credentials).
      const u = new URL(next, 'http://registry.invalid');
      path = `${u.pathname}${u.search}`;
    }
    throw new HakoError({ step: `tags list of ${repo}: too many pages`, kind: 'internal' });
  }

  /** HEAD a manifest: its digest and media type, or undefined when the registry does not have it. */
  async headManifest(repo: string, ref: string, signal?: AbortSignal): Promise<{ digest: Digest | undefined; mediaType: string | undefined; size: number } | undefined> {
    const res = await this.requestRetry('HEAD', `/v2/${repo}/manifests/${ref}`, {
      scopes: [`repository:${repo}:pull`],
      headers: { Accept: manifestAccept },
      signal,
    });
    await drain(res);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.failure(res, `HEAD manifest ${repo}:${ref}`);
    const hd = header(res.headers, 'docker-content-digest');
    return { digest: isDigest(hd) ? hd : undefined, mediaType: header(res.headers, 'content-type'), size: Number(header(res.headers, 'content-length') ?? 0) };
  }

  /** A fetcher for `ingest`: GET the blob from `offset` (Range), following redirects. */
  blobFetcher(repo: string, digest: Digest): BlobFetcher {
    return async (offset, signal) => {
      const headers: Record<string, string> = {};
      if (offset > 0) headers.Range = `bytes=${offset}-`;
      const res = await this.request('GET', `/v2/${repo}/blobs/${digest}`, { scopes: [`repository:${repo}:pull`], headers, signal, followRedirects: true });
      if (res.status === 200) return { body: res.body, start: 0 };
      if (res.status === 206) {
        const m = /^bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '');
        return { body: res.body, start: m ? Number(m[1]) : offset };
      }
      throw await this.failure(res, `blob ${digest}`);
    };
  }

  /** A small blob (config) in memory; the caller verifies its digest. */
  async getBlob(repo: string, desc: Descriptor, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.requestRetry('GET', `/v2/${repo}/blobs/${desc.digest}`, { scopes: [`repository:${repo}:pull`], signal, followRedirects: true });
    if (res.status !== 200) {
      const err = await this.failure(res, `blob ${desc.digest}`);
      // A 5xx was asked again (requestRetry) before it stood: dockerd's words say how often.
      const w = dockerWordsOf(err);
      if (w && res.status >= 500) withDockerWords(err, { ...w, text: `download failed after attempts=${this.attempts}: ${w.text}`, bare: `download failed after attempts=${this.attempts}: ${w.text}` });
      throw err;
    }
    return readBody(res, Math.max(desc.size, 1) + 1);
  }

  /** HEAD a blob: its size, or undefined when the repository does not have it. */
  async blobSize(repo: string, digest: Digest, signal?: AbortSignal, push = false): Promise<number | undefined> {
    const res = await this.requestRetry('HEAD', `/v2/${repo}/blobs/${digest}`, { scopes: [`repository:${repo}:${push ? 'pull,push' : 'pull'}`], signal, followRedirects: true });
    await drain(res);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.failure(res, `HEAD blob ${digest}`);
    return Number(header(res.headers, 'content-length') ?? 0);
  }

  /** Starts an upload session, or mounts `digest` from `mountFrom` (same registry). */
  async startUpload(repo: string, opts: { mount?: Digest; from?: string; signal?: AbortSignal } = {}): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    const scopes = [`repository:${repo}:pull,push`];
    let path = `/v2/${repo}/blobs/uploads/`;
    if (opts.mount && opts.from) {
      path += `?mount=${encodeURIComponent(opts.mount)}&from=${encodeURIComponent(opts.from)}`;
      scopes.push(`repository:${opts.from}:pull`);
    }
    const res = await this.request('POST', path, { scopes, signal: opts.signal });
    if (res.status === 201 && opts.mount) {
      await drain(res);
      return { mounted: true };
    }
    if (res.status !== 202) throw await this.failure(res, `start upload to ${repo}`);
    await drain(res);
    const loc = header(res.headers, 'location');
    if (!loc) throw new HakoError({ step: `start upload to ${repo}: the registry sent no Location`, kind: 'internal' });
    return { mounted: false, location: new URL(loc, await this.endpoint()) };
  }

  /**
   * Uploads a blob: one PUT when `chunkSize` is 0 or the blob is no larger, else PATCH chunks
   * (Content-Range) and a closing PUT. `open(start)` gives the bytes from `start`.
   */
  async uploadBlob(repo: string, desc: { digest: Digest; size: number }, open: (start: number, end: number) => Readable, opts: { location: URL; chunkSize?: number; signal?: AbortSignal }): Promise<void> {
    const scopes = [`repository:${repo}:pull,push`];
    let location = opts.location;
    const chunk = opts.chunkSize ?? 0;
    const what = `upload blob ${desc.digest} to ${repo}`;
    if (chunk > 0 && desc.size > chunk) {
      for (let start = 0; start < desc.size; start += chunk) {
        const end = Math.min(start + chunk, desc.size) - 1;
        const res = await this.request('PATCH', location, {
          scopes,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end}`, 'Content-Length': String(end - start + 1) },
          body: open(start, end),
          signal: opts.signal,
        });
        if (res.status !== 202) throw await this.failure(res, what);
        await drain(res);
        const loc = header(res.headers, 'location');
        if (loc) location = new URL(loc, location);
      }
      const url = new URL(location);
      url.searchParams.set('digest', desc.digest);
      const res = await this.request('PUT', url, { scopes, signal: opts.signal });
      if (res.status !== 201) throw await this.failure(res, what);
      await drain(res);
      return;
    }
    const url = new URL(location);
    url.searchParams.set('digest', desc.digest);
    const res = await this.request('PUT', url, {
      scopes,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: desc.size === 0 ? Buffer.alloc(0) : open(0, desc.size - 1),
      signal: opts.signal,
    });
    if (res.status !== 201) throw await this.failure(res, what);
    await drain(res);
  }

  /** PUT a manifest under a tag or digest; returns its digest (checked against the registry's). */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<Digest> {
    const res = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, {
      scopes: [`repository:${repo}:pull,push`],
      headers: { 'Content-Type': mediaType },
      body: bytes,
      signal,
    });
    if (res.status !== 201 && res.status !== 200) throw await this.failure(res, `push manifest ${repo}:${ref}`);
    await drain(res);
    const ours = sha256(bytes);
    const theirs = header(res.headers, 'docker-content-digest');
    if (theirs && theirs !== ours) {
      throw new HakoError({ step: `push manifest ${repo}:${ref}: the registry stored digest ${theirs}, expected ${ours}`, kind: 'internal' });
    }
    return ours;
  }
}

/** The registry's error text: `manifest unknown`, joined when there are several. */
export function errorText(body: Buffer): string {
  if (body.length === 0) return '';
  try {
    const o = JSON.parse(body.toString('utf8')) as RegistryErrorBody;
    if (Array.isArray(o.errors) && o.errors.length > 0) {
      return o.errors.map((e) => (e.message || e.code || '').toLowerCase()).filter((x) => x).join('; ');
    }
  } catch {
    /* not JSON */
  }
  const t = body.toString('utf8').trim();
  return t.length > 200 ? t.slice(0, 200) + '…' : t;
}
