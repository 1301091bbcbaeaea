/*
 * Emulator unit tests: the exact MMIO/PIO accesses each form makes, 16-
 * and 32-bit address computation against an independent reference,
 * segmentation checks, instruction fetch through the walker, REP budgets
 * and resumption, faults that leave no trace, and hostile inputs
 * (truncated and over-long encodings, invalid opcodes, page tables
 * outside RAM, REP counts of 2^64-1).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu.h"
#include "emu/walk.h"
#include "emu_ram.h"

/* gpa [0xa0000, 0xc0000) is an MMIO hole in RAM, backed by mmio_mem. */
#define HOLE_LO 0xa0000ull
#define HOLE_HI 0xc0000ull

#define DATA_ATTR                                                                                  \
    (HV_EMU_SEG_P | HV_EMU_SEG_S | HV_EMU_SEG_TYPE_W | HV_EMU_SEG_TYPE_A | HV_EMU_SEG_DB |         \
     HV_EMU_SEG_G)
#define CODE_ATTR                                                                                  \
    (HV_EMU_SEG_P | HV_EMU_SEG_S | HV_EMU_SEG_TYPE_CODE | HV_EMU_SEG_TYPE_W | HV_EMU_SEG_TYPE_A |  \
     HV_EMU_SEG_G)

static struct emu_ram ram;
static struct hv_emu_env env;
static struct hv_emu_regs regs;
static struct hv_emu_result res;
static uint64_t cr3;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static bool keep_ram; /* reuse the RAM as it is (loops that only change registers) */

static void reset_ram(void)
{
    if (keep_ram && ram.mmio_mem) {
        emu_ram_env(&ram, &env);
        return;
    }
    emu_ram_fini(&ram);
    emu_ram_init(&ram);
    ram.mmio_lo = ram.ram_hole_lo = HOLE_LO;
    ram.mmio_hi = ram.ram_hole_hi = HOLE_HI;
    ram.mmio_mem = calloc(1, HOLE_HI - HOLE_LO);
    for (uint64_t i = 0; i < HOLE_HI - HOLE_LO; i++)
        ram.mmio_mem[i] = (uint8_t)(i * 7 + 3);
    emu_ram_env(&ram, &env);
}

static void flat_segs(uint16_t cs_extra, uint32_t limit)
{
    for (int i = 0; i < HV_EMU_NSEG; i++) {
        regs.seg[i].base = 0;
        regs.seg[i].limit = limit;
        regs.seg[i].attr = DATA_ATTR;
    }
    regs.seg[HV_EMU_CS].attr = CODE_ATTR | cs_extra;
}

/* Real mode: CS:IP = 0x1000:0x0100 (code at 0x10100), data segments at 0. */
static void setup_real(void)
{
    reset_ram();
    memset(&regs, 0, sizeof(regs));
    regs.rflags = 2;
    flat_segs(0, 0xffff);
    regs.seg[HV_EMU_CS].base = 0x10000;
    regs.rip = 0x100;
}

/* Protected mode without paging; @p d32: 32-bit code segment. */
static void setup_prot(bool d32)
{
    reset_ram();
    memset(&regs, 0, sizeof(regs));
    regs.rflags = 2;
    regs.cr0 = HV_EMU_CR0_PE;
    flat_segs(d32 ? HV_EMU_SEG_DB : 0, 0xffffffff);
    regs.seg[HV_EMU_CS].base = 0x10000;
    regs.rip = 0x100;
}

/*
 * 64-bit mode, CPL 0, 4-level paging: the first 8 MiB identity mapped
 * with 4 KiB pages (so single pages can be changed), code at 0x10100.
 */
static void setup_long(void)
{
    reset_ram();
    memset(&regs, 0, sizeof(regs));
    cr3 = emu_ram_table(&ram);
    for (uint64_t a = 0; a < 0x400000; a += 4096)
        emu_ram_map4k(&ram, cr3, a, a, 0x7);
    regs.rflags = 2;
    regs.cr0 = HV_EMU_CR0_PE | HV_EMU_CR0_PG | HV_EMU_CR0_WP;
    regs.cr3 = cr3;
    regs.cr4 = HV_EMU_CR4_PAE;
    regs.efer = HV_EMU_EFER_LME | HV_EMU_EFER_LMA | HV_EMU_EFER_NXE;
    flat_segs(HV_EMU_SEG_L, 0xffffffff);
    regs.rip = 0x10100;
}

static uint64_t code_linear(void)
{
    bool long64 = (regs.efer & HV_EMU_EFER_LMA) && (regs.seg[HV_EMU_CS].attr & HV_EMU_SEG_L);
    return long64 ? regs.rip : (uint32_t)(regs.seg[HV_EMU_CS].base + regs.rip);
}

/* Place the bytes at CS:rip (identity mapped / paging off) and step. */
static hv_status_t step_bytes(const uint8_t *b, size_t n)
{
    uint64_t at = code_linear();
    memcpy(ram.mem + at, b, n);
    ram.nlog = 0;
    return hv_emu_step(&env, &regs, NULL, 0, &res);
}

#define STEP(...)                                                                                  \
    ({                                                                                             \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        step_bytes(b_, sizeof(b_));                                                                \
    })

static void expect_mmio(unsigned i, uint64_t gpa, unsigned size, bool write, uint64_t value)
{
    CU_ASSERT_FATAL(i < ram.nlog);
    CU_ASSERT_EQUAL(ram.log[i].addr, gpa);
    CU_ASSERT_EQUAL(ram.log[i].size, size);
    CU_ASSERT_EQUAL(ram.log[i].write, write);
    if (write)
        CU_ASSERT_EQUAL(ram.log[i].value, value);
}

static uint64_t hole64(uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, ram.mmio_mem + (gpa - HOLE_LO), 8);
    return v;
}

/* ---------------------------------------------------------------------------
 * Exact accesses per form.
 */
