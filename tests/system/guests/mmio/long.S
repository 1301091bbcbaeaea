/*
 * MMIO in 64-bit mode: the suite with 8-byte forms, REX, RIP-relative and
 * FS-based operands added, through the alias region (PML4 slot 0, PDPT
 * slot 1); the tests outside the suite, the #PF tests and the huge REP
 * STOSQ into the sink.
 */
#include "guest.inc"
#include "mmio_abi.h"

#define MODE_BITS 64
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
    movl $(alias_pd + 3), lm_pdpt + 8
    ENTER_LONG
    call idt_init
    movq %cr0, %rax
    orq $0x10000, %rax              /* WP: read-only pages bind ring 0 too */
    movq %rax, %cr0
    jmp main

    /* The GDT must stay within reach of the real-mode LGDT. */
    GUEST_TABLES

#include "suite.inc"
#include "common.inc"
#include "paged.inc"

/*
 * 8-byte operands and the encodings only 64-bit code has. \rip_target:
 * offset 12 of the device window for the RIP-relative load (syms.S).
 */
.macro LONG_EXTRAS rip_target
    EXPECT XW(8, 8)
    TWIN 60, FM_ALL, 0, "movq $-5, TWA + 8"
    EXPECT XW(16, 8)
    TWIN 61, FM_ALL, 0, "movq %rcx, TWA + 16"
    EXPECT XR(0, 8)
    TWIN 62, FM_ALL, 0, "movq TWA, %rdx"
    EXPECT XR(8, 8)
    TWIN 63, FM_ALL, 0, "movabs TWA + 8, %rax"
    EXPECT XW(16, 8)
    TWIN 64, FM_ALL, 0, "movabs %rax, TWA + 16"
    EXPECT XR(8, 8), XW(8, 8)
    TWIN 65, FM_ALL, 0, "addq %rcx, TWA + 8"
    EXPECT XR(16, 8), XW(16, 8)
    TWIN 66, FM_ALL, 0, "xchgq %rcx, TWA + 16"
    EXPECT XR(8, 8), XW(8, 8)
    TWIN 67, FM_BT, 0, "btsq $63, TWA + 8"
    EXPECT XW(0, 8), XW(8, 8)
    TWIN 68, FM_ALL, 0, "movl $TWA, %edi", "movl $2, %ecx", "rep stosq", "subl $TWA, %edi"
    EXPECT XR(4, 4)
    TWIN 69, FM_ALL, 0, "movslq TWA + 4, %rdx"
    EXPECT XR(8, 8)
    TWIN 70, FM_ALL, 0, "movl $TWA, %ebx", "movl $1, %esi", "movq (%rbx, %rsi, 8), %rdx"
    EXPECT XR(12, 4)
    TWIN2 71, FM_ALL, 0, "movl mmio_rip_twin(%rip), %edx", "movl \rip_target(%rip), %edx"
    EXPECT XR(2, 2)
    TWIN 72, FM_ALL, 0, "movzwq TWA + 2, %rdx"
    EXPECT XR(24, 8)
    TWIN 73, FM_ALL, 0, "cmpq $-1, TWA + 24"
    EXPECT XW(8, 4)
    TWIN 74, FM_ALL, 0, "movl $TWA, %r10d", "movl %ecx, 8(%r10)"
    EXPECT XR(8, 4)
    TWIN 75, FM_ALL, 0, "movl TWA + 8, %r11d", "movl %r11d, %edx"
    EXPECT XR(16, 8)
    TWIN 76, FM_ALL, 0, "movl $(TWA + 16), %esi", "lodsq", "subl $TWA, %esi"
    EXPECT XR(20, 4), XW(20, 4)
    TWIN 77, FM_LOGIC, 0, "andl %ecx, TWA + 20"
.endm

/* An FS-relative load: in 64-bit mode only FS and GS have a base. */
.macro X_FSBASE
    movl $0xc0000100, %ecx          /* IA32_FS_BASE */
    movl $(MMIO_A_REG0 - 0x100), %eax
    xorl %edx, %edx
    wrmsr
    movl $0x5a5aa5a5, MMIO_REG_GPA + 0x104
    EXPECT XR(0x104, 4)
    BRACKET 0x76
    movl %fs:0x204, %edx
    MARKI 0
    REPORT %edx
    movl $0xc0000100, %ecx
    xorl %eax, %eax
    xorl %edx, %edx
    wrmsr
.endm

main:
    SUITE MMIO_A_REG0, 0
    LONG_EXTRAS mmio_rip_reg
    SUITE MMIO_A_EMB, MMIO_EMB_IDS
    LONG_EXTRAS mmio_rip_emb
    X_PAGED
    X_FSBASE
    FINISH

    SUITE_DATA
    PAGED_DATA
    STRADDLE_PAGES
    .balign 4096
alias_pd:
    .quad alias_pt + 3
    .fill 511, 8, 0
    ALIAS_PT
