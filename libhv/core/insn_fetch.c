/*
 * Instruction fetch at the guest's CS:RIP, as the CPU fetches: through the
 * guest's page tables with execute access at the current privilege level
 * (emu/walk.h), within the CS limit outside 64-bit mode.
 *
 * SVM without NRIP save (QEMU) reports no instruction length, so every
 * CPUID, VMMCALL, IN/OUT, RDMSR/WRMSR and HLT exit needs the instruction's
 * bytes. A full walk is four dependent guest-PTE reads through the SLAT;
 * the vCPU therefore memoizes the translation of the code page it last
 * fetched from (struct hv_fetch_cache). The memo is used only while
 * everything the walk depended on is unchanged:
 * - the linear page, the CPL, and the bits of CR0/CR4/EFER that select the
 *   paging mode and the execute-access rules (SDM Vol. 3A 4.1, 4.6), CR3;
 * - the SLAT generation (every map/unmap/protect of the VM bumps it): the
 *   host pointers to the code page and the entries are still the VM's;
 * - the guest's physical-address width and 1 GiB pages (CPUID overrides);
 * - every paging-structure entry of the walk, re-read and compared with
 *   the value it held after the walk (accessed flags set): a guest may
 *   rewrite its page tables at any time without telling us.
 * Under these conditions the walk would read the same entries, reach the
 * same page and set no flag, so the memo is exact.
 */
#include "core/assist.h"
#include "core/guest_mem.h"
#include "core/objects.h"
#include "core/policy.h"
#include "core/util.h"
#include "emu/emu.h"
#include "emu/walk.h"

/* The register bits an execute-access walk depends on. */
#define FETCH_CR0 (HV_EMU_CR0_PG | HV_EMU_CR0_WP | HV_EMU_CR0_PE)
#define FETCH_CR4                                                                                  \
    (HV_EMU_CR4_PSE | HV_EMU_CR4_PAE | HV_EMU_CR4_LA57 | HV_EMU_CR4_SMEP | HV_EMU_CR4_SMAP |       \
     HV_EMU_CR4_PKE | HV_EMU_CR4_PKS)
#define FETCH_EFER (HV_EMU_EFER_LMA | HV_EMU_EFER_NXE)

static hv_status_t fetch_gpa_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    return hv_gpa_read(opaque, gpa, buf, len);
}

static hv_status_t fetch_gpa_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    return hv_gpa_write(opaque, gpa, buf, len);
}

static const struct hv_emu_ops fetch_ops = {
    .gpa_read = fetch_gpa_read,
    .gpa_write = fetch_gpa_write,
};

/* 48-bit (57 with CR4.LA57) canonical form (SDM Vol. 1 3.3.7.1). */
static bool canonical(uint64_t la, uint64_t cr4)
{
    unsigned sh = (cr4 & HV_EMU_CR4_LA57) ? 7 : 16;
    return (uint64_t)((int64_t)(la << sh) >> sh) == la;
}

/* The memo key of the paging mode: the three masks are disjoint; bit 63
   tells a filled memo from an empty one. */
static uint64_t mode_of(const struct hv_fetch_regs *fr)
{
    return (fr->cr0 & FETCH_CR0) | (fr->cr4 & FETCH_CR4) | (fr->efer & FETCH_EFER) |
           ((uint64_t)fr->cpl << 32) | HV_BIT(63);
}

/* The memo still holds for this page under these registers. */
static bool memo_valid(const struct hv_fetch_cache *c, struct hv_vm *vm,
                       const struct hv_fetch_regs *fr, uint64_t la_page)
{
    if (c->la_page != la_page || c->mode != mode_of(fr) || c->cr3 != fr->cr3 ||
        c->slat_gen != hv_slat_gen(&vm->slat))
        return false;
    if (vm->cpuid_count) {
        uint8_t m;
        bool gb;
        hv_cpuid_guest_paging(vm, &m, &gb);
        if (m != c->maxphyaddr || gb != c->gbpages)
            return false;
    }
    for (unsigned i = 0; i < c->n; i++)
        if ((__atomic_load_n(c->pte[i], __ATOMIC_RELAXED) & c->mask[i]) != c->val[i])
            return false;
    return true;
}