static void test_mov_forms(void)
{
    setup_long();
    regs.gpr[HV_EMU_RBX] = 0xa0010;
    regs.gpr[HV_EMU_RAX] = 0x1122334455667788ull;

    /* 89 /r: mov [rbx], eax -> one 4-byte write. */
    CU_ASSERT_EQUAL(STEP(0x89, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(res.insn_len, 2);
    CU_ASSERT_EQUAL(regs.rip, 0x10102);
    CU_ASSERT_EQUAL(ram.nlog, 1);
    expect_mmio(0, 0xa0010, 4, true, 0x55667788);

    /* 48 8b /r: mov rcx, [rbx+8] -> one 8-byte read, all 64 bits. */
    CU_ASSERT_EQUAL(STEP(0x48, 0x8b, 0x4b, 0x08), HV_OK);
    CU_ASSERT_EQUAL(ram.nlog, 1);
    expect_mmio(0, 0xa0018, 8, false, 0);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], hole64(0xa0018));

    /* 66 c7 /0 iw: mov word [rbx], 0xbeef. */
    CU_ASSERT_EQUAL(STEP(0x66, 0xc7, 0x03, 0xef, 0xbe), HV_OK);
    expect_mmio(0, 0xa0010, 2, true, 0xbeef);

    /* 48 c7 /0 id: sign-extended imm32 stored as 8 bytes. */
    CU_ASSERT_EQUAL(STEP(0x48, 0xc7, 0x03, 0x00, 0x00, 0x00, 0x80), HV_OK);
    expect_mmio(0, 0xa0010, 8, true, 0xffffffff80000000ull);

    /* c6 /0 ib through a high-byte-free form; 88 /r with AH (no REX). */
    regs.gpr[HV_EMU_RAX] = 0xab00;
    CU_ASSERT_EQUAL(STEP(0x88, 0x23), HV_OK); /* mov [rbx], ah */
    expect_mmio(0, 0xa0010, 1, true, 0xab);
    CU_ASSERT_EQUAL(STEP(0x40, 0x88, 0x23), HV_OK); /* mov [rbx], spl with REX */
    expect_mmio(0, 0xa0010, 1, true, regs.gpr[HV_EMU_RSP] & 0xff);

    /* a1 moffs64: 8-byte absolute offset; 67 a3 moffs32. */
    regs.gpr[HV_EMU_RAX] = 0;
    CU_ASSERT_EQUAL(STEP(0xa1, 0x20, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00), HV_OK);
    CU_ASSERT_EQUAL(res.insn_len, 9);
    expect_mmio(0, 0xa0020, 4, false, 0);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RAX], hole64(0xa0020) & 0xffffffff);
    regs.gpr[HV_EMU_RAX] = 0x99;
    CU_ASSERT_EQUAL(STEP(0x67, 0xa2, 0x30, 0x00, 0x0a, 0x00), HV_OK);
    CU_ASSERT_EQUAL(res.insn_len, 6);
    expect_mmio(0, 0xa0030, 1, true, 0x99);

    /* movzx/movsx: source-sized read. */
    CU_ASSERT_EQUAL(STEP(0x0f, 0xbf, 0x0b), HV_OK); /* movsx ecx, word [rbx] */
    expect_mmio(0, 0xa0010, 2, false, 0);
    CU_ASSERT_EQUAL(STEP(0x48, 0x63, 0x0b), HV_OK); /* movsxd rcx, dword [rbx] */
    expect_mmio(0, 0xa0010, 4, false, 0);

    /* The value a device returns above the access size is dropped. */
    regs.gpr[HV_EMU_RBX] = 0xd0000000; /* outside RAM and hole: open bus ~0 */
    regs.gpr[HV_EMU_RCX] = 0;
    emu_ram_map4k(&ram, cr3, 0xd0000000, 0xd0000000, 0x7);
    CU_ASSERT_EQUAL(STEP(0x8a, 0x0b), HV_OK); /* mov cl, [rbx] */
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], 0xff);
}

static void test_rmw_forms(void)
{
    setup_long();
    regs.gpr[HV_EMU_RBX] = 0xa0040;
    memset(ram.mmio_mem + 0x40, 0, 8);
    ram.mmio_mem[0x40] = 0xf0;
    regs.gpr[HV_EMU_RAX] = 0x0f;

    /* lock or [rbx], eax: read then write, same address and size. */
    CU_ASSERT_EQUAL(STEP(0xf0, 0x09, 0x03), HV_OK);
    CU_ASSERT_EQUAL(ram.nlog, 2);
    expect_mmio(0, 0xa0040, 4, false, 0);
    expect_mmio(1, 0xa0040, 4, true, 0xff);

    /* cmp and test only read. */
    CU_ASSERT_EQUAL(STEP(0x39, 0x03), HV_OK);
    CU_ASSERT_EQUAL(ram.nlog, 1);
    CU_ASSERT_EQUAL(STEP(0xf7, 0x03, 0xff, 0x00, 0x00, 0x00), HV_OK);
    CU_ASSERT_EQUAL(ram.nlog, 1);
    CU_ASSERT_FALSE(regs.rflags & HV_EMU_RFLAGS_ZF);

    /* xchg: read old, write new, register gets the old value. */
    regs.gpr[HV_EMU_RDX] = 0x1234;
    CU_ASSERT_EQUAL(STEP(0x66, 0x87, 0x13), HV_OK);
    CU_ASSERT_EQUAL(ram.nlog, 2);
    expect_mmio(0, 0xa0040, 2, false, 0);
    expect_mmio(1, 0xa0040, 2, true, 0x1234);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDX], 0x00ff);

    /* bts with a register offset of 35: the dword at +4, bit 3. */
    regs.gpr[HV_EMU_RCX] = 35;
    CU_ASSERT_EQUAL(STEP(0x0f, 0xab, 0x0b), HV_OK);
    expect_mmio(0, 0xa0044, 4, false, 0);
    expect_mmio(1, 0xa0044, 4, true, 0x8);
    /* bt with a negative offset: the dword before. */
    regs.gpr[HV_EMU_RCX] = (uint32_t)-1;
    CU_ASSERT_EQUAL(STEP(0x0f, 0xa3, 0x0b), HV_OK);
    CU_ASSERT_EQUAL(ram.nlog, 1);
    expect_mmio(0, 0xa003c, 4, false, 0);
    /* btr imm: offset masked to the operand width, no displacement. */
    CU_ASSERT_EQUAL(STEP(0x48, 0x0f, 0xba, 0x33, 0x43), HV_OK); /* btr qword [rbx], 67 */
    expect_mmio(0, 0xa0040, 8, false, 0);
}

/* An operand across a page boundary is split: RAM part through gpa_*, MMIO in sizes 1/2/4/8. */
static void test_split_operands(void)
{
    setup_long();
    /* 8 bytes at HOLE_LO + 0x1ffd: 3 bytes in one MMIO page, 5 in the next -> 2+1, 4+1. */
    regs.gpr[HV_EMU_RBX] = HOLE_LO + 0x1ffd;
    regs.gpr[HV_EMU_RAX] = 0x0807060504030201ull;
    CU_ASSERT_EQUAL(STEP(0x48, 0x89, 0x03), HV_OK);
    CU_ASSERT_EQUAL(ram.nlog, 4);
    expect_mmio(0, HOLE_LO + 0x1ffd, 2, true, 0x0201);
    expect_mmio(1, HOLE_LO + 0x1fff, 1, true, 0x03);
    expect_mmio(2, HOLE_LO + 0x2000, 4, true, 0x07060504);
    expect_mmio(3, HOLE_LO + 0x2004, 1, true, 0x08);
    regs.gpr[HV_EMU_RCX] = 0;
    CU_ASSERT_EQUAL(STEP(0x48, 0x8b, 0x0b), HV_OK);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], 0x0807060504030201ull);

    /* RAM page followed by an MMIO page: the RAM part never reaches the device. */
    regs.gpr[HV_EMU_RBX] = HOLE_LO - 2;
    regs.gpr[HV_EMU_RAX] = 0xddccbbaa;
    CU_ASSERT_EQUAL(STEP(0x89, 0x03), HV_OK);
    CU_ASSERT_EQUAL(ram.nlog, 1);
    expect_mmio(0, HOLE_LO, 2, true, 0xddcc);
    CU_ASSERT_EQUAL(ram.mem[HOLE_LO - 2], 0xaa);
    CU_ASSERT_EQUAL(ram.mem[HOLE_LO - 1], 0xbb);

    /* Two pages mapped to non-contiguous frames: each half goes to its own frame. */
    emu_ram_map4k(&ram, cr3, 0x300000, 0x205000, 0x7);
    emu_ram_map4k(&ram, cr3, 0x301000, 0x107000, 0x7);
    regs.gpr[HV_EMU_RBX] = 0x300ffe;
    regs.gpr[HV_EMU_RAX] = 0x44332211;
    CU_ASSERT_EQUAL(STEP(0x89, 0x03), HV_OK);
    CU_ASSERT_EQUAL(ram.mem[0x205ffe], 0x11);
    CU_ASSERT_EQUAL(ram.mem[0x205fff], 0x22);
    CU_ASSERT_EQUAL(ram.mem[0x107000], 0x33);
    CU_ASSERT_EQUAL(ram.mem[0x107001], 0x44);
}

