/*
 * Fuzz target: the x86 instruction emulator (hv_emu_step) and the guest
 * page-table walker (hv_walk), with fuzzed registers, guest memory and
 * instruction bytes.
 *
 * Input: a fixed header (struct hdr, little-endian, see gen-seeds.py) then
 * the guest RAM image (RAM_SIZE bytes, zero-filled when shorter).
 * Guest-physical space: [0, 2 GiB) aliases RAM (gpa mod RAM_SIZE), so page
 * table pointers land somewhere useful; [2 GiB, 4 GiB) is MMIO; above 4 GiB
 * nothing (guest fault).
 *
 * Invariants: no sanitizer report; every callback stays within one 4 KiB
 * page and gets a sane size; MMIO only where is_ram() says no; REP work
 * bounded by the budget; only gpr/rip/rflags change, and only for
 * HV_EMU_DONE/EXCEPTION/RESUME with the outcome's rules; a failed walk
 * writes nothing; results inside the physical-address width.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu.h"
#include "emu/walk.h"
#include "fuzz_common.h"

#define RAM_SIZE  (64u * 1024)
#define MMIO_BASE 0x80000000ull
#define MMIO_END  0x100000000ull

/* Header layout (keep in sync with gen-seeds.py). */
struct hdr {
    uint64_t gpr[16];
    uint64_t rip, rflags, cr0, cr3, cr4, efer;
    struct {
        uint64_t base;
        uint32_t limit;
        uint16_t sel, attr;
    } seg[6];
    uint64_t pdpte[4];
    uint32_t pkru, pkrs;
    uint64_t walk_la;
    uint64_t mmio_seed;
    uint16_t rep_budget;
    uint8_t mode; /* 0 raw control registers; 1..6 see set_mode() */
    uint8_t cpl, flags, maxphyaddr, prefetch_len, walk_access;
    uint8_t fail_at;   /* callback number that returns an error (0: none) */
    uint8_t fail_kind; /* which error */
    uint8_t prefetch[15];
};

struct world {
    uint8_t *ram;
    uint64_t mmio_seed;
    unsigned calls, writes, mmio_calls, pio_calls;
    unsigned fail_at;
    hv_status_t fail_status;
    bool allow_writes;
    bool injected_fault;
    unsigned agains; /* cmpxchg calls that failed (the walk is retried) */
};

static hv_status_t maybe_fail(struct world *w)
{
    w->calls++;
    if (w->fail_at && w->calls == w->fail_at) {
        /* A GUEST_FAULT here models RAM unmapped by another vCPU mid-step. */
        w->injected_fault = w->fail_status == HV_ERR_GUEST_FAULT;
        return w->fail_status;
    }
    return HV_OK;
}

static bool gpa_is_ram(uint64_t gpa)
{
    return gpa < MMIO_BASE;
}

static void check_page(uint64_t gpa, size_t len, const char *what)
{
    FZ_CHECK(len > 0 && len <= 4096 && (gpa & 4095) + len <= 4096,
             "%s crosses a page: gpa %#llx len %zu", what, (unsigned long long)gpa, len);
}

static hv_status_t cb_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct world *w = opaque;
    check_page(gpa, len, "gpa_read");
    hv_status_t s = maybe_fail(w);
    if (s != HV_OK)
        return s;
    if (!gpa_is_ram(gpa))
        return HV_ERR_GUEST_FAULT;
    memcpy(buf, w->ram + (gpa % RAM_SIZE), len); /* ASan checks the emulator's buffer */
    return HV_OK;
}

static hv_status_t cb_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct world *w = opaque;
    check_page(gpa, len, "gpa_write");
    FZ_CHECK(w->allow_writes, "gpa_write during a failing walk");
    hv_status_t s = maybe_fail(w);
    if (s != HV_OK)
        return s;
    if (!gpa_is_ram(gpa))
        return HV_ERR_GUEST_FAULT;
    memcpy(w->ram + (gpa % RAM_SIZE), buf, len);
    w->writes++;
    if (getenv("FUZZ_TRACE"))
        fprintf(stderr, "write gpa %#llx len %zu\n", (unsigned long long)gpa, len);
    return HV_OK;
}

