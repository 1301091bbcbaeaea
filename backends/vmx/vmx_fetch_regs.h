/*
 * The registers an instruction fetch and the PV layer's fast hypercall
 * hook read (core/assist.h struct hv_fetch_regs), from the current VMCS:
 * vmx_fetch_regs() with the VMCS made current first, and inline in the
 * exit fast path (vmx_fast.c), where it is current already and
 * interrupts are off, through that file's own VMREAD.
 */
#ifndef HV_VMX_FETCH_REGS_H
#define HV_VMX_FETCH_REGS_H

#include "vmx/vmx.h"
#include "vmx/vmx_decode.h"
#include "core/assist.h"

/* @p read: a VMREAD of the current VMCS (vmx_read, or the fast path's). */
static inline __attribute__((always_inline)) void
vmx_read_fetch_regs(const struct vmx_vcpu *vv, struct hv_fetch_regs *fr, uint64_t (*read)(uint32_t))
{
    fr->rip = read(VMCS_GUEST_RIP);
    fr->rflags = read(VMCS_GUEST_RFLAGS);
    fr->cr0 = vmx_visible_cr(read(VMCS_GUEST_CR0), vv->cr0, vv->cr0_mask);
    fr->cr3 = read(VMCS_GUEST_CR3);
    fr->cr4 = vmx_visible_cr(read(VMCS_GUEST_CR4), vv->cr4, vv->cr4_mask);
    fr->efer = read(VMCS_GUEST_EFER);
    fr->cs_base = read(VMCS_GUEST_ES_BASE + 2 * HV_SEG_CS);
    fr->cs_limit = (uint32_t)read(VMCS_GUEST_ES_LIMIT + 2 * HV_SEG_CS);
    fr->cs_attr = vmx_ar_to_attr((uint32_t)read(VMCS_GUEST_ES_AR + 2 * HV_SEG_CS));
    /* CPL is SS.DPL (SDM Vol. 3C 24.4.1); 0 in real mode. */
    fr->cpl = (fr->cr0 & X86_CR0_PE)
                  ? (uint8_t)VMX_AR_DPL((uint32_t)read(VMCS_GUEST_ES_AR + 2 * HV_SEG_SS))
                  : 0;
}

#endif /* HV_VMX_FETCH_REGS_H */
