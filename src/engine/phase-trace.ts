// Phase timestamps on the container path, for profiling (bench/engine.mjs --phases): with
// HAKO_PHASE_TRACE set in the daemon's environment, each mark is one stderr line
// `hako-phase <container id> <phase> <CLOCK_MONOTONIC ms>`. process.hrtime is CLOCK_MONOTONIC,
// so a client on the same host can put its own timestamps on the same axis. Off, a mark is one
// branch.

export class PhaseTrace {
  constructor(private readonly out: ((line: string) => void) | undefined) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): PhaseTrace {
    return new PhaseTrace(env.HAKO_PHASE_TRACE ? (line) => process.stderr.write(line) : undefined);
  }

  get enabled(): boolean {
    return this.out !== undefined;
  }

  mark(id: string, phase: string): void {
    if (!this.out) return;
    this.out(`hako-phase ${id} ${phase} ${(Number(process.hrtime.bigint()) / 1e6).toFixed(3)}\n`);
  }
}
