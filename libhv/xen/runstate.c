/*
 * Runstate accounting (vcpu.h: vcpu_runstate_info, VCPUOP_register_
 * runstate_memory_area, VCPUOP_get_runstate_info) and vm_assist's
 * runstate_update_flag (xen.h).
 *
 * libhv does not see the embedder's scheduler, so the states follow what
 * the layer itself sees (include/hv/xen.h has the model): running from the
 * start of hv_vcpu_run on, exits the embedder handles included; blocked
 * from SCHEDOP_block/poll or an idle HLT until an event wakes it
 * (xen_wake), or else to the next run; runnable from that wake, after
 * SCHEDOP_yield or bringing the vCPU up, to the next run; offline while
 * down. Times are guest system time (xen_now()); the wake is stamped with
 * the TSC and placed in guest time at the vCPU's next transition or query.
 *
 * The area is a guest-virtual address. It is written by the vCPU's own
 * thread through its own paging at each of its transitions, and at
 * registration through the caller's paging (as Xen does). An update whose
 * address does not translate to writable RAM is skipped; the next one
 * writes the whole structure again.
 */
#include "xen/internal.h"

#define RS_SIZE_64 sizeof(struct xen_vcpu_runstate_info_64)
#define RS_SIZE_32 sizeof(struct xen_vcpu_runstate_info_32)

static void enter(struct hv_xen_vcpu *xv, uint8_t state, uint64_t now)
{
    if (now > xv->rs_entry) {
        xv->rs_time[xv->rs_state] += now - xv->rs_entry;
        xv->rs_entry = now;
    }
    __atomic_store_n(&xv->rs_state, state, __ATOMIC_RELAXED);
}

void xen_runstate_settle(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint64_t now)
{
    if (!xv->rs_woken)
        return;
    xv->rs_woken = false;
    if (xv->rs_state != XEN_RUNSTATE_blocked)
        return;
    /* xen_wake ran under the lock with interrupts off, so it took only the
       TSC. With a stable TSC guest time is the TSC: exact. Else it is now
       less the TSC time since; @p now was read before the lock, the TSC
       here after, so the wake may come out a little early. Either way it
       lies between the blocked state's start and @p now (a wake after the
       clock read counts from then): the times stay monotonic and their
       sum unchanged. */
    uint64_t at;
    if (x->tsc_stable) {
        at = xen_tsc_to_ns(x, xv->rs_wake_tsc - x->tsc_base);
    } else {
        uint64_t ago = xen_tsc_to_ns(x, hv_rdtsc() - xv->rs_wake_tsc);
        at = now > ago ? now - ago : 0;
    }
    enter(xv, XEN_RUNSTATE_runnable, HV_MAX(HV_MIN(at, now), xv->rs_entry));
}

