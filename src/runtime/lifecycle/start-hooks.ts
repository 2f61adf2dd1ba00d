// startContainer hooks run after `start` is called and before the user's program is executed,
// in the container's namespaces (their path resolves inside the container). The created
// container's process is still blocked on the exec fifo, so each hook is an exec into it, with
// the state JSON on its stdin, like the other hooks.
import { closeSync, writeSync } from 'node:fs';
import { HakoError } from '../../common/errors.js';
import { native } from '../../native/addon.js';
import type { ContainerRecord } from '../state/container-store.js';
import type { Hook } from './hooks.js';
import type { RuntimeContext } from './context.js';
import { startExec } from './exec.js';
import { ociState } from './status.js';

export async function runStartContainerHooks(ctx: RuntimeContext, rec: ContainerRecord, hooks: Hook[]): Promise<void> {
  const state = JSON.stringify(ociState(ctx, rec, 'created'));
  for (let i = 0; i < hooks.length; i++) {
    const hook = hooks[i] as Hook;
    const name = `startContainer hook #${i} (${hook.path})`;
    const [r, w] = native().pipe();
    let started;
    try {
      writeSync(w, state);
      closeSync(w);
      started = await startExec(ctx, rec.id, {
        process: {
          // OCI hooks name the executable in `path` and argv in `args`; an exec runs args[0].
          args: [hook.path, ...(hook.args ?? []).slice(1)],
          env: hook.env ?? [],
          cwd: '/',
          user: { uid: 0, gid: 0 },
          terminal: false,
          ...(rec.config.process?.capabilities ? { capabilities: rec.config.process.capabilities } : {}),
          noNewPrivileges: rec.config.process?.noNewPrivileges ?? false,
        },
        stdio: [r, 2, 2],
        allowCreated: true,
      });
    } catch (err) {
      throw new HakoError({ step: `run ${name}`, hint: (err as Error).message, kind: 'internal', cause: err });
    } finally {
      try {
        closeSync(r);
      } catch {
        /* closed */
      }
    }
    const proc = started.process;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      if (hook.timeout && hook.timeout > 0) timer = setTimeout(() => resolve('timeout'), hook.timeout * 1000);
    });
    const result = await Promise.race([proc.exited, timeout]);
    if (timer) clearTimeout(timer);
    if (result === 'timeout') {
      proc.kill('SIGKILL');
      await proc.exited;
      throw new HakoError({ step: `run ${name}`, hint: `timed out after ${hook.timeout}s`, kind: 'internal' });
    }
    if (result.code !== 0) {
      const why = result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`;
      throw new HakoError({ step: `run ${name}`, hint: why, kind: 'internal' });
    }
  }
}
