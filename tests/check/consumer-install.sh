#!/bin/sh
# unit.consumer_install: `cmake --install` the libhv build into a fresh
# prefix, check what was installed, then build and run the consumer against
# the installed tree with find_package(libhv), with pkg-config through
# CMake, and with a plain compiler command line from `pkg-config`.
# Usage: consumer-install.sh LIBHV_BUILD_DIR WORK_DIR C_COMPILER
set -eu
build=$1 work=$2 cc=$3
here=$(cd "$(dirname "$0")" && pwd)
prefix=$work/prefix

rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix"

status=0
need() {
    if [ -e "$prefix/$1" ]; then echo "installed: $1"; else echo "MISSING: $1"; status=1; fi
}
libdir=$(cd "$prefix" && dirname "$(find . -name libhv.a | head -n 1)")
libdir=${libdir#./}
need "$libdir/libhv.a"
need "$libdir/cmake/libhv/libhvConfig.cmake"
need "$libdir/cmake/libhv/libhvConfigVersion.cmake"
need "$libdir/cmake/libhv/libhvTargets.cmake"
need "$libdir/pkgconfig/libhv.pc"
# Every public header, and nothing private.
for h in $(cd "$(dirname "$0")/../../include" && ls hv/*.h); do need "include/$h"; done
if find "$prefix" -name '*.h' | grep -v '/include/hv/' | grep .; then
    echo "FAIL: headers installed outside include/hv"
    status=1
fi
[ $status -eq 0 ] || exit 1

echo "== find_package(libhv)"
cmake -S "$here/consumer" -B "$work/package" -DHV_CONSUMER_MODE=package \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc"
cmake --build "$work/package" -j2
"$work/package/consumer"

echo "== pkg-config through CMake"
PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" \
    cmake -S "$here/consumer" -B "$work/pkgconfig" -DHV_CONSUMER_MODE=pkgconfig \
    -DCMAKE_C_COMPILER="$cc"
cmake --build "$work/pkgconfig" -j2
"$work/pkgconfig/consumer"

echo "== pkg-config on a compiler command line"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
pc_cflags=$(pkg-config --cflags libhv)
pc_libs=$(pkg-config --libs libhv)
echo "pkg-config: version $(pkg-config --modversion libhv), cflags '$pc_cflags', libs '$pc_libs'"
cmake -DHV_INCLUDE_DIR="$prefix/include" -DOUT="$work/api_refs.c" -P "$here/consumer/gen-api-refs.cmake"
cflags="-std=c11 -ffreestanding -fno-builtin -fno-stack-protector -fno-pic -fno-pie -mno-red-zone
        -mgeneral-regs-only -O2 -Wall -Wextra -Werror"
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
{
    "$cc" $cflags $pc_cflags -c "$here/consumer/kernel.c" -o "$work/kernel.o"
    "$cc" $cflags $pc_cflags -c "$work/api_refs.c" -o "$work/api_refs.o"
    "$cc" -nostdlib -static -Wl,-e,_start -o "$work/consumer-cc" \
        "$work/kernel.o" "$work/api_refs.o" $pc_libs
}
"$work/consumer-cc"