void xen_runstate_set(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint8_t state, uint64_t now)
{
    xen_runstate_settle(x, xv, now);
    enter(xv, xv->down ? XEN_RUNSTATE_offline : state, now);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

size_t xen_runstate_encode(const struct hv_xen_vcpu *xv, bool compat, uint64_t now,
                           uint8_t buf[sizeof(struct xen_vcpu_runstate_info_64)])
{
    uint64_t time[4];
    for (unsigned i = 0; i < 4; i++)
        time[i] = xv->rs_time[i];
    if (now > xv->rs_entry)
        time[xv->rs_state] += now - xv->rs_entry;
    size_t entry = compat ? offsetof(struct xen_vcpu_runstate_info_32, state_entry_time)
                          : offsetof(struct xen_vcpu_runstate_info_64, state_entry_time);
    size_t t0 = compat ? offsetof(struct xen_vcpu_runstate_info_32, time)
                       : offsetof(struct xen_vcpu_runstate_info_64, time);
    size_t len = compat ? RS_SIZE_32 : RS_SIZE_64;
    hv_memset(buf, 0, len); /* the native layout's padding after state */
    put_le(buf, xv->rs_state, 4);
    put_le(buf + entry, xv->rs_entry, 8);
    for (unsigned i = 0; i < 4; i++)
        put_le(buf + t0 + 8 * i, time[i], 8);
    return len;
}

void xen_runstate_store(const uint8_t *img, size_t len, bool flag, xen_put_fn put, void *opaque)
{
    if (!flag) {
        put(opaque, 0, img, len);
        return;
    }
    /* The top byte of state_entry_time holds XEN_RUNSTATE_UPDATE (bit 63):
       the guest retries its read while the bit is set or the time moved. */
    size_t hi = (len == RS_SIZE_32 ? offsetof(struct xen_vcpu_runstate_info_32, state_entry_time)
                                   : offsetof(struct xen_vcpu_runstate_info_64, state_entry_time)) +
                7;
    uint8_t tmp[RS_SIZE_64];
    hv_memcpy(tmp, img, len);
    tmp[hi] |= 0x80;
    put(opaque, hi, &tmp[hi], 1);
    __atomic_thread_fence(__ATOMIC_RELEASE); /* smp_wmb */
    put(opaque, 0, tmp, len);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    tmp[hi] &= 0x7f;
    put(opaque, hi, &tmp[hi], 1);
}

void xen_runstate_publish(struct xen_call *c, struct hv_xen_vm *x, struct hv_xen_vcpu *xv)
{
    if (!xv->rs_area)
        return;
    uint8_t img[RS_SIZE_64];
    size_t len = xen_runstate_encode(xv, xv->rs_compat, 0, img);
    struct xen_span s;
    /* Every byte translated before the first is written: a bad address
       writes nothing (never a set update flag left behind). */
    if (!xen_gva_span(c, xv->rs_area, len, &s))
        return;
    xen_runstate_store(img, len, x->rs_update_flag, xen_span_put, &s);
}

void xen_runstate_run(struct hv_vcpu *vcpu, struct hv_xen_vm *x, struct hv_xen_vcpu *xv)
{
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    xen_runstate_set(x, xv, XEN_RUNSTATE_running, now);
    if (xv->rs_area) {
        struct xen_call c;
        xen_call_from_vcpu(&c, vcpu);
        xen_runstate_publish(&c, x, xv);
    }
    xen_unlock(x, t);
}

long xen_vcpu_register_runstate(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    uint64_t gva;
    long rc = xen_area_arg(c, xv, &gva);
    if (rc)
        return rc;
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    xen_runstate_settle(x, xv, now);
    xv->rs_area = gva; /* 0: no more updates */
    xv->rs_compat = c->compat;
    /* Written at once through the caller's paging, the caller's own state
       as it stands, another vCPU's up to now; an address that does not
       translate is not an error (Xen's HVM handles are not checked). */
    if (xv == c->xv) {
        xen_runstate_publish(c, x, xv);
    } else if (gva) {
        uint8_t img[RS_SIZE_64];
        size_t len = xen_runstate_encode(xv, xv->rs_compat, now, img);
        struct xen_span s;
        if (xen_gva_span(c, gva, len, &s))
            xen_runstate_store(img, len, x->rs_update_flag, xen_span_put, &s);
    }
    xen_unlock(x, t);
    return 0;
}

long xen_vcpu_get_runstate(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    if (!xen_vcpu_obj(x, xv->id))
        return -XEN_ENOENT;
    uint8_t img[RS_SIZE_64];
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    xen_runstate_settle(x, xv, now);
    size_t len = xen_runstate_encode(xv, c->compat, now, img);
    xen_unlock(x, t);
    return xen_copy_to_guest(c, c->arg[2], img, len) ? -XEN_EFAULT : 0;
}

/* vm_assist(cmd, type): an HVM/PVH domain may use runstate_update_flag
   only; any other type is -EINVAL, an unknown command -ENOSYS. */
long xen_do_vm_assist(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    uint32_t cmd = (uint32_t)c->arg[0], type = (uint32_t)c->arg[1];
    if (type != XEN_VMASST_TYPE_runstate_update_flag)
        return -XEN_EINVAL;
    if (cmd != XEN_VMASST_CMD_enable && cmd != XEN_VMASST_CMD_disable)
        return -XEN_ENOSYS;
    uint64_t t = xen_lock(x);
    x->rs_update_flag = cmd == XEN_VMASST_CMD_enable;
    xen_unlock(x, t);
    return 0;
}
