/*
 * Guest time through vcpu_time_info (the pvclock): the guest computes
 *   system_time + ((((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul) >> 32)
 * (xen.h, struct vcpu_time_info), where tsc is its own RDTSC (host TSC
 * plus the vCPU's TSC offset). Updates follow the version protocol:
 * version becomes odd, the fields change, version becomes even. The same
 * update goes to the vCPU's vcpu_info and to the area it registered with
 * VCPUOP_register_vcpu_time_memory_area (vcpu.h), through its own paging.
 *
 * Without HV_XEN_F_TSC_STABLE each update pairs the TSC with the host
 * clock, so extrapolations from successive updates (or two vCPUs) may
 * disagree by the TSC's drift against that clock: no
 * XEN_PVCLOCK_TSC_STABLE_BIT. With it (the embedder vouches that the TSC
 * is invariant and synchronised across host CPUs) guest system time is
 * the TSC itself, scaled from the TSC at hv_xen_enable(): every update of
 * every vCPU publishes the same line (tsc_timestamp = that TSC plus the
 * vCPU's offset, system_time = 0), so all readings are one monotonic
 * function of the TSC, and the bit is set for each vCPU whose TSC offset
 * is the one the domain's first update saw (the guest may move a vCPU's
 * TSC by writing it).
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
    x->tsc_stable = tsc_khz && (x->flags & HV_XEN_F_TSC_STABLE);
    x->time_base_ns = hv_host_time_ns(h);
    x->tsc_base = hv_rdtsc();
}

uint64_t xen_tsc_to_ns(const struct hv_xen_vm *x, uint64_t delta)
{
    if (!x->tsc_khz)
        return 0;
    delta = x->tsc_shift >= 0 ? delta << x->tsc_shift : delta >> -x->tsc_shift;
    /* (delta * mul) >> 32 in two 32x32 halves: exact, no 128-bit type. */
    return (delta >> 32) * x->tsc_mul + (((delta & 0xffffffffull) * x->tsc_mul) >> 32);
}

/* The primary copy (vcpu_info, 4-byte aligned at least): 32-bit stores,
   as a 32-bit guest reads it. */
static void put_words(void *opaque, size_t off, const uint8_t *src, size_t len)
{
    uint8_t *ti = opaque;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t w;
        hv_memcpy(&w, src + i, 4);
        __atomic_store_n((uint32_t *)(ti + off + i), w, __ATOMIC_RELAXED);
    }
}

/*
 * Write vcpu_time_info @p img with @p put under the version protocol:
 * version @p odd first, the fields, version @p odd + 1 last, a full
 * barrier between the steps. Through byte stores (the registered area)
 * the version's low byte goes first, so it reads odd from the first store
 * on; the last store of the final version follows the complete fields
 * (x86 stores are seen in order), so no torn value pairs with torn data.
 */
static void time_store(xen_put_fn put, void *opaque, const uint8_t img[32], uint32_t odd)
{
    uint8_t v[4];
    for (unsigned i = 0; i < 4; i++)
        v[i] = (uint8_t)(odd >> (8 * i));
    put(opaque, offsetof(struct xen_vcpu_time_info, version), v, 4);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    size_t from = offsetof(struct xen_vcpu_time_info, pad0); /* the rest, padding included */
    put(opaque, from, img + from, sizeof(struct xen_vcpu_time_info) - from);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    odd++;
    for (unsigned i = 0; i < 4; i++)
        v[i] = (uint8_t)(odd >> (8 * i));
    put(opaque, offsetof(struct xen_vcpu_time_info, version), v, 4);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void xen_time_update(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, struct hv_vcpu *vcpu,
                     uint64_t now, uint64_t tsc, bool force)
{
    if (!x->has_clock || !x->tsc_khz)
        return;
    /* Staleness is judged on the TSC, which the guest extrapolates with:
       one RDTSC instead of a host clock read on every entry. */
    if (!force && xen_time_fresh(x, xv))
        return;
    uint8_t *vi = xen_vcpu_info(x, xv);
    if (!vi)
        return;
    struct hv_vcpu_state st;
    vcpu->vm->ctx->be->get_state(vcpu, HV_STATE_TSC, &st);
    if (!x->tsc_ref_valid) {
        x->tsc_ref_valid = true;
        x->tsc_ref_offset = st.tsc_offset;
    }

    /* Guest time @p now paired with the TSC @p tsc read right after it,
       both before the lock: the guest's time lags the layer's (xen_now)
       by those two reads' distance, never leads it. (Pairing @p now with
       a TSC read here, under the lock, made it lag by everything between,
       which under an emulator's translation of new code reached tens of
       microseconds: a guest's runstate times then ran ahead of its own
       clock.) */
    uint8_t img[sizeof(struct xen_vcpu_time_info)];
    hv_memset(img, 0, sizeof(img));
    if (x->tsc_stable) {
        put_le(img + offsetof(struct xen_vcpu_time_info, tsc_timestamp),
               x->tsc_base + st.tsc_offset, 8);
        if (st.tsc_offset == x->tsc_ref_offset)
            img[offsetof(struct xen_vcpu_time_info, flags)] = XEN_PVCLOCK_TSC_STABLE_BIT;
    } else {
        put_le(img + offsetof(struct xen_vcpu_time_info, tsc_timestamp), tsc + st.tsc_offset, 8);
        put_le(img + offsetof(struct xen_vcpu_time_info, system_time), now, 8);
    }
    put_le(img + offsetof(struct xen_vcpu_time_info, tsc_to_system_mul), x->tsc_mul, 4);
    img[offsetof(struct xen_vcpu_time_info, tsc_shift)] = (uint8_t)x->tsc_shift;

    /* A 32-bit guest may place its vcpu_info at any 4-byte boundary, so the
       structure is written in 32-bit pieces. Odd while the fields change
       (the guest retries its read); even again after, and different. */
    uint8_t *ti = vi + offsetof(struct xen_vcpu_info_64, time);
    uint32_t odd = __atomic_load_n((uint32_t *)(ti + offsetof(struct xen_vcpu_time_info, version)),
                                   __ATOMIC_RELAXED) |
                   1;
    time_store(put_words, ti, img, odd);
    /* The secondary copy, same values and versions, through the vCPU's own
       paging; an area that does not translate is skipped this time (every
       byte is translated before one is written) and rewritten whole at the
       next update. */
    if (xv->ti_area) {
        struct xen_call c;
        struct xen_span s;
        xen_call_from_vcpu(&c, vcpu);
        if (xen_gva_span(&c, xv->ti_area, sizeof(img), &s))
            time_store(xen_span_put, &s, img, odd);
    }
    xv->time_valid = true;
    xv->time_stamp_tsc = tsc;
}

long xen_vcpu_register_time_area(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    uint64_t gva;
    long rc = xen_area_arg(c, xv, &gva);
    if (rc)
        return rc;
    /* Xen does not check an HVM guest's handle: an address that does not
       translate is accepted and its updates skipped. */
    uint64_t t = xen_lock(x);
    xv->ti_area = gva; /* 0: no more updates */
    /* Written by the vCPU's own thread before it next enters the guest
       (the caller's own area: before the hypercall returns to it, as Xen's
       force_update_vcpu_system_time does). */
    xv->time_valid = false;
    xen_unsettle(xv);
    xen_unlock(x, t);
    return 0;
}
