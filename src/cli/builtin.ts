// A Node built-in module loaded on first use, synchronously: for the modules a short command
// should not pay for at start-up (node:net, node:stream: ~1–3 ms each to load) when only some
// paths need them. process.getBuiltinModule (Node ≥ 20.16) where there is one, else require.
import { createRequire } from 'node:module';

export function builtin(id: string): unknown {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get === 'function') return get(id);
  return createRequire(import.meta.url)(id);
}

/** stream/promises' pipeline, loaded when used: node:stream is ~1.2 ms that `pull` or `ps` should not wait for. */
export function pipeline(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, opts?: { end?: boolean }): Promise<void> {
  const { pipeline: p } = builtin('node:stream/promises') as typeof import('node:stream/promises');
  return opts ? p(from, to, opts) : p(from, to);
}
