// What the routes are given: the engine (containers, exec, volumes, system), the image service,
// and daemon facts for /version and /info.
import type { ContainerEngine } from '../engine/api-types.js';
import type { ImageService } from '../image/images.js';
import { HttpError, type Ctx } from './http.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ApiDeps {
  /** Undefined until the engine is built in: container routes then answer 501. */
  engine: ContainerEngine | undefined;
  images: ImageService;
  log(level: LogLevel, msg: string): void;
  /** Called as a build begins (hakod: a daemon that has built writes no code cache). */
  onBuildStart?: (() => void) | undefined;
  daemon: { version: string; root: string; execRoot: string; startedAt: Date; debug: boolean; insecureRegistries: string[] };
}

export type Handler = (ctx: Ctx, deps: ApiDeps) => Promise<void>;

export interface Route {
  method: string;
  path: RegExp;
  handler: Handler;
  /** Handles upgraded (hijacked) connections too. */
  hijack?: boolean;
  /**
   * May be served by the lean HTTP front (src/api/lean-http.ts): the handler reads the request
   * only through readBody/readJsonObject, the query and the params, and answers only through
   * sendJson/sendNoContent/sendError, writeHead/flushHeaders/write/end, or (hijack routes, when
   * upgraded) the upgraded socket. Not for routes that stream the request body or pipe answers.
   */
  lean?: boolean;
}

export function engineOf(deps: ApiDeps): ContainerEngine {
  if (!deps.engine) throw new HttpError(501, 'containers are not available: this hakod runs without the container engine (images only)');
  return deps.engine;
}

/**
 * Route path pattern: `/containers/{id}/json` → /^\/containers\/([^/]+)\/json$/; `{name*}` matches
 * slashes; a trailing `?` (`{id?}`, `{name*?}`) lets it be empty too, as moby's `{name:.*}` routes
 * (`DELETE /images/` reaches the handler, which answers dockerd's "image name cannot be blank").
 */
export function route(method: string, pattern: string, handler: Handler, opts: { hijack?: boolean; lean?: boolean } = {}): Route {
  const re =
    '^' +
    pattern
      .replace(/[.+^$()[\]\\|]/g, '\\$&')
      .replace(/\{[a-zA-Z]+(\*?)(\??)\}/g, (_m, star: string, opt: string) => `(${star ? '.' : '[^/]'}${opt ? '*' : '+'})`) +
    '$';
  return { method, path: new RegExp(re), handler, hijack: opts.hijack, lean: opts.lean };
}
