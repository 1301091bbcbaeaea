/*
 * MMIO in real mode: the suite (suite.inc) on the register file and on the
 * embedder's page through segment 0x9000, 16-bit code with 16- and 32-bit
 * addressing, then the tests outside the suite. Ends with HLT after
 * reporting the number of brackets it ran.
 */
#include "guest.inc"
#include "mmio_abi.h"

#define MODE_BITS 16
#define WSEG      %fs:
#define TWIN_WIN  MMIO_RM_OFF(MMIO_TWIN_GPA)
#define RAMBUF    MMIO_RM_OFF(MMIO_RAMBUF)
#define REG       MMIO_RM_OFF(MMIO_REG_GPA)
#define EMB       MMIO_RM_OFF(MMIO_EMB_GPA)

/* DS and ES switch between the image (segment 0) and the windows. */
.macro WIN_SEGS
    pushw %ax
    movw $MMIO_RM_SEG, %ax
    movw %ax, %ds
    movw %ax, %es
    popw %ax
.endm
.macro DATA_SEGS
    pushw %ax
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    popw %ax
.endm

    GUEST_START
    movw $MMIO_RM_SEG, %ax
    movw %ax, %fs
    jmp main

#include "suite.inc"
#include "common.inc"

/* 16-bit addressing forms (SDM Vol. 2A table 2-1), on \devwin. */
.macro REAL_EXTRAS
    EXPECT XW(12, 4)
    TWIN 60, FM_ALL, 0, "movw $TWA, %bx", "movw $4, %si", "movl %ecx, 8(%bx, %si)"
    EXPECT XR(6, 2)
    TWIN 61, FM_ALL, 0, "movw $(TWA + 6), %di", "movw (%di), %dx", "subw $TWA, %di"
    EXPECT XR(1, 1)
    TWIN 62, FM_ALL, 0, "movw $TWA, %bp", "movb %ds:1(%bp), %dl"
    EXPECT XR(8, 2), XW(8, 2)
    TWIN 63, FM_ALL, 0, "movw $(TWA + 4), %bx", "movw $2, %di", "addw %cx, 2(%bx, %di)"
.endm

main:
    SUITE REG, 0
    REAL_EXTRAS
    SUITE EMB, MMIO_EMB_IDS
    REAL_EXTRAS

    EXPECT XW(0xffe, 4), XR(0xffe, 4)
    X_CROSS REG + 0xffe
    EXPECT XW(0xff8, 4), XW(0xffc, 4), XW(0x1000, 4), XW(0x1004, 4)
    X_REPCROSS REG + 0xff8
    REPORT_AT REG + 0xff8
    REPORT_AT REG + 0xffc
    REPORT_AT REG + 0x1000
    REPORT_AT REG + 0x1004
    X_STRADDLE REG, "call strad_insn"
    REPORT_AT REG + 0x20
    X_STRINGIO REG

    FINISH

    SUITE_DATA
    STRADDLE_PAGES
