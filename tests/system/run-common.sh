# Shared by run-qemu.sh and run-bochs.sh (sourced, not run).
#
# hv_check_results <serial log>: the pass/fail rule of a system-test run.
# The run passed only if the log has no line starting with "FAIL" and its
# last "N passed, M failed" line has N > 0 and M = 0. Prints a verdict line
# and returns 0 on pass, 1 on failure.
hv_check_results() {
    local log=$1 summary fails passed failed
    fails=$(tr -d '\r' <"$log" | grep -c '^FAIL' || true)
    summary=$(tr -d '\r' <"$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
    if [ -z "$summary" ]; then
        echo "no result line (\"N passed, M failed\"): the kernel did not finish"
        return 1
    fi
    passed=${summary%% *}
    failed=${summary#*, }
    failed=${failed%% *}
    if [ "$fails" -ne 0 ] || [ "$failed" -ne 0 ]; then
        echo "$failed case(s) failed ($fails FAIL line(s))"
        return 1
    fi
    if [ "$passed" -eq 0 ]; then
        echo "no case ran"
        return 1
    fi
    echo "$passed case(s) passed"
    return 0
}

# Wall-clock seconds since $1 (a `date +%s.%N` stamp), two decimals.
hv_elapsed() {
    awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'
}
