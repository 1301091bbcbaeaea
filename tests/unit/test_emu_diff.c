/*
 * Differential test of the emulator against the CPU it runs on.
 *
 * A generator assembles instructions of the emulated subset with random
 * prefixes (66, 67, segment overrides, REX incl. stale ones, LOCK, HLE
 * hints), operand sizes, addressing forms (every ModRM/SIB shape, RIP-
 * relative, moffs, RSP/RBP/R12/R13 bases, no-base, no-index), register
 * values and flags, aimed at a 4 KiB window straddling a page boundary.
 * Each case runs natively on the window and through hv_emu_step() on a
 * copy that the emulator reaches through its own 4-level page tables,
 * with the two data pages at non-contiguous guest-physical addresses and
 * each page randomly RAM or MMIO; instruction bytes come prefetched,
 * partly prefetched or fetched through the walker, sometimes straddling a
 * code page boundary; REP runs with small iteration budgets and resumes.
 * Registers, flags (minus those the SDM leaves undefined) and memory must
 * match, and invalid cases must fault the same way (#UD, #GP, #SS).
 *
 * EMU_DIFF_CASES (default 1000000) and EMU_DIFF_SEED (default: time)
 * control a run; the seed is printed so a failure can be replayed.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <asm/prctl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu_native.h"

#define DATA_BASE 0x10000000ull /* two native data pages */
#define WIN_LO    (DATA_BASE + 0x800)
#define WIN_HI    (DATA_BASE + 0x1800)
#define CODE_BASE 0x20000000ull /* two native code pages */
#define GS_BASE   0x0f000000ull /* GS base set for the run, below 4 GiB */

/* Guest-physical layout of the emulated side. */
#define G_PML4  0x1000ull
#define G_PDPT  0x2000ull
#define G_PD    0x3000ull
#define G_PTD   0x4000ull
#define G_PTC   0x5000ull
#define G_DATA0 0x80000ull /* linear DATA_BASE */
#define G_DATA1 0x42000ull /* linear DATA_BASE + 4 KiB: before DATA0 on purpose */
#define G_CODE0 0x90000ull
#define G_CODE1 0x95000ull

#define F_CF    0x1ull
#define F_PF    0x4ull
#define F_AF    0x10ull
#define F_ZF    0x40ull
#define F_SF    0x80ull
#define F_DF    0x400ull
#define F_OF    0x800ull
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

enum expect { EX_OK, EX_UD, EX_GP, EX_SS };

/* --------------------------------------------------------------------------
 * Random numbers: xorshift64*.
 */
static uint64_t rng;

static uint64_t rnd64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static unsigned rnd(unsigned n)
{
    return (unsigned)((rnd64() >> 32) % n);
}

/* Register values with a bias to the edges of each operand size. */
static uint64_t rnd_val(void)
{
    static const uint64_t edge[] = {0,
                                    1,
                                    0x7f,
                                    0x80,
                                    0xff,
                                    0x7fff,
                                    0x8000,
                                    0xffff,
                                    0x7fffffff,
                                    0x80000000,
                                    0xffffffff,
                                    0x7fffffffffffffffull,
                                    0x8000000000000000ull,
                                    ~0ull};
    switch (rnd(8)) {
    case 0:
        return edge[rnd(sizeof(edge) / sizeof(edge[0]))];
    case 1:
        return rnd(256);
    case 2:
        return (uint64_t)0 - rnd(256);
    case 3:
        return edge[rnd(sizeof(edge) / sizeof(edge[0]))] + rnd(3) - 1;
    default:
        return rnd64();
    }
}

/* --------------------------------------------------------------------------
 * The generated case.
 */
struct gcase {
    uint8_t code[24];
    unsigned len;
    uint64_t gpr[16];
    uint64_t rflags;
    uint64_t flag_mask; /* flags compared after the instruction */
    enum expect expect;
    uint64_t code_addr;
    const char *what;
};

/* An instruction being assembled. */
struct plan {
    uint8_t pre[8]; /* legacy prefixes, in emission order */
    unsigned npre;
    bool stale_rex; /* a REX before the legacy prefixes: must be ignored */
    bool rex;
    unsigned rex_wrxb;
    uint8_t opc[2];
    unsigned nopc;
    bool modrm;
    unsigned mod, reg3, rm3;
    bool sib;
    unsigned ss, idx3, base3;
    unsigned dsz;
    uint64_t disp;
    bool riprel;
    uint64_t riprel_ea; /* wanted EA of a RIP-relative operand */
    unsigned adsize;
    unsigned isz;
    uint64_t imm;
};

static void put(struct gcase *c, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        c->code[c->len++] = (uint8_t)(v >> (8 * i));
}

