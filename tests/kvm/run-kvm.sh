#!/bin/bash
# The peer, side by side: Linux KVM running libhv's exit-cost guest under
# the same QEMU as the libhv benchmarks (qemu64,+svm,+npt, -icount shift=0),
# printing KVM's figures in the benchmark format ("bench kvm <name> <n>").
#
#   tests/kvm/run-kvm.sh [iterations] [runs]       (defaults 1000 and 9)
#
# What it does (root, Debian; installs only Debian packages):
#   - apt-get installs what it lacks: qemu-system-x86, busybox-static, cpio,
#     xz-utils, gcc/libc6-dev (for the static program);
#   - fetches Debian's kernel package (linux-image-amd64's dependency) with
#     apt-get download and unpacks it into the cache directory, without
#     installing it: vmlinuz and the kvm, kvm-amd, irqbypass, ccp modules;
#   - builds the guest (tests/system/guests/bench/bench.S) and kvm_bench.c
#     (static), and an initramfs of busybox, the modules and both;
#   - boots it: -machine pc-i440fx-7.0 (fixed machine type, no random seed
#     handed to the kernel), -icount shift=0,sleep=off, a VM-clock RTC at a
#     fixed date, nokaslr: the run repeats to the instruction.
# Cache: $HV_KVM_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/libhv-kvm, /tmp/.cache/libhv-kvm without HOME).
# Time limit: $HV_KVM_TIMEOUT seconds (default 600).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
iters=${1:-1000}
runs=${2:-9}
cache=${HV_KVM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/libhv-kvm}
limit=${HV_KVM_TIMEOUT:-600}
mkdir -p "$cache"

need=()
for p in qemu-system-x86 busybox-static cpio xz-utils gcc libc6-dev linux-libc-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "run-kvm: installing ${need[*]}" >&2
    apt-get install -y --no-install-recommends "${need[@]}" >&2
fi
busybox=/bin/busybox

# Debian's kernel, unpacked once per version.
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$pkg" ] || { echo "run-kvm: cannot resolve linux-image-amd64" >&2; exit 1; }
kdir=$cache/$pkg
if [ ! -f "$kdir/complete" ]; then
    rm -rf "$kdir" "$cache/dl" && mkdir -p "$cache/dl/x"
    (cd "$cache/dl" && apt-get download "$pkg" >&2)
    dpkg-deb -x "$cache"/dl/"$pkg"_*.deb "$cache/dl/x"
    # Keep only what the run needs (the package unpacks to ~400 MB).
    mkdir -p "$kdir/boot" "$kdir/modules"
    cp "$cache"/dl/x/boot/vmlinuz-* "$kdir/boot/"
    for m in virt/lib/irqbypass drivers/crypto/ccp/ccp arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
        f=$(ls "$cache"/dl/x/lib/modules/*/kernel/$m.ko* 2>/dev/null | head -n 1)
        [ -n "$f" ] || { echo "run-kvm: module $m not in $pkg" >&2; exit 1; }
        case $f in
        *.xz) xz -dc "$f" >"$kdir/modules/$(basename "$m").ko" ;;
        *) cp "$f" "$kdir/modules/$(basename "$m").ko" ;;
        esac
    done
    rm -rf "$cache/dl"
    touch "$kdir/complete"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -n 1)

work=$(mktemp -d "${TMPDIR:-/tmp}/hv-kvm.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/bin "$root"/proc "$root"/sys "$root"/dev "$root"/mod
cp "$busybox" "$root/bin/busybox"
cp "$kdir"/modules/*.ko "$root/mod/"

# The guest, assembled as the kernel's build does it.
g=$top/tests/system/guests
gcc -c -I"$g/bench" -I"$g" "$g/bench/bench.S" -o "$work/bench.o"
ld -T "$g/guest.ld" "$work/bench.o" -o "$root/bench.bin"
gcc -static -O2 -Wall -Wextra -o "$root/kvm_bench" "$here/kvm_bench.c"

cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in irqbypass ccp kvm kvm-amd; do
    /bin/busybox insmod /mod/\$m.ko || echo "run-kvm: insmod \$m failed"
done
echo "run-kvm: kernel \$(/bin/busybox uname -r)"
/kvm_bench /bench.bin $iters $runs
echo "run-kvm: done \$?"
/bin/busybox poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initrd.gz")

log=$work/serial.txt
start=$(date +%s)
timeout --kill-after=10 "$limit" qemu-system-x86_64 -machine pc-i440fx-7.0,accel=tcg \
    -cpu qemu64,+svm,+npt -m 512M -smp 1 -display none -no-reboot \
    -icount shift=0,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm \
    -serial "file:$log" -monitor none -net none \
    -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 nokaslr panic=-1 quiet loglevel=3 rdinit=/init" </dev/null || true
tr -d '\r' <"$log" | grep -E '^(bench kvm|run-kvm|kvm_bench)' || true
echo "run-kvm: $(($(date +%s) - start)) s, $pkg, $iters iterations x $runs runs"
grep -q '^run-kvm: done 0' "$log"
