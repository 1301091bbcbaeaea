/*
 * The vCPU's memoized page walks (core/insn_fetch.c explains when a memo
 * holds), as inline checks: the exit fast paths of the backends test the
 * code memo on every CPUID or VMMCALL exit of an SVM guest without NRIP
 * save, where a call into the general fetch path would cost more than the
 * rest of the round trip.
 */
#ifndef HV_CORE_WALK_MEMO_H
#define HV_CORE_WALK_MEMO_H

#include "core/objects.h"
#include "emu/emu.h"
#include "emu/walk.h"
#include "slat/slat.h"

/* The register bits a walk depends on; the three masks are disjoint. */
#define HV_MEMO_KEY_CR0 (HV_EMU_CR0_PG | HV_EMU_CR0_WP | HV_EMU_CR0_PE)
#define HV_MEMO_KEY_CR4                                                                            \
    (HV_EMU_CR4_PSE | HV_EMU_CR4_PAE | HV_EMU_CR4_LA57 | HV_EMU_CR4_SMEP | HV_EMU_CR4_SMAP |       \
     HV_EMU_CR4_PKE | HV_EMU_CR4_PKS)
#define HV_MEMO_KEY_EFER (HV_EMU_EFER_LMA | HV_EMU_EFER_NXE)

/* The memo key: mode bits, CPL, access kind (HV_WALK_*), RFLAGS.AC; bit 63
   tells a filled memo from an empty one. */
static inline uint64_t hv_memo_key(uint64_t cr0, uint64_t cr4, uint64_t efer, unsigned cpl,
                                   unsigned access, bool ac)
{
    return (cr0 & HV_MEMO_KEY_CR0) | (cr4 & HV_MEMO_KEY_CR4) | (efer & HV_MEMO_KEY_EFER) |
           ((uint64_t)cpl << 32) | ((uint64_t)access << 40) | ((uint64_t)ac << 44) | HV_BIT(63);
}

/* The memo still holds for this page, key and CR3: same SLAT generation
   and every paging-structure entry of the walk unchanged. */
static inline __attribute__((always_inline)) bool hv_memo_valid(const struct hv_walk_memo *m,
                                                                const struct hv_vm *vm,
                                                                uint64_t key, uint64_t cr3,
                                                                uint64_t la_page)
{
    if (m->la_page != la_page || m->key != key || m->cr3 != cr3 ||
        m->slat_gen != hv_slat_gen(&vm->slat))
        return false;
    /* At most five entries (LA57): unrolled, the common four-level walk
       costs four loads and compares. */
    switch (m->n) {
    case 5:
        if (__atomic_load_n(m->pte[4], __ATOMIC_RELAXED) != m->val[4])
            return false;
        /* fall through */
    case 4:
        if (__atomic_load_n(m->pte[3], __ATOMIC_RELAXED) != m->val[3])
            return false;
        /* fall through */
    case 3:
        if (__atomic_load_n(m->pte[2], __ATOMIC_RELAXED) != m->val[2])
            return false;
        /* fall through */
    case 2:
        if (__atomic_load_n(m->pte[1], __ATOMIC_RELAXED) != m->val[1])
            return false;
        /* fall through */
    case 1:
        if (__atomic_load_n(m->pte[0], __ATOMIC_RELAXED) != m->val[0])
            return false;
        /* fall through */
    case 0:
        return true;
    default:
        return false; /* a trace has at most five entries */
    }
}

/*
 * Host pointer to the guest's code page at la_page if the code memo holds
 * for it (execute access at cpl with these paging registers), else NULL:
 * the caller then takes the full path (hv_fetch_insn), which walks.
 */
static inline __attribute__((always_inline)) const uint8_t *
hv_code_memo(struct hv_vcpu *vcpu, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer,
             unsigned cpl, uint64_t la_page)
{
    uint64_t key = hv_memo_key(cr0, cr4, efer, cpl, HV_WALK_EXEC, false);
    /* The guest's paging view (CPUID overrides) is covered by the SLAT
       generation: hv_vm_set_cpuid advances it. */
    if (!hv_memo_valid(&vcpu->fetch, vcpu->vm, key, cr3, la_page))
        return 0;
    /* A filled code memo has its page (insn_fetch.c walk_code_page sets
       it before the key): the callers' NULL test folds into the checks. */
    const uint8_t *page = vcpu->fetch.host;
    if (!page)
        __builtin_unreachable();
    return page;
}

/*
 * Host pointer to the guest's data page at la_page if the data memo holds
 * for it (a read or write, HV_WALK_*, at cpl with these paging registers
 * and RFLAGS.AC, no protection keys, no PDPTE registers), else NULL: the
 * caller then takes hv_walk_memoized(), which walks. The page was
 * readable (writable for a write) RAM when the memo was filled, and the
 * SLAT generation the memo checks covers that mapping and the VM's
 * paging view.
 */
static inline __attribute__((always_inline)) uint8_t *
hv_data_memo(struct hv_vcpu *vcpu, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer,
             unsigned cpl, bool ac, unsigned access, uint64_t la_page)
{
    const struct hv_walk_memo *m = &vcpu->data;
    uint64_t key = hv_memo_key(cr0, cr4, efer, cpl, access, ac);
    /* A filled memo's key has CR0.PG set (hv_walk_memoized never fills
       one without paging), so an unpaged caller never matches. */
    if (!hv_memo_valid(m, vcpu->vm, key, cr3, la_page))
        return 0;
    return m->host;
}

#endif /* HV_CORE_WALK_MEMO_H */