/* ---------------------------------------------------------------------------
 * 16- and 32-bit effective addresses against a reference written from the
 * SDM's ModRM tables (Vol. 2A 2-1, 2-2, 2-3), including the default segment.
 */
struct ea_ref {
    uint64_t ea;
    int seg; /* default segment */
};

static struct ea_ref ref_ea16(unsigned mod, unsigned rm, const uint64_t *g, uint64_t disp)
{
    uint16_t bx = (uint16_t)g[3], bp = (uint16_t)g[5], si = (uint16_t)g[6], di = (uint16_t)g[7];
    struct ea_ref r = {0, HV_EMU_DS};
    uint16_t ea = 0;
    switch (rm) {
    case 0:
        ea = bx + si;
        break;
    case 1:
        ea = bx + di;
        break;
    case 2:
        ea = bp + si;
        r.seg = HV_EMU_SS;
        break;
    case 3:
        ea = bp + di;
        r.seg = HV_EMU_SS;
        break;
    case 4:
        ea = si;
        break;
    case 5:
        ea = di;
        break;
    case 6:
        if (mod == 0) {
            ea = 0;
        } else {
            ea = bp;
            r.seg = HV_EMU_SS;
        }
        break;
    default:
        ea = bx;
        break;
    }
    r.ea = (uint16_t)(ea + disp);
    return r;
}

static struct ea_ref ref_ea32(unsigned mod, unsigned rm, uint8_t sib, const uint64_t *g,
                              uint64_t disp)
{
    struct ea_ref r = {0, HV_EMU_DS};
    uint32_t ea;
    if (rm == 4) {
        unsigned base = sib & 7, index = (sib >> 3) & 7;
        ea = index == 4 ? 0 : (uint32_t)g[index] << (sib >> 6);
        if (!(base == 5 && mod == 0)) {
            ea += (uint32_t)g[base];
            if (base == 4 || base == 5)
                r.seg = HV_EMU_SS;
        }
    } else if (rm == 5 && mod == 0) {
        ea = 0;
    } else {
        ea = (uint32_t)g[rm];
        if (rm == 5)
            r.seg = HV_EMU_SS;
    }
    r.ea = (uint32_t)(ea + disp);
    return r;
}

/*
 * Random `mov eax/ax, [modrm]` in 16-bit and 32-bit code with and without
 * 67 and segment overrides. Each segment has its own base, chosen so the
 * expected linear address lands in the MMIO hole; the recorded MMIO
 * address must equal it.
 */
static void test_ea_16_32(void)
{
    unsigned checked = 0, bad = 0;
    for (int iter = 0; iter < 40000; iter++) {
        bool d32 = iter & 1, a67 = (iter >> 1) & 1;
        bool real = iter % 7 == 0;
        unsigned adsize = (d32 ^ a67) ? 4 : 2;
        int ovr = (int)(rnd64() % 8) - 2; /* -2,-1: none */
        uint8_t b[16];
        unsigned n = 0, mod, rm, dsz = 0;
        uint8_t sib = 0;
        uint64_t disp = 0;
        struct ea_ref ref;

        keep_ram = iter != 0;
        if (real)
            setup_real();
        else
            setup_prot(d32);
        if (real && d32)
            continue; /* real mode has 16-bit code only */
        for (int i = 0; i < 16; i++)
            regs.gpr[i] = rnd64();
        if (a67)
            b[n++] = 0x67;
        if (ovr >= 0)
            b[n++] = (uint8_t)(ovr < 4 ? 0x26 + 8 * ovr : 0x60 + ovr);
        b[n++] = 0x8b;
        mod = (unsigned)(rnd64() % 3);
        rm = (unsigned)(rnd64() % 8);
        b[n++] = (uint8_t)((mod << 6) | ((rnd64() % 8) << 3) | rm);
        if (adsize == 4 && rm == 4) {
            sib = (uint8_t)rnd64();
            b[n++] = sib;
        }
        if (mod == 1)
            dsz = 1;
        else if (mod == 2)
            dsz = adsize;
        else if (adsize == 2 && rm == 6)
            dsz = 2;
        else if (adsize == 4 && (rm == 5 || (rm == 4 && (sib & 7) == 5)))
            dsz = 4;
        for (unsigned i = 0; i < dsz; i++) {
            uint8_t x = (uint8_t)rnd64();
            b[n++] = x;
            disp |= (uint64_t)x << (8 * i);
        }
        if (dsz == 1)
            disp = (uint64_t)(int8_t)disp;
        ref = adsize == 2 ? ref_ea16(mod, rm, regs.gpr, disp)
                          : ref_ea32(mod, rm, sib, regs.gpr, disp);
        int seg = ovr >= 0 ? ovr : ref.seg;
        unsigned opsize = d32 ? 4 : 2;
        /* Distinct bases per segment; the one in use puts the access in the hole. */
        uint64_t target = HOLE_LO + 0x100 + rnd64() % 0xe00; /* not across a page */
        for (int i = 0; i < HV_EMU_NSEG; i++) {
            regs.seg[i].base = (uint32_t)(target - ref.ea + 0x10000 * (uint64_t)(i + 1));
            regs.seg[i].limit = 0xffffffff;
        }
        regs.seg[seg].base = (uint32_t)(target - ref.ea);
        if (real) {
            regs.seg[HV_EMU_CS].base = 0x10000;
            for (int i = 0; i < HV_EMU_NSEG; i++)
                regs.seg[i].limit = 0xffff;
            if (ref.ea + opsize - 1 > 0xffff)
                continue; /* would be #GP/#SS: covered by the limit tests */
        }
        if (seg == HV_EMU_CS) {
            /* Reading through CS: put the code where that CS base lets it live. */
            if (!d32)
                continue;
            regs.rip = (uint32_t)(0x20000 - regs.seg[HV_EMU_CS].base);
        } else {
            regs.seg[HV_EMU_CS].base = 0x10000;
        }
        hv_status_t st = step_bytes(b, n);
        checked++;
        if (st != HV_OK || res.outcome != HV_EMU_DONE || ram.nlog != 1 ||
            ram.log[0].addr != (uint32_t)(regs.seg[seg].base + ref.ea) ||
            ram.log[0].size != opsize || res.insn_len != n) {
            if (bad++ < 5) {
                printf("\nEA mismatch (real %d d32 %d a67 %d seg %d):", real, d32, a67, seg);
                for (unsigned i = 0; i < n; i++)
                    printf(" %02x", b[i]);
                printf(" st %d outcome %d nlog %u addr %#llx want %#llx\n", st, res.outcome,
                       ram.nlog, ram.nlog ? (unsigned long long)ram.log[0].addr : 0ull,
                       (unsigned long long)(uint32_t)(regs.seg[seg].base + ref.ea));
            }
        }
    }
    keep_ram = false;
    CU_ASSERT(checked > 20000);
    CU_ASSERT_EQUAL(bad, 0);
}

