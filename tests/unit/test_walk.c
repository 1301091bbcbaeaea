/*
 * Guest page-table walker tests: page tables built by the test in a flat
 * guest RAM, expected results written from the SDM rules (Vol. 3A 4.6
 * access rights, 4.7 error codes, 4.8 accessed/dirty flags, the entry
 * format tables of 4.3-4.5 for reserved bits).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "emu/walk.h"
#include "emu_ram.h"

#define P     0x1ull
#define RW    0x2ull
#define US    0x4ull
#define ACC   0x20ull
#define DIRTY 0x40ull
#define PS    0x80ull
#define XD    (1ull << 63)

#define CR0_PG    (1ull << 31)
#define CR0_WP    (1ull << 16)
#define CR0_PE    1ull
#define CR4_PSE   (1ull << 4)
#define CR4_PAE   (1ull << 5)
#define CR4_LA57  (1ull << 12)
#define CR4_SMEP  (1ull << 20)
#define CR4_SMAP  (1ull << 21)
#define CR4_PKE   (1ull << 22)
#define CR4_PKS   (1ull << 24)
#define EFER_LME  (1ull << 8)
#define EFER_LMA  (1ull << 10)
#define EFER_NXE  (1ull << 11)
#define RFLAGS_AC (1ull << 18)

enum mode { M32, MPAE, M4, M5 };

static struct emu_ram ram;
static struct hv_emu_env env;

static void setup_regs(struct hv_emu_regs *r, enum mode m, uint64_t cr3)
{
    memset(r, 0, sizeof(*r));
    r->cr0 = CR0_PE | CR0_PG | CR0_WP;
    r->cr3 = cr3;
    r->rflags = 2;
    switch (m) {
    case M32:
        r->cr4 = CR4_PSE;
        break;
    case MPAE:
        r->cr4 = CR4_PAE;
        r->efer = EFER_NXE;
        break;
    case M4:
        r->cr4 = CR4_PAE;
        r->efer = EFER_LME | EFER_LMA | EFER_NXE;
        break;
    case M5:
        r->cr4 = CR4_PAE | CR4_LA57;
        r->efer = EFER_LME | EFER_LMA | EFER_NXE;
        break;
    }
}

static void fresh(void)
{
    emu_ram_fini(&ram);
    emu_ram_init(&ram);
    emu_ram_env(&ram, &env);
}

/* ---------------------------------------------------------------------------
 * Reference rules (SDM Vol. 3A 4.6.1), written as the SDM states them.
 */
struct env_bits {
    unsigned kind; /* HV_WALK_READ/WRITE/EXEC */
    bool implicit, user, wp, nxe, smep, smap, ac;
};

/* Error code of the #PF, or -1 when the access is allowed. */
static long ref_rights(const struct env_bits *e, bool user_addr, bool rw_all, bool xd_any, bool pae)
{
    bool user_access = e->user && !e->implicit;
    bool ok;
    long ec = 1; /* protection violation */
    if (e->kind == HV_WALK_WRITE)
        ec |= 2;
    if (user_access)
        ec |= 4;
    if (e->kind == HV_WALK_EXEC && (e->smep || (pae && e->nxe)))
        ec |= 16;
    if (!e->nxe)
        xd_any = false;
    if (user_access) {
        /* "User-mode accesses": only to user-mode addresses. */
        if (e->kind == HV_WALK_READ)
            ok = user_addr;
        else if (e->kind == HV_WALK_WRITE)
            ok = user_addr && rw_all;
        else
            ok = user_addr && !xd_any;
    } else {
        /* "Supervisor-mode accesses". */
        bool smap_blocks = e->smap && user_addr && (e->implicit || !e->ac);
        if (e->kind == HV_WALK_READ)
            ok = !smap_blocks;
        else if (e->kind == HV_WALK_WRITE)
            ok = !smap_blocks && (!e->wp || rw_all);
        else
            ok = !(e->smep && user_addr) && !xd_any;
    }
    return ok ? -1 : ec;
}

static void apply_env(struct hv_emu_regs *r, const struct env_bits *e)
{
    r->cpl = e->user ? 3 : 0;
    if (!e->wp)
        r->cr0 &= ~CR0_WP;
    if (!e->nxe)
        r->efer &= ~EFER_NXE;
    if (e->smep)
        r->cr4 |= CR4_SMEP;
    if (e->smap)
        r->cr4 |= CR4_SMAP;
    if (e->ac)
        r->rflags |= RFLAGS_AC;
}

static unsigned access_of(const struct env_bits *e)
{
    return e->kind | (e->implicit ? HV_WALK_IMPLICIT : 0);
}

/* Iterate every environment combination: 3 kinds x 2^7 flags. */
static bool env_next(struct env_bits *e, unsigned i)
{
    if (i >= 3 * 128)
        return false;
    e->kind = i % 3;
    e->implicit = (i / 3) & 1;
    e->user = (i / 3) & 2;
    e->wp = (i / 3) & 4;
    e->nxe = (i / 3) & 8;
    e->smep = (i / 3) & 16;
    e->smap = (i / 3) & 32;
    e->ac = (i / 3) & 64;
    return true;
}

static unsigned mismatches;

static void report(const char *what, unsigned combo, const struct env_bits *e, long want,
                   const struct hv_walk_result *res)
{
    if (mismatches++ < 10)
        printf("\n%s combo %#x kind %u impl %d user %d wp %d nxe %d smep %d smap %d ac %d: "
               "want %ld got outcome %d ec %#x\n",
               what, combo, e->kind, e->implicit, e->user, e->wp, e->nxe, e->smep, e->smap, e->ac,
               want, res->outcome, res->error_code);
}