/* Emit the plan; false when a RIP-relative displacement cannot reach. */
static bool assemble(const struct plan *p, struct gcase *c)
{
    c->len = 0;
    if (p->stale_rex)
        put(c, 0x40 | rnd(16), 1);
    for (unsigned i = 0; i < p->npre; i++)
        put(c, p->pre[i], 1);
    if (p->rex)
        put(c, 0x40 | p->rex_wrxb, 1);
    for (unsigned i = 0; i < p->nopc; i++)
        put(c, p->opc[i], 1);
    if (p->modrm)
        put(c, (p->mod << 6) | (p->reg3 << 3) | p->rm3, 1);
    if (p->sib)
        put(c, (p->ss << 6) | (p->idx3 << 3) | p->base3, 1);
    unsigned disp_at = c->len;
    put(c, p->disp, p->dsz);
    put(c, p->imm, p->isz);
    if (p->riprel) {
        uint64_t next = c->code_addr + c->len;
        uint64_t d = p->riprel_ea - next;
        if (p->adsize == 8 && (int64_t)d != (int32_t)d)
            return false;
        for (unsigned i = 0; i < 4; i++)
            c->code[disp_at + i] = (uint8_t)(d >> (8 * i));
    }
    return true;
}

static void add_prefix(struct plan *p, uint8_t b)
{
    /* Insert at a random position: legacy prefixes may come in any order. */
    unsigned at = rnd(p->npre + 1);
    for (unsigned i = p->npre; i > at; i--)
        p->pre[i] = p->pre[i - 1];
    p->pre[at] = b;
    p->npre++;
}

/* Operand-size and REX choice; returns the operand size. */
static unsigned choose_size(struct plan *p, bool byteop, bool allow64)
{
    bool w = allow64 && rnd(3) == 0;
    bool p66 = rnd(3) == 0;
    if (p66)
        add_prefix(p, 0x66);
    if (p66 && rnd(8) == 0)
        add_prefix(p, 0x66); /* redundant */
    p->rex = w || rnd(2);
    p->rex_wrxb = w ? 8 : 0;
    if (byteop)
        return 1;
    return w ? 8 : p66 ? 2 : 4;
}

/* A register number the encoding can express with the REX choice made. */
static unsigned pick_reg(const struct plan *p)
{
    return p->rex ? rnd(16) : rnd(8);
}

static void set_reg_field(struct plan *p, unsigned reg)
{
    p->reg3 = reg & 7;
    if (reg & 8)
        p->rex_wrxb |= 4;
}

/* A register operand in ModRM.rm. */
static void set_rm_reg(struct plan *p, unsigned reg)
{
    p->modrm = true;
    p->mod = 3;
    p->rm3 = reg & 7;
    if (reg & 8)
        p->rex_wrxb |= 1;
}

/*
 * Memory operand aimed at linear address @p lin: choose the addressing
 * form, registers and displacement, then set the register values so that
 * segment base + EA == lin. @p avoid: registers whose values are taken
 * (they must be neither base nor index). Returns false when the choice
 * cannot work (caller retries).
 */
struct memop {
    int base, index;
    unsigned scale;
    int seg; /* effective segment override (-1 none) */
    uint64_t segbase;
    bool ss_default;
};

static bool set_mem(struct plan *p, struct gcase *c, uint64_t lin, uint32_t avoid, uint64_t segbase,
                    struct memop *mo)
{
    uint64_t amask = p->adsize == 4 ? 0xffffffffull : ~0ull;
    uint64_t e = (lin - segbase) & amask;
    unsigned form = rnd(6);
    int base = -1, index = -1;
    unsigned s = rnd(4);
    int64_t d = 0;

    if (p->adsize == 4 && lin - segbase > 0xffffffffull)
        return false;
    p->modrm = true;
    p->dsz = 0;
    p->riprel = false;
    mo->ss_default = false;
    switch (form) {
    case 0: /* ModRM base (+disp), SIB with no index when the base is rSP/R12 */
    case 5: /* SIB, base only */
        base = (int)pick_reg(p);
        p->mod = rnd(3);
        if (p->mod == 0 && (base & 7) == 5)
            p->mod = 1 + rnd(2);
        if (form == 5 || (base & 7) == 4) {
            p->sib = true;
            p->rm3 = 4;
            p->idx3 = 4;
            p->ss = s;
            p->base3 = base & 7;
            if (p->rex && rnd(2) == 0) {
                /* REX.X with index 100 selects R12: not "no index". */
                p->sib = true;
                index = 12;
                p->rex_wrxb |= 2;
            }
        } else {
            p->rm3 = base & 7;
        }
        break;
    case 1: /* SIB base + index */
        base = (int)pick_reg(p);
        do
            index = (int)pick_reg(p);
        while (index == 4);
        p->mod = rnd(3);
        if (p->mod == 0 && (base & 7) == 5)
            p->mod = 1 + rnd(2);
        p->sib = true;
        p->rm3 = 4;
        p->ss = s;
        p->idx3 = index & 7;
        p->base3 = base & 7;
        if (index & 8)
            p->rex_wrxb |= 2;
        break;
    case 2: /* SIB, no base: disp32 + index */
        do
            index = (int)pick_reg(p);
        while (index == 4);
        p->mod = 0;
        p->sib = true;
        p->rm3 = 4;
        p->ss = s;
        p->idx3 = index & 7;
        p->base3 = 5;
        if (index & 8)
            p->rex_wrxb |= 2;
        /* REX.B does not give a base here. */
        if (p->rex && rnd(2))
            p->rex_wrxb |= 1;
        break;
    case 3: /* SIB, no base and no index: absolute disp32 */
        p->mod = 0;
        p->sib = true;
        p->rm3 = 4;
        p->ss = s;
        p->idx3 = 4;
        p->base3 = 5;
        break;
    default: /* RIP-relative */
        p->mod = 0;
        p->rm3 = 5;
        p->riprel = true;
        break;
    }
    if (base >= 0 && (base & 8))
        p->rex_wrxb |= 1;
    if ((base >= 0 && (avoid >> base) & 1) || (index >= 0 && (avoid >> index) & 1))
        return false;
    mo->base = base;
    mo->index = index;
    mo->scale = s;
    mo->ss_default = base == 4 || base == 5;

