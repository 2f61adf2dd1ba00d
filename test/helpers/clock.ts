// Wall-clock helpers for tests that ask /events by whole seconds.

/**
 * Waits until the wall clock is in a new whole second and returns that second (unix seconds):
 * what happened before the call falls before it. A timer alone does not do: node's timers run on
 * libuv's millisecond loop clock and can fire a millisecond before Date.now() reaches their time,
 * so `since` computed right after could still be the old second.
 */
export async function nextWholeSecond(): Promise<number> {
  const next = Math.floor(Date.now() / 1000) + 1;
  while (Date.now() < next * 1000) await new Promise((r) => setTimeout(r, next * 1000 - Date.now() + 1));
  return next;
}
