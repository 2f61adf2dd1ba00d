// One OCI hook process: the container state as JSON on stdin, its own args/env, an optional
// timeout in seconds; a non-zero exit, a signal or the timeout is a HakoError with its stderr.
import { spawn } from 'node:child_process';
import { HakoError } from '../../common/errors.js';
import type { Hook, HookKind, HookState } from './hooks.js';

export async function runHook(kind: HookKind, index: number, hook: Hook, state: HookState): Promise<void> {
  const name = `${kind} hook #${index} (${hook.path})`;
  const env: Record<string, string> = {};
  for (const kv of hook.env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const argv = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    const child = spawn(hook.path, argv.slice(1), { argv0: argv[0], env, stdio: ['pipe', 'ignore', 'pipe'] });
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (hook.timeout !== undefined && hook.timeout > 0) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, hook.timeout * 1000);
    }
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.stdin?.on('error', () => {
      /* the hook may not read its stdin */
    });
    child.stdin?.end(JSON.stringify(state));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(new HakoError({ step: `run ${name}`, path: hook.path, errno: Math.abs(err.errno ?? 2) }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) return reject(new HakoError({ step: `run ${name}`, hint: `timed out after ${hook.timeout}s`, kind: 'internal' }));
      if (code === 0) return resolve();
      const why = signal ? `killed by ${signal}` : `exit status ${code}`;
      const detail = stderr.trim() ? `: ${stderr.trim()}` : '';
      reject(new HakoError({ step: `run ${name}`, hint: `${why}${detail}`, kind: 'internal' }));
    });
  });
}