static hv_status_t cb_cmpxchg(void *opaque, uint64_t gpa, unsigned size, uint64_t expected,
                              uint64_t desired)
{
    struct world *w = opaque;
    FZ_CHECK(size == 4 || size == 8, "cmpxchg size %u", size);
    check_page(gpa, size, "gpa_cmpxchg");
    FZ_CHECK((gpa & (size - 1)) == 0, "cmpxchg of a misaligned entry %#llx",
             (unsigned long long)gpa);
    hv_status_t s = maybe_fail(w);
    if (s == HV_ERR_AGAIN)
        w->agains++;
    if (s != HV_OK)
        return s;
    if (!gpa_is_ram(gpa))
        return HV_ERR_GUEST_FAULT;
    uint64_t cur = 0;
    memcpy(&cur, w->ram + (gpa % RAM_SIZE), size);
    if (size == 4)
        expected &= 0xffffffffu;
    if (cur != expected) {
        w->agains++;
        return HV_ERR_AGAIN;
    }
    memcpy(w->ram + (gpa % RAM_SIZE), &desired, size);
    w->writes++;
    if (getenv("FUZZ_TRACE"))
        fprintf(stderr, "cmpxchg gpa %#llx %#llx -> %#llx\n", (unsigned long long)gpa,
                (unsigned long long)expected, (unsigned long long)desired);
    return HV_OK;
}

static bool cb_is_ram(void *opaque, uint64_t gpa)
{
    return gpa_is_ram(gpa);
}

static hv_status_t cb_mmio(void *opaque, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    struct world *w = opaque;
    FZ_CHECK(size == 1 || size == 2 || size == 4 || size == 8, "mmio size %u", size);
    FZ_CHECK(!gpa_is_ram(gpa), "mmio callback for RAM gpa %#llx", (unsigned long long)gpa);
    FZ_CHECK((gpa & 4095) + size <= 4096, "mmio crosses a page");
    w->mmio_calls++;
    hv_status_t s = maybe_fail(w);
    if (s != HV_OK)
        return s;
    if (gpa >= MMIO_END)
        return HV_ERR_GUEST_FAULT;
    if (!write) {
        uint64_t v = (gpa ^ w->mmio_seed) * 0x9E3779B97F4A7C15ull;
        *value = size == 8 ? v : v & ((1ull << (8 * size)) - 1);
    }
    return HV_OK;
}

static hv_status_t cb_pio(void *opaque, uint16_t port, unsigned size, bool write, uint64_t *value)
{
    struct world *w = opaque;
    FZ_CHECK(size == 1 || size == 2 || size == 4, "pio size %u", size);
    w->pio_calls++;
    hv_status_t s = maybe_fail(w);
    if (s != HV_OK)
        return s;
    if (!write)
        *value = (port * 0x1234567ull ^ w->mmio_seed) & ((1ull << (8 * size)) - 1);
    return HV_OK;
}

static const struct hv_emu_ops ops_cx = {.gpa_read = cb_read,
                                         .gpa_write = cb_write,
                                         .gpa_cmpxchg = cb_cmpxchg,
                                         .is_ram = cb_is_ram,
                                         .mmio = cb_mmio,
                                         .pio = cb_pio};
static const struct hv_emu_ops ops_nocx = {
    .gpa_read = cb_read, .gpa_write = cb_write, .is_ram = cb_is_ram, .mmio = cb_mmio};

#define CR0_PE  HV_EMU_CR0_PE
#define CR0_PG  HV_EMU_CR0_PG
#define CR4_PAE HV_EMU_CR4_PAE