    if (p->mod == 1)
        p->dsz = 1;
    else if (p->mod == 2 || (p->mod == 0 && (form == 2 || form == 3 || form == 4)))
        p->dsz = 4;

    if (p->riprel) {
        p->riprel_ea = e;
        return true;
    }
    if (base < 0 && index < 0) {
        /* disp32 alone: sign-extended with 64-bit addresses. */
        if (p->adsize == 8 && (int64_t)e != (int32_t)e)
            return false;
        p->disp = e;
        return true;
    }
    if (base < 0) {
        uint64_t iv = ((e >> s) - rnd(2000) + 1000) & amask;
        d = (int64_t)((e - (iv << s)) & amask);
        if (p->adsize == 4)
            d = (int32_t)d;
        if (d != (int32_t)d)
            return false;
        c->gpr[index] = iv | (p->adsize == 4 ? rnd64() << 32 : 0);
        p->disp = (uint64_t)d;
        return true;
    }
    if (p->dsz == 1)
        d = (int8_t)rnd(256);
    else if (p->dsz == 4)
        d = rnd(2) ? (int32_t)rnd64() : (int16_t)rnd(65536);
    if (index == base) {
        uint64_t k = 1 + (1ull << s);
        if (p->dsz == 0) {
            p->mod = 1;
            p->dsz = 1;
        }
        d = (int64_t)(e % k);
        uint64_t v = ((e - (uint64_t)d) / k) & amask;
        if (p->adsize == 8 && v * k + (uint64_t)d != e)
            return false;
        c->gpr[base] = v | (p->adsize == 4 ? rnd64() << 32 : 0);
    } else {
        uint64_t iv = 0;
        if (index >= 0) {
            iv = rnd(2) ? rnd_val() : rnd(4096);
            c->gpr[index] = iv;
        }
        uint64_t bv = (e - (iv << s) - (uint64_t)d) & amask;
        c->gpr[base] = bv | (p->adsize == 4 ? rnd64() << 32 : 0);
    }
    p->disp = (uint64_t)d;
    return true;
}

/* A target address for an access of @p size bytes, often across the page boundary. */
static uint64_t pick_target(unsigned size, unsigned margin)
{
    switch (rnd(4)) {
    case 0:
        return DATA_BASE + 0x1000 - size + rnd(size + 1);
    case 1:
        return (WIN_LO + margin + rnd(WIN_HI - WIN_LO - 2 * margin)) & ~(uint64_t)(size - 1);
    default:
        return WIN_LO + margin + rnd(WIN_HI - WIN_LO - 2 * margin - size);
    }
}

static uint64_t fs_base;

/* Segment override for a memory operand; returns the base it adds. */
static int pick_seg(struct plan *p, bool allow_fs, uint64_t *base)
{
    static const uint8_t pfx[6] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65};
    int seg = rnd(3) ? -1 : (int)rnd(6);
    if (seg == 4 && !allow_fs)
        seg = 5;
    *base = seg == 4 ? fs_base : seg == 5 ? GS_BASE : 0;
    if (seg >= 0)
        add_prefix(p, pfx[seg]);
    return seg;
}

enum cls {
    C_ALU_RM,
    C_ALU_ACC,
    C_GRP1,
    C_TEST,
    C_XCHG,
    C_MOV,
    C_MOV_IMM,
    C_MOFFS,
    C_MOVX,
    C_MOVSXD,
    C_BT,
    C_STR,
    NCLS
};

/*
 * Generate one valid instruction of class @p k. @p lock_bad: make LOCK
 * illegal (expect #UD); @p noncanon: aim at a non-canonical address.
 */
