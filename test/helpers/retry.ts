// Retrying a check that throws until it passes: for state that settles asynchronously (a
// daemon's network, a listener in a container).

/** Calls `fn` every 100 ms until it resolves; after `ms` the last error is thrown, prefixed with `what`. */
export async function retryUntil<T>(fn: () => Promise<T>, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
