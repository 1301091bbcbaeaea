/*
 * MMIO in 32-bit protected mode with paging off: the suite on the register
 * file and on the embedder's page, the tests outside the suite, and a REP
 * STOSD of 16384 dwords into the sink during which the host regains
 * control (the sink kicks the vCPU) and then lets it finish; on request
 * (case mmio.replay) REP OUTSW from the register file.
 */
#include "guest.inc"
#include "mmio_abi.h"

#define MODE_BITS 32
#define WSEG
#define TWIN_WIN  MMIO_TWIN_GPA
#define RAMBUF    MMIO_RAMBUF
#define REG       MMIO_REG_GPA
#define EMB       MMIO_EMB_GPA

.macro WIN_SEGS
.endm
.macro DATA_SEGS
.endm

    GUEST_START
    ENTER_PM32
    jmp main

    /* The GDT must stay within reach of the real-mode LGDT. */
    GUEST_TABLES

#include "suite.inc"
#include "common.inc"

main:
    SUITE REG, 0
    SUITE EMB, MMIO_EMB_IDS
    X_FLAT_COMMON
    X_SINK MMIO_SINK_GPA, 0x4000
    REPORT %ecx
    REPORT %edi
    X_REPLAY MMIO_REG_GPA
    FINISH

    SUITE_DATA
    STRADDLE_PAGES
