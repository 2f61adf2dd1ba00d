// Routes hako does not implement yet: a clear 501, never a fake success.
import { route, type Route } from '../deps.js';
import { HttpError, type Ctx } from '../http.js';

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

export const unimplementedRoutes: Route[] = [
  route('POST', '/build', noDrain('build')),
  route('GET', '/containers/{id}/attach/ws', no('attach over websocket')),
  route('GET', '/plugins', no('plugins')),
  route('GET', '/swarm', no('swarm')),
  route('GET', '/services', no('swarm services')),
  route('GET', '/nodes', no('swarm nodes')),
  route('GET', '/tasks', no('swarm tasks')),
  route('GET', '/secrets', no('swarm secrets')),
  route('GET', '/configs', no('swarm configs')),
  route('POST', '/session', no('sessions (BuildKit)')),
  route('GET', '/distribution/{name*}/json', no('distribution inspect')),
];
