/*
 * MMIO with PAE paging: a 2 MiB identity page and the 4 KiB alias region
 * of mmio_abi.h, with 64-bit entries. Same tests as paging32.S.
 */
#include "guest.inc"
#include "mmio_abi.h"

#define MODE_BITS 32
#define PTE_SZ    8
#define WSEG
#define TWIN_WIN  MMIO_TWIN_GPA
#define RAMBUF    MMIO_RAMBUF

.macro WIN_SEGS
.endm
.macro DATA_SEGS
.endm

    GUEST_START
    ENTER_PM32
    call idt_init
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl $pae_pdpt, %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80000000, %eax
    movl %eax, %cr0
    movl %cr0, %eax
    orl $0x10000, %eax              /* WP: read-only pages bind ring 0 too */
    movl %eax, %cr0
    jmp main

    /* The GDT must stay within reach of the real-mode LGDT. */
    GUEST_TABLES

#include "suite.inc"
#include "common.inc"
#include "paged.inc"

main:
    SUITE MMIO_A_REG0, 0
    SUITE MMIO_A_EMB, MMIO_EMB_IDS
    X_PAGED
    FINISH

    SUITE_DATA
    PAGED_DATA
    STRADDLE_PAGES
    .balign 4096
pae_pdpt:                           /* PDPTEs: P only (SDM Vol. 3A 4.4.1) */
    .quad pae_pd + 1
    .quad alias_pd + 1
    .quad 0, 0
    .balign 4096
pae_pd:
    .quad 0x83                      /* 2 MiB identity page */
    .fill 511, 8, 0
alias_pd:
    .quad alias_pt + 3
    .fill 511, 8, 0
    ALIAS_PT
