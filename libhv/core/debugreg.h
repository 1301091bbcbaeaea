/*
 * The guest's DR0-DR3 (SDM Vol. 3B 18.2, APM Vol. 2 13.1.1.1). Neither the
 * VMCS nor the VMCB holds them (DR7, and on SVM DR6, are guest state the
 * CPU switches), so unswitched they would let a guest read and set the
 * breakpoint addresses of the host and of every other guest that ran on
 * the CPU. A guest that never touches them costs nothing but a test per
 * run: the backends intercept its MOV to and from them. The first one
 * loads the vCPU's values (the host's kept aside), drops the intercept
 * for good and lets the instruction run again on the CPU; from then on
 * (dr_used, also set by hv_vcpu_set_state(HV_STATE_DEBUG)) every
 * hv_vcpu_run() loads them before its first entry, because the guest's
 * DR7 may arm breakpoints at any time without another access. Before
 * hv_vcpu_run() returns, the guest's values are saved and the host's put
 * back (the thread stays on one CPU for the call, docs/porting.md).
 */
#ifndef HV_CORE_DEBUGREG_H
#define HV_CORE_DEBUGREG_H

#include "core/cpu.h"
#include "core/objects.h"

/* The vCPU's DR0-DR3 into the CPU, the host's kept aside: at the first
   intercepted access (the backend then drops its intercept and
   re-executes the instruction), and at the start of every later run. */
static inline void hv_debug_regs_load(struct hv_vcpu *vcpu)
{
    if (vcpu->dr_loaded)
        return;
#if !HV_HOSTED
    hv_read_dr0_3(vcpu->host_dr);
    hv_write_dr0_3(vcpu->dr);
#endif
    vcpu->dr_loaded = true;
    vcpu->dr_used = true;
}

/* The end of hv_vcpu_run() with them loaded: the guest's values saved,
   the host's back. */
static inline void hv_debug_regs_put(struct hv_vcpu *vcpu)
{
#if !HV_HOSTED
    hv_read_dr0_3(vcpu->dr);
    hv_write_dr0_3(vcpu->host_dr);
#endif
    vcpu->dr_loaded = false;
}

#endif /* HV_CORE_DEBUGREG_H */
