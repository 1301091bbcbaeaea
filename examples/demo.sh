#!/usr/bin/env bash
# PLACEHOLDER demo, written before the real one exists: the demo that boots
# the example kernel in QEMU with a demo guest is to replace this file.
# Until then it only builds the library (and the example kernel, if the
# tree has it) and runs the SLAT benchmark hv_bench_slat if the build
# defines that target; it boots nothing.
#
# Installs what it lacks with apt-get (as root, Debian 12).
# Environment: HV_BUILD_ROOT (default <repo>/build).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${HV_BUILD_ROOT:-$repo/build}/demo

need=()
for p in cmake make gcc pkg-config libcunit1-dev; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "demo: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null
fi

echo "demo: this is a placeholder; it builds libhv and runs hv_bench_slat if present"
cmake -S "$repo" -B "$dir" -DHV_BUILD_HOSTED=ON -DHV_BUILD_EXAMPLES=OFF -DHV_BUILD_DOCS=OFF >/dev/null
cmake --build "$dir" -j 2 --target hv
echo "demo: built $dir/libhv.a"
if cmake --build "$dir" --target help | grep -q 'hv_bench_slat'; then
    cmake --build "$dir" -j 2 --target hv_bench_slat
    bench=$(find "$dir" -type f -name hv_bench_slat -perm -u+x | head -n 1)
    echo "demo: running $bench"
    "$bench"
else
    echo "demo: no hv_bench_slat target in this tree yet; nothing to run"
fi
