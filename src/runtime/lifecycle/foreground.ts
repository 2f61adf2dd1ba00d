// Running a process in the foreground (run, exec without --detach): forward our signals to it,
// relay a pty we own to our own terminal, and turn its end into an exit status like a shell
// does (128 + signal number when killed).
import { writeSync, closeSync } from 'node:fs';
import { constants as osc } from 'node:os';
import { native } from '../../native/addon.js';
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
  // node:tty (and with it node:net and streams) only with a pty: ~2 ms of a short command's start-up.
  const stopRelay = ptyMaster === undefined ? undefined : relayPty(ptyMaster, (await import('node:tty')).ReadStream);
  try {
    const { code, signal } = await proc.exited;
    if (signal) return 128 + ((osc.signals as Record<string, number>)[signal] ?? 0);
    return code ?? 0;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    await stopRelay?.();
  }
}

/** Copies the pty's output to stdout and stdin to the pty; raw mode on our terminal meanwhile. */
function relayPty(master: number, ReadStream: typeof import('node:tty').ReadStream): () => Promise<void> {
  const stdin = process.stdin;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  const resize = () => {
    if (process.stdout.isTTY) native().setWinsize(master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  if (process.stdout.isTTY) process.stdout.on('resize', resize);
  if (stdin.isTTY) stdin.setRawMode(true);
  const onInput = (chunk: Buffer) => {
    try {
      writeSync(master, chunk);
    } catch {
      /* the pty is closing */
    }
  };
  stdin.on('data', onInput);
  stdin.resume();
  const out = new ReadStream(master);
  const drained = new Promise<void>((resolve) => {
    out.on('data', (d: Buffer) => process.stdout.write(d));
    // When the last slave fd closes, reading the master fails with EIO: that is the end of output.
    out.on('error', () => resolve());
    out.on('end', () => resolve());
    out.on('close', () => resolve());
  });
  return async () => {
    await Promise.race([drained, new Promise((r) => setTimeout(r, 200))]);
    stdin.off('data', onInput);
    stdin.pause();
    if (stdin.isTTY) stdin.setRawMode(wasRaw);
    if (process.stdout.isTTY) process.stdout.off('resize', resize);
    out.destroy();
    try {
      closeSync(master);
    } catch {
      /* closed by the stream */
    }
  };
}
