/*
 * MMIO with 32-bit paging: a 4 MiB identity page for the first 4 MiB and
 * the 4 KiB alias region of mmio_abi.h. The suite runs on the register
 * file and the embedder's page through their alias pages, then the tests
 * outside the suite, the #PF tests and the huge REP STOS into the sink.
 */
#include "guest.inc"
#include "mmio_abi.h"

#define MODE_BITS 32
#define PTE_SZ    4
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
    movl $pd32, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x10, %eax                 /* PSE */
    movl %eax, %cr4
    movl %cr0, %eax
    orl $0x80000000, %eax           /* PG */
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
pd32:
    .long 0x83                      /* 4 MiB identity page: P, RW, PS */
    .fill 255, 4, 0
    .long alias_pt + 3              /* 0x40000000 */
    .fill 767, 4, 0
    ALIAS_PT
