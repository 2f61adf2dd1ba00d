// A process that could not be started (docker run/start/exec), worded as dockerd passes runc's
// error on: `exec: "x": executable file not found in $PATH`, `exec: "/etc": permission denied`,
// `chdir to cwd ("/nope") set in config.json failed: no such file or directory`. The docker CLI
// picks `docker run`'s exit code (127, 126) from these words, and scripts grep for them.
import { HakoError } from '../common/errors.js';

/** dockerd's words for a start failure of the exec or chdir kind; undefined for any other error. */
export function dockerStartMessage(err: unknown): string | undefined {
  if (!(err instanceof HakoError)) return undefined;
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