static bool gen(struct gcase *c, enum cls k, int twist)
{
    struct plan p;
    struct memop mo;
    unsigned size, msize = 0;
    bool mem, byteop, lockable = false, locked = false;
    uint64_t lin, segbase = 0;
    int seg = -1;
    uint32_t avoid = 0;

    memset(&p, 0, sizeof(p));
    for (int i = 0; i < 16; i++)
        c->gpr[i] = rnd_val();
    c->rflags = 0x202 | (rnd64() & F_ARITH);
    c->flag_mask = F_ARITH | F_DF;
    c->expect = EX_OK;
    p.adsize = rnd(4) ? 8 : 4;
    if (p.adsize == 4)
        add_prefix(&p, 0x67);
    mem = rnd(5) != 0 || twist >= 2;

    if (k == C_STR) {
        static const uint8_t ops[6] = {0xa4, 0xa5, 0xaa, 0xab, 0xac, 0xad};
        uint8_t op = ops[rnd(6)];
        bool rep = rnd(3) != 0;
        unsigned n = rnd(21);
        uint64_t amask = p.adsize == 4 ? 0xffffffffull : ~0ull;
        if (twist == 2)
            return false;
        size = choose_size(&p, !(op & 1), true);
        seg = pick_seg(&p, p.adsize == 8, &segbase);
        if (rep)
            add_prefix(&p, 0xf3);
        p.opc[0] = op;
        p.nopc = 1;
        if (twist == 1) {
            add_prefix(&p, 0xf0);
            c->expect = EX_UD;
        }
        if (rnd(2))
            c->rflags |= F_DF;
        c->gpr[1] = (c->gpr[1] & ~amask) | (rep ? n : rnd(3));
        uint64_t src = WIN_LO + 200 + rnd(WIN_HI - WIN_LO - 400);
        uint64_t dst = rnd(4) ? WIN_LO + 200 + rnd(WIN_HI - WIN_LO - 400)
                              : src + (rnd(2) ? size : (uint64_t)0 - size);
        c->gpr[6] = (c->gpr[6] & ~amask) | ((src - segbase) & amask);
        c->gpr[7] = (c->gpr[7] & ~amask) | (dst & amask);
        c->what = "string";
        return assemble(&p, c);
    }

    switch (k) {
    case C_ALU_RM: {
        unsigned alu = rnd(8), form = rnd(4);
        byteop = !(form & 1);
        size = choose_size(&p, byteop, true);
        p.opc[0] = (uint8_t)(alu * 8 + form);
        lockable = form < 2 && alu != 7;
        if (alu == 1 || alu == 4 || alu == 6)
            c->flag_mask &= ~F_AF;
        c->what = "alu r/m";
        break;
    }
    case C_ALU_ACC: {
        unsigned alu = rnd(8);
        byteop = rnd(2);
        size = choose_size(&p, byteop, true);
        p.opc[0] = (uint8_t)(alu * 8 + 4 + !byteop);
        p.nopc = 1;
        p.isz = size == 1 ? 1 : size == 2 ? 2 : 4;
        p.imm = rnd_val();
        if (alu == 1 || alu == 4 || alu == 6)
            c->flag_mask &= ~F_AF;
        c->what = "alu acc,imm";
        if (twist)
            return false;
        return assemble(&p, c);
    }
    case C_GRP1: {
        static const uint8_t ops[3] = {0x80, 0x81, 0x83};
        uint8_t op = ops[rnd(3)];
        unsigned alu = rnd(8);
        size = choose_size(&p, op == 0x80, true);
        p.opc[0] = op;
        p.reg3 = alu;
        p.isz = op == 0x81 ? (size == 2 ? 2 : 4) : 1;
        p.imm = rnd_val();
        lockable = alu != 7;
        if (alu == 1 || alu == 4 || alu == 6)
            c->flag_mask &= ~F_AF;
        c->what = "group 1";
        break;
    }
    case C_TEST: {
        unsigned f = rnd(3);
        byteop = rnd(2);
        size = choose_size(&p, byteop, true);
        c->flag_mask &= ~F_AF;
        c->what = "test";
        if (f == 0) {
            p.opc[0] = byteop ? 0x84 : 0x85;
        } else if (f == 1) {
            p.opc[0] = byteop ? 0xf6 : 0xf7;
            p.reg3 = 0;
            p.isz = size == 1 ? 1 : size == 2 ? 2 : 4;
            p.imm = rnd_val();
        } else {
            if (twist)
                return false;
            p.opc[0] = byteop ? 0xa8 : 0xa9;
            p.isz = size == 1 ? 1 : size == 2 ? 2 : 4;
            p.imm = rnd_val();
            p.nopc = 1;
            return assemble(&p, c);
        }
        break;
    }
    case C_XCHG:
        byteop = rnd(2);
        size = choose_size(&p, byteop, true);
        p.opc[0] = byteop ? 0x86 : 0x87;
        lockable = true;
        c->what = "xchg";
        break;
    case C_MOV: {
        unsigned op = 0x88 + rnd(4);
        byteop = !(op & 1);
        size = choose_size(&p, byteop, true);
        p.opc[0] = (uint8_t)op;
        c->what = "mov";
        break;
    }
    case C_MOV_IMM:
        byteop = rnd(2);
        size = choose_size(&p, byteop, true);
        p.opc[0] = byteop ? 0xc6 : 0xc7;
        p.reg3 = 0;
        p.isz = size == 1 ? 1 : size == 2 ? 2 : 4;
        p.imm = rnd_val();
        c->what = "mov imm";
        break;
    case C_MOFFS: {
        unsigned op = 0xa0 + rnd(4);
        if (twist >= 2)
            return false;
        byteop = !(op & 1);
        size = choose_size(&p, byteop, true);
        p.opc[0] = (uint8_t)op;
        p.nopc = 1;
        seg = pick_seg(&p, p.adsize == 8, &segbase);
        lin = pick_target(size, 16);
        if (p.adsize == 4 && lin - segbase > 0xffffffffull)
            return false;
        p.isz = p.adsize;
        p.imm = lin - segbase;
        if (twist == 1) {
            add_prefix(&p, 0xf0);
            c->expect = EX_UD;
        }
        c->what = "moffs";
        return assemble(&p, c);
    }
    case C_MOVX: {
        unsigned op = 0xb6 + (rnd(2) ? 8 : 0) + rnd(2);
        size = choose_size(&p, false, true);
        msize = (op & 1) ? 2 : 1;
        p.opc[0] = 0x0f;
        p.opc[1] = (uint8_t)op;
        p.nopc = 2;
        c->what = "movzx/movsx";
        break;
    }
    case C_MOVSXD:
        size = choose_size(&p, false, true);
        msize = size == 8 ? 4 : size;
        p.opc[0] = 0x63;
        c->what = "movsxd";
        break;
    case C_BT: {
        bool imm = rnd(2);
        unsigned op = rnd(4);
        size = choose_size(&p, false, true);
        c->flag_mask &= ~(F_OF | F_SF | F_AF | F_PF);
        lockable = op != 0;
        p.opc[0] = 0x0f;
        p.nopc = 2;
        c->what = "bt";
        if (imm) {
            p.opc[1] = 0xba;
            p.reg3 = 4 + op;
            p.isz = 1;
            p.imm = rnd(256);
        } else {
            p.opc[1] = (uint8_t)(0xa3 + 8 * op);
        }
        break;
    }
    default:
        return false;
    }
    if (!p.nopc)
        p.nopc = 1;

    /* G operand (or group digit already set), then E. */
    bool uses_g = !(p.opc[0] == 0x80 || p.opc[0] == 0x81 || p.opc[0] == 0x83 || p.opc[0] == 0xc6 ||
                    p.opc[0] == 0xc7 || p.opc[0] == 0xf6 || p.opc[0] == 0xf7 ||
                    (p.nopc == 2 && p.opc[1] == 0xba));
    unsigned g = 0;
    if (uses_g) {
        g = pick_reg(&p);
        set_reg_field(&p, g);
    }
    if (!msize)
        msize = size;
    if (twist == 1) {
        /* LOCK where it is illegal: on a register operand or a non-lockable op. */
        if (lockable)
            mem = false;
        add_prefix(&p, 0xf0);
        c->expect = EX_UD;
    } else if (lockable && mem && rnd(3) == 0) {
        locked = true;
        add_prefix(&p, 0xf0);
        if (rnd(3) == 0)
            add_prefix(&p, rnd(2) ? 0xf2 : 0xf3); /* XACQUIRE/XRELEASE hint */
    }
    if (!mem) {
        set_rm_reg(&p, pick_reg(&p));
        return assemble(&p, c);
    }

    /* Bit offsets of BT with a register select another unit of memory. */
    uint64_t adj = 0;
    if (p.nopc == 2 && (p.opc[1] & 0xe7) == 0xa3) {
        unsigned bits = 8 * size, sh = size == 2 ? 4 : size == 4 ? 5 : 6;
        int64_t off = (int64_t)rnd(4000) - 2000;
        c->gpr[g] = (rnd64() << 16
                             << (size == 2   ? 0
                                 : size == 4 ? 16
                                             : 48)) |
                    ((uint64_t)off & (bits == 64 ? ~0ull : (1ull << bits) - 1));
        adj = (uint64_t)((off >> sh) * (int64_t)size);
        avoid |= 1u << g;
    }
    seg = pick_seg(&p, p.adsize == 8, &segbase);
    if (twist == 2) {
        /* A non-canonical linear address; a straddling access sometimes. */
        static const uint64_t bad[4] = {0x0000800000000000ull, 0xffff7ffffffff000ull,
                                        0x8000000000000000ull, 0x00007ffffffff000ull};
        unsigned w = rnd(4);
        if (p.adsize == 4)
            return false;
        lin = bad[w] + rnd(4096);
        if (w == 3)
            lin = 0x0000800000000000ull - 1 - rnd(msize > 1 ? msize - 1 : 1);
        if (w == 3 && msize == 1)
            return false;
    } else {
        lin = pick_target(msize, 300);
        /*
         * Locked accesses (LOCK, XCHG) stay inside a cache line: Linux
         * throttles split locks on CPUs that detect them (10 ms each).
         */
        if (locked || p.opc[0] == 0x86 || p.opc[0] == 0x87)
            lin &= ~(uint64_t)(msize - 1);
    }
    if (!set_mem(&p, c, lin - adj, avoid, segbase, &mo))
        return false;
    if (uses_g && (p.nopc == 2 && (p.opc[1] & 0xe7) == 0xa3) && (mo.base == (int)g))
        return false;
    if (twist == 2) {
        /* 64-bit mode ignores ES/CS/SS/DS overrides: rSP/rBP bases keep SS. */
        bool ss = seg < 4 && mo.ss_default;
        c->expect = ss ? EX_SS : EX_GP;
    }
    if (p.npre && rnd(16) == 0)
        p.stale_rex = true; /* only a REX right before the opcode counts */
    return assemble(&p, c);
}

