#!/usr/bin/env bash
# Long fuzzing runs (hours), outside ctest.
#
#   tests/fuzz/run-long.sh [-t SECONDS] [-j JOBS] [-b BUILD_DIR] [-n] [-r] [TARGET...]
#
# BUILD_DIR is a clang build of the repository (default build/clang, as
# tests/run-all.sh makes it); the fuzz_<target> binaries are built there
# first (-n: they are built already). Each target runs for SECONDS (default 3600) with its own growing
# corpus in BUILD_DIR/tests/fuzz/long/<target>/corpus (seeded from the tree),
# JOBS targets at a time (default 2). Findings are left as crash-*/leak-*/
# timeout-* files next to the corpus, and the run fails.
#
# Every run appends one line to BUILD_DIR/tests/fuzz/long/stats.txt:
#   <date> <target> commit=<c> execs=<n> cov=<edges> ft=<features> corpus=<n> status=<ok|FINDING>
# and the script ends with each target's total executions over all runs.
# -r (record): the line also goes to tests/fuzz/executions.txt (the audit
# trail in the tree) and the run's corpus is merged into corpus-merged/
# (-merge=1: only inputs that add coverage).
set -eu
secs=3600 jobs=2 build= nobuild=0 record=0
while getopts t:j:b:nr o; do
    case $o in
    t) secs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    b) build=$OPTARG ;;
    n) nobuild=1 ;;
    r) record=1 ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${build:-$repo/build/clang}" && pwd)
targets=${*:-loader emu slat hypercall xsave lapic assist}
long=$build/tests/fuzz/long
mkdir -p "$long"
# The commit the binaries were built from (FUZZ_COMMIT when the tree moved on since).
commit=${FUZZ_COMMIT:-$(git -C "$repo" rev-parse --short=12 HEAD)}
[ -n "${FUZZ_COMMIT:-}" ] || git -C "$repo" diff --quiet HEAD -- libhv backends include tests/fuzz tests/unit ||
    commit=$commit+dirty

[ $nobuild = 1 ] || cmake --build "$build" -j 2 --target $(for t in $targets; do printf 'fuzz_%s ' "$t"; done) >/dev/null

run_one() {
    t=$1 dir=$long/$1
    mkdir -p "$dir/corpus"
    dict=
    [ -f "$here/dict/$t.dict" ] && dict=-dict=$here/dict/$t.dict
    status=ok
    (cd "$dir" && ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_$t" \
        -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$dir/" $dict "$dir/corpus" "$here/corpus/$t" \
        $([ -d "$here/corpus-merged/$t" ] && echo "$here/corpus-merged/$t") >"$dir/log" 2>&1) ||
        status=FINDING
    # Stopped from outside (SIGINT/SIGTERM) is not a finding.
    if [ $status = FINDING ] && grep -q 'libFuzzer: run interrupted' "$dir/log" &&
        ! grep -qE 'ERROR: |INVARIANT BROKEN|deadly signal' "$dir/log"; then
        status=stopped
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    n=$(ls "$dir/corpus" | wc -l)
    line="$(date -u +%FT%TZ) $t commit=$commit execs=${execs:-0} cov=${cov:-?} ft=${ft:-?} corpus=$n status=$status"
    echo "$line" | tee -a "$long/stats.txt"
    if [ $record = 1 ]; then
        echo "$line" >>"$here/executions.txt"
        mkdir -p "$here/corpus-merged/$t"
        (cd "$dir" && "$build/tests/fuzz/fuzz_$t" -merge=1 "$here/corpus-merged/$t" "$dir/corpus" \
            >"$dir/merge.log" 2>&1) || echo "merge of $t failed (see $dir/merge.log)"
    fi
    [ $status != FINDING ] || { tail -n 40 "$dir/log"; return 1; }
}

fail=0
running=0
for t in $targets; do
    run_one "$t" &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then
        wait -n || fail=1
        running=$((running - 1))
    fi
done
wait || fail=1

echo "== total executions per target (all runs in $long/stats.txt)"
for t in $targets; do
    awk -v t="$t" '$2 == t { for (i = 3; i <= NF; i++) if ($i ~ /^execs=/) { sub("execs=", "", $i); s += $i } }
        END { printf "   %-10s %d\n", t, s }' \
        "$long/stats.txt"
done
exit $fail
