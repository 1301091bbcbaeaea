/*
 * hv_vcpu_load / hv_vcpu_put (hv/vcpu.h): a vCPU bound to one host CPU
 * across runs. The backend captures its per-CPU and host state once
 * (hv_backend_ops::load); with HV_LOAD_GUEST_FPU the x87/SSE switch that
 * hv_vcpu_run makes at both ends (core/fpu.h), and the extended state's
 * (core/xsave.h), are made here and at the put instead.
 */
#include "backend.h"
#include "core/fpu.h"
#include "core/objects.h"
#include "core/xsave.h"

hv_status_t hv_vcpu_load(struct hv_vcpu *vcpu, uint32_t flags)
{
    if (!vcpu || (flags & ~HV_LOAD_GUEST_FPU))
        return HV_ERR_INVALID_ARG;
    if (__atomic_exchange_n(&vcpu->running, 1, __ATOMIC_ACQUIRE))
        return HV_ERR_BUSY;
    hv_status_t st = HV_OK;
    const struct hv_host *host = &vcpu->vm->ctx->host;
    if (vcpu->loaded) {
        st = HV_ERR_BUSY;
        goto out;
    }
    if ((flags & HV_LOAD_GUEST_FPU) && !vcpu->host_fpu &&
        !(vcpu->host_fpu = hv_host_obj_alloc(host, HV_FPU_AREA))) {
        st = HV_ERR_NO_MEMORY;
        goto out;
    }
    uint32_t cpu = hv_host_cpu_current(host);
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (be->load && (st = be->load(vcpu, cpu)) != HV_OK)
        goto out;
    vcpu->loaded_cpu = cpu;
    vcpu->loaded = true;
    if (flags & HV_LOAD_GUEST_FPU) {
        /* As hv_vcpu_run's switch in, then no run switches (xs_on). */
        hv_fpu_enter_guest(vcpu->host_fpu, vcpu);
        if (vcpu->xs_used)
            hv_xs_enter(vcpu);
        vcpu->fpu_kept = true;
        vcpu->xs_on = false;
    }
out:
    __atomic_store_n(&vcpu->running, 0, __ATOMIC_RELEASE);
    return st;
}

hv_status_t hv_vcpu_put(struct hv_vcpu *vcpu)
{
    if (!vcpu)
        return HV_ERR_INVALID_ARG;
    if (__atomic_exchange_n(&vcpu->running, 1, __ATOMIC_ACQUIRE))
        return HV_ERR_BUSY;
    hv_status_t st = HV_OK;
    if (!vcpu->loaded) {
        st = HV_ERR_STATE;
        goto out;
    }
    /* On another CPU, that CPU's registers are not the guest's: the vCPU
       keeps the images of the load (and the backend's put, which restores
       per-CPU state, is not made). */
    bool here = hv_host_cpu_current(&vcpu->vm->ctx->host) == vcpu->loaded_cpu;
    vcpu->loaded = false;
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (here && be->put)
        be->put(vcpu);
    if (vcpu->fpu_kept) {
        vcpu->fpu_kept = false;
        if (here) {
            if (vcpu->xs_used)
                hv_xs_leave(vcpu);
            hv_fpu_leave_guest(vcpu, vcpu->host_fpu);
        }
        hv_xs_note(vcpu, 0);
    }
    if (!here)
        st = HV_ERR_STATE;
out:
    __atomic_store_n(&vcpu->running, 0, __ATOMIC_RELEASE);
    return st;
}
