// Volume routes.
import { invalid } from '../../common/errors.js';
import { engineOf, route, type ApiDeps, type Route } from '../deps.js';
import { decodeFilters, qBool, readJsonObject, sendJson, sendNoContent, type Ctx } from '../http.js';
import { compareVersions } from '../version.js';

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
  const filters = decodeFilters(ctx.query.get('filters'));
  // moby's volume router: API 1.42 made prune take only anonymous volumes unless `all` is set;
  // an older client's prune takes every unused volume, as it did.
  if (compareVersions(ctx.version, '1.42') < 0) filters.all = ['true'];
  const r = await engineOf(deps).pruneVolumes(filters);
  // dockerd: [] when none went (its report's list is made empty, not nil).
  sendJson(ctx, 200, { VolumesDeleted: r.VolumesDeleted, SpaceReclaimed: r.SpaceReclaimed });
}

export const volumeRoutes: Route[] = [
  route('POST', '/volumes/create', create),
  route('GET', '/volumes', list),
  route('POST', '/volumes/prune', prune),
  route('GET', '/volumes/{name*?}', inspect), // moby's {name:.*}
  route('DELETE', '/volumes/{name*?}', remove),
];
