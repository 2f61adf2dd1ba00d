// OCI hooks: each runs with the container state as JSON on stdin, its own args/env, and an
// optional timeout in seconds. Whether a failure aborts the lifecycle is the caller's decision
// (prestart/createRuntime/createContainer/startContainer fail the operation; poststart and
// poststop only warn), as the runtime spec says.
// node:child_process is loaded on the first hook only: it costs a short command ~3 ms of start-up.
import { HakoError } from '../../common/errors.js';

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

export async function runHook(kind: HookKind, index: number, hook: Hook, state: HookState): Promise<void> {
  const name = `${kind} hook #${index} (${hook.path})`;
  const env: Record<string, string> = {};
  for (const kv of hook.env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const argv = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
  const { spawn } = await import('node:child_process');
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

/** Runs every hook of a kind in order; the first failure is thrown. */
export async function runHooks(kind: HookKind, hooks: Hook[] | undefined, state: HookState): Promise<void> {
  if (!hooks) return;
  for (let i = 0; i < hooks.length; i++) {
    const hook = hooks[i];
    if (hook) await runHook(kind, i, hook, state);
  }
}

/** Runs every hook of a kind; failures become warnings (poststart, poststop). */
export async function runHooksWarn(kind: HookKind, hooks: Hook[] | undefined, state: HookState, warn: (msg: string) => void): Promise<void> {
  if (!hooks) return;
  for (let i = 0; i < hooks.length; i++) {
    const hook = hooks[i];
    if (!hook) continue;
    try {
      await runHook(kind, i, hook, state);
    } catch (err) {
      warn((err as Error).message);
    }
  }
}