/* --------------------------------------------------------------------------
 * Emulated guest: page tables in a small RAM, code and data pages.
 */
static uint8_t *gram; /* gpa [0, 64 KiB): page tables */
static uint8_t emu_data[2][4096];
static bool data_ram[2];
static unsigned bad_access;

static uint8_t *gpa_ptr(uint64_t gpa, size_t len, bool for_write, bool *is_mmio)
{
    *is_mmio = false;
    if (gpa + len <= 0x10000)
        return gram + gpa;
    for (int i = 0; i < 2; i++) {
        uint64_t base = i ? G_DATA1 : G_DATA0;
        if (gpa >= base && gpa + len <= base + 4096) {
            *is_mmio = !data_ram[i];
            return emu_data[i] + (gpa - base);
        }
        base = i ? G_CODE1 : G_CODE0;
        if (!for_write && gpa >= base && gpa + len <= base + 4096)
            return (uint8_t *)(uintptr_t)(CODE_BASE + 4096 * (uint64_t)i + (gpa - base));
    }
    return NULL;
}

static hv_status_t d_read(void *o, uint64_t gpa, void *buf, size_t len)
{
    bool mmio;
    uint8_t *p = gpa_ptr(gpa, len, false, &mmio);
    (void)o;
    if (!p || mmio)
        return HV_ERR_GUEST_FAULT;
    memcpy(buf, p, len);
    return HV_OK;
}