/* A few hand-computed vectors in each mode. */
static void test_ea_vectors(void)
{
    /* Real mode: mov al, [bp+di+0x10] -> SS:(BP+DI+0x10) & 0xffff. */
    setup_real();
    regs.seg[HV_EMU_SS].base = 0xa0000;
    regs.gpr[HV_EMU_RBP] = 0xfff0;
    regs.gpr[HV_EMU_RDI] = 0x0005;
    CU_ASSERT_EQUAL(STEP(0x8a, 0x43, 0x10), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    expect_mmio(0, 0xa0005, 1, false, 0); /* 0xfff0+5+0x10 wraps to 0x0005 */
    CU_ASSERT_EQUAL(regs.rip, 0x103);

    /* mov ah, [bx]: high byte register from memory. */
    regs.seg[HV_EMU_DS].base = 0xa0000;
    regs.gpr[HV_EMU_RBX] = 0x22;
    regs.gpr[HV_EMU_RAX] = 0x1234;
    CU_ASSERT_EQUAL(STEP(0x8a, 0x27), HV_OK);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RAX], 0x34 | ((uint64_t)ram.mmio_mem[0x22] << 8));
    /* 66 in 16-bit code: a 32-bit store. */
    regs.gpr[HV_EMU_RAX] = 0xcafef00d;
    CU_ASSERT_EQUAL(STEP(0x66, 0x89, 0x07), HV_OK);
    expect_mmio(0, 0xa0022, 4, true, 0xcafef00d);
    /* 67 in 16-bit code: 32-bit addressing, [eax+ecx*4]. */
    regs.gpr[HV_EMU_RAX] = 0x10;
    regs.gpr[HV_EMU_RCX] = 0x3;
    CU_ASSERT_EQUAL(STEP(0x67, 0x8b, 0x14, 0x88), HV_OK);
    expect_mmio(0, 0xa001c, 2, false, 0);

    /* 32-bit: [esp+ebp*2+0x80] defaults to SS; [ebp*2+disp32] (no base) to DS. */
    setup_prot(true);
    regs.seg[HV_EMU_SS].base = 0x90000;
    regs.seg[HV_EMU_DS].base = 0x80000;
    regs.gpr[HV_EMU_RSP] = 0x10000;
    regs.gpr[HV_EMU_RBP] = 0x8;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x84, 0x6c, 0x80, 0x00, 0x00, 0x00), HV_OK);
    expect_mmio(0, 0xa0090, 4, false, 0);
    CU_ASSERT_EQUAL(STEP(0x8b, 0x04, 0x6d, 0x00, 0x00, 0x02, 0x00), HV_OK);
    expect_mmio(0, 0xa0010, 4, false, 0);
    /* 32-bit: disp32 only (mod 00 rm 101) is absolute, not RIP-relative. */
    regs.seg[HV_EMU_DS].base = 0;
    CU_ASSERT_EQUAL(STEP(0x88, 0x05, 0x44, 0x00, 0x0a, 0x00), HV_OK);
    expect_mmio(0, 0xa0044, 1, true, regs.gpr[HV_EMU_RAX] & 0xff);
}

/* ---------------------------------------------------------------------------
 * Segmentation.
 */
static void expect_exc(uint8_t vec, bool has_ec, uint32_t ec)
{
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_EXCEPTION);
    CU_ASSERT_EQUAL(res.vector, vec);
    CU_ASSERT_EQUAL(res.has_error_code, has_ec);
    CU_ASSERT_EQUAL(res.error_code, ec);
}

