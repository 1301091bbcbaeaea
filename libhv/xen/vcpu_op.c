/*
 * vcpu_op: where a vCPU's vcpu_info lives, whether it is up, and its
 * single-shot and periodic timers; bringing vCPUs up and down is in
 * vcpu_up.c, the runstate in runstate.c, the time area in time.c.
 */
#include "core/guest_mem.h"
#include "xen/internal.h"

#define MS(n)           ((uint64_t)(n)*1000000ull)
#define STIME_DELTA_MAX (~0ull >> 2)

static long register_vcpu_info(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    struct xen_vcpu_register_vcpu_info r;
    if (xen_copy_from_guest(c, c->arg[2], &r, sizeof(r)))
        return -XEN_EFAULT;
    uint64_t t = xen_lock(x);
    long rc = 0;
    uint32_t align = x->compat ? XEN_VCPU_INFO_ALIGN_32 : XEN_VCPU_INFO_ALIGN_64;
    uint8_t *old = NULL, *nvi = NULL;
    uint64_t gpa = 0;
    if (r.offset > HV_PAGE_SIZE - sizeof(struct xen_vcpu_info_64) || (r.offset & (align - 1))) {
        rc = -XEN_EINVAL;
    } else if (xv->vi_registered) {
        rc = -XEN_EINVAL; /* once per vCPU */
    } else if (xv != c->xv && !xv->down) {
        rc = -XEN_EINVAL; /* another vCPU only while it is down */
    } else if (r.mfn >= (1ull << (64 - 12)) ||
               !(nvi = hv_gpa_ptr(x->vm, r.mfn * HV_PAGE_SIZE + r.offset,
                                  HV_MEM_READ | HV_MEM_WRITE))) {
        rc = -XEN_EINVAL; /* not writable RAM */
    } else {
        gpa = r.mfn * HV_PAGE_SIZE + r.offset;
        old = xen_vcpu_info(x, xv);
        if (old == xv->vi_dummy) {
            hv_memset(nvi, 0, sizeof(struct xen_vcpu_info_64));
            nvi[offsetof(struct xen_vcpu_info_64, evtchn_upcall_mask)] = 1;
        } else {
            hv_memmove(nvi, old, sizeof(struct xen_vcpu_info_64));
        }
        xv->vi_registered = true;
        xv->vi_gpa = gpa;
        xv->time_valid = false;
        xen_unsettle(xv);
        /* Everything may be pending: the guest copes with a spurious event. */
        if (x->compat)
            __atomic_store_n(
                (uint32_t *)(nvi + offsetof(struct xen_vcpu_info_32, evtchn_pending_sel)), ~0u,
                __ATOMIC_SEQ_CST);
        else
            __atomic_store_n(
                (uint64_t *)(nvi + offsetof(struct xen_vcpu_info_64, evtchn_pending_sel)), ~0ull,
                __ATOMIC_SEQ_CST);
        xen_mark_events_pending(x, xv);
    }
    xen_unlock(x, t);
    return rc;
}

static const struct xen_compat_layout singleshot_layout = XEN_COMPAT_LAYOUT(
    xen_vcpu_set_singleshot_timer, XEN_COMPAT_FIELD(xen_vcpu_set_singleshot_timer, timeout_abs_ns));

static long set_singleshot(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    if (xv != c->xv)
        return -XEN_EINVAL;
    struct xen_vcpu_set_singleshot_timer_64 s;
    if (xen_copy_in(c, c->arg[2], &s, &singleshot_layout))
        return -XEN_EFAULT;
    uint64_t timeout = s.timeout_abs_ns;
    if (!x->has_clock)
        return -XEN_ENOSYS;
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    if (timeout < now) {
        /* Already expired: deliver now (VCPU_SSHOTTMR_future is ignored). */
        xv->singleshot = 0;
        xen_send_vcpu_virq(x, xv, XEN_VIRQ_TIMER);
    } else {
        xv->singleshot = timeout ? timeout : 1;
        xen_unsettle(xv);
    }
    xen_unlock(x, t);
    return 0;
}

static long set_periodic(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    struct xen_vcpu_set_periodic_timer p;
    if (xen_copy_from_guest(c, c->arg[2], &p, sizeof(p)))
        return -XEN_EFAULT;
    if (p.period_ns < MS(1) || p.period_ns > STIME_DELTA_MAX)
        return -XEN_EINVAL;
    if (!x->has_clock)
        return -XEN_ENOSYS;
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    if (xv->periodic_period != p.period_ns) {
        xv->periodic_period = p.period_ns;
        xv->periodic_next = now + p.period_ns;
        xen_unsettle(xv);
    }
    xen_unlock(x, t);
    return 0;
}

long xen_do_vcpu_op(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    uint32_t cmd = (uint32_t)c->arg[0];
    uint32_t id = (uint32_t)c->arg[1];
    if (id >= x->nvcpus)
        return -XEN_ENOENT;
    struct hv_xen_vcpu *xv = &x->vcpus[id];

    switch (cmd) {
    case VCPUOP_initialise:
        return xen_vcpu_initialise(c, xv);
    case VCPUOP_up:
        return xen_vcpu_up(c, xv);
    case VCPUOP_down:
        return xen_vcpu_down(c, xv);
    case VCPUOP_is_up:
        return !__atomic_load_n(&xv->down, __ATOMIC_ACQUIRE);
    case VCPUOP_register_vcpu_info:
        return register_vcpu_info(c, xv);
    case VCPUOP_get_runstate_info:
        return xen_vcpu_get_runstate(c, xv);
    case VCPUOP_register_runstate_memory_area:
        return xen_vcpu_register_runstate(c, xv);
    case VCPUOP_register_vcpu_time_memory_area:
        return xen_vcpu_register_time_area(c, xv);
    case VCPUOP_set_singleshot_timer:
        return set_singleshot(c, xv);
    case VCPUOP_stop_singleshot_timer: {
        if (xv != c->xv)
            return -XEN_EINVAL;
        uint64_t t = xen_lock(x);
        xv->singleshot = 0;
        xen_unlock(x, t);
        return 0;
    }
    case VCPUOP_set_periodic_timer:
        return set_periodic(c, xv);
    case VCPUOP_stop_periodic_timer: {
        uint64_t t = xen_lock(x);
        xv->periodic_period = 0;
        xen_unlock(x, t);
        return 0;
    }
    default:
        return -XEN_ENOSYS;
    }
}
