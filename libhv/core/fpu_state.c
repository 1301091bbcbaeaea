/*
 * The embedder's access to a vCPU's x87/SSE image (hv/fpu.h). Between
 * runs vcpu->fpu is the guest's state (hv_vcpu_run loads and saves it,
 * core/fpu.h), so both calls work on it directly.
 */
#include <stddef.h>
#include <hv/fpu.h>
#include "core/fpu.h"
#include "core/objects.h"
#include "core/util.h"

/* The public struct is the FXSAVE64 image byte for byte. */
_Static_assert(sizeof(struct hv_fpu_state) == HV_FPU_AREA, "FXSAVE image size");
_Static_assert(offsetof(struct hv_fpu_state, fip) == 8, "FIP offset");
_Static_assert(offsetof(struct hv_fpu_state, mxcsr) == HV_FPU_MXCSR, "MXCSR offset");
_Static_assert(offsetof(struct hv_fpu_state, mxcsr_mask) == HV_FPU_MXCSR_MASK, "mask offset");
_Static_assert(offsetof(struct hv_fpu_state, st) == 32, "ST0 offset");
_Static_assert(offsetof(struct hv_fpu_state, xmm) == 160, "XMM0 offset");
_Static_assert(offsetof(struct hv_fpu_state, reserved) == HV_FPU_RESERVED, "reserved offset");

/* Read once per context, on the first call that needs it: every CPU of a
   host has the same mask, and the value is never 0. */
uint32_t hv_fpu_ctx_mxcsr_mask(struct hv_ctx *ctx)
{
    uint32_t mask = __atomic_load_n(&ctx->mxcsr_mask, __ATOMIC_RELAXED);
    if (!mask) {
        mask = hv_fpu_host_mxcsr_mask();
        __atomic_store_n(&ctx->mxcsr_mask, mask, __ATOMIC_RELAXED);
    }
    return mask;
}

hv_status_t hv_vcpu_get_fpu(struct hv_vcpu *vcpu, struct hv_fpu_state *fpu)
{
    if (!vcpu || !fpu)
        return HV_ERR_INVALID_ARG;
    if (hv_vcpu_fpu_busy(vcpu))
        return HV_ERR_BUSY;
    hv_memcpy(fpu, vcpu->fpu, HV_FPU_RESERVED);
    /* The image holds whatever the last FXSAVE stored (0 before the first
       run, and 0 from some CPUs): report the mask that governs set. */
    fpu->mxcsr_mask = hv_fpu_ctx_mxcsr_mask(vcpu->vm->ctx);
    hv_memset(fpu->reserved, 0, sizeof(fpu->reserved));
    return HV_OK;
}

hv_status_t hv_vcpu_set_fpu(struct hv_vcpu *vcpu, const struct hv_fpu_state *fpu)
{
    if (!vcpu || !fpu)
        return HV_ERR_INVALID_ARG;
    if (hv_vcpu_fpu_busy(vcpu))
        return HV_ERR_BUSY;
    /* FXRSTOR raises #GP for an MXCSR bit outside MXCSR_MASK (SDM Vol. 1
       11.6.6): in the host, at the next hv_vcpu_run(). */
    if (fpu->mxcsr & ~hv_fpu_ctx_mxcsr_mask(vcpu->vm->ctx))
        return HV_ERR_INVALID_ARG;
    /* Everything up to MXCSR_MASK and from ST0 to XMM15; the mask and the
       bytes from 416 on are ignored by FXRSTOR and not taken. */
    const size_t st = offsetof(struct hv_fpu_state, st);
    hv_memcpy(vcpu->fpu, fpu, HV_FPU_MXCSR_MASK);
    hv_memcpy(vcpu->fpu + st, fpu->st, HV_FPU_RESERVED - st);
    return HV_OK;
}