static void test_segmentation(void)
{
    uint64_t rip0;
    setup_prot(true);
    rip0 = regs.rip;
    regs.seg[HV_EMU_DS].base = 0xa0000;
    regs.seg[HV_EMU_DS].limit = 0xfff;
    regs.gpr[HV_EMU_RBX] = 0xffc;

    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK); /* last dword inside the limit */
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;
    regs.gpr[HV_EMU_RBX] = 0xffd;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK); /* one byte over */
    expect_exc(HV_EMU_VEC_GP, true, 0);
    CU_ASSERT_EQUAL(ram.nlog, 0);
    CU_ASSERT_EQUAL(regs.rip, rip0);

    /* Stack segment: #SS instead of #GP. */
    regs.seg[HV_EMU_SS] = regs.seg[HV_EMU_DS];
    regs.gpr[HV_EMU_RBP] = 0x1000;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x45, 0x00), HV_OK);
    expect_exc(HV_EMU_VEC_SS, true, 0);

    /* Expand-down, 16-bit (B=0): valid offsets limit+1 .. 0xffff. */
    regs.seg[HV_EMU_DS].attr = (DATA_ATTR | HV_EMU_SEG_TYPE_E) & ~HV_EMU_SEG_DB;
    regs.seg[HV_EMU_DS].limit = 0x0fff;
    regs.gpr[HV_EMU_RBX] = 0x1000;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;
    regs.gpr[HV_EMU_RBX] = 0xfff;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    regs.gpr[HV_EMU_RBX] = 0xfffd;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK); /* crosses 0xffff */
    expect_exc(HV_EMU_VEC_GP, true, 0);
    regs.seg[HV_EMU_DS].attr |= HV_EMU_SEG_DB; /* B=1: up to 0xffffffff */
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;

    /* Read-only data: writes #GP, reads fine. */
    regs.seg[HV_EMU_DS].attr = DATA_ATTR & ~HV_EMU_SEG_TYPE_W;
    regs.seg[HV_EMU_DS].limit = 0xffffffff;
    regs.gpr[HV_EMU_RBX] = 0x10;
    CU_ASSERT_EQUAL(STEP(0x89, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    CU_ASSERT_EQUAL(STEP(0x01, 0x03), HV_OK); /* RMW counts as a write */
    expect_exc(HV_EMU_VEC_GP, true, 0);
    CU_ASSERT_EQUAL(STEP(0x39, 0x03), HV_OK); /* CMP only reads */
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;

    /* Null (unusable) segment. */
    regs.seg[HV_EMU_ES].attr = 0;
    CU_ASSERT_EQUAL(STEP(0x26, 0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);

    /* CS override: readable code reads fine, writes #GP; execute-only reads #GP. */
    regs.seg[HV_EMU_CS].base = 0;
    regs.gpr[HV_EMU_RBX] = 0xa0000;
    CU_ASSERT_EQUAL(STEP(0x2e, 0x8b, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;
    CU_ASSERT_EQUAL(STEP(0x2e, 0x89, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    regs.seg[HV_EMU_CS].attr &= ~HV_EMU_SEG_TYPE_W;
    CU_ASSERT_EQUAL(STEP(0x2e, 0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);

    /* Real mode: limit checks only (a read-only cached type does not matter). */
    setup_real();
    regs.seg[HV_EMU_DS].base = 0xa0000;
    regs.seg[HV_EMU_DS].attr = 0;
    regs.gpr[HV_EMU_RBX] = 0xffff;
    CU_ASSERT_EQUAL(STEP(0x89, 0x07), HV_OK); /* word at 0xffff wraps: #GP */
    expect_exc(HV_EMU_VEC_GP, true, 0);
    CU_ASSERT_EQUAL(STEP(0x88, 0x07), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);

    /* 64-bit: ES/DS bases and limits are ignored, FS/GS bases apply. */
    setup_long();
    regs.seg[HV_EMU_DS].base = 0x5000;
    regs.seg[HV_EMU_DS].limit = 0;
    regs.seg[HV_EMU_GS].base = 0x90000;
    regs.gpr[HV_EMU_RBX] = 0x10000;
    CU_ASSERT_EQUAL(STEP(0x65, 0x8b, 0x03), HV_OK);
    expect_mmio(0, 0xa0000, 4, false, 0);
    regs.gpr[HV_EMU_RBX] = 0xa0008;
    CU_ASSERT_EQUAL(STEP(0x3e, 0x8b, 0x03), HV_OK);
    expect_mmio(0, 0xa0008, 4, false, 0);
    /* Non-canonical: #GP, or #SS with an rBP base (the 36 prefix changes nothing). */
    regs.gpr[HV_EMU_RBX] = 0x0000800000000000ull;
    regs.gpr[HV_EMU_RBP] = 0x0000800000000000ull;
    rip0 = regs.rip;
    CU_ASSERT_EQUAL(STEP(0x36, 0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    CU_ASSERT_EQUAL(STEP(0x8b, 0x45, 0x00), HV_OK);
    expect_exc(HV_EMU_VEC_SS, true, 0);
    /* The last byte non-canonical is enough. */
    regs.gpr[HV_EMU_RBX] = 0x00007ffffffffffeull;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    /* LA57 widens the canonical range. */
    regs.cr4 |= HV_EMU_CR4_LA57;
    regs.gpr[HV_EMU_RBX] = 0x0000800000000000ull;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    /* Canonical now: the walk (PML5 = our PML4) finds nothing mapped. */
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_EXCEPTION);
    CU_ASSERT_EQUAL(res.vector, HV_EMU_VEC_PF);
    CU_ASSERT_EQUAL(regs.rip, rip0);
}

/* Compatibility mode (IA-32e, CS.L = 0) and virtual-8086 mode. */
static void test_other_modes(void)
{
    uint64_t rip0;
    /* Compatibility mode: 32-bit code, segmentation on, 4-level paging. */
    setup_long();
    regs.seg[HV_EMU_CS].attr = CODE_ATTR | HV_EMU_SEG_DB;
    regs.seg[HV_EMU_DS].base = 0x90000;
    regs.seg[HV_EMU_DS].limit = 0x1ffff;
    regs.gpr[HV_EMU_RBX] = 0xffffffff00010010ull; /* upper half ignored */
    rip0 = regs.rip;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    expect_mmio(0, 0xa0010, 4, false, 0);
    regs.rip = rip0;
    regs.gpr[HV_EMU_RBX] = 0x20000; /* past the limit */
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    /* 0x48 is DEC EAX here, not REX.W. */
    CU_ASSERT_EQUAL(STEP(0x48, 0x8b, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_UNSUPPORTED);
    /* The 32-bit EIP wraps. */
    regs.rip = 0xfffffffe;
    regs.seg[HV_EMU_CS].base = 0x10000;
    regs.gpr[HV_EMU_RBX] = 0x10010;
    memcpy(ram.mem + 0x0fffe, "\x8b\x03", 2);
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(regs.rip, 0);

    /* Virtual-8086 mode: 16-bit, CPL 3, limit checks, alignment checks apply. */
    setup_prot(false);
    regs.rflags |= HV_EMU_RFLAGS_VM;
    regs.cpl = 3;
    regs.seg[HV_EMU_DS].base = 0xa0000;
    regs.seg[HV_EMU_DS].limit = 0xffff;
    regs.seg[HV_EMU_DS].attr = 0; /* cached attributes do not matter here */
    regs.gpr[HV_EMU_RBX] = 0x0100;
    regs.gpr[HV_EMU_RSI] = 0x0002;
    rip0 = regs.rip;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x00), HV_OK); /* mov ax, [bx+si] */
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    expect_mmio(0, 0xa0102, 2, false, 0);
    CU_ASSERT_EQUAL(regs.rip, rip0 + 2);
    regs.cr0 |= HV_EMU_CR0_AM;
    regs.rflags |= HV_EMU_RFLAGS_AC;
    regs.gpr[HV_EMU_RSI] = 0x0003;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x00), HV_OK);
    expect_exc(HV_EMU_VEC_AC, true, 0);
    /* INS/OUTS in virtual-8086 mode go through the TSS bitmap: declined. */
    CU_ASSERT_EQUAL(STEP(0x6e), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_UNSUPPORTED);
}

/* ---------------------------------------------------------------------------
 * Translation faults, alignment checks, fetch.
 */
static void test_data_faults(void)
{
    uint64_t rip0;
    setup_long();
    rip0 = regs.rip;
    regs.cpl = 3;
    /* Code page user-accessible; data page read-only. */
    emu_ram_map4k(&ram, cr3, 0x200000, HOLE_LO, 0x5);
    regs.gpr[HV_EMU_RBX] = 0x200010;
    regs.gpr[HV_EMU_RAX] = 0x5a5a;
    CU_ASSERT_EQUAL(STEP(0x89, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_PF, true, HV_PF_P | HV_PF_W | HV_PF_U);
    CU_ASSERT_EQUAL(res.cr2, 0x200010);
    CU_ASSERT_EQUAL(ram.nlog, 0);
    CU_ASSERT_EQUAL(regs.rip, rip0);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RAX], 0x5a5a);

    /* Second page of a split operand not present: CR2 is that page's first byte. */
    emu_ram_map4k(&ram, cr3, 0x201000, 0, 0);
    regs.gpr[HV_EMU_RBX] = 0x200ffe;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_PF, true, HV_PF_U);
    CU_ASSERT_EQUAL(res.cr2, 0x201000);
    CU_ASSERT_EQUAL(ram.nlog, 0); /* nothing of the first page was read either */

    /* MOVS from MMIO to a faulting destination: the device is not read. */
    regs.gpr[HV_EMU_RSI] = 0x200000;
    regs.gpr[HV_EMU_RDI] = 0x201000;
    regs.gpr[HV_EMU_RCX] = 4;
    CU_ASSERT_EQUAL(STEP(0xf3, 0xa4), HV_OK);
    expect_exc(HV_EMU_VEC_PF, true, HV_PF_W | HV_PF_U);
    CU_ASSERT_EQUAL(ram.nlog, 0);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], 4);

    /* SMAP: a supervisor read of a user page faults unless RFLAGS.AC. */
    regs.cpl = 0;
    regs.cr4 |= HV_EMU_CR4_SMAP;
    regs.gpr[HV_EMU_RBX] = 0x200010;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_PF, true, HV_PF_P);
    regs.rflags |= HV_EMU_RFLAGS_AC;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;

    /* #AC: CPL 3, CR0.AM, RFLAGS.AC, misaligned; not for aligned or CPL 0. */
    regs.cr4 &= ~HV_EMU_CR4_SMAP;
    regs.cr0 |= HV_EMU_CR0_AM;
    regs.cpl = 3;
    regs.gpr[HV_EMU_RBX] = 0x200011;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_AC, true, 0);
    regs.gpr[HV_EMU_RBX] = 0x200014;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;
    regs.cpl = 0;
    regs.gpr[HV_EMU_RBX] = 0x200011;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;

    /* Data page tables outside RAM: NOT_RAM, state unchanged. */
    {
        uint64_t pml4e = emu_ram_r64(&ram, cr3);
        emu_ram_w64(&ram, cr3 + 8, 0x7ff00000000ull | 7); /* PML4[1] -> beyond RAM */
        regs.gpr[HV_EMU_RBX] = 1ull << 39;
        CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_OK);
        CU_ASSERT_EQUAL(res.outcome, HV_EMU_NOT_RAM);
        CU_ASSERT_EQUAL(res.gpa, 0x7ff00000000ull);
        CU_ASSERT_EQUAL(regs.rip, rip0);
        CU_ASSERT_EQUAL(emu_ram_r64(&ram, cr3), pml4e);
    }
}

