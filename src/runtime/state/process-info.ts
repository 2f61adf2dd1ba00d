// Facts about host processes from /proc, used to tell whether a recorded pid is still the
// container's process (pids are reused: the start time in /proc/PID/stat disambiguates).
import { readFileSync } from 'node:fs';

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or null if gone. */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19].
  return rest[19] ?? null;
}

/** Process state letter (R, S, D, Z, T, …) or null if gone. */
export function processStateLetter(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** True when `pid` is alive, not a zombie, and is the process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: string | undefined): boolean {
  if (pid <= 0) return false;
  const now = processStartTime(pid);
  if (now === null) return false;
  if (startTime !== undefined && now !== startTime) return false;
  return processStateLetter(pid) !== 'Z';
}
