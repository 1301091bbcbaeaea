#!/bin/bash
# Run the example kernel's test cases in QEMU (TCG) and judge the result.
#
#   run-qemu.sh <kernel.elf> <cpu model> [extra qemu args...]
#
# e.g. run-qemu.sh hv_kernel.elf qemu64,+svm,+npt -append "cases=kernel.*"
# (the kernel command line goes through -append). The serial output is
# printed and kept in $HV_RUN_LOG if set. Exit status 0 only if the kernel
# printed a final "N passed, 0 failed" line with N > 0, no FAIL line, and
# exited through isa-debug-exit with success (QEMU status 1). Time limit:
# $HV_RUN_TIMEOUT seconds (default 120).
set -u
here=$(dirname "$0")
. "$here/run-common.sh"

if [ $# -lt 2 ]; then
    echo "usage: $0 <kernel.elf> <cpu model> [extra qemu args...]" >&2
    exit 2
fi
kernel=$1
model=$2
shift 2
[ -r "$kernel" ] || { echo "run-qemu: cannot read $kernel" >&2; exit 2; }

log=${HV_RUN_LOG:-}
if [ -z "$log" ]; then
    log=$(mktemp "${TMPDIR:-/tmp}/hv-qemu.XXXXXX")
    trap 'rm -f "$log"' EXIT
fi
limit=${HV_RUN_TIMEOUT:-120}

start=$(date +%s.%N)
# stdin from /dev/null: QEMU must not put a terminal into raw mode, and a
# background process group reading the terminal would be stopped.
timeout --kill-after=10 "$limit" qemu-system-x86_64 -machine pc,accel=tcg -cpu "$model" \
    -m 128M -display none -serial stdio -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$kernel" "$@" </dev/null >"$log"
status=$?
elapsed=$(hv_elapsed "$start")
tr -d '\r' <"$log"

verdict=$(hv_check_results "$log")
ok=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    verdict="timed out after ${limit} s; $verdict"
    ok=1
elif [ "$ok" -eq 0 ] && [ "$status" -ne 1 ]; then
    # isa-debug-exit: status = (value << 1) | 1, and the kernel writes 0 on success.
    verdict="QEMU exit status $status, expected 1 (kernel success exit); $verdict"
    ok=1
fi
if [ "$ok" -eq 0 ]; then
    echo "run-qemu: PASS ($model, ${elapsed} s): $verdict"
else
    echo "run-qemu: FAIL ($model, ${elapsed} s, QEMU status $status): $verdict"
fi
exit "$ok"
