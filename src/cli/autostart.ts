// Starting the daemon on first use: when the default socket does not answer and no host was
// given (-H, HAKO_HOST, DOCKER_HOST), start `hakod` detached in its own session with its output
// in /run/hako/hakod.log, wait for `_ping`, and say so once on stderr.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, unlinkSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const execRoot = '/run/hako';
const dataRoot = '/var/lib/hako';

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'HEAD', timeout: 1000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Locates bin/hakod.cjs of this package (from dist/src/cli/ or a dist/bundle/ file). */
export function hakodPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'bin', 'hakod.cjs');
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hakod.cjs');
    dir = up;
  }
}

export async function startDaemon(host: string, stderr: NodeJS.WritableStream, timeoutMs = 15000): Promise<boolean> {
  if (!host.startsWith('unix://')) return false;
  const socketPath = host.slice(7);
  const bin = hakodPath();
  if (!existsSync(bin)) return false;
  try {
    mkdirSync(execRoot, { recursive: true });
  } catch {
    return false;
  }
  // One starter at a time: others just wait for the socket.
  const lock = join(execRoot, 'autostart.lock');
  let lockFd = -1;
  try {
    lockFd = openSync(lock, 'wx');
  } catch {
    /* another hako is starting it */
  }
  try {
    let exited = false;
    if (lockFd >= 0 && !(await ping(socketPath))) {
      const logPath = join(execRoot, 'hakod.log');
      const log = openSync(logPath, 'a');
      const child = spawn(process.execPath, [bin, '-H', host, '--data-root', dataRoot, '--exec-root', execRoot], {
        detached: true,
        stdio: ['ignore', log, log],
      });
      child.on('exit', () => (exited = true));
      child.unref();
      closeSync(log);
      stderr.write(`hako: the hako daemon was not running; started hakod (pid ${child.pid}, log ${logPath})\n`);
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await ping(socketPath)) return true;
      if (exited) {
        stderr.write(`hako: hakod exited during start-up; see ${join(execRoot, 'hakod.log')}\n`);
        return false;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  } finally {
    if (lockFd >= 0) {
      closeSync(lockFd);
      try {
        unlinkSync(lock);
      } catch {
        /* gone */
      }
    }
  }
}