static hv_status_t d_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
    bool mmio;
    uint8_t *p = gpa_ptr(gpa, len, true, &mmio);
    (void)o;
    if (!p || mmio)
        return HV_ERR_GUEST_FAULT;
    memcpy(p, buf, len);
    return HV_OK;
}

static bool d_is_ram(void *o, uint64_t gpa)
{
    bool mmio;
    (void)o;
    return gpa_ptr(gpa, 1, false, &mmio) && !mmio;
}

static hv_status_t d_mmio(void *o, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    bool mmio;
    uint8_t *p = gpa_ptr(gpa, size, write, &mmio);
    (void)o;
    if (!p || !mmio || (size != 1 && size != 2 && size != 4 && size != 8)) {
        bad_access++;
        return HV_ERR_INVALID_ARG;
    }
    if (write) {
        memcpy(p, value, size);
    } else {
        *value = 0;
        memcpy(value, p, size);
    }
    return HV_OK;
}

static const struct hv_emu_ops diff_ops = {
    .gpa_read = d_read,
    .gpa_write = d_write,
    .is_ram = d_is_ram,
    .mmio = d_mmio,
};

static void w64(uint64_t gpa, uint64_t v)
{
    memcpy(gram + gpa, &v, 8);
}

static void build_tables(void)
{
    const uint64_t f = 0x7; /* P, R/W, U/S */
    w64(G_PML4, G_PDPT | f);
    w64(G_PDPT, G_PD | f);
    w64(G_PD + 8 * (DATA_BASE >> 21), G_PTD | f);
    w64(G_PD + 8 * (CODE_BASE >> 21), G_PTC | f);
    w64(G_PTD + 8 * ((DATA_BASE >> 12) & 0x1ff), G_DATA0 | f);
    w64(G_PTD + 8 * (((DATA_BASE >> 12) + 1) & 0x1ff), G_DATA1 | f);
    w64(G_PTC + 8 * ((CODE_BASE >> 12) & 0x1ff), G_CODE0 | f);
    w64(G_PTC + 8 * (((CODE_BASE >> 12) + 1) & 0x1ff), G_CODE1 | f);
}

