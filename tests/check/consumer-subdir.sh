#!/bin/sh
# unit.consumer_subdir: a parent CMake project add_subdirectory()s libhv,
# links libhv::hv into a freestanding program, builds and runs it.
# Usage: consumer-subdir.sh LIBHV_SOURCE_DIR WORK_DIR C_COMPILER
set -eu
src=$1 work=$2 cc=$3
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
cmake -S "$here/consumer" -B "$work" -DHV_CONSUMER_MODE=subdir -DLIBHV_SOURCE_DIR="$src" \
    -DCMAKE_C_COMPILER="$cc"
cmake --build "$work" -j2
"$work/consumer"