/* Architecturally consistent paging modes; other control bits come from the input. */
static void set_mode(struct hv_emu_regs *r, unsigned mode)
{
    const uint64_t cr0_free = HV_EMU_CR0_WP | HV_EMU_CR0_AM;
    const uint64_t cr4_free =
        HV_EMU_CR4_PSE | HV_EMU_CR4_SMEP | HV_EMU_CR4_SMAP | HV_EMU_CR4_PKE | HV_EMU_CR4_PKS;
    uint64_t cr0 = r->cr0 & cr0_free, cr4 = r->cr4 & cr4_free, efer = r->efer & HV_EMU_EFER_NXE;
    uint16_t *cs = &r->seg[HV_EMU_CS].attr;
    *cs &= (uint16_t)~HV_EMU_SEG_L;
    switch (mode) {
    case 1: /* real mode */
        cr0 = 0;
        cr4 = 0;
        efer = 0;
        r->cpl = 0;
        break;
    case 2: /* protected mode, paging off */
        cr0 |= CR0_PE;
        break;
    case 3: /* 32-bit paging */
        cr0 |= CR0_PE | CR0_PG;
        cr4 &= ~(uint64_t)(HV_EMU_CR4_PKE | HV_EMU_CR4_PKS);
        break;
    case 4: /* PAE paging */
        cr0 |= CR0_PE | CR0_PG;
        cr4 |= CR4_PAE;
        cr4 &= ~(uint64_t)(HV_EMU_CR4_PKE | HV_EMU_CR4_PKS);
        break;
    case 5: /* 4-level, 64-bit code */
    case 6: /* 5-level, 64-bit code */
    case 7: /* 4-level, compatibility mode */
        cr0 |= CR0_PE | CR0_PG;
        cr4 |= CR4_PAE | (mode == 6 ? HV_EMU_CR4_LA57 : 0);
        efer |= HV_EMU_EFER_LME | HV_EMU_EFER_LMA;
        if (mode != 7) {
            *cs |= HV_EMU_SEG_L;
            *cs &= (uint16_t)~HV_EMU_SEG_DB;
        }
        break;
    }
    r->cr0 = cr0 | 0x10; /* ET */
    r->cr4 = cr4;
    r->efer = efer;
}

static void load(struct fz *in, struct hdr *h)
{
    for (int i = 0; i < 16; i++)
        h->gpr[i] = fz_u64(in);
    h->rip = fz_u64(in);
    h->rflags = fz_u64(in);
    h->cr0 = fz_u64(in);
    h->cr3 = fz_u64(in);
    h->cr4 = fz_u64(in);
    h->efer = fz_u64(in);
    for (int i = 0; i < 6; i++) {
        h->seg[i].base = fz_u64(in);
        h->seg[i].limit = fz_u32(in);
        h->seg[i].sel = fz_u16(in);
        h->seg[i].attr = fz_u16(in);
    }
    for (int i = 0; i < 4; i++)
        h->pdpte[i] = fz_u64(in);
    h->pkru = fz_u32(in);
    h->pkrs = fz_u32(in);
    h->walk_la = fz_u64(in);
    h->mmio_seed = fz_u64(in);
    h->rep_budget = fz_u16(in);
    h->mode = fz_u8(in);
    h->cpl = fz_u8(in);
    h->flags = fz_u8(in);
    h->maxphyaddr = fz_u8(in);
    h->prefetch_len = fz_u8(in);
    h->walk_access = fz_u8(in);
    h->fail_at = fz_u8(in);
    h->fail_kind = fz_u8(in);
    fz_bytes(in, h->prefetch, sizeof(h->prefetch));
}

static bool same_inputs(const struct hv_emu_regs *a, const struct hv_emu_regs *b)
{
    /* Everything but gpr/rip/rflags is input only. */
    return a->cr0 == b->cr0 && a->cr3 == b->cr3 && a->cr4 == b->cr4 && a->efer == b->efer &&
           memcmp(a->seg, b->seg, sizeof(a->seg)) == 0 && a->cpl == b->cpl &&
           a->pdpte_valid == b->pdpte_valid && memcmp(a->pdpte, b->pdpte, sizeof(a->pdpte)) == 0 &&
           a->pkru == b->pkru && a->pkrs == b->pkrs;
}

