#!/usr/bin/env bash
# The libhv demo: builds libhv and the example kernel (examples/kernel),
# then boots the kernel in QEMU on an emulated AMD CPU with SVM and nested
# paging, where it runs the demo cases:
#   demo.hello  a guest that starts in real mode, switches itself to 64-bit
#               mode and says hello through I/O port 0xe9; the host prints
#               what it saw (examples/kernel/cases/demo_hello.c)
#   demo.pvh    a Xen PVH guest that prints through the console_io
#               hypercall and shuts down through sched_op
#   xen.grub    a guest nobody here wrote: GRUB 2's Xen PVH image (Debian's
#               grub-xen-bin, made by grub-mkimage), booted unmodified; it
#               prints through the PV console ring, reads xenstore from the
#               kernel (acting as dom0) and powers off
#
# On Debian 12 it installs what it lacks with apt-get (run it as root).
# Environment: HV_BUILD_ROOT (default <repo>/build; the demo builds in
# $HV_BUILD_ROOT/demo), HV_JOBS (default: the number of CPUs).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${HV_BUILD_ROOT:-$repo/build}/demo
jobs=${HV_JOBS:-$(nproc 2>/dev/null || echo 2)}
start=$SECONDS

say() { printf 'demo: %s\n' "$*"; }
fail() {
    printf 'demo: FAILED: %s\n' "$*" >&2
    exit 1
}

# 1. Packages: a compiler and CMake for the build (the kernel's build also
#    configures the hosted tests, hence CUnit), QEMU to boot the kernel.
packages=(cmake make gcc binutils pkg-config libcunit1-dev gzip qemu-system-x86 grub-xen-bin)
missing=()
if command -v dpkg-query >/dev/null; then
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
else
    for c in cmake make gcc ld pkg-config gzip qemu-system-x86_64 grub-mkimage; do
        command -v "$c" >/dev/null || fail "not Debian, and $c is missing: install it"
    done
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        fail "missing packages: ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
    fi
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

# 2. Build: the freestanding library and the kernel, nothing else.
say "building libhv and the example kernel in $dir"
mkdir -p "$dir"
t0=$SECONDS
cmake -S "$repo" -B "$dir" -DHV_BUILD_HOSTED=ON -DHV_BUILD_EXAMPLES=ON -DHV_BUILD_DOCS=OFF \
    >"$dir/demo-configure.log" 2>&1 || {
    tail -n 20 "$dir/demo-configure.log"
    fail "configuring failed (log: $dir/demo-configure.log)"
}
cmake --build "$dir" -j "$jobs" --target hv_kernel hv_grub_pvh_image >"$dir/demo-build.log" 2>&1 || {
    tail -n 20 "$dir/demo-build.log"
    fail "building failed (log: $dir/demo-build.log)"
}
kernel=$dir/examples/hv_kernel.elf
grub=$dir/tests/system/guests/grub/grub-pvh.elf
[ -f "$grub" ] || fail "GRUB's PVH image was not built (grub-xen-bin missing?)"
say "built $kernel in $((SECONDS - t0)) s"

# 3. Boot it. The kernel takes its case list from the command line, prints
#    on the serial port and ends QEMU through isa-debug-exit (status 1 when
#    every case passed).
cmd=(qemu-system-x86_64 -machine pc,accel=tcg -cpu qemu64,+svm,+npt -m 128M -display none
     -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04
     -kernel "$kernel" -initrd "$grub grub-pvh" -append "cases=demo.*,xen.grub")
say "booting it in QEMU on an emulated AMD CPU with SVM and nested paging:"
printf '     '
for a in "${cmd[@]}"; do
    case $a in
    *[\*\ ]*) printf " '%s'" "$a" ;;
    *) printf ' %s' "$a" ;;
    esac
done
printf '\n\n'
log=$dir/demo-serial.log
status=0
timeout 60 "${cmd[@]}" </dev/null >"$log" 2>&1 || status=$?
# libhv's own log lines ("hv info: ...") stay in the log file.
tr -d '\r' <"$log" | grep -v '^hv [a-z]*:' | sed 's/^/    /'
echo

summary=$(tr -d '\r' <"$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
if [ "$status" -ne 1 ] || [ -z "$summary" ] || ! grep -q ', 0 failed$' <<<"$summary"; then
    fail "the demo did not pass (QEMU status $status; serial output in $log)"
fi
say "done in $((SECONDS - start)) s."
say "demo.hello is examples/kernel/cases/demo_hello.c (host) and tests/system/guests/demo/hello.S (guest)."
say "Every test, system tests included: ./tests/run-all.sh"
