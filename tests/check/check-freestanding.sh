#!/bin/sh
# Checks that a static archive is freestanding:
#  1. every symbol its members reference is defined by a member of the
#     archive itself (no libc, no compiler runtime: memcpy, memset,
#     __stack_chk_fail, __udivti3, ... are all failures);
#  2. its code uses no x87, MMX or SSE/AVX instruction or register, so an
#     embedding kernel need not save FPU/SIMD state around library calls.
#     The state save/restore instructions (FXSAVE/FXRSTOR, XSAVE*/XRSTOR*,
#     XGETBV/XSETBV) are allowed: switching guest FPU state needs them.
# Usage: check-freestanding.sh ARCHIVE [NM] [OBJDUMP]
set -eu

archive=$1
nm=${2:-nm}
objdump=${3:-objdump}
[ -f "$archive" ] || { echo "check-freestanding: no such archive: $archive" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# 1. Undefined symbols. `nm -A` prefixes every line with archive:member.
"$nm" -A -u "$archive" | awk '{ print $NF "\t" $1 }' | sed 's/:$//' | sort -u >"$tmp/undef"
"$nm" --defined-only -g "$archive" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/defined"
awk -F'\t' 'NR == FNR { def[$1] = 1; next } !($1 in def) { print }' \
    "$tmp/defined" "$tmp/undef" >"$tmp/external"
if [ -s "$tmp/external" ]; then
    echo "FAIL: $archive references symbols it does not define:"
    awk -F'\t' '{ printf "  %-32s referenced by %s\n", $1, $2 }' "$tmp/external"
    fail=1
else
    echo "ok: no external symbol references ($(wc -l <"$tmp/undef") undefined references, all resolved inside the archive)"
fi

# 2. FPU/SIMD code. With --no-show-raw-insn a line is "addr:<TAB>mnemonic operands".
"$objdump" -d --no-show-raw-insn "$archive" | awk -F'\t' -v countfile="$tmp/count" '
    END { print count + 0 >countfile }
    /^In archive/ { next }
    /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ /, "", fn); sub(/:$/, "", fn); next }
    /file format/ { obj = $0; sub(/:[ \t]+file format.*/, "", obj); next }
    NF >= 2 && $1 ~ /^ *[0-9a-f]+: *$/ {
        insn = substr($0, index($0, "\t") + 1)
        gsub(/\t/, " ", insn)
        count++
        n = split(insn, w, /[ ,]+/)
        # skip prefixes objdump prints as separate words
        i = 1
        while (i < n && w[i] ~ /^(rep|repz|repnz|repe|repne|lock|data16|addr32|notrack|bnd|cs|ds|es|ss|fs|gs|rex(\.[WRXB]+)?)$/) i++
        m = w[i]
        allowed = (m ~ /^(fxsave|fxsave64|fxrstor|fxrstor64|xsave|xsave64|xsaveopt|xsaveopt64|xsavec|xsavec64|xsaves|xsaves64|xrstor|xrstor64|xrstors|xrstors64|xgetbv|xsetbv)$/)
        bad = 0
        if (!allowed && m ~ /^f/) bad = 1                         # x87 (fld, fstp, fninit, ...)
        if (m ~ /^(emms|femms|ldmxcsr|stmxcsr|vldmxcsr|vstmxcsr)$/) bad = 1
        if (!allowed && insn ~ /%(st|st\([0-7]\)|mm[0-7]|[xyz]mm[0-9]+|k[0-7])([^0-9a-z]|$)/) bad = 1
        if (bad) printf "  %s in %s: %s\n", obj, fn, insn
    }' >"$tmp/fpu"
if [ -s "$tmp/fpu" ]; then
    echo "FAIL: $archive contains x87/MMX/SSE/AVX code:"
    head -n 50 "$tmp/fpu"
    [ "$(wc -l <"$tmp/fpu")" -le 50 ] || echo "  ... $(wc -l <"$tmp/fpu") instructions in total"
    fail=1
else
    echo "ok: no x87/MMX/SSE/AVX instructions ($(cat "$tmp/count") instructions checked)"
fi
exit $fail
