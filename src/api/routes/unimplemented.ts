// Routes hako does not implement: a clear 501, never a fake success; and swarm and plugins,
// answered as dockerd 20.10 answers on a node that is in no swarm and has no plugins (which hakod
// always is and has).
import { route, type Route } from '../deps.js';
import { HttpError, sendJson, type Ctx } from '../http.js';

function no(what: string): () => Promise<void> {
  return async () => {
    throw new HttpError(501, `${what} is not implemented yet`);
  };
}

/** Drains the request body first, so a big upload (build context) gets its answer. */
function noDrain(what: string): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    ctx.req.resume();
    throw new HttpError(501, `${what} is not implemented yet`);
  };
}

const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

/** dockerd's 503 for swarm objects on a node outside any swarm. */
function notManager(ctx: Ctx): Promise<void> {
  ctx.req.resume();
  throw new HttpError(503, NOT_A_MANAGER);
}

async function noSuchPlugin(ctx: Ctx): Promise<void> {
  ctx.req.resume();
  throw new HttpError(404, `plugin "${ctx.params[0]}" not found`);
}

const METHODS = ['GET', 'POST', 'DELETE'];
const swarmObjects = ['nodes', 'services', 'tasks', 'secrets', 'configs'].flatMap((o) =>
  METHODS.flatMap((m) => [route(m, `/${o}`, notManager), route(m, `/${o}/{rest*}`, notManager)]),
);

export const unimplementedRoutes: Route[] = [
  route('GET', '/containers/{id*}/attach/ws', no('attach over websocket')),
  // No plugins are installed: an empty list, and no plugin by any name.
  route('GET', '/plugins', async (ctx) => sendJson(ctx, 200, [])),
  route('GET', '/plugins/{name*}/json', noSuchPlugin),
  route('DELETE', '/plugins/{name*}', noSuchPlugin),
  ...['enable', 'disable', 'upgrade', 'push', 'set'].map((a) => route('POST', `/plugins/{name*}/${a}`, noSuchPlugin)),
  route('GET', '/plugins/privileges', no('plugins')),
  route('POST', '/plugins/pull', noDrain('plugins')),
  route('POST', '/plugins/create', noDrain('plugins')),
  route('GET', '/swarm', notManager),
  route('GET', '/swarm/unlockkey', notManager),
  route('POST', '/swarm/update', notManager),
  route('POST', '/swarm/leave', async (ctx) => {
    ctx.req.resume();
    throw new HttpError(503, 'This node is not part of a swarm');
  }),
  route('POST', '/swarm/init', noDrain('swarm')),
  route('POST', '/swarm/join', noDrain('swarm')),
  ...swarmObjects,
  route('POST', '/session', no('sessions (BuildKit)')),
];
