// Network routes (swagger: Network): list, inspect, create, remove, connect, disconnect, prune.
import { invalid } from '../../common/errors.js';
import { engineOf, route, type ApiDeps, type Route } from '../deps.js';
import { decodeFilters, qStr, readJsonObject, sendJson, sendNoContent, type Ctx } from '../http.js';

async function list(ctx: Ctx, deps: ApiDeps): Promise<void> {
  sendJson(ctx, 200, await engineOf(deps).listNetworks(decodeFilters(ctx.query.get('filters'))));
}

async function inspect(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const scope = qStr(ctx, 'scope');
  if (scope && scope !== 'local') throw invalid(`scope "${scope}" is not supported: hako networks are local`);
  sendJson(ctx, 200, await engineOf(deps).inspectNetwork(ctx.params[0]!));
}

async function create(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const body = await readJsonObject(ctx, { required: true });
  for (const k of ['Name', 'Driver', 'Scope']) if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'string') throw invalid(`bad parameter: ${k} must be a string`);
  for (const k of ['IPAM', 'Options', 'Labels']) {
    if (body[k] !== undefined && body[k] !== null && (typeof body[k] !== 'object' || Array.isArray(body[k]))) throw invalid(`bad parameter: ${k} must be an object`);
  }
  sendJson(ctx, 201, await engineOf(deps).createNetwork(body));
}

async function remove(ctx: Ctx, deps: ApiDeps): Promise<void> {
  await engineOf(deps).removeNetwork(ctx.params[0]!);
  sendNoContent(ctx);
}

async function connect(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const body = await readJsonObject(ctx, { required: true });
  if (body.EndpointConfig !== undefined && body.EndpointConfig !== null && (typeof body.EndpointConfig !== 'object' || Array.isArray(body.EndpointConfig))) throw invalid('bad parameter: EndpointConfig must be an object');
  await engineOf(deps).connectNetwork(ctx.params[0]!, body);
  sendNoContent(ctx, 200);
}

async function disconnect(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const body = await readJsonObject(ctx, { required: true });
  await engineOf(deps).disconnectNetwork(ctx.params[0]!, body);
  sendNoContent(ctx, 200);
}

async function prune(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const r = await engineOf(deps).pruneNetworks(decodeFilters(ctx.query.get('filters')));
  sendJson(ctx, 200, { NetworksDeleted: r.NetworksDeleted.length ? r.NetworksDeleted : null });
}

export const networkRoutes: Route[] = [
  route('GET', '/networks', list),
  route('GET', '/networks/', list), // moby has both
  route('POST', '/networks/create', create),
  route('POST', '/networks/prune', prune),
  route('GET', '/networks/{id*}', inspect), // moby's {id:.+}: names may hold a slash
  route('DELETE', '/networks/{id*?}', remove), // moby's {id:.*}
  route('POST', '/networks/{id*}/connect', connect),
  route('POST', '/networks/{id*}/disconnect', disconnect),
];
