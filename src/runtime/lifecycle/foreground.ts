// Running a process in the foreground (run, exec without --detach): forward our signals to it,
// relay a pty we own to our own terminal, and turn its end into an exit status like a shell
// does (128 + signal number when killed).
import { constants as osc } from 'node:os';
import type { SpawnedProcess } from '../../native/executor.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function waitInForeground(proc: SpawnedProcess, ptyMaster?: number): Promise<number> {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of FORWARDED) {
    const h = () => {
      try {
        proc.kill(osc.signals[sig]);
      } catch {
        /* already gone */
      }
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  // ./pty-relay.js (node:tty, and with it node:net and streams) only with a pty: ~2 ms of a short
  // command's start-up. (A bundled module, not import('node:tty'): see ./hooks.ts.)
  let stopRelay: (() => Promise<void>) | undefined;
  try {
    if (ptyMaster !== undefined) stopRelay = (await import('./pty-relay.js')).relayPty(ptyMaster);
    const { code, signal } = await proc.exited;
    if (signal) return 128 + ((osc.signals as Record<string, number>)[signal] ?? 0);
    return code ?? 0;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    await stopRelay?.();
  }
}
