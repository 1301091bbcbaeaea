#!/bin/sh
# run-one.sh FUZZER WORKDIR SEEDDIRS SECONDS [libFuzzer flags...]
# One bounded libFuzzer run for ctest: new inputs go to WORKDIR/corpus (the
# seed directories, a colon-separated list, are only read; missing ones are
# skipped), crashes to WORKDIR/. Prints the final executions and coverage
# line; fails on any finding.
set -eu
fuzzer=$1 work=$2 seeds=$3 secs=$4
shift 4
rm -rf "$work"
mkdir -p "$work/corpus"
cd "$work"
dirs=
IFS=:
for d in $seeds; do
    [ -d "$d" ] && dirs="$dirs:$d"
done
unset IFS
status=0
# shellcheck disable=SC2086 # the seed directories, split on ':'
IFS=: ; set -- "$@" "$work/corpus" ${dirs#:}; unset IFS
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$@" >"$work/log" 2>&1 || status=$?
grep -E '^#[0-9]+.*(DONE|pulse|cov:)' "$work/log" | tail -n 1 || true
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work/log" || true
if [ "$status" -ne 0 ]; then
    tail -n 80 "$work/log"
    echo "fuzz: FAILED (exit $status); reproducer in $work/"
    exit 1
fi
