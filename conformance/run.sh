#!/usr/bin/env bash
# run.sh RUNTIME_WRAPPER [FILTER] — run every validation binary in conformance/bin/ against a runtime.
#
# RUNTIME_WRAPPER: an executable with runc's command line (e.g. conformance/runtimes/runc.sh or
# conformance/runtimes/hako.sh); it gets CONFORMANCE_STATE_ROOT, a state root of this run's own.
# FILTER: an extended regex; only tests whose name matches run.
#
# Prints one `ok NAME` / `not ok NAME` line per test, with its failing subtests, and a summary.
# Writes conformance/results/<wrapper name>/: NAME.tap, NAME.stderr and results.tsv:
#   test<TAB>NAME<TAB>pass|fail|skip|timeout
#   subtest<TAB>NAME#N<TAB>pass|fail|skip<TAB>description
# Like upstream's Makefile, each binary runs with RUNTIME set and rootfs-amd64.tar.gz and runtimetest
# in its working directory. Environment: CONFORMANCE_TIMEOUT (seconds per test, default 60),
# CONFORMANCE_RESULTS (results dir), CONFORMANCE_BIN (binaries dir, default conformance/bin).
#
# Cleanup, after every test, of what this run made and nothing else: containers in this run's state
# root (kill + delete), bundles (the suite makes them in TMPDIR, a directory of this run's), and
# cgroups that appeared during the test with the suite's names (cgrouptest, testdir, a container's
# UUID). Runs of the suite are serialized machine-wide with a lock, since the suite uses fixed
# cgroup names.
set -uo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
wrapper=${1:?usage: run.sh RUNTIME_WRAPPER [FILTER]}
filter=${2:-.}
wrapper=$(cd "$(dirname "$wrapper")" && pwd)/$(basename "$wrapper")
[ -x "$wrapper" ] || { echo "run.sh: $wrapper is not executable" >&2; exit 2; }
bin=${CONFORMANCE_BIN:-$here/bin}
[ -x "$bin/runtimetest" ] || { echo "run.sh: $bin/runtimetest missing; run conformance/build.sh" >&2; exit 3; }
[ "$(id -u)" = 0 ] || { echo "run.sh: the suite needs root" >&2; exit 2; }
name=$(basename "$wrapper" .sh)
timeout_s=${CONFORMANCE_TIMEOUT:-60}
results=${CONFORMANCE_RESULTS:-$here/results/$name}
run_dir=/run/hako-conformance
mkdir -p "$run_dir" "$results"

exec 9>"$run_dir/lock"
if ! flock -w 1800 9; then echo "run.sh: another suite run holds $run_dir/lock" >&2; exit 2; fi

work=$(mktemp -d "$run_dir/$name.XXXXXX")
state="$work/state"
mkdir -p "$state"
export CONFORMANCE_STATE_ROOT="$state"
cp "$bin/runtimetest" "$bin/rootfs-amd64.tar.gz" "$work/"
rm -f "$results"/*.tap "$results"/*.stderr "$results/results.tsv"

uuid_re='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
cgroup_dirs() { find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort; }

cleanup_test() { # $1 = cgroup snapshot taken before the test, $2 = the test's TMPDIR
  local id
  for id in $(ls "$state" 2>/dev/null); do
    "$wrapper" kill "$id" KILL >/dev/null 2>&1
    "$wrapper" delete --force "$id" >/dev/null 2>&1 || "$wrapper" delete "$id" >/dev/null 2>&1
  done
  # Mounts a runtime left in the host namespace beneath this test's bundles, deepest first.
  awk -v p="$2/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null
  done
  rm -rf --one-file-system "$2"
  # Cgroups the suite made during this test, deepest first.
  comm -13 "$1" <(cgroup_dirs) | grep -E "/(cgrouptest|testdir)(/|$)|/$uuid_re(/|$)" | sort -r |
    while read -r d; do rmdir "$d" 2>/dev/null || echo "run.sh: could not remove cgroup $d" >&2; done
}

# Interrupted (or failing) mid-run: clean up after the test in progress, then remove the work dir.
in_test=""
on_exit() {
  [ -n "$in_test" ] && cleanup_test "$work/cgroups.before" "$work/tmp-$in_test"
  rm -rf --one-file-system "$work"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

tests=()
for t in "$bin"/*.t; do
  n=$(basename "$t" .t)
  [[ "$n" =~ $filter ]] && tests+=("$n")
done

start=$(date +%s)
npass=0 nfail=0 nskip=0
for n in "${tests[@]}"; do
  snap="$work/cgroups.before"
  cgroup_dirs >"$snap"
  tdir="$work/tmp-$n"
  mkdir -p "$tdir"
  in_test=$n
  t0=$(date +%s.%N)
  (cd "$work" && TMPDIR="$tdir" RUNTIME="$wrapper" timeout --kill-after=5 "$timeout_s" "$bin/$n.t") \
    >"$results/$n.tap" 2>"$results/$n.stderr" </dev/null
  rc=$?
  t1=$(date +%s.%N)
  cleanup_test "$snap" "$tdir"
  in_test=""
  # Judge the TAP (see "Verdicts" in README.md). Test points are numbered by their order in the
  # output (a few tests print one TAP stream per case, each restarting at 1), so NAME#N is unique.
  verdict=$(awk -v rc="$rc" -v name="$n" -v out="$results/results.tsv" '
    /^1\.\.[0-9]+/ { split($0, a, "\\.\\."); plan += a[2] + 0; hasplan = 1; next }
    /^(not )?ok( |$)/ {
      line = $0; bad = (line ~ /^not ok/); sub(/^(not )?ok */, "", line)
      desc = line; sub(/^[0-9]+ *(- *)?/, "", desc)
      skip = (desc ~ /# *[Ss][Kk][Ii][Pp]/)
      res = bad ? "fail" : (skip ? "skip" : "pass")
      count++; if (bad) nbad++; if (skip) nskipped++
      printf "subtest\t%s#%d\t%s\t%s\n", name, count, res, desc >> out
      next
    }
    /^TAP version/ { header = 1 }
    /^ *"error": / { diagerr = 1 }
    END {
      if (rc == 124 || rc == 137) v = "timeout"
      else if (rc != 0 || nbad > 0) v = "fail"
      # No test point: the lifecycle tests of the suite (a TAP header, then 1..0) report a violation only
      # as an "error" diagnostic; the negative tests (*_fail) print nothing when the runtime refuses
      # the config. Any other test without a test point got no output from runtimetest: fail.
      else if (count == 0 && header) v = diagerr ? "fail" : "pass"
      else if (count == 0) v = (name ~ /_fail$/) ? "pass" : "fail"
      else if (!hasplan || count != plan) v = "fail"
      else if (nskipped == count) v = "skip"
      else v = "pass"
      print v
    }' "$results/$n.tap")
  printf 'test\t%s\t%s\n' "$n" "$verdict" >>"$results/results.tsv"
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  case $verdict in
    pass) npass=$((npass + 1)); echo "ok $n (${secs}s)" ;;
    skip) nskip=$((nskip + 1)); echo "ok $n # skip (${secs}s)" ;;
    *) nfail=$((nfail + 1)); echo "not ok $n ($verdict, exit $rc, ${secs}s)"
       grep -E '^not ok' "$results/$n.tap" | sed 's/^/    /' | head -20 ;;
  esac
done
echo "# $name: $(($(date +%s) - start))s, results in $results"
echo "conformance: $npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ]
