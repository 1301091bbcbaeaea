/*
 * The embedder's access to a vCPU's XCR0 and XSAVE-managed state
 * (hv/xsave.h). Between runs the legacy region is vcpu->fpu (core/fpu.h)
 * and the components beyond SSE are in vcpu->xs_guest (core/xsave.h), in
 * the host's standard-format layout: both calls work on them directly.
 */
#include <stddef.h>
#include <hv/fpu.h>
#include <hv/xsave.h>
#include "core/fpu.h"
#include "core/objects.h"
#include "core/policy.h"
#include "core/util.h"
#include "core/xsave.h"

_Static_assert(HV_XSAVE_HEADER == HV_XS_HDR, "XSAVE header offset");

hv_status_t hv_vcpu_xsave_info(struct hv_vcpu *vcpu, uint64_t *allowed, size_t *size)
{
    if (!vcpu)
        return HV_ERR_INVALID_ARG;
    uint64_t a = hv_xcr0_allowed(vcpu);
    if (allowed)
        *allowed = a;
    if (size)
        *size = hv_xs_size(hv_cpuid_host_xs(vcpu->vm->ctx), a);
    return HV_OK;
}

static uint64_t guest_bv(const struct hv_vcpu *vcpu)
{
    uint64_t bv = 0;
    if (vcpu->xs_guest)
        hv_memcpy(&bv, vcpu->xs_guest + HV_XS_HDR, sizeof(bv));
    return bv;
}

hv_status_t hv_vcpu_get_xsave(struct hv_vcpu *vcpu, uint64_t *xcr0, void *image, size_t size,
                              size_t *used)
{
    if (!vcpu || !xcr0 || !image)
        return HV_ERR_INVALID_ARG;
    if (hv_vcpu_fpu_busy(vcpu))
        return HV_ERR_BUSY;
    const struct hv_xs_layout *l = hv_cpuid_host_xs(vcpu->vm->ctx);
    uint64_t x = vcpu->xcr0;
    uint32_t need = hv_xs_size(l, x);
    if (used)
        *used = need;
    if (size < need)
        return HV_ERR_RANGE;
    uint8_t *out = image;
    struct hv_fpu_state f;
    hv_status_t st = hv_vcpu_get_fpu(vcpu, &f);
    if (st != HV_OK)
        return st;
    hv_memset(out, 0, need);
    hv_memcpy(out, &f, sizeof(f));
    uint64_t bv = HV_XCR0_LEGACY, gbv = guest_bv(vcpu);
    for (unsigned i = 2; i < 8; i++) {
        uint64_t b = 1ull << i;
        /* xs_used holds every component of XCR0 beyond SSE (hv_xsetbv,
           hv_vcpu_set_xsave), so the guest's area has them. */
        if (!(x & b & vcpu->xs_used) || !(gbv & b))
            continue;
        hv_memcpy(out + l->off[i], vcpu->xs_guest + l->off[i], l->size[i]);
        bv |= b;
    }
    hv_memcpy(out + HV_XS_HDR, &bv, sizeof(bv));
    *xcr0 = x;
    return HV_OK;
}

hv_status_t hv_vcpu_set_xsave(struct hv_vcpu *vcpu, uint64_t xcr0, const void *image, size_t size)
{
    if (!vcpu || !image)
        return HV_ERR_INVALID_ARG;
    if (hv_vcpu_fpu_busy(vcpu))
        return HV_ERR_BUSY;
    /* x87 alone, the RESET value, is valid for every vCPU (one whose CPUID
       has no XSAVE keeps it). */
    if (!hv_xcr0_valid(xcr0, hv_xcr0_allowed(vcpu) | HV_XCR0_X87))
        return HV_ERR_INVALID_ARG;
    const struct hv_xs_layout *l = hv_cpuid_host_xs(vcpu->vm->ctx);
    if (size < hv_xs_size(l, xcr0))
        return HV_ERR_RANGE;
    const uint8_t *in = image;
    uint64_t bv;
    hv_memcpy(&bv, in + HV_XS_HDR, sizeof(bv));
    /* XRSTOR's #GP cases for the standard form (SDM Vol. 1 13.8, Vol. 2B
       XRSTOR): XSTATE_BV beyond what is restored, XCOMP_BV[63] set (the
       compacted form, not offered) or any other header byte set. x87 and
       SSE are always taken: the legacy region is live whatever XCR0 says,
       and hv_vcpu_get_xsave reports both, so its image of a vCPU at XCR0
       1 comes back. */
    if (bv & ~(xcr0 | HV_XCR0_LEGACY))
        return HV_ERR_INVALID_ARG;
    for (unsigned i = 8; i < HV_XS_HDR_SIZE; i++)
        if (in[HV_XS_HDR + i])
            return HV_ERR_INVALID_ARG;
    struct hv_fpu_state f;
    hv_memcpy(&f, in, sizeof(f));
    if (!(bv & HV_XCR0_X87)) { /* x87's initial state (SDM Vol. 1 13.6) */
        f.fcw = HV_FPU_FCW_INIT;
        f.fsw = 0;
        f.ftw = 0;
        f.fop = 0;
        f.fip = 0;
        f.fdp = 0;
        hv_memset(f.st, 0, sizeof(f.st));
    }
    if (!(bv & HV_XCR0_SSE))
        hv_memset(f.xmm, 0, sizeof(f.xmm));
    hv_status_t st = hv_vcpu_set_fpu(vcpu, &f); /* refuses a bad MXCSR, writes nothing then */
    if (st != HV_OK)
        return st;
    uint64_t gbv = guest_bv(vcpu);
    for (unsigned i = 2; i < 8; i++) {
        uint64_t b = 1ull << i;
        if (!vcpu->xs_guest || !((xcr0 | vcpu->xs_used) & b))
            continue;
        gbv &= ~b; /* initial state unless the image has it */
        if ((xcr0 & bv & b)) {
            hv_memcpy(vcpu->xs_guest + l->off[i], in + l->off[i], l->size[i]);
            gbv |= b;
        }
    }
    if (vcpu->xs_guest)
        hv_memcpy(vcpu->xs_guest + HV_XS_HDR, &gbv, sizeof(gbv));
    hv_xs_note(vcpu, xcr0 & HV_XCR0_EXT);
    hv_xcr0_store(vcpu, xcr0);
    return HV_OK;
}
