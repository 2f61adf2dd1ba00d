#!/usr/bin/env bash
# compare.sh [--update-baseline] [--reuse] [FILTER] — run the validation suite against runc and hako, print a
# table (test, runc, hako) and the tests and subtests runc passes that hako does not.
# --update-baseline: also store runc's results as conformance/runc-baseline.txt.
#
# runc runs CONFORMANCE_RUNC_RUNS times (default 3; some suite tests race the container's exit, see
# README.md "Flaky tests"): a test or subtest counts as passed by runc only if it passed in every
# run, and as "flaky" if it passed in some. hako runs CONFORMANCE_HAKO_RUNS times (default 1) and
# is summarized the same way. Results stay in conformance/results/{runc,hako}[-N]/ (see run.sh);
# results/{runc,hako}/results.tsv hold the merged verdicts.
set -uo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
update=0 reuse=0
while [ $# -gt 0 ]; do
  case $1 in
    --update-baseline) update=1; shift ;;
    --reuse) reuse=1; shift ;; # compare the results of the last runs again, without running the suite
    *) break ;;
  esac
done
filter=${1:-.}
runc_runs=${CONFORMANCE_RUNC_RUNS:-3}
hako_runs=${CONFORMANCE_HAKO_RUNS:-1}

# Subtests are matched by what they check, not by position: runtimetest walks Go maps (default
# symlinks, default filesystems), so the order of its checks changes from run to run. KEY is the
# test, the description without digits and UUIDs (temp names), and its occurrence in that test.
KEY_AWK='
  function norm(s) { gsub(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/, "U", s); gsub(/[0-9]+/, "N", s); return s }
  function rowkey(   t, d) {
    if ($1 == "test") return "test\t" $2
    t = $2; sub(/#[0-9]+$/, "", t); d = norm($4)
    return "subtest\t" t "\t" d "\t" (++occ[FILENAME, t, d])
  }'

# merge OUT FILE... — one verdict per test/subtest over several results.tsv: the common result
# when all runs agree, "flaky" when it passed in some runs only, else the first run's result.
merge() {
  local out=$1; shift
  awk -F'\t' -v runs="$#" "$KEY_AWK"'
    {
      k = rowkey()
      if (!(k in first)) { first[k] = $3; row[k] = $1 "\t" $2; desc[k] = $4; order[++n] = k; seen[k] = 0; passes[k] = 0; same[k] = 1 }
      seen[k]++
      if ($3 == "pass") passes[k]++
      if ($3 != first[k]) same[k] = 0
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (same[k] && seen[k] == runs) r = first[k]
        else if (passes[k] > 0) r = "flaky"
        else r = first[k]
        if (row[k] ~ /^test/) printf "%s\t%s\n", row[k], r
        else printf "%s\t%s\t%s\n", row[k], r, desc[k]
      }
    }' "$@" >"$out"
}

# runs NAME WRAPPER COUNT — COUNT runs of the suite, merged into results/NAME/results.tsv.
runs() {
  local name=$1 wrapper=$2 count=$3 i files=()
  for i in $(seq 1 "$count"); do
    if [ "$reuse" = 0 ]; then
      echo "## $name, run $i of $count"
      CONFORMANCE_RESULTS="$here/results/$name-$i" "$here/run.sh" "$wrapper" "$filter"
    fi
    files+=("$here/results/$name-$i/results.tsv")
  done
  mkdir -p "$here/results/$name"
  merge "$here/results/$name/results.tsv" "${files[@]}"
}

runs runc "$here/runtimes/runc.sh" "$runc_runs"
runs hako "$here/runtimes/hako.sh" "$hako_runs"

r="$here/results/runc/results.tsv" h="$here/results/hako/results.tsv"
if ! grep -q $'^test\t' "$r"; then echo "compare.sh: runc produced no results (see above); baseline left alone" >&2; exit 2; fi
if [ "$update" = 1 ]; then
  {
    echo "# runc $(runc --version 2>/dev/null | awk 'NR == 1 { print $3 }') results of the OCI runtime-tools validation suite on this machine kind"
    echo "# (Debian 12, kernel $(uname -r), cgroup v1), made by conformance/compare.sh --update-baseline"
    echo "# on $(date -u +%Y-%m-%d) from $runc_runs runs: pass = passed in every run, flaky = passed in some."
    echo "# Lines: test<TAB>NAME<TAB>result, subtest<TAB>NAME#N<TAB>result<TAB>description."
    echo "# Subtests of the negative tests (*_fail: the runtime must refuse the config) are not recorded:"
    echo "# they are runtimetest's checks, which run only when a runtime wrongly accepts the config."
    awk -F'\t' '!($1 == "subtest" && $2 ~ /_fail#/)' "$r"
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
echo "## runc passes (in every run), hako does not"
regress=$(awk -F'\t' "$KEY_AWK"'
  FNR == NR { k = rowkey(); if ($3 == "pass" && !($1 == "subtest" && $2 ~ /_fail#/)) { want[k] = $4; label[k] = $1 "\t" $2 }; next }
  { k = rowkey(); got[k] = $3 }
  END {
    for (k in want) {
      res = "missing"; if (k in got) res = got[k]
      if (res != "pass") printf "%s\t%s\t%s\n", label[k], res, want[k]
    }
  }
' "$r" "$h" | sort -t'	' -k1,1r -k2,2V)
if [ -z "$regress" ]; then echo "(none)"; else echo "$regress" | awk -F'\t' '{ printf "%-8s %-40s hako=%-8s %s\n", $1, $2, $3, $4 }'; fi
echo
count() { grep -c $'^test\t.*\t'"$2"'$' "$1"; }
echo "runc: $(count "$r" pass) of $(grep -c $'^test\t' "$r") tests pass ($(count "$r" flaky) flaky); hako: $(count "$h" pass) of $(grep -c $'^test\t' "$h") ($(count "$h" flaky) flaky)"
[ -z "$regress" ]
