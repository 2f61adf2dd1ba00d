// JSON with Go's digits for integers past 2^53. uint64 counters such as cgroup v1's
// hierarchical_memory_limit (9223372036854771712, PAGE_COUNTER_MAX pages) are exact doubles, but
// JavaScript writes them in its shortest form (9223372036854772000); dockerd's encoding/json
// writes every digit.

// A NUL cannot come from the values these objects hold (cgroup files, interface and container
// names), so a string carrying it is the marker's.
const MARK = '\u0000hako-int:';
const MARKED = /"\\u0000hako-int:(-?\d+)"/g;

/** JSON.stringify, with integers beyond Number.MAX_SAFE_INTEGER (and bigints) written in full. */
export function stringifyExactIntegers(value: unknown): string {
  let marked = false;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') {
      marked = true;
      return `${MARK}${v.toString()}`;
    }
    if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) > Number.MAX_SAFE_INTEGER) {
      marked = true;
      return `${MARK}${BigInt(v).toString()}`;
    }
    return v;
  });
  return marked ? text.replace(MARKED, '$1') : text;
}
