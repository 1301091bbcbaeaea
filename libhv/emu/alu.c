/*
 * Integer ALU with exact status flags (SDM Vol. 1 3.4.3.1 and the flag
 * sections of ADD/ADC/SUB/SBB/CMP/AND/OR/XOR/TEST in Vol. 2). Carries and
 * borrows come from the per-bit carry vector, so one formula serves every
 * operand size.
 */
#include "emu/internal.h"

/* PF: set when the low byte of the result has an even number of 1 bits. */
static bool parity_even(uint64_t r)
{
    uint8_t v = (uint8_t)r;
    v ^= v >> 4;
    v ^= v >> 2;
    v ^= v >> 1;
    return !(v & 1);
}

uint64_t emu_alu(unsigned op, unsigned size, uint64_t a, uint64_t b, uint64_t *rflags)
{
    uint64_t mask = emu_size_mask(size);
    uint64_t sign = 1ull << (8 * size - 1);
    uint64_t cin = (*rflags & HV_EMU_RFLAGS_CF) ? 1 : 0;
    uint64_t r, carries = 0, f = 0;
    bool arith = true, overflow = false;

    a &= mask;
    b &= mask;
    switch (op) {
    case ALU_ADD:
    case ALU_ADC:
        if (op == ALU_ADD)
            cin = 0;
        r = (a + b + cin) & mask;
        /* Carry out of each bit position. */
        carries = (a & b) | ((a | b) & ~r);
        overflow = ((a ^ r) & (b ^ r) & sign) != 0;
        break;
    case ALU_SUB:
    case ALU_SBB:
    case ALU_CMP:
        if (op != ALU_SBB)
            cin = 0;
        r = (a - b - cin) & mask;
        /* Borrow out of each bit position. */
        carries = (~a & b) | ((~a | b) & r);
        overflow = ((a ^ b) & (a ^ r) & sign) != 0;
        break;
    case ALU_OR:
        r = a | b;
        arith = false;
        break;
    case ALU_XOR:
        r = a ^ b;
        arith = false;
        break;
    default: /* AND, TEST */
        r = a & b;
        arith = false;
        break;
    }
    if (arith) {
        if (carries & sign)
            f |= HV_EMU_RFLAGS_CF;
        if (carries & 0x8)
            f |= HV_EMU_RFLAGS_AF;
        if (overflow)
            f |= HV_EMU_RFLAGS_OF;
    }
    /* Logic ops clear CF and OF; AF is undefined there and left cleared. */
    if (r & sign)
        f |= HV_EMU_RFLAGS_SF;
    if (r == 0)
        f |= HV_EMU_RFLAGS_ZF;
    if (parity_even(r))
        f |= HV_EMU_RFLAGS_PF;
    *rflags = (*rflags & ~HV_EMU_RFLAGS_ARITH) | f;
    return r;
}
