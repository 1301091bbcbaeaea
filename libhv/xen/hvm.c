/*
 * hvm_op: HVM parameters as an unprivileged guest may use them, the
 * per-vCPU upcall vector, and the time. Which parameters a guest may read
 * or write is Xen's hvm_allow_get_param()/hvm_allow_set_param() rule.
 */
#include "xen/internal.h"

#define MAY_GET 1u
#define MAY_SET 2u

/* What a guest may do with parameter @p index: MAY_GET, MAY_SET. */
static unsigned guest_access(uint32_t index)
{
    switch (index) {
    case HVM_PARAM_CALLBACK_IRQ:
    case HVM_PARAM_STORE_EVTCHN:
    case HVM_PARAM_CONSOLE_EVTCHN:
    case HVM_PARAM_X87_FIP_WIDTH:
        return MAY_GET | MAY_SET;
    case HVM_PARAM_STORE_PFN:
    case HVM_PARAM_CONSOLE_PFN:
        return MAY_GET;
    default:
        return 0;
    }
}

static long param_op(struct xen_call *c, bool set)
{
    struct hv_xen_vm *x = c->x;
    struct xen_hvm_param p;
    if (xen_copy_from_guest(c, c->arg[1], &p, sizeof(p)))
        return -XEN_EFAULT;
    uint64_t t = xen_lock(x);
    long rc = 0;
    if (!xen_is_self(x, p.domid)) {
        rc = xen_other_domain_error(x, p.domid); /* another domain's parameters */
    } else if (p.index >= HVM_NR_PARAMS) {
        rc = -XEN_EINVAL;
    } else if (!(guest_access(p.index) & (set ? MAY_SET : MAY_GET))) {
        rc = -XEN_EPERM;
    } else if (set) {
        x->params[p.index] = p.value;
        if (p.index == HVM_PARAM_CALLBACK_IRQ)
            xen_latch_shinfo_size(x, c->vcpu);
    } else {
        p.value = x->params[p.index];
    }
    xen_unlock(x, t);
    if (rc == 0 && !set && xen_copy_to_guest(c, c->arg[1], &p, sizeof(p)))
        rc = -XEN_EFAULT;
    return rc;
}

static long set_upcall_vector(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    struct xen_hvm_evtchn_upcall_vector u;
    if (xen_copy_from_guest(c, c->arg[1], &u, sizeof(u)))
        return -XEN_EFAULT;
    if (u.vector < 0x10)
        return -XEN_EINVAL;
    if (u.vcpu >= x->nvcpus)
        return -XEN_ENOENT;
    uint64_t t = xen_lock(x);
    struct hv_xen_vcpu *xv = &x->vcpus[u.vcpu];
    xv->upcall_vector = u.vector;
    /* Xen asserts the new vector at once (hvm_assert_evtchn_irq), pending
       event or not: the guest's handler copes with a spurious upcall. */
    xv->upcall_assert = true;
    xen_unlock(x, t);
    return 0;
}

long xen_do_hvm_op(struct xen_call *c)
{
    switch (c->arg[0] & HVMOP_OP_MASK) {
    case HVMOP_set_param:
        return param_op(c, true);
    case HVMOP_get_param:
        return param_op(c, false);
    case HVMOP_set_evtchn_upcall_vector:
        return set_upcall_vector(c);
    case HVMOP_get_time: {
        uint64_t now = xen_now(c->x);
        return xen_copy_to_guest(c, c->arg[1], &now, sizeof(now)) ? -XEN_EFAULT : 0;
    }
    default:
        return -XEN_ENOSYS;
    }
}