static void test_fetch(void)
{
    uint64_t rip0;
    setup_long();
    /* Instruction straddling two pages mapped to non-contiguous frames. */
    emu_ram_map4k(&ram, cr3, 0x500000, 0x30000, 0x7);
    emu_ram_map4k(&ram, cr3, 0x501000, 0x22000, 0x7);
    regs.rip = 0x500ffd;
    regs.gpr[HV_EMU_RBX] = 0xa0000;
    static const uint8_t insn[] = {0x48, 0xc7, 0x43, 0x08, 0x11, 0x22, 0x33, 0x44};
    memcpy(ram.mem + 0x30ffd, insn, 3);
    memcpy(ram.mem + 0x22000, insn + 3, 5);
    ram.nlog = 0;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(res.insn_len, 8);
    CU_ASSERT_EQUAL(regs.rip, 0x501005);
    expect_mmio(0, 0xa0008, 8, true, 0x44332211);

    /* Partly prefetched: the rest is fetched. */
    regs.rip = 0x500ffd;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, insn, 2, &res), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    /* Fully prefetched bytes win over memory. */
    regs.rip = 0x500ffd;
    static const uint8_t other[] = {0x88, 0x03};
    ram.nlog = 0;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, other, 2, &res), HV_OK);
    CU_ASSERT_EQUAL(regs.rip, 0x500fff);
    expect_mmio(0, 0xa0000, 1, true, regs.gpr[HV_EMU_RAX] & 0xff);

    /* Second code page not present: #PF on the fetch, CR2 = page start, I/D set. */
    emu_ram_map4k(&ram, cr3, 0x501000, 0x22000, 0);
    regs.rip = 0x500ffd;
    ram.nlog = 0;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    expect_exc(HV_EMU_VEC_PF, true, HV_PF_I);
    CU_ASSERT_EQUAL(res.cr2, 0x501000);
    CU_ASSERT_EQUAL(ram.nlog, 0);
    /* ... but an instruction ending before the boundary needs no second page. */
    memcpy(ram.mem + 0x30ffd, other, 2);
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);

    /* NX code page: #PF with I/D; user code on a supervisor page: U/S. */
    emu_ram_map4k(&ram, cr3, 0x502000, 0x23000, 0x7 | (1ull << 63));
    regs.rip = 0x502000;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    expect_exc(HV_EMU_VEC_PF, true, HV_PF_P | HV_PF_I);
    emu_ram_map4k(&ram, cr3, 0x502000, 0x23000, 0x3);
    regs.cpl = 3;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    expect_exc(HV_EMU_VEC_PF, true, HV_PF_P | HV_PF_U | HV_PF_I);
    regs.cpl = 0;

    /* Code in MMIO: NOT_RAM with the gpa. */
    emu_ram_map4k(&ram, cr3, 0x503000, HOLE_LO + 0x3000, 0x7);
    regs.rip = 0x503010;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_NOT_RAM);
    CU_ASSERT_EQUAL(res.gpa, HOLE_LO + 0x3010);

    /* Non-canonical RIP: #GP(0). */
    regs.rip = 0x0000800000000000ull;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);

    /* CS limit in 32-bit code: the fetch of a byte past it is #GP(0). */
    setup_prot(true);
    regs.seg[HV_EMU_CS].limit = 0x101; /* two bytes at EIP 0x100, 0x101 */
    regs.gpr[HV_EMU_RBX] = 0xa0000;
    rip0 = regs.rip;
    CU_ASSERT_EQUAL(STEP(0x89, 0x03), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    regs.rip = rip0;
    CU_ASSERT_EQUAL(STEP(0x89, 0x43, 0x04), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    CU_ASSERT_EQUAL(regs.rip, rip0);
}

/* ---------------------------------------------------------------------------
 * Strings and REP.
 */
static void test_rep_budget(void)
{
    setup_long();
    env.rep_budget = 5;
    regs.gpr[HV_EMU_RDI] = 0xa0100;
    regs.gpr[HV_EMU_RCX] = 12;
    regs.gpr[HV_EMU_RAX] = 0x77;
    uint64_t rip0 = regs.rip;
    CU_ASSERT_EQUAL(STEP(0xf3, 0xaa), HV_OK); /* rep stosb */
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_RESUME);
    CU_ASSERT_EQUAL(res.iterations, 5);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], 7);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDI], 0xa0105);
    CU_ASSERT_EQUAL(regs.rip, rip0);
    CU_ASSERT_EQUAL(ram.nlog, 5);
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_RESUME);
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(res.iterations, 2);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], 0);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDI], 0xa010c);
    CU_ASSERT_EQUAL(regs.rip, rip0 + 2);
    for (int i = 0; i < 12; i++)
        CU_ASSERT_EQUAL(ram.mmio_mem[0x100 + i], 0x77);

    /* Exactly the budget: DONE, not RESUME. */
    regs.rip = rip0;
    regs.gpr[HV_EMU_RCX] = 5;
    CU_ASSERT_EQUAL(STEP(0xf3, 0xaa), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);

    /* RCX = 2^64-1: every call returns promptly with the budget spent. */
    env.rep_budget = 0;
    regs.rip = rip0;
    regs.gpr[HV_EMU_RCX] = ~0ull;
    regs.gpr[HV_EMU_RDI] = 0xa0000;
    regs.rflags |= HV_EMU_RFLAGS_DF; /* downwards, 4 bytes at a time */
    regs.gpr[HV_EMU_RDI] = 0xa1000;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(STEP(0xf3, 0xab), HV_OK);
        CU_ASSERT_EQUAL(res.outcome, HV_EMU_RESUME);
        CU_ASSERT_EQUAL(res.iterations, HV_EMU_REP_BUDGET_DEFAULT);
    }
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], ~0ull - 3 * HV_EMU_REP_BUDGET_DEFAULT);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDI], 0xa1000 - 4ull * 3 * HV_EMU_REP_BUDGET_DEFAULT);
    CU_ASSERT_EQUAL(regs.rip, rip0);

    /* 16-bit count in 16-bit code: CX = 0 runs nothing even if RCX's upper bits are set. */
    setup_real();
    regs.gpr[HV_EMU_RCX] = 0xffff0000;
    regs.gpr[HV_EMU_RDI] = 0x1234;
    rip0 = regs.rip;
    CU_ASSERT_EQUAL(STEP(0xf3, 0xaa), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(res.iterations, 0);
    CU_ASSERT_EQUAL(regs.rip, rip0 + 2);
    CU_ASSERT_EQUAL(ram.nlog, 0);
    /* DI wraps at 16 bits, upper bits kept. */
    regs.seg[HV_EMU_ES].base = 0xa0000;
    regs.gpr[HV_EMU_RCX] = 0xabcd0002;
    regs.gpr[HV_EMU_RDI] = 0x5555ffff;
    CU_ASSERT_EQUAL(STEP(0xf3, 0xaa), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    expect_mmio(0, 0xaffff, 1, true, 0);
    expect_mmio(1, 0xa0000, 1, true, 0);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDI], 0x55550001);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], 0xabcd0000);
}

/* A #PF in the middle of a REP keeps the completed iterations, as the CPU does. */
static void test_rep_fault_midway(void)
{
    setup_long();
    emu_ram_map4k(&ram, cr3, 0x600000, HOLE_LO, 0x7);
    emu_ram_map4k(&ram, cr3, 0x601000, 0, 0);
    regs.gpr[HV_EMU_RDI] = 0x600ff8;
    regs.gpr[HV_EMU_RCX] = 10;
    regs.gpr[HV_EMU_RAX] = 0xabcd;
    uint64_t rip0 = regs.rip;
    CU_ASSERT_EQUAL(STEP(0xf3, 0x66, 0xab), HV_OK); /* rep stosw */
    expect_exc(HV_EMU_VEC_PF, true, HV_PF_W);
    CU_ASSERT_EQUAL(res.cr2, 0x601000);
    CU_ASSERT_EQUAL(res.iterations, 4);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], 6);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDI], 0x601000);
    CU_ASSERT_EQUAL(regs.rip, rip0);
    CU_ASSERT_EQUAL(ram.nlog, 4);
}

