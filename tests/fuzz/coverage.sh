#!/usr/bin/env bash
# Source-based coverage that the fuzz corpora reach, per module:
#
#   tests/fuzz/coverage.sh [-b COV_BUILD_DIR] [CORPUS_ROOT]
#
# Configures COV_BUILD_DIR (default build/fuzz-cov) as a clang build with
# -fprofile-instr-generate -fcoverage-mapping, builds the fuzz targets, runs
# each once over its corpus (CORPUS_ROOT/<target>/corpus, e.g. the
# long/ directory of run-long.sh, plus the seeds in the tree) and prints
# llvm-cov's totals for the module each target drives.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build/fuzz-cov
if [ "${1:-}" = "-b" ]; then
    build=$2
    shift 2
fi
corpora=${1:-}
cmake -S "$repo" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_ASM_COMPILER=clang \
    -DHV_BUILD_EXAMPLES=OFF -DHV_BUILD_DOCS=OFF -DHV_CHECK_CONSUMERS=OFF \
    "-DCMAKE_C_FLAGS=-fprofile-instr-generate -fcoverage-mapping" \
    "-DCMAKE_EXE_LINKER_FLAGS=-fprofile-instr-generate" >/dev/null
cmake --build "$build" -j 2 --target fuzz_loader fuzz_emu fuzz_slat fuzz_hypercall fuzz_xsave fuzz_lapic >/dev/null
cd "$build/tests/fuzz"
# target:files (under libhv/) each target drives
for pair in 'loader:loader/*.c' 'emu:emu/*.c' 'slat:slat/*.c' 'hypercall:xen/*.c' 'xsave:core/xsave*.c' 'lapic:lapic/*.c'; do
    t=${pair%%:*} module=${pair##*:}
    dirs=("$here/corpus/$t")
    [ -n "$corpora" ] && [ -d "$corpora/$t/corpus" ] && dirs+=("$corpora/$t/corpus")
    LLVM_PROFILE_FILE=$t.profraw ./fuzz_$t -runs=0 "${dirs[@]}" >$t.cov.log 2>&1
    llvm-profdata merge -sparse $t.profraw -o $t.profdata
    # shellcheck disable=SC2086 # $module is a glob
    llvm-cov report ./fuzz_$t -instr-profile=$t.profdata "$repo"/libhv/$module |
        awk -v t="$t" -v m="$module" '$1 == "TOTAL" {
            printf "%-10s libhv/%-16s lines %s  branches %s  functions %s  regions %s\n",
                   t, m, $10, $13, $7, $4 }'
done
