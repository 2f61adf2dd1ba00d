// A process that could not be started (docker run/start/exec), worded as dockerd passes runc's
// error on: `exec: "x": executable file not found in $PATH`, `exec: "/etc": permission denied`,
// `chdir to cwd ("/nope") set in config.json failed: no such file or directory`. The docker CLI
// picks `docker run`'s exit code (127, 126) from these words, and scripts grep for them.
import { HakoError } from '../common/errors.js';

/** dockerd's words for a start failure of the exec or chdir kind; undefined for any other error. */
export function dockerStartMessage(err: unknown): string | undefined {
  if (!(err instanceof HakoError)) return undefined;
  // `docker run image ''`: runc's look-up of the empty name, where hako's spec check refuses it.
  if (/process\.args\[0\] must not be empty/.test(err.step)) return 'exec: "": executable file not found in $PATH';
  const exec = /^exec (.+)$/.exec(err.step);
  if (exec) {
    const file = exec[1]!;
    if (err.code === 'ENOENT') return file.includes('/') ? `exec: "${file}": stat ${file}: no such file or directory` : `exec: "${file}": executable file not found in $PATH`;
    if (err.code === 'EACCES') return `exec: "${file}": permission denied`;
    return undefined;
  }
  const chdir = /^chdir to (.+)$/.exec(err.step);
  if (chdir && err.code === 'ENOENT') return `chdir to cwd ("${chdir[1]}") set in config.json failed: no such file or directory`;
  return undefined;
}

/** docker's exit code for a start failure worded as above: 127 not found, 126 cannot execute. */
export function dockerStartExitCode(message: string): number | undefined {
  if (/executable file not found|no such file or directory/.test(message)) return 127;
  if (/permission denied/.test(message)) return 126;
  return undefined;
}

/**
 * A start refused while its spec is built (a namespace donor not running or not shareable, no
 * host /dev/shm for --ipc=host): dockerd 20.10 answers every createSpec failure as a system
 * error (500), so these are not conflicts (409).
 */
export function startRefusal(step: string, hint?: string): HakoError {
  return new HakoError({ step, hint, kind: 'internal' });
}

/**
 * HostConfig.DeviceRequests (`--gpus`): hako has no device driver (dockerd's come from the
 * nvidia-container-runtime-hook on PATH), so any request fails the start as dockerd's does
 * without one: 500, `could not select device driver "<driver>" with capabilities: [[gpu]]`
 * (Go's %v of the capability sets). It used to start without the devices asked for.
 */
export function checkDeviceRequests(requests: unknown): void {
  if (!Array.isArray(requests)) return;
  for (const r of requests as Array<{ Driver?: unknown; Capabilities?: unknown } | null>) {
    const driver = typeof r?.Driver === 'string' ? r.Driver : '';
    const caps = Array.isArray(r?.Capabilities) ? (r.Capabilities as unknown[]) : [];
    const sets = caps.map((set) => `[${(Array.isArray(set) ? (set as unknown[]) : []).map(String).join(' ')}]`).join(' ');
    throw startRefusal(`could not select device driver "${driver}" with capabilities: [${sets}]`, 'hako has no GPU or other device drivers: leave out --gpus (HostConfig.DeviceRequests)');
  }
}
