/*
 * Guest time through vcpu_time_info (the pvclock): the guest computes
 *   system_time + ((((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul) >> 32)
 * (xen.h, struct vcpu_time_info), where tsc is its own RDTSC (host TSC
 * plus the vCPU's TSC offset). Updates follow the version protocol:
 * version becomes odd, the fields change, version becomes even.
 */
#include "backend.h"
#include "core/cpu.h"
#include "xen/internal.h"

#define NS_PER_SEC      1000000000ull
#define RESYNC_MS       1000ull      /* refresh tsc_timestamp/system_time every second */
#define CALIBRATE_NS    1000000ull   /* measure the TSC over 1 ms of host time */
#define CALIBRATE_SPINS 100000000ull /* give up if the host clock does not move */

/*
 * Scale ns = (delta << shift) * mul >> 32 for a TSC of @p hz: shift the
 * frequency into (1e9/2, 1e9] so that mul = 2^32 * 1e9 / f' fits 32 bits.
 */
static void scale_for(uint64_t hz, uint32_t *mul, int8_t *shift)
{
    int s = 0;
    uint64_t f = hz;
    while (f > 2 * NS_PER_SEC) {
        f >>= 1;
        s--;
    }
    while (f <= NS_PER_SEC) {
        f <<= 1;
        s++;
    }
    /* f is in (1e9, 2e9]: (1e9 << 32) / f is below 2^32. */
    *mul = (uint32_t)((NS_PER_SEC << 32) / f);
    *shift = (int8_t)s;
}

void xen_time_init(struct hv_xen_vm *x, uint32_t tsc_khz)
{
    const struct hv_host *h = xen_host(x);
    x->has_clock = h->ops.time_ns != NULL;
    if (!x->has_clock)
        return;
    if (!tsc_khz) {
        uint64_t t0 = hv_rdtsc(), n0 = hv_host_time_ns(h), n1 = n0;
        for (uint64_t i = 0; i < CALIBRATE_SPINS && n1 - n0 < CALIBRATE_NS; i++)
            n1 = hv_host_time_ns(h);
        uint64_t dt = hv_rdtsc() - t0, dn = n1 - n0;
        if (dn)
            tsc_khz = (uint32_t)HV_MIN(dt * 1000000ull / dn / 1000ull, UINT32_MAX);
    }
    x->tsc_khz = tsc_khz;
    if (tsc_khz)
        scale_for((uint64_t)tsc_khz * 1000ull, &x->tsc_mul, &x->tsc_shift);
    x->resync_tsc = (uint64_t)tsc_khz * RESYNC_MS;
    x->time_base_ns = hv_host_time_ns(h);
}

static void put64(uint8_t *p, uint64_t v)
{
    uint32_t *w = (uint32_t *)p;
    w[0] = (uint32_t)v;
    w[1] = (uint32_t)(v >> 32);
}

void xen_time_update(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, struct hv_vcpu *vcpu, bool force)
{
    if (!x->has_clock || !x->tsc_khz)
        return;
    const struct hv_host *h = xen_host(x);
    /* Staleness is judged on the TSC, which the guest extrapolates with:
       one RDTSC instead of a host clock read on every entry. */
    if (!force && xen_time_fresh(x, xv))
        return;
    uint8_t *vi = xen_vcpu_info(x, xv);
    if (!vi)
        return;
    struct hv_vcpu_state st;
    vcpu->vm->ctx->be->get_state(vcpu, HV_STATE_TSC, &st);

    /* A 32-bit guest may place its vcpu_info at any 4-byte boundary, so the
       structure is written in 32-bit pieces (version first and last). */
    uint8_t *ti = vi + offsetof(struct xen_vcpu_info_64, time);
    uint32_t *ver = (uint32_t *)(ti + offsetof(struct xen_vcpu_time_info, version));
    /* Odd while the fields change (the guest retries its read). */
    uint32_t odd = __atomic_load_n(ver, __ATOMIC_RELAXED) | 1;
    __atomic_store_n(ver, odd, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint64_t tsc = hv_rdtsc();
    uint64_t now = hv_host_time_ns(h);
    put64(ti + offsetof(struct xen_vcpu_time_info, tsc_timestamp), tsc + st.tsc_offset);
    put64(ti + offsetof(struct xen_vcpu_time_info, system_time), now - x->time_base_ns);
    *(uint32_t *)(ti + offsetof(struct xen_vcpu_time_info, tsc_to_system_mul)) = x->tsc_mul;
    ti[offsetof(struct xen_vcpu_time_info, tsc_shift)] = (uint8_t)x->tsc_shift;
    ti[offsetof(struct xen_vcpu_time_info, flags)] = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* Even again, and different from the value before the update. */
    __atomic_store_n(ver, odd + 1, __ATOMIC_RELAXED);
    xv->time_valid = true;
    xv->time_stamp_tsc = tsc;
}