static void init_regs(struct hv_emu_regs *r, const struct gcase *c)
{
    memset(r, 0, sizeof(*r));
    memcpy(r->gpr, c->gpr, sizeof(r->gpr));
    r->rip = c->code_addr;
    r->rflags = c->rflags;
    r->cr0 = HV_EMU_CR0_PE | HV_EMU_CR0_PG | HV_EMU_CR0_WP;
    r->cr3 = G_PML4;
    r->cr4 = HV_EMU_CR4_PAE;
    r->efer = HV_EMU_EFER_LME | HV_EMU_EFER_LMA | HV_EMU_EFER_NXE;
    r->cpl = 3;
    for (int i = 0; i < HV_EMU_NSEG; i++) {
        r->seg[i].limit = 0xffffffff;
        r->seg[i].attr = HV_EMU_SEG_P | HV_EMU_SEG_S | HV_EMU_SEG_TYPE_W | HV_EMU_SEG_TYPE_A |
                         (3 << HV_EMU_SEG_DPL_SHIFT) | HV_EMU_SEG_DB | HV_EMU_SEG_G;
    }
    r->seg[HV_EMU_CS].attr = HV_EMU_SEG_P | HV_EMU_SEG_S | HV_EMU_SEG_TYPE_CODE |
                             HV_EMU_SEG_TYPE_W | HV_EMU_SEG_TYPE_A | (3 << HV_EMU_SEG_DPL_SHIFT) |
                             HV_EMU_SEG_L | HV_EMU_SEG_G;
    r->seg[HV_EMU_FS].base = fs_base;
    r->seg[HV_EMU_GS].base = GS_BASE;
    /* 64-bit mode ignores these bases and every limit: make them matter if used. */
    for (int i = 0; i < 4; i++) {
        r->seg[i].base = rnd(2) ? rnd64() : 0x1000 * rnd(16);
        r->seg[i].limit = rnd(2) ? (uint32_t)rnd64() : 0;
    }
    r->seg[HV_EMU_FS].limit = (uint32_t)rnd64();
    r->seg[HV_EMU_GS].limit = (uint32_t)rnd64();
}

/* --------------------------------------------------------------------------
 * The run.
 */
