#!/bin/sh
# shellcheck disable=SC2086 # unquoted $want/$got/$defs print word lists on one line
# unit.consumer_make: build libhv through libhv.mk from a plain Makefile
# (tests/check/make/Makefile), check the archive is freestanding, link and
# run the consumer against it; and check that LIBHV_BACKENDS selects the
# backend sources and defines, and that libhv.mk's code-generation flags are
# those of cmake/libhv-flags.cmake (HV_FREESTANDING_FLAGS, passed by ctest).
# Usage: consumer-make.sh LIBHV_SOURCE_DIR WORK_DIR C_COMPILER [NM] [OBJDUMP] [CMAKE_FLAGS]
set -eu
src=$1 work=$2 cc=$3
nm=${4:-nm} objdump=${5:-objdump} cmake_flags=${6:-}
mk="$src/tests/check/make/Makefile"

# The entries of sources.txt files (repository-relative), one per line.
list() {
    for f in "$@"; do
        if [ -f "$src/$f" ]; then sed -e 's/#.*//' "$src/$f"; fi
    done | tr -s ' \t' '\n' | grep . || true
}
# printed VAR [make args]: one variable of `make print`, one word per line,
# with the LIBHV_DIR prefix removed.
printed() {
    var=$1
    shift
    out=$(make -s -f "$mk" print CC="$cc" "$@")
    dir=$(echo "$out" | sed -n 's/^LIBHV_DIR=//p')
    echo "$out" | sed -n "s/^$var=//p" | tr ' ' '\n' | grep . | sed "s|^$dir/||" || true
}

status=0
for backends in "vmx svm" "svm" "vmx"; do
    set -- libhv/core/sources.txt libhv/slat/sources.txt libhv/emu/sources.txt \
        libhv/loader/sources.txt libhv/xen/sources.txt libhv/lapic/sources.txt
    wantdefs=
    for b in $backends; do
        set -- "$@" "backends/$b/sources.txt"
        wantdefs="$wantdefs -DHV_CONFIG_$(echo "$b" | tr '[:lower:]' '[:upper:]')=1"
    done
    want=$(list "$@" | sort)
    got=$(printed LIBHV_SOURCES LIBHV_BACKENDS="$backends" | sort)
    wantdefs=$(echo "$wantdefs" | tr ' ' '\n' | grep . | sort)
    defs=$(printed LIBHV_DEFINES LIBHV_BACKENDS="$backends" | sort)
    if [ "$want" = "$got" ] && [ "$defs" = "$wantdefs" ]; then
        echo "ok: LIBHV_BACKENDS='$backends': $(echo "$got" | grep -c .) sources," \
            "defines" $defs
    else
        echo "FAIL: LIBHV_BACKENDS='$backends'"
        echo "  expected sources:" $want
        echo "  libhv.mk sources:" $got
        echo "  expected defines:" $wantdefs
        echo "  libhv.mk defines:" $defs
        status=1
    fi
done
if [ -n "$cmake_flags" ]; then
    want=$(echo "$cmake_flags" | tr ' ' '\n' | grep . | sort)
    got=$(printed LIBHV_CFLAGS | grep -v '^-DHV_CONFIG_' | sort)
    if [ "$want" = "$got" ]; then
        echo "ok: LIBHV_CFLAGS matches HV_FREESTANDING_FLAGS for $cc:" $got
    else
        echo "FAIL: libhv.mk and cmake/libhv-flags.cmake disagree for $cc"
        echo "  cmake: " $want
        echo "  make:  " $got
        status=1
    fi
fi
if make -s -f "$mk" print LIBHV_BACKENDS="vmx bogus" >/dev/null 2>&1; then
    echo "FAIL: an unknown backend in LIBHV_BACKENDS was accepted"
    status=1
else
    echo "ok: an unknown backend in LIBHV_BACKENDS is refused"
fi

rm -rf "$work"
make -f "$mk" -j2 OUT="$work" CC="$cc"
sh "$src/tests/check/check-freestanding.sh" "$work/libhv.a" "$nm" "$objdump" || status=1
"$work/consumer" || status=1
exit $status
