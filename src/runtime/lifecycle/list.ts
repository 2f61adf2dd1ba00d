// list: every container in the state root, as a table, JSON, or just ids.
import type { RuntimeContext } from './context.js';
import { ociState } from './status.js';
import { invalid } from '../../common/errors.js';

export function listContainers(ctx: RuntimeContext, format: string, quiet: boolean): string {
  const states = [];
  for (const id of ctx.store.ids()) {
    try {
      states.push(ociState(ctx, ctx.store.load(id)));
    } catch {
      /* removed meanwhile */
    }
  }
  if (quiet) return states.map((s) => s.id + '\n').join('');
  if (format === 'json') return JSON.stringify(states) + '\n';
  if (format !== 'table') throw invalid(`list: unknown format "${format}"`, 'use table or json');
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd() + '\n').join('');
}