/*
 * Walk for an execute access to la and memoize the result when every
 * entry and the code page are RAM the guest may read. Returns the host
 * pointer to the code page, NULL if the byte cannot be fetched.
 */
static const uint8_t *walk_page(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, uint64_t la)
{
    struct hv_vm *vm = vcpu->vm;
    struct hv_fetch_cache *c = &vcpu->fetch;
    struct hv_emu_env env = {.ops = &fetch_ops, .opaque = vm};
    struct hv_emu_regs regs;
    struct hv_walk_result w;
    struct hv_walk_trace t;

    /* The generation before the walk: a SLAT change during it leaves the
       memo stale, never wrong. */
    uint64_t gen = hv_slat_gen(&vm->slat);
    c->mode = 0;
    c->walks++;
    hv_cpuid_guest_paging(vm, &env.maxphyaddr, &env.gbpages);
    regs.cr0 = fr->cr0;
    regs.cr3 = fr->cr3;
    regs.cr4 = fr->cr4;
    regs.efer = fr->efer;
    regs.rflags = 0; /* AC: SMAP exemption of data accesses only */
    regs.cpl = fr->cpl;
    regs.pdpte_valid = false;
    regs.pkru = 0;
    regs.pkrs = 0;
    if (hv_walk_traced(&env, &regs, la, HV_WALK_EXEC, &w, &t) != HV_OK || w.outcome != HV_WALK_OK)
        return NULL;
    const uint8_t *code = hv_gpa_ptr(vm, w.gpa & ~(uint64_t)(HV_PAGE_SIZE - 1), HV_MEM_READ);
    if (!code)
        return NULL;
    for (unsigned i = 0; i < t.n; i++) {
        const uint8_t *p = hv_gpa_ptr(vm, t.gpa[i], HV_MEM_READ);
        if (!p)
            return code; /* fetchable, but not memoizable */
        /* Entries are aligned to their size, guest pages to 4 KiB: a
           4-byte entry is one half of an aligned 8-byte word. */
        unsigned shift = (unsigned)(t.gpa[i] & 4) * 8;
        c->pte[i] = (const uint64_t *)(p - (t.gpa[i] & 7));
        c->mask[i] = t.size[i] == 8 ? ~0ull : 0xffffffffull << shift;
        c->val[i] = t.size[i] == 8 ? t.val[i] : (t.val[i] & 0xffffffffull) << shift;
    }
    c->n = t.n;
    c->la_page = la >> 12;
    c->cr3 = fr->cr3;
    c->maxphyaddr = env.maxphyaddr;
    c->gbpages = env.gbpages;
    c->slat_gen = gen;
    c->code = code;
    c->mode = mode_of(fr);
    return code;
}

size_t hv_fetch_insn(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, uint8_t *buf, size_t max)
{
    bool long64 = (fr->efer & HV_EMU_EFER_LMA) && (fr->cs_attr & HV_SEG_L);
    size_t got = 0;

    while (got < max) {
        uint64_t off = fr->rip + got, la;
        size_t room = max - got;

        if (long64) {
            la = off;
            if (!canonical(la, fr->cr4))
                break;
        } else {
            /* The CS limit bounds every fetched byte (SDM Vol. 3A 5.3). */
            off &= 0xffffffffu;
            if (off > fr->cs_limit)
                break;
            room = HV_MIN(room, (size_t)(fr->cs_limit - off + 1));
            la = (fr->cs_base + off) & 0xffffffffu;
        }
        size_t in_page = la & (HV_PAGE_SIZE - 1);
        room = HV_MIN(room, HV_PAGE_SIZE - in_page);
        const uint8_t *code = memo_valid(&vcpu->fetch, vcpu->vm, fr, la >> 12)
                                  ? vcpu->fetch.code
                                  : walk_page(vcpu, fr, la);
        if (!code)
            break;
        if (room == 1)
            buf[got] = code[in_page];
        else
            hv_memcpy(buf + got, code + in_page, room);
        got += room;
    }
    return got;
}