static const char *gpr_name[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
static unsigned long long mismatches, printed;

static void dump(const struct gcase *c, const char *why)
{
    mismatches++;
    if (printed++ >= 12)
        return;
    printf("\nMISMATCH (%s) %s: bytes", c->what, why);
    for (unsigned i = 0; i < c->len; i++)
        printf(" %02x", c->code[i]);
    printf(" at %#" PRIx64 " rflags %#" PRIx64 "\n", c->code_addr, c->rflags);
    for (int i = 0; i < 16; i++)
        printf("  %s=%#" PRIx64 "%s", gpr_name[i], c->gpr[i], i % 4 == 3 ? "\n" : "");
}

static uint8_t *native_data;

static void run_case(struct gcase *c)
{
    struct emu_native_state ns;
    struct hv_emu_regs r;
    struct hv_emu_result res;
    struct hv_emu_env env = {.ops = &diff_ops, .maxphyaddr = 46, .gbpages = true};
    enum emu_native_result nr;
    const uint8_t *pre = NULL;
    size_t pre_len = 0;
    char why[160];

    /* Fresh random window, identical on both sides. */
    for (unsigned i = 0x700; i < 0x1900; i += 8) {
        uint64_t v = rnd64();
        memcpy(native_data + i, &v, 8);
    }
    memcpy(emu_data[0], native_data, 4096);
    memcpy(emu_data[1], native_data + 4096, 4096);
    data_ram[0] = rnd(2);
    data_ram[1] = rnd(2);

    memcpy(ns.gpr, c->gpr, sizeof(ns.gpr));
    ns.rflags = c->rflags;
    nr = emu_native_exec(c->code_addr, c->code, c->len, &ns);

    /* Instruction bytes: all prefetched, a prefix of them, or none. */
    switch (rnd(3)) {
    case 0:
        pre = c->code;
        pre_len = c->len;
        break;
    case 1:
        pre = c->code;
        pre_len = rnd(c->len);
        break;
    default:
        break;
    }
    env.rep_budget = rnd(2) ? 0 : 1 + rnd(4);
    init_regs(&r, c);
    bad_access = 0;
    hv_status_t st;
    unsigned rounds = 0;
    do {
        st = hv_emu_step(&env, &r, pre, pre_len, &res);
        if (st != HV_OK || res.outcome != HV_EMU_RESUME)
            break;
        if (r.rip != c->code_addr) {
            dump(c, "RESUME moved rip");
            return;
        }
    } while (++rounds < 64);

    if (st != HV_OK || bad_access) {
        snprintf(why, sizeof(why), "status %d, %u bad accesses", st, bad_access);
        dump(c, why);
        return;
    }
    if (c->expect != EX_OK || nr != EMU_NATIVE_OK) {
        static const enum emu_native_result want_nr[4] = {EMU_NATIVE_OK, EMU_NATIVE_SIGILL,
                                                          EMU_NATIVE_GP, EMU_NATIVE_SS};
        static const uint8_t want_vec[4] = {0, HV_EMU_VEC_UD, HV_EMU_VEC_GP, HV_EMU_VEC_SS};
        bool emu_ok = res.outcome == HV_EMU_EXCEPTION && res.vector == want_vec[c->expect] &&
                      res.error_code == 0 && !memcmp(r.gpr, c->gpr, sizeof(r.gpr)) &&
                      r.rip == c->code_addr;
        if (nr != want_nr[c->expect] || !emu_ok) {
            snprintf(why, sizeof(why), "expected fault %d: native %d, emulator outcome %d vec %u",
                     c->expect, nr, res.outcome, res.vector);
            dump(c, why);
            return;
        }
        if (memcmp(native_data, emu_data[0], 4096) || memcmp(native_data + 4096, emu_data[1], 4096))
            dump(c, "memory changed by a faulting instruction");
        return;
    }
    if (res.outcome != HV_EMU_DONE) {
        snprintf(why, sizeof(why), "emulator outcome %d vector %u ec %#x", res.outcome, res.vector,
                 res.error_code);
        dump(c, why);
        return;
    }
    if (r.rip != c->code_addr + c->len) {
        snprintf(why, sizeof(why), "rip +%" PRIu64 ", length %u", r.rip - c->code_addr, c->len);
        dump(c, why);
        return;
    }
    for (int i = 0; i < 16; i++) {
        if (r.gpr[i] != ns.gpr[i]) {
            snprintf(why, sizeof(why), "%s native %#" PRIx64 " emulated %#" PRIx64, gpr_name[i],
                     ns.gpr[i], r.gpr[i]);
            dump(c, why);
            return;
        }
    }
    if ((r.rflags ^ ns.rflags) & c->flag_mask) {
        snprintf(why, sizeof(why),
                 "rflags native %#" PRIx64 " emulated %#" PRIx64 " mask %#" PRIx64, ns.rflags,
                 r.rflags, c->flag_mask);
        dump(c, why);
        return;
    }
    for (int pg = 0; pg < 2; pg++) {
        if (memcmp(native_data + 4096 * pg, emu_data[pg], 4096)) {
            unsigned i = 0;
            while (native_data[4096 * pg + i] == emu_data[pg][i])
                i++;
            snprintf(why, sizeof(why), "memory at %#" PRIx64 ": native %02x emulated %02x",
                     (uint64_t)(DATA_BASE + 4096 * pg + i), native_data[4096 * pg + i],
                     emu_data[pg][i]);
            dump(c, why);
            return;
        }
    }
}

static void test_differential(void)
{
    const char *s_cases = getenv("EMU_DIFF_CASES");
    const char *s_seed = getenv("EMU_DIFF_SEED");
    unsigned long long cases = s_cases ? strtoull(s_cases, NULL, 0) : 1000000ull;
    uint64_t seed = s_seed ? strtoull(s_seed, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
    unsigned long long done = 0;
    unsigned long long per_class[NCLS + 3] = {0};

    if (!seed)
        seed = 1;
    rng = seed;
    printf("\nemu_diff: seed %#" PRIx64
           ", %llu cases (set EMU_DIFF_SEED, EMU_DIFF_CASES to change)\n",
           seed, cases);
    mismatches = printed = 0;
    while (done < cases) {
        struct gcase c;
        unsigned pick = rnd(100);
        int twist = pick < 4 ? 1 : pick < 7 ? 2 : 0; /* #UD, non-canonical */
        enum cls k = (enum cls)rnd(NCLS);
        bool straddle = rnd(6) == 0;

        memset(&c, 0, sizeof(c));
        c.code_addr = straddle ? CODE_BASE + 4096 - 1 - rnd(12) : CODE_BASE + 0x100 + rnd(64);
        if (!gen(&c, k, twist))
            continue;
        if (c.len > 15) {
            /* Longer than the architectural limit: #GP(0) on both sides. */
            if (twist)
                continue;
            c.expect = EX_GP;
        }
        if (c.code_addr + c.len > CODE_BASE + 4096 && !straddle)
            continue;
        run_case(&c);
        per_class[twist ? NCLS + twist : (int)k]++;
        if (c.len > 15)
            per_class[NCLS]++;
        done++;
    }
    printf("  per class:");
    for (int i = 0; i < NCLS + 3; i++)
        printf(" %llu", per_class[i]);
    printf(" (last three: over-long, #UD, non-canonical)\n");
    printf("emulator differential: %llu cases, %llu mismatches\n", done, mismatches);
    CU_ASSERT_EQUAL(mismatches, 0);
}

int main(void)
{
    CU_pSuite s;
    void *p;

    /* Native side: data pages below 4 GiB (32-bit addressing reaches them), code pages, GS base. */
    p = mmap((void *)DATA_BASE, 2 * 4096, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != (void *)DATA_BASE || emu_native_init(CODE_BASE)) {
        printf("cannot map the test pages\n");
        return 1;
    }
    native_data = p;
    if (syscall(SYS_arch_prctl, ARCH_SET_GS, GS_BASE) ||
        syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base)) {
        printf("arch_prctl failed\n");
        return 1;
    }
    gram = calloc(1, 0x10000);
    if (!gram)
        return 1;
    build_tables();

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("emu_diff", NULL, NULL);
    CU_add_test(s, "emulator vs CPU", test_differential);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    free(gram);
    return failed ? 1 : 0;
}
