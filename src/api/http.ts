// Request context and the small HTTP helpers every route uses: JSON bodies (with a size limit),
// docker's query-parameter conventions (booleans, integers, filters) and JSON answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HakoError, invalid } from '../common/errors.js';
import type { Filters } from '../engine/api-types.js';
import { LeanRequest } from './lean-http.js';

/** The largest JSON request body accepted (container create bodies are a few KiB). */
export const MAX_JSON_BODY = 8 * 1024 * 1024;

export interface Upgraded {
  socket: Socket;
  /** The request body already read off the socket (exec start sends JSON before stdin). */
  body: Buffer;
}

export interface Ctx {
  req: IncomingMessage;
  /** Null when the request came as an HTTP upgrade (the socket is in `upgraded`). */
  res: ServerResponse | null;
  upgraded: Upgraded | null;
  method: string;
  /** Path without the version prefix. */
  path: string;
  version: string;
  params: string[];
  query: URLSearchParams;
  /** Aborted when the client goes away (made on first use). */
  readonly signal: AbortSignal;
  /** Whether the client went away (without making the signal). */
  clientGone(): boolean;
  /**
   * The handler is at work (a JSON stream wrote a line: a pull's progress): counts as activity,
   * as a request's start and end do, so hakod's idle memory upkeep waits (src/daemon/memory.ts).
   */
  working?(): void;
}

/** An error with an explicit HTTP status (for conditions HakoError has no kind for). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function notImplemented(what: string): HttpError {
  return new HttpError(501, `${what} is not implemented yet`);
}

const kindStatus: Record<string, number> = {
  'invalid-argument': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  internal: 500,
};

/** Maps an error to docker's status and message. */
export function errorStatus(err: unknown): { status: number; message: string; unexpected: boolean } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, unexpected: false };
  if (err instanceof HakoError) {
    const status = kindStatus[err.kind] ?? 500;
    return { status, message: err.message, unexpected: status === 500 };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, message: message || 'internal error', unexpected: true };
}

/** Writes a JSON answer (unless the response already went out). */
export function sendJson(ctx: Ctx, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body) + '\n';
  if (ctx.res) {
    if (ctx.res.headersSent) {
      ctx.res.end();
      return;
    }
    ctx.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    ctx.res.end(ctx.method === 'HEAD' ? undefined : text);
    return;
  }
  const sock = ctx.upgraded?.socket;
  if (!sock || sock.destroyed) return;
  sock.end(`HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}

export function sendNoContent(ctx: Ctx, status = 204): void {
  if (ctx.res) {
    ctx.res.writeHead(status);
    ctx.res.end();
  } else ctx.upgraded?.socket.end(`HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Length: 0\r\n\r\n`);
}

export function sendError(ctx: Ctx, err: unknown): void {
  const { status, message } = errorStatus(err);
  sendJson(ctx, status, { message });
}

function statusText(status: number): string {
  return (
    { 101: 'UPGRADED', 200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 500: 'Internal Server Error', 501: 'Not Implemented' } as Record<number, string>
  )[status] ?? 'Status';
}

/** Reads the whole request body (≤ limit bytes; more → 413). */
export async function readBody(ctx: Ctx, limit = MAX_JSON_BODY): Promise<Buffer> {
  if (ctx.upgraded) return ctx.upgraded.body;
  const declared = Number(ctx.req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `request body too large (${declared} bytes; the limit is ${limit})`);
  // The lean front read the whole body (Content-Length, ≤ LEAN_MAX_BODY) before the handler ran.
  if (ctx.req instanceof LeanRequest) return ctx.req.body;
  // No body (no Content-Length, or 0, and not chunked): no wait for the stream's end event.
  if (declared === 0 && ctx.req.headers['transfer-encoding'] === undefined) {
    ctx.req.resume();
    return Buffer.alloc(0);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body too large (the limit is ${limit} bytes)`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The deepest nesting of arrays and objects a JSON body may have (Go's encoding/json's limit). */
export const MAX_JSON_DEPTH = 10_000;

/**
 * Whether JSON text nests arrays/objects deeper than `max` (brackets inside strings do not count).
 * A linear scan of char codes: bodies are at most MAX_JSON_BODY.
 */
export function jsonTooDeep(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Parses a JSON object body; an empty body is `{}` (docker accepts that for most routes). */
export async function readJsonObject(ctx: Ctx, opts: { required?: boolean } = {}): Promise<Record<string, unknown>> {
  const buf = await readBody(ctx);
  const text = buf.length === 0 ? '' : buf.toString('utf8');
  if (text.trim() === '') {
    if (opts.required) throw invalid('bad parameter: request body is empty');
    return {};
  }
  // Go's decoder (dockerd's) refuses nesting deeper than 10000: a 400. JSON.parse takes any depth,
  // but the walks of the value after it (validation, copies, JSON.stringify of a record) recurse
  // and a body of ~10^5 nested arrays ended in a 500 `Maximum call stack size exceeded`.
  if (jsonTooDeep(text, MAX_JSON_DEPTH)) throw invalid(`invalid JSON: exceeded max depth (${MAX_JSON_DEPTH} nested arrays or objects)`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw invalid(`invalid JSON: ${(err as Error).message}`);
  }
  if (v === null && !opts.required) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('invalid JSON: the body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Docker's boolean query values: absent/"", 0, no, false, none → false; anything else true. */
export function qBool(ctx: Ctx, name: string, dflt = false): boolean {
  const v = ctx.query.get(name);
  if (v === null) return dflt;
  const s = v.toLowerCase().trim();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** An integer query value within [min, max]; absent/"" → dflt; anything else → 400. */
export function qInt(ctx: Ctx, name: string, dflt: number | undefined, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = ctx.query.get(name);
  if (v === null || v === '') return dflt;
  if (!/^-?[0-9]+$/.test(v.trim())) throw invalid(`invalid value for ${name}: "${v}" is not an integer`);
  const n = Number(v.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalid(`invalid value for ${name}: ${v} is out of range [${min}, ${max}]`);
  return n;
}

export function qStr(ctx: Ctx, name: string): string | undefined {
  const v = ctx.query.get(name);
  return v === null || v === '' ? undefined : v;
}

/**
 * Decodes docker's `filters` parameter: `{"label":["a=b"]}` or the old `{"label":{"a=b":true}}`.
 */
export function decodeFilters(raw: string | null | undefined): Filters {
  if (raw === null || raw === undefined || raw.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid(`invalid filter: ${JSON.stringify(raw.slice(0, 200))} is not JSON`);
  }
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('invalid filter: must be a JSON object');
  const out: Filters = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (Array.isArray(val)) {
      if (!val.every((x) => typeof x === 'string')) throw invalid(`invalid filter '${k}': values must be strings`);
      out[k] = val as string[];
    } else if (val && typeof val === 'object') {
      const keys = Object.entries(val as Record<string, unknown>).filter(([, b]) => b === true).map(([s]) => s);
      out[k] = keys;
    } else throw invalid(`invalid filter '${k}': values must be a list of strings`);
  }
  return out;
}

/** Unix seconds (possibly fractional, or an RFC3339 date) for since/until. */
export function qTime(ctx: Ctx, name: string): number | undefined {
  const v = qStr(ctx, name);
  if (v === undefined) return undefined;
  if (/^-?[0-9]+(\.[0-9]+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalid(`invalid value for ${name}: "${v}" is neither a Unix timestamp nor a date`);
  return t / 1000;
}
