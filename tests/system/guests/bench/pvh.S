/*
 * The PVH guest of the VM lifecycle benchmark: a 128 KiB image (code plus
 * a filled data block, so that loading copies 128 KiB) whose PVH entry
 * makes a hypercall at once. The host times create, load, run to that
 * hypercall and destroy.
 */
#include "bench_abi.h"

    .section .note.Xen, "a", @note
    .balign 4
    .long 4                         /* namesz: "Xen\0" */
    .long 4                         /* descsz */
    .long 18                        /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long pvh_start

    .text
    .code32
    .globl pvh_start
pvh_start:
    /* 32-bit protected mode, paging off, EBX = start_info. The hypercall
       instruction depends on the vendor (CPUID leaf 0 EBX "Auth"). */
    movl %ebx, %esi
    xorl %eax, %eax
    cpuid
    cmpl $0x68747541, %ebx
    movl $BENCH_HC_UNKNOWN, %eax
    jne 1f
    vmmcall
    jmp 2f
1:  vmcall
2:  hlt
    jmp 2b

    .data
    .balign 4096
    /* 128 KiB of file-backed bytes with the page of text (pvh.ld checks). */
filler:
    .fill (128 * 1024 - 4096) / 4, 4, 0x5eed5eed
