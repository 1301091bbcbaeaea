#!/bin/bash
# The modules of the xen.linux case (examples/kernel/cases/xen_linux.c):
#
#   get-linux.sh <out dir> [command args...]
#
# writes <out dir>/linux-pvh.elf, Debian's Linux kernel as the ELF image
# a Xen PVH loader takes, and <out dir>/linux-initrd.cpio, an initramfs
# whose /init is init.S (here), then runs the command, if any (the system
# test's run-qemu.sh). The file names hold the module names the case looks
# for (run-bochs.sh passes file names as module command lines). Fails with
# a reason when it cannot.
#
# The kernel: the package linux-image-amd64 depends on, fetched with
# apt-get download (as tests/kvm/run-kvm.sh does; the two share the cache
# $HV_KVM_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/libhv-kvm (/tmp/.cache
# without HOME), where
# <package>/boot/vmlinuz-* is reused), never installed. Its vmlinuz is a
# bzImage: the x86 boot protocol header (Linux's
# Documentation/x86/boot.rst) gives the protected-mode code's offset
# ((setup_sects + 1) * 512, setup_sects at 0x1f1; 4 sectors if 0) and,
# from version 2.08, payload_offset and payload_length (0x248, 0x24c),
# the compressed ELF vmlinux inside it. Its first bytes say the format;
# xz, zstd and gzip are decompressed (Debian uses xz). The result must be
# an ELF image with Xen's PHYS32_ENTRY note (CONFIG_XEN_PVH).
#
# Needs: apt-get, dpkg-deb (Debian), xz-utils (or zstd, gzip), cpio, gcc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 <out dir> [command args...]" >&2; exit 2; }
out=$1
shift
fail() { echo "get-linux: $*" >&2; exit 1; }
mkdir -p "$out"

# ---- the kernel package -------------------------------------------------
cache=${HV_KVM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/libhv-kvm}
resolve() { apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
pkg=$(resolve || true)
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -q >&2 || true # a fresh machine has no package lists
    pkg=$(resolve || true)
fi
if [ -z "$pkg" ]; then
    # No package lists (and not root): take a kernel already in the cache.
    pkg=$(ls -d "$cache"/linux-image-[0-9]*/boot 2>/dev/null | tail -n 1 || true)
    pkg=${pkg%/boot}
    pkg=${pkg##*/}
fi
[ -n "$pkg" ] || fail "cannot resolve linux-image-amd64 (no apt package lists?) and nothing cached in $cache"
vmlinuz=$(ls "$cache/$pkg"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
if [ -z "$vmlinuz" ]; then
    dl=$(mktemp -d "${TMPDIR:-/tmp}/hv-linux.XXXXXX")
    trap 'rm -rf "$dl"' EXIT
    echo "get-linux: apt-get download $pkg" >&2
    (cd "$dl" && apt-get download "$pkg" >&2) || fail "apt-get download $pkg failed"
    mkdir -p "$dl/x" "$cache/$pkg/boot"
    dpkg-deb --fsys-tarfile "$dl/${pkg}"_*.deb | tar -x -C "$dl/x" --wildcards './boot/vmlinuz-*' ||
        fail "no boot/vmlinuz-* in $pkg"
    cp "$dl"/x/boot/vmlinuz-* "$cache/$pkg/boot/"
    vmlinuz=$(ls "$cache/$pkg"/boot/vmlinuz-* | head -n 1)
fi

# ---- the ELF vmlinux inside the bzImage ---------------------------------
u8() { od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }
u16() { od -An -t u2 -j "$2" -N 2 --endian=little "$1" | tr -d ' '; }
u32() { od -An -t u4 -j "$2" -N 4 --endian=little "$1" | tr -d ' '; }
[ "$(od -An -c -j 514 -N 4 "$vmlinuz" | tr -d ' ')" = HdrS ] ||
    fail "$vmlinuz is not a bzImage (no HdrS boot protocol header)"
version=$(u16 "$vmlinuz" 518)
[ "$version" -ge $((0x208)) ] || fail "$vmlinuz: boot protocol $version has no payload fields"
setup_sects=$(u8 "$vmlinuz" $((0x1f1)))
[ "$setup_sects" -ne 0 ] || setup_sects=4
start=$(((setup_sects + 1) * 512 + $(u32 "$vmlinuz" $((0x248)))))
length=$(u32 "$vmlinuz" $((0x24c)))
magic=$(od -An -t x1 -j "$start" -N 4 "$vmlinuz" | tr -d ' ')
payload() { dd if="$vmlinuz" iflag=skip_bytes,count_bytes skip="$start" count="$length" status=none; }
tmp=$out/linux-pvh.elf.tmp
case $magic in
fd377a58) payload | xz -dc --single-stream >"$tmp" || fail "xz failed" ;;
28b52ffd) payload | zstd -dc >"$tmp" || fail "zstd failed" ;;
1f8b*) payload | gzip -dc >"$tmp" 2>/dev/null || [ -s "$tmp" ] ;; # size word after the stream
*) fail "$vmlinuz: payload format with magic $magic not handled (xz, zstd, gzip are)" ;;
esac
[ "$(od -An -c -N 4 "$tmp" | tr -d ' ')" = '177ELF' ] || fail "$vmlinuz: the payload is not an ELF image"
if command -v readelf >/dev/null; then
    # XEN_ELFNOTE_PHYS32_ENTRY (18) of owner Xen (Xen's public elfnote.h).
    readelf -n "$tmp" | grep -qE '^ *Xen .*(type: \(0x00000012\)|PHYS32_ENTRY)' ||
        fail "$vmlinuz: the vmlinux has no XEN_ELFNOTE_PHYS32_ENTRY (not built with CONFIG_XEN_PVH)"
fi
mv "$tmp" "$out/linux-pvh.elf"

# ---- the initramfs --------------------------------------------------------
rm -rf "$out/root"
mkdir -p "$out/root"
${CC:-gcc} -nostdlib -static -o "$out/root/init" "$here/init.S" || fail "cannot build init"
(cd "$out/root" && echo init | cpio -o -H newc --quiet) >"$out/linux-initrd.cpio" ||
    fail "cpio failed"
echo "get-linux: $pkg: $out/linux-pvh.elf ($(stat -c %s "$out/linux-pvh.elf") bytes)," \
    "$out/linux-initrd.cpio" >&2

[ $# -eq 0 ] || exec "$@"
