/*
 * Absolute symbols linked into the MMIO guests. long.S refers to them with
 * RIP-relative operands: defined in its own file, the assembler would fold
 * them into plain displacements instead of leaving the link to compute
 * target minus RIP.
 */
#include "mmio_abi.h"

    .globl mmio_rip_twin, mmio_rip_reg, mmio_rip_emb
    .set mmio_rip_twin, MMIO_TWIN_GPA + 12
    .set mmio_rip_reg, MMIO_A_REG0 + 12
    .set mmio_rip_emb, MMIO_A_EMB + 12
    .section .note.GNU-stack, "", @progbits
