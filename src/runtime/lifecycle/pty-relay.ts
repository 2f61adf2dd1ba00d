// The pty relay of a foreground process whose pty master we hold (run/exec with a terminal and
// no console socket): our terminal in raw mode, its input to the pty, the pty's output to stdout.
import { writeSync, closeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { native } from '../../native/addon.js';

/** Copies the pty's output to stdout and stdin to the pty; raw mode on our terminal meanwhile. */
export function relayPty(master: number): () => Promise<void> {
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
