/*
 * The VMCS host-state area (SDM Vol. 3C 24.5) kept in step with the host.
 * Every full-path entry reads the host's values again (the host changes
 * CR3 per address space, FS/GS base per thread, and a vCPU may move to
 * another CPU) but VMWRITEs only the fields whose value differs from what
 * this VMCS holds (vmx_vcpu::host): a compare with its branch is two
 * instructions, a VMWRITE with its error check four. The copy is only
 * good while this VMCS keeps the values libhv wrote: it is invalid for a
 * new VMCS (vmx_vcpu_init), after VMCLEAR (vmcs_clear_here: the next
 * entry may be on another CPU) and after a failed VMWRITE; then every
 * field is written (@p all).
 *
 * VMX_HOST_WRITE lets the unit test (tests/unit/test_vmx_host.c) run these
 * on a fake VMCS.
 */
#ifndef HV_VMX_VMX_HOST_H
#define HV_VMX_VMX_HOST_H

#include "vmx/vmx.h"

#ifndef VMX_HOST_WRITE
#define VMX_HOST_WRITE(field, value) vmx_write(field, value)
#endif

/* Host field @p field takes @p v unless *held says it has it already. A
   failed VMWRITE clears *valid, so that the next entry writes all. */
static inline __attribute__((always_inline)) void vmx_host_field(uint64_t *held, uint32_t field,
                                                                 uint64_t v, bool all, bool *valid)
{
    if (all || __builtin_expect(v != *held, 0)) {
        *held = v;
        if (VMX_HOST_WRITE(field, v) != 0)
            *valid = false;
    }
}

/* The same for a selector field: the VMCS gets it with RPL and TI clear
   (SDM 26.2.3); the copy keeps it as read, which spares the masking on
   the common path. */
static inline __attribute__((always_inline)) void vmx_host_sel(uint16_t *held, uint32_t field,
                                                               uint16_t v, bool all, bool *valid)
{
    if (all || __builtin_expect(v != *held, 0)) {
        *held = v;
        if (VMX_HOST_WRITE(field, v & ~7u) != 0)
            *valid = false;
    }
}

/* The same for a field that takes an MSR's value: the halves RDMSR
   returns are compared as they are, which spares joining them unless the
   field is written. */
static inline __attribute__((always_inline)) void
vmx_host_msr(uint32_t held[2], uint32_t field, uint32_t lo, uint32_t hi, bool all, bool *valid)
{
    if (all || __builtin_expect(lo != held[0], 0) || __builtin_expect(hi != held[1], 0)) {
        held[0] = lo;
        held[1] = hi;
        if (VMX_HOST_WRITE(field, ((uint64_t)hi << 32) | lo) != 0)
            *valid = false;
    }
}

/* The base bits of a 64-bit TSS descriptor's first quadword: bytes 2-4
   and 7 (SDM Vol. 3A 7.2.3); the busy bit (byte 5) is not among them. */
#define VMX_TSS_DESC_BASE_LO 0xff0000ffffff0000ull

/* The base a TSS descriptor gives: first quadword's base bits @p lo, its
   third dword @p hi (bits 63:32). */
static inline uint64_t vmx_tss_base(uint64_t lo, uint32_t hi)
{
    return ((lo >> 16) & 0xffffffull) | ((lo >> 32) & 0xff000000ull) | ((uint64_t)hi << 32);
}

/* HOST_TR_BASE from the descriptor TR selects: its base bits are
   compared as they are, the base is put together only when written. */
static inline __attribute__((always_inline)) void
vmx_host_tss(struct vmx_host_fields *held, uint64_t lo, uint32_t hi, bool all, bool *valid)
{
    lo &= VMX_TSS_DESC_BASE_LO;
    if (all || __builtin_expect(lo != held->tss_desc_lo, 0) ||
        __builtin_expect(hi != held->tss_desc_hi, 0)) {
        held->tss_desc_lo = lo;
        held->tss_desc_hi = hi;
        if (VMX_HOST_WRITE(VMCS_HOST_TR_BASE, vmx_tss_base(lo, hi)) != 0)
            *valid = false;
    }
}

#endif /* HV_VMX_VMX_HOST_H */
