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

#endif /* HV_VMX_VMX_HOST_H */
