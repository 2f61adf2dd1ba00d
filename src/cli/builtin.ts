// A Node built-in module loaded on first use, synchronously: for the modules a short command
// should not pay for at start-up (node:net, node:stream: ~1–3 ms each to load) when only some
// paths need them. process.getBuiltinModule (Node ≥ 20.16) where there is one, else the main
// module's require (bin/hako.cjs, CommonJS). Not node:module's createRequire: loading node:module
// loads Node's ESM loader and source-map support with it (~0.5 ms).

export function builtin(id: string): unknown {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get === 'function') return get(id);
  const main = (process as { mainModule?: { require(id: string): unknown } }).mainModule;
  if (main) return main.require(id);
  throw new Error(`cannot load ${id}: this Node has no process.getBuiltinModule (Node ≥ 20.16 has) and the main module is not CommonJS`);
}

/** stream/promises' pipeline, loaded when used: node:stream is ~1.2 ms that `pull` or `ps` should not wait for. */
export function pipeline(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, opts?: { end?: boolean }): Promise<void> {
  const { pipeline: p } = builtin('node:stream/promises') as typeof import('node:stream/promises');
  return opts ? p(from, to, opts) : p(from, to);
}
