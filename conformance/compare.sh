#!/usr/bin/env bash
# compare.sh [--update-baseline] [FILTER] — run the validation suite against runc and hako, print a
# table (test, runc, hako) and the tests and subtests runc passes that hako does not.
# --update-baseline: also store runc's results as conformance/runc-baseline.txt.
# Results stay in conformance/results/{runc,hako}/ (see run.sh).
set -uo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
update=0
if [ "${1:-}" = --update-baseline ]; then update=1; shift; fi
filter=${1:-.}

echo "## runc 1.1.5"
"$here/run.sh" "$here/runtimes/runc.sh" "$filter"
echo "## hako"
"$here/run.sh" "$here/runtimes/hako.sh" "$filter"

r="$here/results/runc/results.tsv" h="$here/results/hako/results.tsv"
if [ "$update" = 1 ]; then
  {
    echo "# runc 1.1.5 results of the OCI runtime-tools validation suite on this machine kind"
    echo "# (Debian 12, kernel $(uname -r), cgroup v1 hybrid), made by conformance/compare.sh --update-baseline"
    echo "# on $(date -u +%Y-%m-%d). Lines: test<TAB>NAME<TAB>result, subtest<TAB>NAME#N<TAB>result<TAB>description"
    cat "$r"
  } >"$here/runc-baseline.txt"
  echo "stored $here/runc-baseline.txt"
fi

echo
printf '%-44s %-8s %-8s\n' TEST RUNC HAKO
awk -F'\t' '$1 == "test" { print $2 }' "$r" "$h" | sort -u | while read -r t; do
  rr=$(awk -F'\t' -v t="$t" '$1 == "test" && $2 == t { print $3 }' "$r")
  hh=$(awk -F'\t' -v t="$t" '$1 == "test" && $2 == t { print $3 }' "$h")
  printf '%-44s %-8s %-8s\n' "$t" "${rr:--}" "${hh:--}"
done

echo
echo "## runc passes, hako does not"
regress=$(awk -F'\t' '
  FNR == NR { if ($3 == "pass") want[$1 "\t" $2] = $4; next }
  { got[$1 "\t" $2] = $3 }
  END {
    for (k in want) {
      res = "missing"; if (k in got) res = got[k]
      if (res != "pass") { split(k, a, "\t"); printf "%s\t%s\t%s\t%s\n", a[1], a[2], res, want[k] }
    }
  }
' "$r" "$h" | sort)
if [ -z "$regress" ]; then echo "(none)"; else echo "$regress" | awk -F'\t' '{ printf "%-8s %-40s hako=%-8s %s\n", $1, $2, $3, $4 }'; fi
echo
echo "runc: $(grep -c $'^test\t.*\tpass$' "$r") of $(grep -c $'^test\t' "$r") tests pass; hako: $(grep -c $'^test\t.*\tpass$' "$h") of $(grep -c $'^test\t' "$h")"
[ -z "$regress" ]
