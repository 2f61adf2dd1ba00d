// Volume routes.
import { invalid } from '../../common/errors.js';
import { engineOf, route, type ApiDeps, type Route } from '../deps.js';
import { decodeFilters, qBool, readJsonObject, sendJson, sendNoContent, type Ctx } from '../http.js';

async function create(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const body = await readJsonObject(ctx);
  if (body.Name !== undefined && typeof body.Name !== 'string') throw invalid('bad parameter: Name must be a string');
  if (body.Driver !== undefined && body.Driver !== null && typeof body.Driver !== 'string') throw invalid('bad parameter: Driver must be a string');
  sendJson(ctx, 201, await engineOf(deps).createVolume(body));
}

async function list(ctx: Ctx, deps: ApiDeps): Promise<void> {
  sendJson(ctx, 200, await engineOf(deps).listVolumes(decodeFilters(ctx.query.get('filters'))));
}

async function inspect(ctx: Ctx, deps: ApiDeps): Promise<void> {
  sendJson(ctx, 200, await engineOf(deps).inspectVolume(ctx.params[0]!));
}

async function remove(ctx: Ctx, deps: ApiDeps): Promise<void> {
  await engineOf(deps).removeVolume(ctx.params[0]!, { force: qBool(ctx, 'force') });
  sendNoContent(ctx);
}

async function prune(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const r = await engineOf(deps).pruneVolumes(decodeFilters(ctx.query.get('filters')));
  sendJson(ctx, 200, { VolumesDeleted: r.VolumesDeleted.length ? r.VolumesDeleted : null, SpaceReclaimed: r.SpaceReclaimed });
}

export const volumeRoutes: Route[] = [
  route('POST', '/volumes/create', create),
  route('GET', '/volumes', list),
  route('POST', '/volumes/prune', prune),
  route('GET', '/volumes/{name*?}', inspect), // moby's {name:.*}
  route('DELETE', '/volumes/{name*?}', remove),
];