/* MOVS from MMIO to RAM across pages, and LODS. */
static void test_movs_mixed(void)
{
    setup_long();
    emu_ram_map4k(&ram, cr3, 0x700000, HOLE_LO + 0x1000, 0x7);
    emu_ram_map4k(&ram, cr3, 0x701000, 0x240000, 0x7);
    emu_ram_map4k(&ram, cr3, 0x702000, 0x150000, 0x7);
    regs.gpr[HV_EMU_RSI] = 0x700ff0;
    regs.gpr[HV_EMU_RDI] = 0x701ff8;
    regs.gpr[HV_EMU_RCX] = 8;
    CU_ASSERT_EQUAL(STEP(0xf3, 0x48, 0xa5), HV_OK); /* rep movsq: source crosses into RAM */
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(ram.nlog, 2); /* two qwords from the MMIO page, the rest RAM to RAM */
    expect_mmio(0, HOLE_LO + 0x1ff0, 8, false, 0);
    expect_mmio(1, HOLE_LO + 0x1ff8, 8, false, 0);
    CU_ASSERT_EQUAL(emu_ram_r64(&ram, 0x240ff8), hole64(HOLE_LO + 0x1ff0));
    CU_ASSERT_EQUAL(emu_ram_r64(&ram, 0x150000), hole64(HOLE_LO + 0x1ff8));
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RSI], 0x701030);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDI], 0x702038);

    /* lodsd with a GS override on the source. */
    regs.seg[HV_EMU_GS].base = 0x700000;
    regs.gpr[HV_EMU_RSI] = 0xff0;
    regs.gpr[HV_EMU_RAX] = ~0ull;
    CU_ASSERT_EQUAL(STEP(0x65, 0xad), HV_OK);
    expect_mmio(0, HOLE_LO + 0x1ff0, 4, false, 0);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RAX], hole64(HOLE_LO + 0x1ff0) & 0xffffffff);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RSI], 0xff4);
}

static void test_string_io(void)
{
    setup_prot(true);
    regs.gpr[HV_EMU_RDX] = 0x3f8;
    regs.gpr[HV_EMU_RSI] = 0xa0000;
    regs.gpr[HV_EMU_RCX] = 3;
    uint64_t rip0 = regs.rip;
    CU_ASSERT_EQUAL(STEP(0xf3, 0x66, 0x6f), HV_OK); /* rep outsw */
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(ram.nlog, 6); /* mmio read, pio write, x3 */
    CU_ASSERT_EQUAL(ram.log[1].addr, 0x3f8);
    CU_ASSERT_EQUAL(ram.log[1].size, 2);
    CU_ASSERT(ram.log[1].write);
    CU_ASSERT_EQUAL(ram.log[1].value, ram.log[0].value & 0xffff);

    /* insd into RAM; the device's garbage above 32 bits is dropped. */
    regs.rip = rip0;
    regs.gpr[HV_EMU_RDI] = 0x3000;
    ram.pio_in = 0x89abcdef;
    CU_ASSERT_EQUAL(STEP(0x6d), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(emu_ram_r64(&ram, 0x3000), 0x89abcdefull);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDI], 0x3004);

    /* CPL 3 > IOPL: the TSS bitmap would decide: decline unless the CPU checked. */
    regs.rip = rip0;
    regs.cpl = 3;
    CU_ASSERT_EQUAL(STEP(0x6d), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_UNSUPPORTED);
    CU_ASSERT_EQUAL(ram.pio_calls, 4);
    env.io_checked = true;
    CU_ASSERT_EQUAL(STEP(0x6d), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    env.io_checked = false;
    regs.rip = rip0;
    regs.rflags |= 3ull << 12; /* IOPL 3 */
    CU_ASSERT_EQUAL(STEP(0x6d), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);

    /* No pio callback: unsupported. */
    struct hv_emu_ops no_pio = emu_ram_ops;
    no_pio.pio = NULL;
    env.ops = &no_pio;
    regs.rip = rip0;
    CU_ASSERT_EQUAL(STEP(0x6c), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_UNSUPPORTED);
}

/* ---------------------------------------------------------------------------
 * Hostile and unsupported input.
 */
static void snapshot(struct hv_emu_regs *s)
{
    memcpy(s, &regs, sizeof(*s));
}

static bool unchanged(const struct hv_emu_regs *s)
{
    return !memcmp(s, &regs, sizeof(*s));
}

static void test_unsupported(void)
{
    static const struct {
        uint8_t b[8];
        unsigned n;
        bool long64;
    } cases[] = {
        {{0x0f, 0x05}, 2, true},             /* syscall */
        {{0xff, 0x03}, 2, true},             /* inc dword [rbx] */
        {{0xf7, 0x13}, 2, true},             /* not dword [rbx] */
        {{0xf6, 0x0b, 0x01}, 3, true},       /* test alias /1: reserved */
        {{0xc6, 0x0b, 0x01}, 3, true},       /* c6 /1 */
        {{0x0f, 0xba, 0x03, 0x01}, 4, true}, /* 0f ba /0: reserved */
        {{0xc5, 0xf9, 0x6f, 0x03}, 4, true}, /* VEX vmovdqa */
        {{0xf3, 0x8b, 0x03}, 3, true},       /* REP on a load: reserved */
        {{0xf2, 0xa4}, 2, true},             /* REPNE MOVSB */
        {{0x8c, 0x03}, 2, true},             /* mov [rbx], es */
        {{0x0f, 0xb1, 0x03}, 3, true},       /* cmpxchg */
        {{0x40, 0x89, 0x03}, 3, false},      /* inc eax in 32-bit code */
        {{0x63, 0x03}, 2, false},            /* arpl */
        {{0x0f, 0x0b}, 2, true},             /* ud2 */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hv_emu_regs before;
        if (cases[i].long64)
            setup_long();
        else
            setup_prot(true);
        regs.gpr[HV_EMU_RBX] = 0xa0000;
        snapshot(&before);
        CU_ASSERT_EQUAL(step_bytes(cases[i].b, cases[i].n), HV_OK);
        CU_ASSERT_EQUAL(res.outcome, HV_EMU_UNSUPPORTED);
        CU_ASSERT(unchanged(&before));
        CU_ASSERT_EQUAL(ram.nlog, 0);
        if (res.outcome != HV_EMU_UNSUPPORTED)
            printf("\nunsupported case %u: outcome %d\n", i, res.outcome);
    }
}

static void test_invalid(void)
{
    struct hv_emu_regs before;
    setup_long();
    regs.gpr[HV_EMU_RBX] = 0xa0000;
    snapshot(&before);
    /* LOCK on MOV, on a register destination, on CMP, on a string: #UD, no access. */
    CU_ASSERT_EQUAL(STEP(0xf0, 0x89, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_UD, false, 0);
    CU_ASSERT_EQUAL(STEP(0xf0, 0x01, 0xc3), HV_OK);
    expect_exc(HV_EMU_VEC_UD, false, 0);
    CU_ASSERT_EQUAL(STEP(0xf0, 0x39, 0x03), HV_OK);
    expect_exc(HV_EMU_VEC_UD, false, 0);
    CU_ASSERT_EQUAL(STEP(0xf0, 0xa4), HV_OK);
    expect_exc(HV_EMU_VEC_UD, false, 0);
    /* 82 is #UD in 64-bit mode ... */
    CU_ASSERT_EQUAL(STEP(0x82, 0x03, 0x01), HV_OK);
    expect_exc(HV_EMU_VEC_UD, false, 0);
    CU_ASSERT(unchanged(&before));
    CU_ASSERT_EQUAL(ram.nlog, 0);
    /* ... and an alias of 80 elsewhere. */
    setup_prot(true);
    regs.gpr[HV_EMU_RBX] = 0xa0000;
    CU_ASSERT_EQUAL(STEP(0x82, 0x03, 0x01), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(ram.nlog, 2);
}

static void test_length_limit(void)
{
    uint8_t b[20];
    setup_long();
    regs.gpr[HV_EMU_RBX] = 0xa0000;
    /* 14 prefixes + 89 03 = 16 bytes: #GP(0), nothing accessed. */
    memset(b, 0x66, 14);
    b[14] = 0x89;
    b[15] = 0x03;
    CU_ASSERT_EQUAL(step_bytes(b, 16), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    CU_ASSERT_EQUAL(ram.nlog, 0);
    /* 13 prefixes: 15 bytes, fine. */
    CU_ASSERT_EQUAL(step_bytes(b + 1, 15), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_EMU_DONE);
    CU_ASSERT_EQUAL(res.insn_len, 15);
    /* All prefixes forever: still #GP after 15 bytes, via prefetched bytes too. */
    memset(b, 0x2e, sizeof(b));
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, b, sizeof(b), &res), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
    /* 15 bytes with an immediate running over the limit. */
    static const uint8_t longimm[] = {0x66, 0x66, 0x66, 0x66, 0x67, 0x65, 0x48, 0xc7,
                                      0x84, 0x88, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02};
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, longimm, sizeof(longimm), &res), HV_OK);
    expect_exc(HV_EMU_VEC_GP, true, 0);
}