/*
 * Check one walk against the reference, including accessed/dirty flags:
 * every entry gets A on success, the leaf gets D on a write, nothing
 * changes on a fault.
 */
static void check_walk(const char *what, unsigned combo, const struct env_bits *e,
                       struct hv_emu_regs *r, uint64_t la, long want, uint64_t want_gpa,
                       const uint64_t *slots, const uint64_t *vals, unsigned n, unsigned esize)
{
    struct hv_walk_result res;
    hv_status_t st = hv_walk(&env, r, la, access_of(e), &res);
    bool bad = st != HV_OK;
    if (!bad && want < 0)
        bad = res.outcome != HV_WALK_OK || res.gpa != want_gpa;
    else if (!bad)
        bad = res.outcome != HV_WALK_PAGE_FAULT || res.error_code != (uint32_t)want;
    for (unsigned i = 0; i < n && !bad; i++) {
        uint64_t now = esize == 8 ? emu_ram_r64(&ram, slots[i]) : emu_ram_r32(&ram, slots[i]);
        uint64_t exp = vals[i];
        if (want < 0 && (vals[i] & P)) {
            exp |= ACC;
            if (i == n - 1 && e->kind == HV_WALK_WRITE)
                exp |= DIRTY;
        }
        bad = now != exp;
    }
    if (bad)
        report(what, combo, e, want, &res);
}

/* Level bits of a combination: U/S, R/W, XD per level. */
static uint64_t level_bits(unsigned combo, unsigned level, bool xd_ok)
{
    unsigned b = (combo >> (3 * level)) & 7;
    return ((b & 1) ? US : 0) | ((b & 2) ? RW : 0) | ((b & 4) && xd_ok ? XD : 0);
}

