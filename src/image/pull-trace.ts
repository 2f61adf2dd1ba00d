// Pull phase marks for profiling (bench/pull.mjs --phases): steps of a pull are published on the
// diagnostics channel `hako:image.pull` as strings; hakod writes them to its phase trace
// (HAKO_PHASE_TRACE) when one is set. Without a subscriber a mark is one branch.
import dc from 'node:diagnostics_channel';

export const PULL_TRACE_CHANNEL = 'hako:image.pull';
const channel = dc.channel(PULL_TRACE_CHANNEL);

export function pullMark(phase: string): void {
  if (channel.hasSubscribers) channel.publish(phase);
}
