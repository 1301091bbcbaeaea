/*
 * sched_op and set_timer_op, and the per-vCPU timers behind them.
 *
 * libhv does not schedule: a vCPU that blocks (SCHEDOP_block with nothing
 * to deliver, SCHEDOP_poll with nothing pending) or yields returns to the
 * embedder as HV_EXIT_HLT with the reason and its earliest timer deadline;
 * the embedder runs it again at the deadline or when the wake callback
 * says an event arrived. Timers fire on the host clock (hv_host_ops::
 * time_ns) when the vCPU is about to run or its status is queried; the
 * guest's system time is host time minus the time base taken at enable.
 */
#include "backend.h"
#include "xen/internal.h"

#define MS(n) ((uint64_t)(n)*1000000ull)

uint64_t xen_now(const struct hv_xen_vm *x)
{
    if (!x->has_clock)
        return 0;
    if (x->tsc_stable) /* the pvclock's own line (time.c) */
        return xen_tsc_to_ns(x, hv_rdtsc() - x->tsc_base);
    return hv_host_time_ns(xen_host(x)) - x->time_base_ns;
}

void xen_run_timers(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint64_t now)
{
    if (!x->has_clock)
        return;
    if (xv->singleshot && xv->singleshot <= now) {
        xv->singleshot = 0;
        xen_send_vcpu_virq(x, xv, XEN_VIRQ_TIMER);
    }
    if (xv->periodic_period && xv->periodic_next <= now) {
        /* Missed periods collapse into one event. */
        xv->periodic_next +=
            ((now - xv->periodic_next) / xv->periodic_period + 1) * xv->periodic_period;
        xen_send_vcpu_virq(x, xv, XEN_VIRQ_TIMER);
    }
    if (xv->block == XEN_POLLING && xv->poll_deadline && xv->poll_deadline <= now)
        xen_wake(x, xv);
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return a < b ? a : b;
}

uint64_t xen_next_deadline(const struct hv_xen_vcpu *xv)
{
    uint64_t d = xv->singleshot;
    if (xv->periodic_period)
        d = earlier(d, xv->periodic_next);
    if (xv->block == XEN_POLLING)
        d = earlier(d, xv->poll_deadline);
    return d;
}

void xen_check_pollers(struct hv_xen_vm *x, uint32_t port)
{
    if (!x->npolling)
        return;
    for (uint32_t i = 0; i < x->nvcpus; i++) {
        struct hv_xen_vcpu *xv = &x->vcpus[i];
        if (xv->block == XEN_POLLING && (xv->poll_port < 0 || (uint32_t)xv->poll_port == port))
            xen_wake(x, xv);
    }
}

/* Return to the embedder as HV_EXIT_HLT (lock held for the deadline). */
static void stop(struct xen_call *c, uint32_t source)
{
    uint64_t d = xen_next_deadline(c->xv);
    c->exit->reason = HV_EXIT_HLT;
    c->exit->hlt.source = source;
    c->exit->hlt.deadline_ns = d ? d + c->x->time_base_ns : 0;
    c->exit_to_host = true;
}

static long do_block(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    uint64_t rflags = c->vcpu->vm->ctx->be->get_rflags(c->vcpu);
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    uint8_t *vi = xen_vcpu_info(x, c->xv);
    /* Re-enable event delivery, then check: no wakeup-waiting race. */
    if (vi)
        xen_vi_clear_upcall_mask(vi);
    xen_run_timers(x, c->xv, now);
    if (!xen_events_need_delivery(x, c->xv, c->vcpu, rflags)) {
        xen_set_block(c->x, c->xv, XEN_BLOCKED);
        xen_runstate_change(c, XEN_RUNSTATE_blocked, now);
        stop(c, HV_HLT_BLOCK);
    }
    xen_unlock(x, t);
    return 0;
}

static const struct xen_compat_layout poll_layout = XEN_COMPAT_LAYOUT(
    xen_sched_poll, XEN_COMPAT_FIELD(xen_sched_poll, ports),
    XEN_COMPAT_FIELD(xen_sched_poll, nr_ports), XEN_COMPAT_FIELD(xen_sched_poll, timeout));

