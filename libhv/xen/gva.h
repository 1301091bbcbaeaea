/*
 * The data memo's side of the guest-virtual copies (gva.c), inline for
 * the hypercall fast path: a hot call's one small argument (a port) is
 * read from the page the vCPU's data memo holds for, without the general
 * copy's page splitting or the call's set-up, and anything else takes
 * gva.c's copy.
 */
#ifndef HV_XEN_GVA_H
#define HV_XEN_GVA_H

#include "core/walk_memo.h"
#include "xen/internal.h"

/*
 * Host address of linear @p la if the vCPU's data memo (the last walk,
 * core/walk_memo.h) holds for its page and this access (HV_WALK_READ or
 * HV_WALK_WRITE), else NULL. Exactly what a walk and then a checked
 * access would reach: the memo is used only while every entry of its walk
 * is unchanged, and it keeps the page's host pointer only if the page was
 * RAM with the access's SLAT permission, under a SLAT generation it
 * checks. With paging off there is no memo (addresses are physical).
 * @p vcpu and its registers @p f: the caller's (struct xen_call vcpu, fr).
 */
static inline __attribute__((always_inline)) uint8_t *
xen_memo_ptr(struct hv_vcpu *vcpu, const struct hv_fetch_regs *f, uint64_t la, unsigned access)
{
    if (!(f->cr0 & HV_EMU_CR0_PG))
        return NULL;
    uint8_t *page = hv_data_memo(vcpu, f->cr0, f->cr3, f->cr4, f->efer, f->cpl,
                                 (f->rflags & HV_EMU_RFLAGS_AC) != 0, access, la >> 12);
    return page ? page + (la & (HV_PAGE_SIZE - 1)) : NULL;
}

/*
 * The 32-bit value at @p gva into *@p val, through the memo's page with
 * one load, when it lies within one page the memo holds for (true); else
 * nothing read (false): xen_copy_from_guest() then gives the answer, a
 * walk's. A hot call's one small argument (a port), read before the
 * call's set-up, which only the walk needs.
 */
static inline __attribute__((always_inline)) bool
xen_memo_get_u32(struct hv_vcpu *vcpu, const struct hv_fetch_regs *f, uint64_t gva, uint32_t *val)
{
    typedef uint32_t __attribute__((may_alias, aligned(1))) u32_t;
    if ((gva & (HV_PAGE_SIZE - 1)) > HV_PAGE_SIZE - sizeof(uint32_t))
        return false;
    const uint8_t *p = xen_memo_ptr(vcpu, f, gva, HV_WALK_READ);
    if (!p)
        return false;
    *val = *(const volatile u32_t *)p; /* guest memory: one read */
    return true;
}

#endif /* HV_XEN_GVA_H */