/* 4-level paging: every U/S, R/W, XD combination on 4 levels x every environment. */
static void test_rights_4level(void)
{
    const uint64_t la = 0x00007f1234567123ull;
    const uint64_t page = 0x345000;
    uint64_t t[4], slots[4], vals[4];
    fresh();
    mismatches = 0;
    for (int i = 0; i < 4; i++)
        t[i] = emu_ram_table(&ram);
    for (int lvl = 0; lvl < 4; lvl++)
        slots[lvl] = t[lvl] + ((la >> (39 - 9 * lvl)) & 0x1ff) * 8;
    for (unsigned combo = 0; combo < 4096; combo++) {
        bool user_addr = true, rw_all = true, xd_any = false;
        for (int lvl = 0; lvl < 4; lvl++) {
            uint64_t b = level_bits(combo, lvl, true);
            uint64_t next = lvl < 3 ? t[lvl + 1] : page;
            vals[lvl] = next | P | b;
            user_addr &= !!(b & US);
            rw_all &= !!(b & RW);
            xd_any |= !!(b & XD);
        }
        struct env_bits e;
        for (unsigned i = 0; env_next(&e, i); i++) {
            struct hv_emu_regs r;
            long want;
            setup_regs(&r, M4, t[0]);
            apply_env(&r, &e);
            for (int lvl = 0; lvl < 4; lvl++)
                emu_ram_w64(&ram, slots[lvl], vals[lvl]);
            if (xd_any && !e.nxe) {
                /* XD is a reserved bit without EFER.NXE (4.5.4 tables). */
                want = 1 | 8 | (e.kind == HV_WALK_WRITE ? 2 : 0) | (e.user && !e.implicit ? 4 : 0) |
                       (e.kind == HV_WALK_EXEC && e.smep ? 16 : 0);
            } else {
                want = ref_rights(&e, user_addr, rw_all, xd_any, true);
            }
            check_walk("4-level", combo, &e, &r, la, want, page | (la & 0xfff), slots, vals, 4, 8);
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

/* 4-level with a 1 GiB and a 2 MiB leaf: rights come from the levels walked. */
static void test_rights_large(void)
{
    const uint64_t la = 0x0000001234567123ull; /* PML4 0, PDPT 0x48, PD 0x1a2 */
    uint64_t t[3], slots[3], vals[3];
    fresh();
    mismatches = 0;
    for (int i = 0; i < 3; i++)
        t[i] = emu_ram_table(&ram);
    for (int lvl = 0; lvl < 3; lvl++)
        slots[lvl] = t[lvl] + ((la >> (39 - 9 * lvl)) & 0x1ff) * 8;
    for (int leaf_level = 1; leaf_level <= 2; leaf_level++) {
        uint64_t page = leaf_level == 1 ? 0x40000000ull * 5 : 0x200000ull * 77;
        uint64_t size = leaf_level == 1 ? (1ull << 30) : (1ull << 21);
        for (unsigned combo = 0; combo < (leaf_level == 1 ? 64u : 512u); combo++) {
            bool user_addr = true, rw_all = true, xd_any = false;
            unsigned n = (unsigned)leaf_level + 1;
            for (unsigned lvl = 0; lvl < n; lvl++) {
                uint64_t b = level_bits(combo, lvl, true);
                vals[lvl] = (lvl + 1 < n ? t[lvl + 1] : (page | PS)) | P | b;
                user_addr &= !!(b & US);
                rw_all &= !!(b & RW);
                xd_any |= !!(b & XD);
            }
            struct env_bits e;
            for (unsigned i = 0; env_next(&e, i); i++) {
                struct hv_emu_regs r;
                long want;
                if (!e.nxe)
                    continue; /* covered by the 4 KiB test */
                setup_regs(&r, M4, t[0]);
                apply_env(&r, &e);
                for (unsigned lvl = 0; lvl < n; lvl++)
                    emu_ram_w64(&ram, slots[lvl], vals[lvl]);
                want = ref_rights(&e, user_addr, rw_all, xd_any, true);
                check_walk("large", combo, &e, &r, la, want, page | (la & (size - 1)), slots, vals,
                           n, 8);
            }
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

/* PAE paging: PDPTE without rights, PD and PT with U/S, R/W, XD; 4 KiB and 2 MiB. */
static void test_rights_pae(void)
{
    const uint32_t la = 0xc1234567u; /* PDPTE 3, PDE 0x009, PTE 0x034 */
    const uint64_t page = 0x2345000;
    uint64_t pdpt, pd, pt, slots[3], vals[3];
    fresh();
    mismatches = 0;
    pdpt = emu_ram_table(&ram) + 0x40; /* CR3 is 32-byte aligned in PAE */
    pd = emu_ram_table(&ram);
    pt = emu_ram_table(&ram);
    slots[0] = pdpt + 3 * 8;
    slots[1] = pd + ((la >> 21) & 0x1ff) * 8;
    slots[2] = pt + ((la >> 12) & 0x1ff) * 8;
    for (int large = 0; large < 2; large++) {
        for (unsigned combo = 0; combo < 64; combo++) {
            bool user_addr = true, rw_all = true, xd_any = false;
            unsigned n = large ? 2 : 3;
            vals[0] = pd | P;
            for (unsigned lvl = 1; lvl < n; lvl++) {
                uint64_t b = level_bits(combo, lvl - 1, true);
                vals[lvl] = (lvl == 1 && !large ? pt : large ? (0x400000 | PS) : page) | P | b;
                user_addr &= !!(b & US);
                rw_all &= !!(b & RW);
                xd_any |= !!(b & XD);
            }
            struct env_bits e;
            for (unsigned i = 0; env_next(&e, i); i++) {
                struct hv_emu_regs r;
                long want;
                uint64_t gpa = large ? (0x400000 | (la & 0x1fffff)) : (page | (la & 0xfff));
                setup_regs(&r, MPAE, pdpt);
                apply_env(&r, &e);
                for (unsigned lvl = 0; lvl < n; lvl++)
                    emu_ram_w64(&ram, slots[lvl], vals[lvl]);
                if (xd_any && !e.nxe)
                    want = 1 | 8 | (e.kind == HV_WALK_WRITE ? 2 : 0) |
                           (e.user && !e.implicit ? 4 : 0) |
                           (e.kind == HV_WALK_EXEC && e.smep ? 16 : 0);
                else
                    want = ref_rights(&e, user_addr, rw_all, xd_any, true);
                /* The PDPTE has no accessed flag: expect it unchanged. */
                check_walk("pae", combo, &e, &r, la, want, gpa, slots + 1, vals + 1, n - 1, 8);
                if (emu_ram_r64(&ram, slots[0]) != vals[0])
                    report("pae pdpte changed", combo, &e, want, &(struct hv_walk_result){0});
            }
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

/* 32-bit paging: U/S and R/W on PDE and PTE, 4 KiB pages and 4 MiB pages. */
static void test_rights_32(void)
{
    const uint32_t la = 0x80403123u; /* PDE 0x201, PTE 0x003 */
    uint64_t pd, pt, slots[2], vals[2];
    fresh();
    mismatches = 0;
    pd = emu_ram_table(&ram);
    pt = emu_ram_table(&ram);
    slots[0] = pd + (la >> 22) * 4;
    slots[1] = pt + ((la >> 12) & 0x3ff) * 4;
    for (int large = 0; large < 2; large++) {
        for (unsigned combo = 0; combo < 64; combo++) {
            bool user_addr = true, rw_all = true;
            unsigned n = large ? 1 : 2;
            for (unsigned lvl = 0; lvl < n; lvl++) {
                uint64_t b = level_bits(combo, lvl, false);
                vals[lvl] = (lvl == 0 && !large ? pt : large ? (0xc00000 | PS) : 0x7000) | P | b;
                user_addr &= !!(b & US);
                rw_all &= !!(b & RW);
            }
            struct env_bits e;
            for (unsigned i = 0; env_next(&e, i); i++) {
                struct hv_emu_regs r;
                uint64_t gpa = large ? (0xc00000 | (la & 0x3fffff)) : (0x7000 | (la & 0xfff));
                setup_regs(&r, M32, pd);
                apply_env(&r, &e);
                for (unsigned lvl = 0; lvl < n; lvl++)
                    emu_ram_w32(&ram, slots[lvl], (uint32_t)vals[lvl]);
                /* No XD in 32-bit paging; I/D only with SMEP (pae = false). */
                check_walk("32-bit", combo, &e, &r, la,
                           ref_rights(&e, user_addr, rw_all, false, false), gpa, slots, vals, n, 4);
            }
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

/* ---------------------------------------------------------------------------
 * Structure: not-present entries, reserved bits, page sizes, PSE-36.
 */

/* A 4-level chain for la with 4 KiB leaf at gpa page; returns the slots. */
static void build_4level(uint64_t cr3, uint64_t la, uint64_t page, uint64_t *slots)
{
    uint64_t table = cr3;
    for (int lvl = 0; lvl < 4; lvl++) {
        uint64_t next = lvl < 3 ? emu_ram_table(&ram) : page;
        slots[lvl] = table + ((la >> (39 - 9 * lvl)) & 0x1ff) * 8;
        emu_ram_w64(&ram, slots[lvl], next | P | RW | US);
        table = next;
    }
}

static struct hv_walk_result do_walk(struct hv_emu_regs *r, uint64_t la, unsigned access)
{
    struct hv_walk_result res;
    memset(&res, 0xa5, sizeof(res));
    CU_ASSERT_EQUAL_FATAL(hv_walk(&env, r, la, access, &res), HV_OK);
    return res;
}

static void test_not_present(void)
{
    const uint64_t la = 0x00005a5a5a5a5123ull;
    uint64_t cr3, slots[4];
    fresh();
    cr3 = emu_ram_table(&ram);
    build_4level(cr3, la, 0x9000, slots);
    for (int lvl = 0; lvl < 4; lvl++) {
        for (unsigned access = 0; access < 3; access++) {
            for (int cpl = 0; cpl <= 3; cpl += 3) {
                struct hv_emu_regs r;
                uint64_t save = emu_ram_r64(&ram, slots[lvl]);
                unsigned writes = ram.writes;
                setup_regs(&r, M4, cr3);
                r.cpl = (uint8_t)cpl;
                /* A not-present entry's other bits are ignored, reserved ones included. */
                emu_ram_w64(&ram, slots[lvl], (save & ~P) | (0xfull << 48));
                struct hv_walk_result res = do_walk(&r, la, access);
                CU_ASSERT_EQUAL(res.outcome, HV_WALK_PAGE_FAULT);
                CU_ASSERT_EQUAL(res.error_code, (access == HV_WALK_WRITE ? 2u : 0u) |
                                                    (cpl == 3 ? 4u : 0u) |
                                                    (access == HV_WALK_EXEC ? 16u : 0u));
                CU_ASSERT_EQUAL(ram.writes, writes); /* no A bits on a fault */
                emu_ram_w64(&ram, slots[lvl], save);
            }
        }
    }
    /* Implicit supervisor access at CPL 3: U/S clear in the error code. */
    {
        struct hv_emu_regs r;
        setup_regs(&r, M4, cr3);
        r.cpl = 3;
        emu_ram_w64(&ram, slots[3], 0);
        struct hv_walk_result res = do_walk(&r, la, HV_WALK_READ | HV_WALK_IMPLICIT);
        CU_ASSERT_EQUAL(res.error_code, 0u);
    }
    /* 32-bit paging, fetch without SMEP: I/D stays clear (4.7). */
    {
        struct hv_emu_regs r;
        uint64_t pd = emu_ram_table(&ram);
        setup_regs(&r, M32, pd);
        struct hv_walk_result res = do_walk(&r, 0x1000, HV_WALK_EXEC);
        CU_ASSERT_EQUAL(res.outcome, HV_WALK_PAGE_FAULT);
        CU_ASSERT_EQUAL(res.error_code, 0u);
        r.cr4 |= CR4_SMEP;
        res = do_walk(&r, 0x1000, HV_WALK_EXEC);
        CU_ASSERT_EQUAL(res.error_code, 16u);
        /* PAE without NXE: no I/D either. */
        uint64_t pdpt = emu_ram_table(&ram);
        setup_regs(&r, MPAE, pdpt);
        r.efer = 0;
        res = do_walk(&r, 0x1000, HV_WALK_EXEC);
        CU_ASSERT_EQUAL(res.error_code, 0u);
    }
}

/* Is bit b reserved in this entry (formats of SDM Vol. 3A tables 4-14..4-20, 4-8..4-11)? */
static bool ref_reserved(enum mode m, int level, bool large, unsigned b, unsigned maxphy, bool nxe)
{
    if (b == 63)
        return m == MPAE && level == 3 ? true : !nxe;
    /* PDPTE read from memory (these tests load no PDPTE registers): bit 5 is
       tolerated there, as the CPU's own walk (QEMU TCG) may set it. */
    if (m == MPAE && level == 3)
        return b == 1 || b == 2 || (b >= 6 && b <= 8) || b >= maxphy;
    if (m == MPAE && b >= maxphy)
        return true; /* 62:M */
    if (m != MPAE && b >= maxphy && b <= 51)
        return true;
    if (large && b >= 13 && b < (level == 3 ? 30u : 21u))
        return true;
    if (!large && (level == 4 || level == 5) && b == 7)
        return true;
    return false;
}

static void test_reserved_bits(void)
{
    static const unsigned widths[] = {36, 39, 40, 46, 48, 52};
    mismatches = 0;
    for (unsigned wi = 0; wi < 6; wi++) {
        unsigned mp = widths[wi];
        for (int nxe = 0; nxe < 2; nxe++) {
            /* 4-level: PML4E, PDPTE, PDE, PTE; plus 1 GiB and 2 MiB leaves. */
            for (int shape = 0; shape < 3; shape++) {
                const uint64_t la = 0x0000004567abc123ull;
                uint64_t cr3, slots[4];
                int nlev = shape == 0 ? 4 : shape == 1 ? 2 : 3;
                fresh();
                env.maxphyaddr = (uint8_t)mp;
                cr3 = emu_ram_table(&ram);
                build_4level(cr3, la, 0x5000, slots);
                if (shape == 1)
                    emu_ram_w64(&ram, slots[1], (1ull << 30) | P | RW | US | PS);
                if (shape == 2)
                    emu_ram_w64(&ram, slots[2], (3ull << 21) | P | RW | US | PS);
                for (int lvl = 0; lvl < nlev; lvl++) {
                    bool large = shape != 0 && lvl == nlev - 1;
                    int level = 4 - lvl; /* 4 = PML4E ... 1 = PTE */
                    uint64_t save = emu_ram_r64(&ram, slots[lvl]);
                    for (unsigned b = 7; b < 64; b++) {
                        struct hv_emu_regs r;
                        if (b == 7 && level != 4)
                            continue; /* PS itself */
                        if (b >= 8 && b < 12)
                            continue; /* G, ignored, in every format */
                        if (b >= 12 && b < mp && !(large && b < (level == 3 ? 30u : 21u)))
                            continue; /* address bits: move the page, tested elsewhere */
                        if (large && b == 12)
                            continue; /* PAT of a large page */
                        setup_regs(&r, M4, cr3);
                        if (!nxe)
                            r.efer &= ~EFER_NXE;
                        emu_ram_w64(&ram, slots[lvl], save | (1ull << b));
                        struct hv_walk_result res = do_walk(&r, la, HV_WALK_READ);
                        bool want = ref_reserved(M4, level, large, b, mp, nxe);
                        bool got = res.outcome == HV_WALK_PAGE_FAULT && res.error_code == (1 | 8);
                        if (want != got || (!want && res.outcome != HV_WALK_OK)) {
                            if (mismatches++ < 10)
                                printf("\n4-level M=%u nxe=%d level %d large %d bit %u: want "
                                       "rsvd %d got outcome %d ec %#x\n",
                                       mp, nxe, level, large, b, want, res.outcome, res.error_code);
                        }
                        emu_ram_w64(&ram, slots[lvl], save);
                    }
                }
            }
            /* PAE: PDPTE (level 3), PDE (2), PTE (1), and a 2 MiB PDE. */
            for (int large = 0; large < 2; large++) {
                const uint32_t la = 0x4567a123u;
                uint64_t pdpt, pd, pt, slots[3];
                fresh();
                env.maxphyaddr = (uint8_t)mp;
                pdpt = emu_ram_table(&ram);
                pd = emu_ram_table(&ram);
                pt = emu_ram_table(&ram);
                slots[0] = pdpt + 8;
                slots[1] = pd + ((la >> 21) & 0x1ff) * 8;
                slots[2] = pt + ((la >> 12) & 0x1ff) * 8;
                emu_ram_w64(&ram, slots[0], pd | P);
                emu_ram_w64(&ram, slots[1], large ? (0x600000 | P | RW | PS) : (pt | P | RW));
                emu_ram_w64(&ram, slots[2], 0x5000 | P | RW);
                for (int lvl = 0; lvl < (large ? 2 : 3); lvl++) {
                    int level = 3 - lvl;
                    bool lg = large && level == 2;
                    uint64_t save = emu_ram_r64(&ram, slots[lvl]);
                    for (unsigned b = 1; b < 64; b++) {
                        struct hv_emu_regs r;
                        if (level != 3 && b < 12 && !(b == 7 && level == 3))
                            continue; /* flags with meanings */
                        if (level == 3 && (b == 3 || b == 4 || (b >= 9 && b < 12)))
                            continue; /* PWT, PCD, ignored */
                        if (b >= 12 && b < mp && !(lg && b < 21))
                            continue;
                        if (lg && b == 12)
                            continue;
                        setup_regs(&r, MPAE, pdpt);
                        if (!nxe)
                            r.efer &= ~EFER_NXE;
                        emu_ram_w64(&ram, slots[lvl], save | (1ull << b));
                        struct hv_walk_result res = do_walk(&r, la, HV_WALK_READ);
                        bool want = ref_reserved(MPAE, level, lg, b, mp, nxe);
                        bool got = res.outcome == HV_WALK_PAGE_FAULT && res.error_code == (1 | 8);
                        if (want != got || (!want && res.outcome != HV_WALK_OK)) {
                            if (mismatches++ < 10)
                                printf("\nPAE M=%u nxe=%d level %d large %d bit %u: want rsvd "
                                       "%d got outcome %d ec %#x\n",
                                       mp, nxe, level, lg, b, want, res.outcome, res.error_code);
                        }
                        emu_ram_w64(&ram, slots[lvl], save);
                    }
                }
            }
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

/* 4 MiB pages (4.3): PSE-36 address bits and their reserved neighbours. */
static void test_pse36(void)
{
    static const unsigned widths[] = {32, 36, 39, 40, 46, 52};
    const uint32_t la = 0x81234567u;
    for (unsigned wi = 0; wi < 6; wi++) {
        unsigned mp = widths[wi], m = mp < 40 ? mp : 40;
        uint64_t pd;
        fresh();
        env.maxphyaddr = (uint8_t)mp;
        pd = emu_ram_table(&ram);
        for (unsigned b = 13; b <= 21; b++) {
            struct hv_emu_regs r;
            uint32_t pde = 0x40000000u | P | PS | (1u << b);
            setup_regs(&r, M32, pd);
            emu_ram_w32(&ram, pd + (la >> 22) * 4, pde);
            struct hv_walk_result res = do_walk(&r, la, HV_WALK_READ);
            /* Bits (m-20):13 are physical bits (m-1):32; bits 21:(m-19) reserved. */
            if (b <= m - 20) {
                CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
                CU_ASSERT_EQUAL(res.gpa, (1ull << (b - 13 + 32)) | 0x40000000u | (la & 0x3fffff));
            } else {
                CU_ASSERT_EQUAL(res.outcome, HV_WALK_PAGE_FAULT);
                CU_ASSERT_EQUAL(res.error_code, 1u | 8u);
            }
        }
        /* Without CR4.PSE, PS is ignored: the PDE points to a page table. */
        {
            struct hv_emu_regs r;
            uint64_t pt = emu_ram_table(&ram);
            setup_regs(&r, M32, pd);
            r.cr4 = 0;
            emu_ram_w32(&ram, pd + (la >> 22) * 4, (uint32_t)pt | P | PS);
            emu_ram_w32(&ram, pt + ((la >> 12) & 0x3ff) * 4, 0x3000 | P);
            struct hv_walk_result res = do_walk(&r, la, HV_WALK_READ);
            CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
            CU_ASSERT_EQUAL(res.gpa, 0x3000u | (la & 0xfff));
            CU_ASSERT_EQUAL(res.page_size, 4096u);
        }
    }
}

/* Page sizes and address composition, including 1 GiB pages off and 5-level. */
static void test_sizes(void)
{
    struct hv_emu_regs r;
    uint64_t cr3, slots[4];
    const uint64_t la = 0x00003456789abcdeull;
    fresh();
    cr3 = emu_ram_table(&ram);
    build_4level(cr3, la, 0x7000, slots);

    setup_regs(&r, M4, cr3);
    struct hv_walk_result res = do_walk(&r, la, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.gpa, 0x7000 | (la & 0xfff));
    CU_ASSERT_EQUAL(res.page_size, 1ull << 12);

    emu_ram_w64(&ram, slots[2], 0x12345ull << 21 | P | PS | (1ull << 12));
    res = do_walk(&r, la, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.gpa, (0x12345ull << 21) | (la & 0x1fffff)); /* PAT bit not an address bit */
    CU_ASSERT_EQUAL(res.page_size, 1ull << 21);

    emu_ram_w64(&ram, slots[1], 0x1234ull << 30 | P | PS);
    res = do_walk(&r, la, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.gpa, (0x1234ull << 30) | (la & 0x3fffffff));
    CU_ASSERT_EQUAL(res.page_size, 1ull << 30);

    env.gbpages = false; /* PS in a PDPTE is then reserved */
    res = do_walk(&r, la, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_PAGE_FAULT);
    CU_ASSERT_EQUAL(res.error_code, 1u | 2u | 8u);
    env.gbpages = true;

    /* 5-level: PML5 index from bits 56:48. */
    {
        const uint64_t la5 = 0xff7a000000001234ull; /* canonical for 57 bits */
        uint64_t pml5 = emu_ram_table(&ram), pml4 = emu_ram_table(&ram), s[4];
        emu_ram_w64(&ram, pml5 + ((la5 >> 48) & 0x1ff) * 8, pml4 | P | RW);
        build_4level(pml4, la5, 0xa000, s);
        setup_regs(&r, M5, pml5);
        res = do_walk(&r, la5, HV_WALK_WRITE);
        CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
        CU_ASSERT_EQUAL(res.gpa, 0xa000 | 0x234);
        CU_ASSERT(emu_ram_r64(&ram, pml5 + ((la5 >> 48) & 0x1ff) * 8) & ACC);
        /* PS in a PML5E is reserved. */
        emu_ram_w64(&ram, pml5 + ((la5 >> 48) & 0x1ff) * 8, pml4 | P | RW | PS);
        res = do_walk(&r, la5, HV_WALK_READ);
        CU_ASSERT_EQUAL(res.outcome, HV_WALK_PAGE_FAULT);
        CU_ASSERT_EQUAL(res.error_code, 1u | 8u);
    }

    /* Paging off: identity on 32 bits. */
    setup_regs(&r, M4, cr3);
    r.cr0 = CR0_PE;
    r.efer = 0;
    res = do_walk(&r, 0x1ffffabcdull, HV_WALK_EXEC);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
    CU_ASSERT_EQUAL(res.gpa, 0xffffabcdull);
}

/* ---------------------------------------------------------------------------
 * Accessed/dirty flags, races, tables outside RAM, register PDPTEs, keys.
 */
static void test_accessed_dirty(void)
{
    for (int use_cmpxchg = 0; use_cmpxchg < 2; use_cmpxchg++) {
        struct hv_emu_regs r;
        uint64_t cr3, slots[4];
        const uint64_t la = 0x0000000040201123ull;
        fresh();
        env.ops = use_cmpxchg ? &emu_ram_ops : &emu_ram_ops_no_cmpxchg;
        cr3 = emu_ram_table(&ram);
        build_4level(cr3, la, 0x8000, slots);
        setup_regs(&r, M4, cr3);

        struct hv_walk_result res = do_walk(&r, la, HV_WALK_READ);
        CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
        for (int i = 0; i < 4; i++) {
            CU_ASSERT(emu_ram_r64(&ram, slots[i]) & ACC);
            CU_ASSERT_FALSE(emu_ram_r64(&ram, slots[i]) & DIRTY);
        }
        CU_ASSERT_EQUAL(ram.writes, 4u);
        do_walk(&r, la, HV_WALK_EXEC);
        CU_ASSERT_EQUAL(ram.writes, 4u); /* nothing changed: nothing written */
        do_walk(&r, la, HV_WALK_WRITE);
        CU_ASSERT(emu_ram_r64(&ram, slots[3]) & DIRTY);
        for (int i = 0; i < 3; i++)
            CU_ASSERT_FALSE(emu_ram_r64(&ram, slots[i]) & DIRTY); /* D only on the leaf */
        CU_ASSERT_EQUAL(ram.writes, 5u);
        do_walk(&r, la, HV_WALK_WRITE);
        CU_ASSERT_EQUAL(ram.writes, 5u);
        CU_ASSERT_EQUAL(ram.cmpxchgs, use_cmpxchg ? 5u : 0u);

        /* A faulting write (read-only leaf, WP=1) sets nothing. */
        emu_ram_w64(&ram, slots[3], 0x9000 | P | US);
        res = do_walk(&r, la, HV_WALK_WRITE);
        CU_ASSERT_EQUAL(res.outcome, HV_WALK_PAGE_FAULT);
        CU_ASSERT_EQUAL(emu_ram_r64(&ram, slots[3]), 0x9000 | P | US);

        /* 32-bit entries are updated as 4-byte values. */
        uint64_t pd = emu_ram_table(&ram), pt = emu_ram_table(&ram);
        emu_ram_w32(&ram, pd, ~0u); /* neighbours must survive */
        emu_ram_w32(&ram, pd + 4, (uint32_t)pt | P | RW);
        emu_ram_w32(&ram, pd + 8, ~0u);
        emu_ram_w32(&ram, pt + 4, 0x3000 | P | RW);
        emu_ram_w32(&ram, pt + 8, 0x77777777u);
        setup_regs(&r, M32, pd);
        res = do_walk(&r, 0x00401010, HV_WALK_WRITE);
        CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
        CU_ASSERT_EQUAL(res.gpa, 0x3010u);
        CU_ASSERT_EQUAL(emu_ram_r32(&ram, pd), ~0u);
        CU_ASSERT_EQUAL(emu_ram_r32(&ram, pd + 8), ~0u);
        CU_ASSERT_EQUAL(emu_ram_r32(&ram, pd + 4), (uint32_t)pt | P | RW | ACC);
        CU_ASSERT_EQUAL(emu_ram_r32(&ram, pt + 4), 0x3000 | P | RW | ACC | DIRTY);
        CU_ASSERT_EQUAL(emu_ram_r32(&ram, pt + 8), 0x77777777u);
    }
}

static void test_cmpxchg_race(void)
{
    struct hv_emu_regs r;
    uint64_t cr3, slots[4];
    const uint64_t la = 0x1000;
    struct hv_walk_result res;
    fresh();
    cr3 = emu_ram_table(&ram);
    build_4level(cr3, la, 0x8000, slots);
    setup_regs(&r, M4, cr3);
    ram.cmpxchg_fail = 1; /* a concurrent writer wins once */
    CU_ASSERT_EQUAL(hv_walk(&env, &r, la, HV_WALK_WRITE, &res), HV_OK);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
    CU_ASSERT(emu_ram_r64(&ram, slots[3]) & DIRTY);

    emu_ram_w64(&ram, slots[3], 0x8000 | P | RW | US);
    ram.cmpxchg_fail = -1; /* always loses: give up, do not spin */
    CU_ASSERT_EQUAL(hv_walk(&env, &r, la, HV_WALK_WRITE, &res), HV_ERR_AGAIN);
    ram.cmpxchg_fail = 0;
}

static void test_table_not_ram(void)
{
    struct hv_emu_regs r;
    struct hv_walk_result res;
    uint64_t cr3, slots[4];
    const uint64_t la = 0x0000008000403123ull;
    fresh();
    /* CR3 outside RAM. */
    setup_regs(&r, M4, 0x40000000);
    res = do_walk(&r, la, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_TABLE_NOT_RAM);
    CU_ASSERT_EQUAL(res.table_gpa, 0x40000000 + ((la >> 39) & 0x1ff) * 8);
    /* A PDE pointing at a page table in MMIO. */
    cr3 = emu_ram_table(&ram);
    build_4level(cr3, la, 0x8000, slots);
    emu_ram_w64(&ram, slots[2], 0xfee00000 | P | RW | US);
    setup_regs(&r, M4, cr3);
    unsigned writes = ram.writes;
    res = do_walk(&r, la, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_TABLE_NOT_RAM);
    CU_ASSERT_EQUAL(res.table_gpa, 0xfee00000 + ((la >> 12) & 0x1ff) * 8);
    CU_ASSERT_EQUAL(ram.writes, writes);
    /* A table in a RAM hole the SLAT view reports as MMIO. */
    ram.ram_hole_lo = slots[2] & ~0xfffull;
    ram.ram_hole_hi = ram.ram_hole_lo + 4096;
    res = do_walk(&r, la, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_TABLE_NOT_RAM);
    CU_ASSERT_EQUAL(res.table_gpa, slots[2]);
    ram.ram_hole_lo = ram.ram_hole_hi = 0;
    /* 32-bit and PAE roots outside RAM. */
    setup_regs(&r, M32, 0xfffff000);
    res = do_walk(&r, 0xffc01000, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_TABLE_NOT_RAM);
    CU_ASSERT_EQUAL(res.table_gpa, 0xfffff000 + 0x3ff * 4);
    setup_regs(&r, MPAE, 0xffffffe0);
    res = do_walk(&r, 0xc0000000, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_TABLE_NOT_RAM);
    CU_ASSERT_EQUAL(res.table_gpa, 0xffffffe0 + 3 * 8);
}

static void test_pdpte_registers(void)
{
    struct hv_emu_regs r;
    struct hv_walk_result res;
    uint64_t pd, pt;
    fresh();
    pd = emu_ram_table(&ram);
    pt = emu_ram_table(&ram);
    emu_ram_w64(&ram, pd + 8, pt | P | RW);
    emu_ram_w64(&ram, pt + 16, 0xb000 | P | RW);
    /* CR3 points at zeroes: the registers, not memory, must be used. */
    setup_regs(&r, MPAE, emu_ram_table(&ram));
    r.pdpte_valid = true;
    r.pdpte[2] = pd | P;
    res = do_walk(&r, 0x80202345, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
    CU_ASSERT_EQUAL(res.gpa, 0xb345u);
    r.pdpte[2] = pd;
    res = do_walk(&r, 0x80202345, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_PAGE_FAULT);
    CU_ASSERT_EQUAL(res.error_code, 2u);
}

static void test_protection_keys(void)
{
    struct hv_emu_regs r;
    struct hv_walk_result res;
    uint64_t cr3, slots[4];
    const uint64_t la = 0x2000;
    fresh();
    cr3 = emu_ram_table(&ram);
    build_4level(cr3, la, 0x8000, slots);
    emu_ram_w64(&ram, slots[3], 0x8000 | P | RW | US | (5ull << 59));
    setup_regs(&r, M4, cr3);
    r.cr4 |= CR4_PKE;
    r.pkru = 1u << 10; /* AD for key 5 */
    r.cpl = 3;
    res = do_walk(&r, la, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_PAGE_FAULT);
    CU_ASSERT_EQUAL(res.error_code, 1u | 4u | 32u);
    res = do_walk(&r, la, HV_WALK_EXEC); /* keys do not apply to fetches */
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
    r.pkru = 2u << 10; /* WD for key 5 */
    res = do_walk(&r, la, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
    res = do_walk(&r, la, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.error_code, 1u | 2u | 4u | 32u);
    r.cpl = 0; /* supervisor write to a user page: WD counts only with CR0.WP */
    res = do_walk(&r, la, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.error_code, 1u | 2u | 32u);
    r.cr0 &= ~CR0_WP;
    res = do_walk(&r, la, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
    /* Another key is unaffected; PKE off ignores keys. */
    r.cr0 |= CR0_WP;
    r.pkru = 3u << 12;
    res = do_walk(&r, la, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
    r.pkru = ~0u;
    r.cr4 &= ~CR4_PKE;
    res = do_walk(&r, la, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.outcome, HV_WALK_OK);
    /* A read-only user page with AD set: both bits of the cause are reported. */
    r.cr4 |= CR4_PKE;
    r.cpl = 3;
    r.pkru = 1u << 10;
    emu_ram_w64(&ram, slots[3], 0x8000 | P | US | (5ull << 59));
    res = do_walk(&r, la, HV_WALK_WRITE);
    CU_ASSERT_EQUAL(res.error_code, 1u | 2u | 4u | 32u);
    /* PKS: supervisor pages under IA32_PKRS. */
    emu_ram_w64(&ram, slots[3], 0x8000 | P | RW | (9ull << 59));
    r.cpl = 0;
    r.pkru = 0;
    r.cr4 |= CR4_PKS;
    r.pkrs = 1u << 18;
    res = do_walk(&r, la, HV_WALK_READ);
    CU_ASSERT_EQUAL(res.error_code, 1u | 32u);
}

static void test_bad_args(void)
{
    struct hv_emu_regs r;
    struct hv_walk_result res;
    fresh();
    setup_regs(&r, M4, 0x100000);
    CU_ASSERT_EQUAL(hv_walk(NULL, &r, 0, 0, &res), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_walk(&env, NULL, 0, 0, &res), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_walk(&env, &r, 0, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_walk(&env, &r, 0, 3, &res), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_walk(&env, &r, 0, 8, &res), HV_ERR_INVALID_ARG);
    env.maxphyaddr = 53;
    CU_ASSERT_EQUAL(hv_walk(&env, &r, 0, 0, &res), HV_ERR_INVALID_ARG);
    env.maxphyaddr = 31;
    CU_ASSERT_EQUAL(hv_walk(&env, &r, 0, 0, &res), HV_ERR_INVALID_ARG);
}

int main(void)
{
    CU_pSuite s;
    emu_ram_init(&ram);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("walk", NULL, NULL);
    CU_add_test(s, "rights: 4-level, every U/S R/W XD and environment", test_rights_4level);
    CU_add_test(s, "rights: 1 GiB and 2 MiB leaves", test_rights_large);
    CU_add_test(s, "rights: PAE", test_rights_pae);
    CU_add_test(s, "rights: 32-bit, 4 KiB and 4 MiB", test_rights_32);
    CU_add_test(s, "not-present error codes", test_not_present);
    CU_add_test(s, "reserved bits per level and MAXPHYADDR", test_reserved_bits);
    CU_add_test(s, "PSE-36 4 MiB pages", test_pse36);
    CU_add_test(s, "page sizes, 5-level, paging off", test_sizes);
    CU_add_test(s, "accessed and dirty flags", test_accessed_dirty);
    CU_add_test(s, "accessed/dirty update races", test_cmpxchg_race);
    CU_add_test(s, "tables outside RAM", test_table_not_ram);
    CU_add_test(s, "PAE PDPTE registers", test_pdpte_registers);
    CU_add_test(s, "protection keys", test_protection_keys);
    CU_add_test(s, "bad arguments", test_bad_args);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    emu_ram_fini(&ram);
    return failed ? 1 : 0;
}