/* Truncated encodings: the missing bytes are on a page that is not present. */
static void test_truncated(void)
{
    static const uint8_t full[] = {0x48, 0xc7, 0x84, 0x88, 0x10, 0x00,
                                   0x00, 0x00, 0x01, 0x02, 0x03, 0x04};
    setup_long();
    emu_ram_map4k(&ram, cr3, 0x800000, 0x40000, 0x7);
    emu_ram_map4k(&ram, cr3, 0x801000, 0, 0);
    for (unsigned cut = 1; cut < sizeof(full); cut++) {
        struct hv_emu_regs before;
        regs.rip = 0x801000 - cut;
        memcpy(ram.mem + 0x41000 - cut, full, cut);
        snapshot(&before);
        ram.nlog = 0;
        CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_OK);
        expect_exc(HV_EMU_VEC_PF, true, HV_PF_I);
        CU_ASSERT_EQUAL(res.cr2, 0x801000);
        CU_ASSERT(unchanged(&before));
        CU_ASSERT_EQUAL(ram.nlog, 0);
        /* Prefetched bytes that stop short: the rest is fetched, and faults the same. */
        CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, full, cut, &res), HV_OK);
        expect_exc(HV_EMU_VEC_PF, true, HV_PF_I);
    }
}

static void test_callback_errors(void)
{
    struct hv_emu_regs before;
    setup_long();
    regs.gpr[HV_EMU_RBX] = 0xa0000;
    snapshot(&before);
    ram.mmio_status = HV_ERR_HOST;
    CU_ASSERT_EQUAL(STEP(0x8b, 0x03), HV_ERR_HOST);
    CU_ASSERT(unchanged(&before));
    CU_ASSERT_EQUAL(STEP(0x01, 0x03), HV_ERR_HOST);
    CU_ASSERT(unchanged(&before));
    ram.mmio_status = HV_OK;

    /* A device failing in the middle of a REP: the completed iterations stay. */
    regs.gpr[HV_EMU_RDI] = 0xa0000;
    regs.gpr[HV_EMU_RCX] = 10;
    ram.mmio_fail_in = 4;
    CU_ASSERT_EQUAL(STEP(0xf3, 0xaa), HV_ERR_HOST);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RCX], 7);
    CU_ASSERT_EQUAL(regs.gpr[HV_EMU_RDI], 0xa0003);
    CU_ASSERT_EQUAL(regs.rip, before.rip);
    ram.mmio_fail_in = 0;

    /* Bad arguments. */
    CU_ASSERT_EQUAL(hv_emu_step(NULL, &regs, NULL, 0, &res), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_emu_step(&env, NULL, NULL, 0, &res), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 3, &res), HV_ERR_INVALID_ARG);
    env.maxphyaddr = 60;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_ERR_INVALID_ARG);
    env.maxphyaddr = 46;
    struct hv_emu_ops no_mmio = emu_ram_ops;
    no_mmio.mmio = NULL;
    env.ops = &no_mmio;
    CU_ASSERT_EQUAL(hv_emu_step(&env, &regs, NULL, 0, &res), HV_ERR_INVALID_ARG);
    env.ops = &emu_ram_ops;
}

/* Random byte soup: never a crash, a stall or a callback contract violation. */
static void test_fuzz_bytes(void)
{
    unsigned outcomes[5] = {0};
    setup_long();
    for (uint64_t a = 0xa0000; a < 0xc0000; a += 4096)
        emu_ram_map4k(&ram, cr3, a, a, 0x7);
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t b[16];
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)rnd64();
        for (int i = 0; i < 16; i++)
            regs.gpr[i] = (rnd64() & 1) ? 0xa0000 + (rnd64() & 0x1ffff) : rnd64();
        regs.rip = 0x10100;
        regs.rflags = 2 | (rnd64() & 0x8d5);
        regs.seg[HV_EMU_CS].attr = CODE_ATTR | ((rnd64() & 1) ? HV_EMU_SEG_L : HV_EMU_SEG_DB);
        env.rep_budget = 16;
        ram.nlog = 0;
        hv_status_t st = hv_emu_step(&env, &regs, b, rnd64() % 17, &res);
        CU_ASSERT_FATAL(st == HV_OK);
        CU_ASSERT_FATAL(res.outcome <= HV_EMU_NOT_RAM);
        outcomes[res.outcome]++;
        CU_ASSERT_FATAL(res.insn_len <= 15);
    }
    /* Each outcome shows up: the soup really exercised the paths. */
    CU_ASSERT(outcomes[HV_EMU_DONE] > 1000);
    CU_ASSERT(outcomes[HV_EMU_EXCEPTION] > 1000);
    CU_ASSERT(outcomes[HV_EMU_UNSUPPORTED] > 1000);
}

int main(void)
{
    CU_pSuite s;
    emu_ram_init(&ram);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("emu", NULL, NULL);
    CU_add_test(s, "MOV forms: exact accesses", test_mov_forms);
    CU_add_test(s, "read-modify-write forms", test_rmw_forms);
    CU_add_test(s, "operands split at page boundaries", test_split_operands);
    CU_add_test(s, "16/32-bit addressing vs reference", test_ea_16_32);
    CU_add_test(s, "addressing vectors", test_ea_vectors);
    CU_add_test(s, "segmentation checks", test_segmentation);
    CU_add_test(s, "compatibility and virtual-8086 modes", test_other_modes);
    CU_add_test(s, "data translation faults, SMAP, #AC", test_data_faults);
    CU_add_test(s, "instruction fetch", test_fetch);
    CU_add_test(s, "REP budget and resume", test_rep_budget);
    CU_add_test(s, "REP interrupted by #PF", test_rep_fault_midway);
    CU_add_test(s, "MOVS MMIO to RAM, LODS", test_movs_mixed);
    CU_add_test(s, "INS/OUTS", test_string_io);
    CU_add_test(s, "unsupported instructions", test_unsupported);
    CU_add_test(s, "#UD", test_invalid);
    CU_add_test(s, "15-byte limit", test_length_limit);
    CU_add_test(s, "truncated encodings", test_truncated);
    CU_add_test(s, "callback errors and bad arguments", test_callback_errors);
    CU_add_test(s, "random bytes", test_fuzz_bytes);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    emu_ram_fini(&ram);
    return failed ? 1 : 0;
}
