// The end of a process that is not our child: a container or exec whose monitor died, or one
// found running after a restart without its monitor. There is no exit status to wait for, only
// the process's end. A pidfd (pidfd_open(2), Linux ≥ 5.3) becomes readable when the process exits,
// whoever its parent is (the kernel wakes the pidfd's pollers at exit, before any reaping): watched
// on the main loop, the end is seen at once. Kernels without pidfd_open (ENOSYS) get a poll of
// /proc every 500 ms.
import { addonErrno, native } from '../native/addon.js';
import { isSameProcess } from '../runtime/state/process-info.js';

const ESRCH = 3;

export interface ProcessGoneOptions {
  /** Abandons the wait (the promise then never settles): the engine is closing. */
  signal?: AbortSignal;
  /** The fallback's poll period (default 500 ms). */
  pollMs?: number;
  /** pidfd_open (default: the addon's); a test passes one that fails with ENOSYS. */
  pidfdOpen?: (pid: number) => number;
}

/**
 * Resolves once process `pid`, started at `start` (/proc/PID/stat field 22), is gone (a zombie
 * counts as gone: its end happened). At once when it is gone already or the pid now names
 * another process. Never settles once `signal` aborted.
 */
export function processGone(pid: number, start: string | undefined, opts: ProcessGoneOptions = {}): Promise<void> {
  if (opts.signal?.aborted) return new Promise<void>(() => undefined);
  let fd: number;
  try {
    fd = (opts.pidfdOpen ?? ((p: number) => native().pidfdOpen(p)))(pid);
  } catch (err) {
    if (addonErrno(err) === ESRCH) return Promise.resolve();
    // ENOSYS (no pidfd_open), or anything else that keeps us from a pidfd (EMFILE): poll /proc.
    return pollGone(pid, start, opts);
  }
  // The pid may name another process by now: the pidfd is taken first, then the identity checked.
  if (!isSameProcess(pid, start)) {
    native().close(fd);
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const onAbort = (): void => {
      if (native().unwatch(fd)) native().close(fd);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    native().watch(fd, () => {
      opts.signal?.removeEventListener('abort', onAbort);
      native().close(fd);
      resolve();
    });
  });
}

/** The fallback: /proc every pollMs. */
function pollGone(pid: number, start: string | undefined, opts: ProcessGoneOptions): Promise<void> {
  return new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (opts.signal?.aborted) return clearInterval(poll);
      if (isSameProcess(pid, start)) return;
      clearInterval(poll);
      resolve();
    }, opts.pollMs ?? 500);
    poll.unref();
  });
}
