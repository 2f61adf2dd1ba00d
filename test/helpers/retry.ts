// Waiting for state that settles asynchronously (a daemon's network, a listener in a container, a
// process's exit) by polling it, never by a fixed sleep. The deadlines are generous (30 s): on a
// loaded 2-core machine a node or busybox start alone can take seconds, and a deadline only
// decides how long a real failure takes to be reported, never whether a check passes.
import { isSameProcess, processStartTime } from '../../src/runtime/state/process-info.js';

/**
 * Calls `fn` until it resolves, 10 ms after a failure at first, then doubling to every 100 ms (most
 * conditions hold within a few tries: a fixed 100 ms cost each ~50 ms; `fn` is often a process, so
 * not faster than 100 ms for long); after `ms` the last error is thrown, prefixed with `what`.
 */
export async function retryUntil<T>(fn: () => Promise<T>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Resolves once process `pid` (the one that started at `startTime`, when given) has exited: gone
 * from /proc or a zombie. Polls every 20 ms; throws after `ms`.
 */
export async function waitForExitOf(pid: number, what: string, startTime?: string | null, ms = 30_000): Promise<void> {
  const start = startTime ?? processStartTime(pid) ?? undefined;
  const end = Date.now() + ms;
  while (isSameProcess(pid, start)) {
    if (Date.now() > end) throw new Error(`${what}: pid ${pid} still runs after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Resolves once process `pid` catches signal number `signo` (SigCgt in /proc/<pid>/status). A
 * container's pid 1 must have its handler before a test signals it: the kernel drops a signal
 * sent to a pid namespace's init that has no handler for it (pid_namespaces(7)), so a signal
 * sent before `trap` ran is lost without a trace.
 */
export async function waitForHandler(pid: number, signo: number, what: string, ms = 30_000): Promise<void> {
  const { readFileSync } = await import('node:fs');
  await retryUntil(async () => {
    const mask = /^SigCgt:\s+([0-9a-f]+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0';
    if (((BigInt(`0x${mask}`) >> BigInt(signo - 1)) & 1n) === 0n) throw new Error(`pid ${pid} does not catch signal ${signo} yet`);
  }, what, ms);
}
