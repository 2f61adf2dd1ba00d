// A real registry for tests: Debian's docker-registry (distribution 2.8) on a free 127.0.0.1
// port with a temp storage dir, optionally with htpasswd Basic auth or Bearer tokens from a tiny
// token server (ES256 JWTs carrying an x5c certificate the registry trusts). Stopped by pid.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { existsSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createPrivateKey, sign, X509Certificate, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createServer as netServer } from 'node:net';
import { tempDir } from './fixtures.js';
import { atExit, killSync } from './exit-cleanup.js';
import { recordProc } from './ledger.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const hasRegistry = existsSync(REGISTRY_BIN);
export const hasHtpasswd = (() => {
  try {
    execFileSync('htpasswd', ['-h'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as { status?: number }).status !== undefined && (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
})();

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRegistry {
  port: number;
  /** `127.0.0.1:PORT` */
  host: string;
  dir: string;
  /** The registry's log so far (access log lines included). */
  log(): string;
  /** Count of access-log lines for `METHOD path-substring` answered with a 2xx/3xx. */
  count(method: string, pathPart: string): number;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Basic auth with one user. */
  basic?: { user: string; password: string };
  /** Bearer tokens from `token.realm`, signed with the key of `token.certPath`. */
  token?: { realm: string; service: string; issuer: string; certPath: string };
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certPath: string; keyPath: string };
}

async function waitUp(port: number, proc: ChildProcess, logPath: string, tls: boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${readFileSync(logPath, 'utf8')}`);
    const ok = await new Promise<boolean>((resolve) => {
      if (tls) {
        const r = httpsRequest({ host: '127.0.0.1', port, path: '/v2/', rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode === 200 || res.statusCode === 401);
        });
        r.on('error', () => resolve(false));
        r.end();
        return;
      }
      fetch(`http://127.0.0.1:${port}/v2/`).then((r) => resolve(r.status === 200 || r.status === 401)).catch(() => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`docker-registry did not come up: ${readFileSync(logPath, 'utf8')}`);
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const tmp = tempDir('hako-registry-');
  const port = await freePort();
  let auth = '';
  if (opts.basic) {
    const line = execFileSync('htpasswd', ['-Bbn', opts.basic.user, opts.basic.password], { encoding: 'utf8' });
    writeFileSync(join(tmp.path, 'htpasswd'), line);
    auth = `auth:\n  htpasswd:\n    realm: hako-test\n    path: ${join(tmp.path, 'htpasswd')}\n`;
  } else if (opts.token) {
    const t = opts.token;
    auth = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.certPath}\n`;
  }
  const config =
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${join(tmp.path, 'data')}\n  delete:\n    enabled: true\n` +
    `http:\n  addr: 127.0.0.1:${port}\n` +
    (opts.tls ? `  tls:\n    certificate: ${opts.tls.certPath}\n    key: ${opts.tls.keyPath}\n` : '') +
    auth;
  writeFileSync(join(tmp.path, 'config.yml'), config);
  const logPath = join(tmp.path, 'registry.log');
  const fd = openSync(logPath, 'a');
  const proc = spawn(REGISTRY_BIN, ['serve', join(tmp.path, 'config.yml')], { stdio: ['ignore', fd, fd] });
  recordProc(proc.pid, `registry ${tmp.path}`);
  closeSync(fd);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // Stopped and its dir removed even if this process exits first (helpers/exit-cleanup.ts).
  const dropExitCleanup = atExit(() => {
    // Only while not reaped: a reaped pid may belong to someone else by now.
    if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) killSync(proc.pid, 'SIGTERM', 5000);
    tmp.cleanup();
  });
  try {
    await waitUp(port, proc, logPath, opts.tls !== undefined);
  } catch (err) {
    dropExitCleanup();
    if (proc.pid && proc.exitCode === null) process.kill(proc.pid, 'SIGKILL');
    await exited;
    tmp.cleanup();
    throw err;
  }
  const log = (): string => readFileSync(logPath, 'utf8');
  return {
    port,
    host: `127.0.0.1:${port}`,
    dir: tmp.path,
    log,
    count(method, pathPart) {
      // Access log lines: `127.0.0.1 - - [..] "GET /v2/x/blobs/sha256:… HTTP/1.1" 200 …`
      return log()
        .split('\n')
        .filter((l) => l.includes(`"${method} `) && l.includes(pathPart) && /" [23]\d\d /.test(l)).length;
    },
    async stop() {
      dropExitCleanup();
      if (proc.pid && proc.exitCode === null) process.kill(proc.pid, 'SIGTERM');
      const t = setTimeout(() => proc.pid && proc.exitCode === null && process.kill(proc.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
      tmp.cleanup();
    },
  };
}

// ---- a tiny Bearer token server ---------------------------------------------------------------

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Token requests seen: their scopes and whether they had (valid) credentials. */
  requests: { scopes: string[]; user: string | undefined; /** A GET with offline_token=true (docker's login), with its client_id and account. */ offline?: { clientId: string | null; account: string | null } }[];
  stop(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/**
 * Issues tokens like Docker Hub's auth server: anonymous callers get pull on `public/*`,
 * `user`/`password` get everything; wrong credentials get 401.
 */
export async function startTokenServer(opts: {
  user: string;
  password: string;
  /** Accepted as an OAuth2 refresh token (POST grant_type=refresh_token) for `user`. */
  identityToken?: string;
  /** Sent back as `refresh_token` to a GET with `user`'s credentials and offline_token=true (docker's login). */
  issueRefreshToken?: boolean;
}): Promise<TokenServer> {
  const tmp = tempDir('hako-token-');
  const keyPath = join(tmp.path, 'key.pem');
  const certPath = join(tmp.path, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=hako-test-token'], { stdio: 'ignore' });
  const key = createPrivateKey(readFileSync(keyPath));
  const certDer = new X509Certificate(readFileSync(certPath)).raw;
  const service = 'hako-test-registry';
  const issuer = 'hako-test-issuer';
  const requests: TokenServer['requests'] = [];
  const handler = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    let scopes = url.searchParams.getAll('scope');
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (req.method === 'POST') {
      // OAuth2 (docker's identity tokens): form-encoded refresh_token grant.
      const form = new URLSearchParams(body);
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      if (form.get('grant_type') !== 'refresh_token' || !opts.identityToken || form.get('refresh_token') !== opts.identityToken) {
        requests.push({ scopes, user: undefined });
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid refresh token' }] }));
        return;
      }
      user = opts.user;
    } else if (authz?.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(authz.slice(6), 'base64').toString().split(':');
      if (u !== opts.user || p.join(':') !== opts.password) {
        requests.push({ scopes, user: undefined });
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
        return;
      }
      user = u;
    }
    const offline = req.method === 'GET' && url.searchParams.get('offline_token') === 'true' ? { clientId: url.searchParams.get('client_id'), account: url.searchParams.get('account') } : undefined;
    requests.push({ scopes, user, ...(offline ? { offline } : {}) });
    const refresh = offline && user && opts.issueRefreshToken && opts.identityToken ? { refresh_token: opts.identityToken } : {};
    const access = scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      const wanted = (actions ?? '').split(',');
      const granted = user ? wanted : (name ?? '').startsWith('public/') ? wanted.filter((a) => a === 'pull') : [];
      return { type, name, actions: granted };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${b64url(sig)}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString(), ...refresh }));
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      tmp.cleanup();
    },
  };
}