static long do_poll(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    struct xen_sched_poll_64 p;
    if (xen_copy_in(c, c->arg[1], &p, &poll_layout))
        return -XEN_EFAULT;
    uint64_t ports = p.ports, timeout = p.timeout;
    uint32_t nr = p.nr_ports;
    if (nr > XEN_POLL_MAX_PORTS)
        return -XEN_EINVAL;

    /* An upcall already due ends the poll at once (before the ports are read). */
    uint64_t rflags = c->vcpu->vm->ctx->be->get_rflags(c->vcpu);
    uint64_t t = xen_lock(x);
    bool due = xen_events_need_delivery(x, c->xv, c->vcpu, rflags);
    xen_unlock(x, t);
    if (due)
        return 0;
    uint32_t port[XEN_POLL_MAX_PORTS];
    if (xen_copy_from_guest(c, ports, port, nr * sizeof(port[0])))
        return -XEN_EFAULT;

    long rc = 0;
    uint64_t now = xen_now(x);
    t = xen_lock(x);
    for (uint32_t i = 0; i < nr; i++) {
        if (port[i] >= xen_2l_ports(x)) {
            rc = -XEN_EINVAL;
            goto out;
        }
        if (xen_port_test_pending(x, port[i]))
            goto out;
    }
    c->xv->poll_port = nr == 1 ? (int32_t)port[0] : -1;
    c->xv->poll_deadline = timeout;
    xen_set_block(c->x, c->xv, XEN_POLLING); /* unsettles it */
    xen_runstate_change(c, XEN_RUNSTATE_blocked, now);
    stop(c, HV_HLT_POLL);
out:
    xen_unlock(x, t);
    return rc;
}

static long do_shutdown(struct xen_call *c, bool latch_only)
{
    struct xen_sched_shutdown s;
    if (xen_copy_from_guest(c, c->arg[1], &s, sizeof(s)))
        return -XEN_EFAULT;
    uint64_t t = xen_lock(c->x);
    /* The first code wins, whether latched or given with the shutdown. */
    if (c->x->shutdown_code == XEN_SHUTDOWN_CODE_NONE)
        c->x->shutdown_code = (uint8_t)s.reason;
    uint8_t code = c->x->shutdown_code;
    xen_unlock(c->x, t);
    if (!latch_only) {
        c->exit->reason = HV_EXIT_GUEST_SHUTDOWN;
        c->exit->guest_shutdown.reason = code;
        c->exit_to_host = true;
    }
    return 0;
}

static long do_remote_shutdown(struct xen_call *c)
{
    struct xen_sched_remote_shutdown r;
    if (xen_copy_from_guest(c, c->arg[1], &r, sizeof(r)))
        return -XEN_EFAULT;
    /* Only a privileged domain may shut another down (any domain that
       exists, itself included, is refused); DOMID_SELF names none. */
    uint64_t t = xen_lock(c->x);
    bool exists = r.domain_id == HV_XEN_DOMID_HOST || r.domain_id == c->x->domid ||
                  xen_find_domain(c->x, r.domain_id);
    xen_unlock(c->x, t);
    return exists ? -XEN_EPERM : -XEN_ESRCH;
}

long xen_do_sched_op(struct xen_call *c)
{
    switch ((uint32_t)c->arg[0]) {
    case SCHEDOP_yield: {
        uint64_t now = xen_now(c->x);
        uint64_t t = xen_lock(c->x);
        xen_runstate_change(c, XEN_RUNSTATE_runnable, now);
        stop(c, HV_HLT_YIELD);
        xen_unlock(c->x, t);
        return 0;
    }
    case SCHEDOP_block:
        return do_block(c);
    case SCHEDOP_poll:
        return do_poll(c);
    case SCHEDOP_shutdown:
        return do_shutdown(c, false);
    case SCHEDOP_shutdown_code:
        return do_shutdown(c, true);
    case SCHEDOP_remote_shutdown:
        return do_remote_shutdown(c);
    case SCHEDOP_pin_override:
        return -XEN_EPERM; /* hardware domain only */
    default:
        return -XEN_ENOSYS; /* SCHEDOP_watchdog is not implemented */
    }
}

long xen_do_set_timer_op(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    /* s_time_t: one 64-bit register, or low/high halves for a 32-bit caller. */
    uint64_t timeout = c->compat ? (c->arg[0] | (c->arg[1] << 32)) : c->arg[0];
    if (!x->has_clock)
        return -XEN_ENOSYS;
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    if (timeout == 0) {
        c->xv->singleshot = 0;
    } else if ((int64_t)timeout < 0 ||
               ((int64_t)(timeout - now) > 0 && ((timeout - now) >> 50) != 0)) {
        /* A wrapped or absurdly distant timeout (over 2^50 ns, about 13
           days): Xen fires it in 100 ms instead. */
        c->xv->singleshot = now + MS(100);
    } else {
        c->xv->singleshot = timeout; /* a past deadline fires at the next check */
    }
    xen_unsettle(c->xv);
    xen_unlock(x, t);
    return 0;
}
