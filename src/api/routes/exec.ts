// Exec routes: create, start (hijacked unless Detach), resize, inspect.
import { invalid } from '../../common/errors.js';
import { engineOf, route, type ApiDeps, type Route } from '../deps.js';
import { qInt, readJsonObject, sendJson, type Ctx } from '../http.js';
import { encodeFrame, STDOUT } from '../stdcopy.js';
import { hijack, MULTIPLEXED_STREAM, pumpAttachment, RAW_STREAM } from '../streams.js';
import { dockerStartMessage } from '../../engine/start-errors.js';

async function create(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const body = await readJsonObject(ctx, { required: true });
  if (!Array.isArray(body.Cmd) || body.Cmd.length === 0 || !body.Cmd.every((x) => typeof x === 'string')) throw invalid('No exec command specified');
  if (body.Env !== undefined && body.Env !== null && !(Array.isArray(body.Env) && body.Env.every((x) => typeof x === 'string'))) throw invalid('bad parameter: Env must be a list of strings');
  for (const k of ['AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'Privileged']) {
    if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'boolean') throw invalid(`bad parameter: ${k} must be a boolean`);
  }
  const r = await engineOf(deps).createExec(ctx.params[0]!, body as never);
  sendJson(ctx, 201, { Id: r.Id });
}

async function start(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const engine = engineOf(deps);
  const body = await readJsonObject(ctx);
  const detach = body.Detach === true;
  const tty = body.Tty === true;
  const cs = body.ConsoleSize;
  if (cs !== undefined && cs !== null && !(Array.isArray(cs) && cs.length === 2 && cs.every((x) => Number.isInteger(x) && x >= 0 && x < 65536))) throw invalid('bad parameter: ConsoleSize must be [height, width]');
  const info = await engine.inspectExec(ctx.params[0]!);
  const consoleSize = (cs as [number, number] | null | undefined) ?? null;
  if (detach) {
    await engine.startExec(ctx.params[0]!, { detach, tty, consoleSize });
    sendJson(ctx, 200, undefined);
    return;
  }
  // Like dockerd: the upgrade answer goes out before the process starts, and a failure to start
  // it is then written into the stream. A client that reads the answer with a buffered HTTP
  // parser and then reads the raw socket (docker-py) loses whatever arrives together with the
  // answer, so the hijack holds the first output until the client has read the head (headGate).
  const procTty = (info.ProcessConfig as { tty?: boolean } | undefined)?.tty === true;
  const raw = tty || procTty;
  const conn = hijack(ctx, raw ? RAW_STREAM : MULTIPLEXED_STREAM);
  let att;
  try {
    att = await engine.startExec(ctx.params[0]!, { detach, tty, consoleSize });
  } catch (err) {
    // dockerd writes the error to the exec's stdout: framed like any output when not a TTY (a
    // raw line would break the client's demultiplexer: "Unrecognized input header").
    const line = Buffer.from(`${dockerStartMessage(err) ?? (err as Error).message}\r\n`);
    conn.write(raw ? line : encodeFrame(STDOUT, line));
    conn.end();
    return;
  }
  if (!att) {
    conn.end();
    return;
  }
  const stdin = (info.OpenStdin as boolean | undefined) ?? ((info.ProcessConfig as Record<string, unknown> | undefined) !== undefined);
  await pumpAttachment(conn, att, { stdin: stdin !== false });
}

async function resize(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const h = qInt(ctx, 'h', 0, 0, 65535)!;
  const w = qInt(ctx, 'w', 0, 0, 65535)!;
  await engineOf(deps).resizeExec(ctx.params[0]!, h, w);
  sendJson(ctx, 200, undefined);
}

async function inspect(ctx: Ctx, deps: ApiDeps): Promise<void> {
  sendJson(ctx, 200, await engineOf(deps).inspectExec(ctx.params[0]!));
}

export const execRoutes: Route[] = [
  route('POST', '/containers/{id*}/exec', create, { lean: true }),
  route('POST', '/exec/{id}/start', start, { hijack: true, lean: true }),
  route('POST', '/exec/{id}/resize', resize),
  route('GET', '/exec/{id}/json', inspect, { lean: true }),
];
