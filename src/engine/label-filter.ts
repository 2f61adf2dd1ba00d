// docker's `label` filter: `key` (the label exists) or `key=value` (it has that value). Several
// `label` values must ALL match (moby's MatchKVList), unlike most other filters where one of the
// values is enough: docker-compose lists a service's containers with
// `label=com.docker.compose.project=P` AND `label=com.docker.compose.service=S`.

/** Whether `labels` has the label `filter` names (`key` or `key=value`). */
export function labelMatches(labels: Record<string, string> | null | undefined, filter: string): boolean {
  const l = labels ?? {};
  const i = filter.indexOf('=');
  return i < 0 ? Object.hasOwn(l, filter) : l[filter.slice(0, i)] === filter.slice(i + 1);
}

/** Whether `labels` has every label of `filters` (true for none). */
export function labelsMatchAll(labels: Record<string, string> | null | undefined, filters: readonly string[]): boolean {
  return filters.every((f) => labelMatches(labels, f));
}
