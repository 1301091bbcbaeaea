#!/bin/bash
# The benchmark command: run the example kernel's benchmark cases
# (cases=bench.*) in the emulators that count instructions, print one line
# per figure and, with --check, enforce the budgets (budgets.txt) on the
# QEMU figures.
#
#   tests/bench/run-bench.sh [--kernel ELF | --build DIR] [--qemu] [--bochs-vmx]
#                            [--bochs-svm] [--kvm] [--check] [--budgets FILE]
#                            [--results FILE]
#
# Without an emulator option it runs --qemu --bochs-vmx --bochs-svm. Lines:
#
#   bench <backend> <name> <value> [(<ratio>x <floor>)]
#
# backend: svm (QEMU qemu64,+svm,+npt, -icount shift=0), vmx (Bochs
# corei7_haswell_4770, sync=none), svm-bochs (Bochs ryzen), kvm (Linux KVM
# under the same QEMU flags, tests/kvm/run-kvm.sh). --kvm adds KVM's figures
# and a table of libhv (svm) against KVM. The kernel is --kernel, or
# hv_kernel.elf built in --build DIR (default: $HV_BUILD_DIR, else
# build/gcc, the tree tests/run-all.sh builds), which is (re)built first.
# Logs go to $HV_BENCH_LOG_DIR (default: a temporary directory, removed
# afterwards); --results FILE keeps a copy of the bench lines (and budget
# verdicts).
#
# Exit status: 0 when every run passed (and, with --check, every budget
# held); 1 otherwise; 2 for usage errors.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

kernel=
build=${HV_BUILD_DIR:-$top/build/gcc}
budgets=$here/budgets.txt
keep=
runs=()
kvm=0
check=0
while [ $# -gt 0 ]; do
    case $1 in
    --kernel) kernel=$2; shift ;;
    --build) build=$2; shift ;;
    --budgets) budgets=$2; shift ;;
    --results) keep=$2; shift ;;
    --qemu) runs+=(qemu) ;;
    --bochs-vmx) runs+=(bochs-vmx) ;;
    --bochs-svm) runs+=(bochs-svm) ;;
    --kvm) kvm=1 ;;
    --check) check=1 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-bench: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ ${#runs[@]} -eq 0 ] && [ "$kvm" = 0 ]; then
    runs=(qemu bochs-vmx bochs-svm)
fi

if [ -z "$kernel" ] && [ ${#runs[@]} -gt 0 ]; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$top" -B "$build" >/dev/null || exit 1
    fi
    cmake --build "$build" --target hv_kernel -j 2 >/dev/null || {
        echo "run-bench: building hv_kernel in $build failed" >&2
        exit 1
    }
    kernel=$build/examples/hv_kernel.elf
fi

logdir=${HV_BENCH_LOG_DIR:-}
if [ -z "$logdir" ]; then
    logdir=$(mktemp -d "${TMPDIR:-/tmp}/hv-bench.XXXXXX")
    trap 'rm -rf "$logdir"' EXIT
fi
mkdir -p "$logdir"

status=0
results=$logdir/results.txt
: >"$results"

# run <label> <runner output log> <command...>: keep the bench lines,
# relabelled with <label> as the backend.
collect() {
    local label=$1 log=$2
    tr -d '\r' <"$log" | awk -v label="$label" '$1 == "bench" { $2 = label; print }' |
        tee -a "$results"
}

for r in "${runs[@]}"; do
    case $r in
    qemu)
        HV_RUN_LOG=$logdir/qemu.log HV_RUN_TIMEOUT=${HV_BENCH_TIMEOUT:-120} \
            "$top/tests/system/run-qemu.sh" "$kernel" qemu64,+svm,+npt \
            -icount shift=0,sleep=off -append "cases=bench.*" >"$logdir/qemu.out" 2>&1
        rc=$?
        collect svm "$logdir/qemu.log"
        ;;
    bochs-vmx | bochs-svm)
        if [ "$r" = bochs-vmx ]; then model=corei7_haswell_4770 label=vmx; else model=ryzen label=svm-bochs; fi
        HV_RUN_LOG=$logdir/$r.log HV_RUN_TIMEOUT=${HV_BENCH_TIMEOUT:-600} \
            "$top/tests/system/run-bochs.sh" "$kernel" "$model" "cases=bench.*" \
            >"$logdir/$r.out" 2>&1
        rc=$?
        collect "$label" "$logdir/$r.log"
        ;;
    esac
    if [ "$rc" -ne 0 ]; then
        echo "run-bench: the $r run failed:"
        grep -E '^(FAIL|run-)' "$logdir/$r.out" | sed 's/^/  /' 
        status=1
    fi
done

if [ "$kvm" = 1 ]; then
    if "$top/tests/kvm/run-kvm.sh" >"$logdir/kvm.out" 2>&1; then
        grep '^bench kvm ' "$logdir/kvm.out" | tee -a "$results"
    else
        echo "run-bench: the KVM run failed:"
        tail -n 20 "$logdir/kvm.out" | sed 's/^/  /'
        status=1
    fi
    # libhv (svm, same QEMU flags) beside KVM.
    awk '$1 == "bench" && ($2 == "svm" || $2 == "kvm") { v[$2 " " $3] = $4; n[$3] = 1 }
        END {
            printf "%-16s %10s %10s %8s\n", "figure", "libhv-svm", "kvm", "kvm/libhv"
            split("bare_vmmcall bare_cpuid bare_out cpuid hypercall io_out mmio_exit", order, " ")
            for (i = 1; i in order; i++) {
                f = order[i]; s = v["svm " f]; k = v["kvm " f]
                if (s == "" && k == "") continue
                r = (s > 0 && k != "") ? sprintf("%.1f", k / s) : "-"
                printf "%-16s %10s %10s %8s\n", f, s == "" ? "-" : s, k == "" ? "-" : k, r
            }
        }' "$results"
fi

if [ "$check" = 1 ]; then
    # budgets.txt: "<figure> <max>" lines; applied to the QEMU (svm) figures.
    awk 'NR == FNR { if ($1 !~ /^#/ && NF >= 2) { max[$1] = $2; if (NF >= 3) guard[$1] = $3 }; next }
        $1 == "bench" && $2 == "svm" { v[$3] = $4 }
        END {
            bad = 0
            for (f in max) {
                if (!(f in v)) { printf "budget %s: no figure (FAIL)\n", f; bad = 1; continue }
                ok = (v[f] + 0 <= max[f] + 0)
                if (ok) {
                    printf "budget %s: %s <= %s ok\n", f, v[f], max[f]
                } else if ((f in guard) && v[f] + 0 <= guard[f] + 0) {
                    printf "budget %s: %s > %s: target NOT MET (regression guard %s holds)\n", f, v[f], max[f], guard[f]
                } else {
                    printf "budget %s: %s > %s%s (FAIL: over budget)\n", f, v[f], max[f], (f in guard) ? " and over its guard " guard[f] : ""
                    bad = 1
                }
            }
            exit bad
        }' "$budgets" "$results" >"$logdir/budgets.out"
    [ $? = 0 ] || status=1
    sort "$logdir/budgets.out" | tee -a "$results"
fi
[ -z "$keep" ] || cp "$results" "$keep"
exit "$status"