static void run_walk(struct world *w, const struct hv_emu_env *env, const struct hv_emu_regs *r,
                     uint64_t la, unsigned access)
{
    struct hv_walk_result wr;
    memset(&wr, 0xcc, sizeof(wr));
    unsigned writes = w->writes;
    w->agains = 0;
    hv_status_t s = hv_walk(env, r, la, access, &wr);
    if (getenv("FUZZ_TRACE"))
        fprintf(stderr,
                "walk la %#llx access %u mode cr0 %#llx cr4 %#llx efer %#llx cpl %u: %d outcome %d "
                "ec %#x gpa %#llx\n",
                (unsigned long long)la, access, (unsigned long long)r->cr0,
                (unsigned long long)r->cr4, (unsigned long long)r->efer, r->cpl, s, wr.outcome,
                wr.error_code, (unsigned long long)wr.gpa);
    if (s != HV_OK)
        return;
    if (wr.outcome == HV_WALK_OK) {
        FZ_CHECK(wr.page_size == 4096 || wr.page_size == (2u << 20) || wr.page_size == (4u << 20) ||
                     wr.page_size == (1u << 30),
                 "walk page size %#llx", (unsigned long long)wr.page_size);
        FZ_CHECK((wr.gpa & (wr.page_size - 1)) == (la & (wr.page_size - 1)) || !(r->cr0 & CR0_PG),
                 "walk: page offset not preserved");
        if (r->cr0 & CR0_PG)
            FZ_CHECK(wr.gpa < (1ull << env->maxphyaddr), "walk gpa %#llx past MAXPHYADDR %u",
                     (unsigned long long)wr.gpa, env->maxphyaddr);
    } else if (wr.outcome == HV_WALK_PAGE_FAULT) {
        FZ_CHECK((wr.error_code & ~0x3fu) == 0, "walk error code %#x", wr.error_code);
        /* Unless an accessed-bit update lost a race and the walk was retried
           (the first attempt's updates stay, as on a CPU). */
        FZ_CHECK(w->writes == writes || w->agains, "a faulting walk wrote guest memory");
    } else {
        FZ_CHECK(wr.outcome == HV_WALK_TABLE_NOT_RAM, "walk outcome %d", wr.outcome);
        FZ_CHECK(!gpa_is_ram(wr.table_gpa) || w->injected_fault, "TABLE_NOT_RAM for a RAM gpa");
        FZ_CHECK(w->writes == writes || w->agains, "a walk that hit MMIO wrote guest memory");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    struct hdr h;
    load(&in, &h);

    struct world w;
    memset(&w, 0, sizeof(w));
    static uint8_t ram[RAM_SIZE];
    w.ram = ram;
    fz_bytes(&in, w.ram, RAM_SIZE);
    w.mmio_seed = h.mmio_seed;
    w.fail_at = h.fail_at;
    static const hv_status_t fails[4] = {HV_ERR_GUEST_FAULT, HV_ERR_AGAIN, HV_ERR_NO_MEMORY,
                                         HV_ERR_BUSY};
    w.fail_status = fails[h.fail_kind & 3];
    w.allow_writes = true;

    struct hv_emu_regs r;
    memset(&r, 0, sizeof(r));
    memcpy(r.gpr, h.gpr, sizeof(r.gpr));
    r.rip = h.rip;
    r.rflags = (h.rflags | 2) & 0x3f7fd7; /* reserved bits as the CPU keeps them */
    r.cr0 = h.cr0;
    r.cr3 = h.cr3;
    r.cr4 = h.cr4;
    r.efer = h.efer;
    for (int i = 0; i < 6; i++) {
        r.seg[i].base = h.seg[i].base;
        r.seg[i].limit = h.seg[i].limit;
        r.seg[i].sel = h.seg[i].sel;
        r.seg[i].attr = h.seg[i].attr & 0xfff;
    }
    r.cpl = h.cpl & 3;
    r.pdpte_valid = h.flags & 1;
    memcpy(r.pdpte, h.pdpte, sizeof(r.pdpte));
    r.pkru = h.pkru;
    r.pkrs = h.pkrs;
    if (h.mode & 7)
        set_mode(&r, h.mode & 7);
    if (!(r.efer & HV_EMU_EFER_LMA) || !(r.cr0 & CR0_PG))
        r.rip &= 0xffffffffu; /* RIP[63:32] are zero outside 64-bit mode */

    struct hv_emu_env env;
    memset(&env, 0, sizeof(env));
    env.ops = (h.flags & 2) ? &ops_nocx : &ops_cx;
    env.opaque = &w;
    env.maxphyaddr = (uint8_t)(32 + h.maxphyaddr % 21);
    env.gbpages = h.flags & 4;
    env.rep_budget = h.rep_budget % 300;
    env.io_checked = h.flags & 8;
    uint32_t budget = env.rep_budget ? env.rep_budget : HV_EMU_REP_BUDGET_DEFAULT;

    /* The walker on its own. */
    w.allow_writes = true;
    run_walk(&w, &env, &r, h.walk_la, h.walk_access & 7);

    /* One emulated instruction. */
    size_t pre_len = h.prefetch_len % 16;
    uint8_t *pre = pre_len ? malloc(pre_len) : NULL; /* exact size: ASan sees overreads */
    if (pre)
        memcpy(pre, h.prefetch, pre_len);
    else
        pre_len = 0;
    struct hv_emu_regs before = r;
    struct hv_emu_result res;
    memset(&res, 0xcc, sizeof(res));
    w.calls = 0;
    w.injected_fault = false;
    hv_status_t s = hv_emu_step(&env, &r, pre, pre_len, &res);
    free(pre);

    FZ_CHECK(same_inputs(&before, &r), "hv_emu_step changed an input-only register field");
    FZ_CHECK(w.calls <= 16 * (budget + 8), "%u callbacks for one step (budget %u)", w.calls,
             budget);
    if (s == HV_OK) {
        FZ_CHECK(res.iterations <= budget, "%u REP iterations, budget %u", res.iterations, budget);
        FZ_CHECK(res.insn_len <= 15, "instruction length %u", res.insn_len);
        switch (res.outcome) {
        case HV_EMU_DONE: {
            FZ_CHECK(res.insn_len >= 1, "DONE with no length");
            uint64_t next = before.rip + res.insn_len;
            FZ_CHECK(r.rip == next || r.rip == (next & 0xffffffffu) || r.rip == (next & 0xffff),
                     "rip %#llx after a %u-byte instruction at %#llx", (unsigned long long)r.rip,
                     res.insn_len, (unsigned long long)before.rip);
            break;
        }
        case HV_EMU_EXCEPTION:
            FZ_CHECK(r.rip == before.rip, "rip moved on an exception");
            FZ_CHECK(res.vector < 32, "vector %u", res.vector);
            break;
        case HV_EMU_RESUME:
            FZ_CHECK(r.rip == before.rip, "rip moved on RESUME");
            FZ_CHECK(res.iterations == budget, "RESUME after %u of %u iterations", res.iterations,
                     budget);
            break;
        case HV_EMU_UNSUPPORTED:
        case HV_EMU_NOT_RAM:
            /* A REP instruction that stops on non-RAM after some iterations
               keeps their progress (RCX/RSI/RDI, AL..RAX of LODS, the flags
               of CMPS/SCAS), as for an exception. */
            if (res.outcome == HV_EMU_NOT_RAM && res.iterations) {
                struct hv_emu_regs a = before, b = r;
                a.gpr[HV_EMU_RAX] = b.gpr[HV_EMU_RAX];
                a.gpr[HV_EMU_RCX] = b.gpr[HV_EMU_RCX];
                a.gpr[HV_EMU_RSI] = b.gpr[HV_EMU_RSI];
                a.gpr[HV_EMU_RDI] = b.gpr[HV_EMU_RDI];
                a.rflags = (a.rflags & ~HV_EMU_RFLAGS_ARITH) | (b.rflags & HV_EMU_RFLAGS_ARITH);
                if (memcmp(&a, &b, sizeof(a)) != 0) {
                    for (int i = 0; i < HV_EMU_NGPR; i++)
                        if (a.gpr[i] != b.gpr[i])
                            fprintf(stderr, "gpr %d: %#llx -> %#llx\n", i,
                                    (unsigned long long)a.gpr[i], (unsigned long long)b.gpr[i]);
                    fprintf(stderr, "rip %#llx -> %#llx rflags %#llx -> %#llx\n",
                            (unsigned long long)a.rip, (unsigned long long)b.rip,
                            (unsigned long long)a.rflags, (unsigned long long)b.rflags);
                }
                FZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0,
                         "NOT_RAM after %u iterations changed more than REP progress",
                         res.iterations);
            } else {
                FZ_CHECK(memcmp(&before, &r, sizeof(r)) == 0, "outcome %d changed registers",
                         res.outcome);
            }
            if (res.outcome == HV_EMU_NOT_RAM)
                FZ_CHECK(!gpa_is_ram(res.gpa) || w.injected_fault, "NOT_RAM for a RAM gpa %#llx",
                         (unsigned long long)res.gpa);
            break;
        default:
            fz_fail("outcome %d", res.outcome);
        }
    }
    return 0;
}
