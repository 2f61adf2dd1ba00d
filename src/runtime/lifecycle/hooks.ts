// OCI hooks: each runs with the container state as JSON on stdin, its own args/env, and an
// optional timeout in seconds. Whether a failure aborts the lifecycle is the caller's decision
// (prestart/createRuntime/createContainer/startContainer fail the operation; poststart and
// poststop only warn), as the runtime spec says.
//
// The hook processes are started by ./hook-process.ts, loaded on the first hook only: it brings
// node:child_process, which costs a short command ~3 ms of start-up. (A static import there, not
// `import('node:child_process')` here: the CLI's bundle runs in a vm.Script, where import() of
// a builtin fails with ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING; esbuild turns the import of a
// bundled module into a lazy initialiser instead.)

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

/** Runs every hook of a kind in order; the first failure is thrown. */
export async function runHooks(kind: HookKind, hooks: Hook[] | undefined, state: HookState): Promise<void> {
  if (!hooks || hooks.length === 0) return;
  const { runHook } = await import('./hook-process.js');
  for (let i = 0; i < hooks.length; i++) {
    const hook = hooks[i];
    if (hook) await runHook(kind, i, hook, state);
  }
}

/** Runs every hook of a kind; failures become warnings (poststart, poststop). */
export async function runHooksWarn(kind: HookKind, hooks: Hook[] | undefined, state: HookState, warn: (msg: string) => void): Promise<void> {
  if (!hooks || hooks.length === 0) return;
  const { runHook } = await import('./hook-process.js');
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
