// docker save / load / import over the API. Not done yet: each answers 501 with a clear message.
import type { ApiDeps } from './deps.js';
import { HttpError, type Ctx } from './http.js';

export async function saveImages(_ctx: Ctx, _deps: ApiDeps, _names: string[]): Promise<void> {
  throw new HttpError(501, 'image save (GET /images/get) is not implemented yet');
}

export async function loadArchive(ctx: Ctx, _deps: ApiDeps): Promise<void> {
  ctx.req.resume();
  throw new HttpError(501, 'image load (POST /images/load) is not implemented yet');
}

export async function importImage(ctx: Ctx, _deps: ApiDeps, _fromSrc: string): Promise<void> {
  ctx.req.resume();
  throw new HttpError(501, 'image import (POST /images/create?fromSrc=) is not implemented yet');
}
