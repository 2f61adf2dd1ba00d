// run: create + start + wait, in one process (the container is our child), then delete unless
// --keep. With --detach it returns once the process runs, like `runc run -d`.
import type { RuntimeContext } from './context.js';
import { launch, type LaunchOptions } from './launch.js';
import { runHooksWarn } from './hooks.js';
import { ociState } from './status.js';
import { deleteContainer } from './delete.js';
import { waitInForeground } from './foreground.js';

export interface RunOptions extends Omit<LaunchOptions, 'mode' | 'ownTerminal'> {
  detach?: boolean;
  keep?: boolean;
}

export async function runContainer(ctx: RuntimeContext, opts: RunOptions): Promise<number> {
  const launched = await launch(ctx, { ...opts, mode: 'run', ownTerminal: !opts.detach && !opts.consoleSocket });
  await runHooksWarn('poststart', launched.record.config.hooks?.poststart, ociState(ctx, launched.record, 'running'), ctx.log.warn);
  if (opts.detach) {
    launched.process.closeErrPipe();
    return 0;
  }
  let status: number;
  try {
    status = await waitInForeground(launched.process, launched.ptyMaster);
  } finally {
    if (!opts.keep) await deleteContainer(ctx, opts.id, { force: true });
  }
  return status;
}
