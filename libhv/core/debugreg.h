/*
 * The guest's DR0-DR3 (SDM Vol. 3B 18.2, APM Vol. 2 13.1.1.1). Neither the
 * VMCS nor the VMCB holds them (DR7, and on SVM DR6, are guest state the
 * CPU switches), so unswitched they would let a guest read and set the
 * breakpoint addresses of the host and of every other guest that ran on
 * the CPU. They are switched lazily: the backends intercept the guest's
 * MOV to and from them until its first one in a hv_vcpu_run() call, which
 * loads the vCPU's values (the host's kept aside), drops the intercept
 * and lets the instruction run again on the CPU; hv_vcpu_run() saves the
 * guest's values and puts the host's back, with the intercept, before it
 * returns (the thread stays on one CPU for the call, docs/porting.md). A
 * guest that never touches them costs one test per run.
 */
#ifndef HV_CORE_DEBUGREG_H
#define HV_CORE_DEBUGREG_H

#include "core/cpu.h"
#include "core/objects.h"

/* The intercepted access: the vCPU's DR0-DR3 into the CPU. The backend
   then drops its intercept and re-executes the instruction. */
static inline void hv_debug_regs_load(struct hv_vcpu *vcpu)
{
    if (vcpu->dr_loaded)
        return;
#if !HV_HOSTED
    hv_read_dr0_3(vcpu->host_dr);
    hv_write_dr0_3(vcpu->dr);
#endif
    vcpu->dr_loaded = true;
}

/* The end of hv_vcpu_run() with them loaded: the guest's values saved, the
   host's back, the backend's intercept on again. */
static inline void hv_debug_regs_put(struct hv_vcpu *vcpu)
{
#if !HV_HOSTED
    hv_read_dr0_3(vcpu->dr);
    hv_write_dr0_3(vcpu->host_dr);
#endif
    vcpu->dr_loaded = false;
    vcpu->vm->ctx->be->debug_intercept(vcpu, true);
}

#endif /* HV_CORE_DEBUGREG_H */
