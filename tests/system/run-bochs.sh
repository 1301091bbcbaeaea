#!/bin/bash
# Run the example kernel's test cases in Bochs (booted by GRUB from an ISO)
# and judge the result.
#
#   run-bochs.sh <kernel.elf> <cpu model> [kernel command line]
#
# e.g. run-bochs.sh hv_kernel.elf corei7_haswell_4770 "cases=kernel.* expect=vmx"
# The serial output is printed and kept in $HV_RUN_LOG if set. Exit status 0
# only if the kernel printed a final "N passed, 0 failed" line with N > 0
# and no FAIL line (Bochs' own exit status says nothing about the result).
# On failure the tail of Bochs' log is printed. Time limit: $HV_RUN_TIMEOUT
# seconds (default 300); memory: $HV_BOCHS_MEGS MiB (default 64); speed:
# $HV_BOCHS_IPS emulated instructions per emulated second (default
# 2000000), which sets the TSC rate and with it how much work a guest's
# timer tick leaves room for (Linux's 250 Hz tick starves at the default).
# HV_BOCHS_MODULES: files GRUB loads as multiboot modules next to the kernel
# (space-separated; each module's command line is its file name, which
# GRUB does not pass by itself), e.g. the GRUB PVH image of the xen.grub
# case; a file that cannot be read fails the run.
# HV_KEEP_RUN_DIR=1 keeps the run directory (ISO, bochsrc, logs);
# HV_BOCHS_NETNS=0 runs Bochs without a private network namespace.
# HV_BOCHS_DBG_RC: a debugger script in place of "continue, quit" (e.g.
# tests/bench/profile.py's breakpoint and instruction trace); HV_BOCHS_STDOUT:
# the file that gets Bochs' standard output (the debugger's), else the run
# directory's bochs.stdout.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/run-common.sh"

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 <kernel.elf> <cpu model> [kernel command line]" >&2
    exit 2
fi
kernel=$1
model=$2
cmdline=${3:-}
[ -r "$kernel" ] || { echo "run-bochs: cannot read $kernel" >&2; exit 2; }
case $model in
*[!A-Za-z0-9_]* | "") echo "run-bochs: bad cpu model '$model'" >&2; exit 2 ;;
esac
case $cmdline in
*[\"\;\$\`\\]*) echo "run-bochs: the command line must not contain \" ; \$ \` or \\" >&2; exit 2 ;;
esac
limit=${HV_RUN_TIMEOUT:-300}
megs=${HV_BOCHS_MEGS:-64}

dir=$(mktemp -d "${TMPDIR:-/tmp}/hv-bochs.XXXXXX")
if [ "${HV_KEEP_RUN_DIR:-0}" = 1 ]; then
    echo "run-bochs: run directory $dir"
else
    trap 'rm -rf "$dir"' EXIT
fi

# A GRUB rescue ISO that boots the kernel at once, with the command line
# and the modules.
mkdir -p "$dir/iso/boot/grub"
cp "$kernel" "$dir/iso/boot/kernel.elf"
module_lines=
for m in ${HV_BOCHS_MODULES:-}; do
    base=$(basename "$m")
    case $base in
    *[!A-Za-z0-9._-]* | kernel.elf) echo "run-bochs: FAIL ($model): bad module name '$base'"; exit 1 ;;
    esac
    if [ ! -r "$m" ]; then
        echo "run-bochs: FAIL ($model): cannot read module $m"
        exit 1
    fi
    cp "$m" "$dir/iso/boot/$base"
    module_lines="$module_lines    module /boot/$base $base
"
done
cat >"$dir/iso/boot/grub/grub.cfg" <<GRUB
set timeout=0
set default=0
menuentry "libhv example kernel" {
    multiboot /boot/kernel.elf $cmdline
$module_lines    boot
}
GRUB
if ! grub-mkrescue -o "$dir/kernel.iso" "$dir/iso" >"$dir/mkrescue.log" 2>&1; then
    cat "$dir/mkrescue.log"
    echo "run-bochs: FAIL ($model): grub-mkrescue failed"
    exit 1
fi

sed -e "s/@MODEL@/$model/" -e "s/@MEGS@/$megs/" -e "s/@IPS@/${HV_BOCHS_IPS:-2000000}/" \
    "$here/bochsrc.in" >"$dir/bochsrc"
# Without a debugger script Bochs stops at its prompt: continue, then quit.
if [ -n "${HV_BOCHS_DBG_RC:-}" ]; then
    cp "$HV_BOCHS_DBG_RC" "$dir/dbg.rc" || exit 2
else
    printf 'c\nq\n' >"$dir/dbg.rc"
fi
stdout=${HV_BOCHS_STDOUT:-$dir/bochs.stdout}

# The rfb display listens on a TCP port (first free one from 5900). Where
# possible Bochs gets a private network namespace, so that the port is
# reachable from nowhere and parallel runs cannot race for it; otherwise a
# run that lost the race (two instances binding the same port at once) is
# retried.
netns=
if [ "${HV_BOCHS_NETNS:-1}" = 1 ] && unshare -rn true 2>/dev/null; then
    netns="unshare -rn"
fi
start=$(date +%s.%N)
for attempt in 1 2 3 4 5; do
    : >"$dir/serial.txt"
    (cd "$dir" && timeout --kill-after=10 "$limit" $netns bochs-bin -q -f bochsrc -rc dbg.rc \
        </dev/null >"$stdout" 2>&1)
    status=$?
    grep -q "RFB could not bind" "$dir/bochsout.txt" 2>/dev/null || break
    echo "run-bochs: rfb port race lost (attempt $attempt of 5)"
    sleep "0.$((RANDOM % 10))"
done
elapsed=$(hv_elapsed "$start")
tr -d '\r' <"$dir/serial.txt"
[ -n "${HV_RUN_LOG:-}" ] && tr -d '\r' <"$dir/serial.txt" >"$HV_RUN_LOG"

verdict=$(hv_check_results "$dir/serial.txt")
ok=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    verdict="timed out after ${limit} s; $verdict"
    ok=1
fi
if [ "$ok" -eq 0 ]; then
    echo "run-bochs: PASS ($model, ${elapsed} s): $verdict"
else
    echo "--- tail of bochsout.txt ---"
    tail -n 40 "$dir/bochsout.txt" 2>/dev/null
    echo "run-bochs: FAIL ($model, ${elapsed} s, bochs status $status): $verdict"
fi
exit "$ok"
