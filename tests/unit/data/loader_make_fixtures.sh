#!/bin/sh
# Rebuilds the PVH guest fixtures of the loader tests from loader_pvh_guest.S with
# the system toolchain (GNU as/ld/objcopy, gzip). Run from this directory.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -c -m64 -o "$tmp/g64.o" loader_pvh_guest.S
ld -m elf_x86_64 -nostdlib -static --build-id=none -z max-page-size=0x1000 -z noexecstack \
   --no-warn-rwx-segments -T loader_pvh_guest.ld -o loader_pvh_guest64.elf "$tmp/g64.o"
# ELF32 class with e_machine EM_X86_64, as some Xen guests are built.
objcopy -O elf32-x86-64 loader_pvh_guest64.elf loader_pvh_guest_elf32_x86_64.elf
cc -c -m32 -o "$tmp/g32.o" loader_pvh_guest.S
ld -m elf_i386 -nostdlib -static --build-id=none -z max-page-size=0x1000 -z noexecstack \
   --no-warn-rwx-segments -T loader_pvh_guest.ld -o loader_pvh_guest_i386.elf "$tmp/g32.o"
gzip -9 -n -c loader_pvh_guest64.elf > loader_pvh_guest64.elf.gz
