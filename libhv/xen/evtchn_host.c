/*
 * Event channels seen from the host (domain 0): host ports are the
 * host's ends of interdomain channels with one VM, numbered per VM.
 */
#include "xen/internal.h"

uint32_t xen_free_host_port(struct hv_xen_vm *x)
{
    for (uint32_t p = 1; p < XEN_HOST_PORTS; p++) {
        if (x->host_ports[p].state == XEN_PORT_FREE)
            return p;
    }
    return 0;
}

hv_status_t hv_xen_evtchn_alloc_unbound(struct hv_vm *vm, uint32_t *guest_port)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, guest_port != NULL, &x);
    if (entry != HV_OK)
        return entry;
    xen_evtchn_reserve(x);
    uint64_t t = xen_lock(x);
    long port = xen_evtchn_alloc_port(x);
    if (port > 0) {
        xen_port(x, port)->state = XEN_PORT_UNBOUND;
        xen_port(x, port)->remote_dom = HV_XEN_DOMID_HOST;
    }
    xen_unlock(x, t);
    if (port == -XEN_ENOMEM)
        return HV_ERR_NO_MEMORY;
    if (port <= 0)
        return HV_ERR_LIMIT;
    *guest_port = (uint32_t)port;
    return HV_OK;
}

hv_status_t hv_xen_evtchn_bind(struct hv_vm *vm, uint32_t guest_port, uint32_t *host_port)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, host_port != NULL, &x);
    if (entry != HV_OK)
        return entry;
    uint64_t t = xen_lock(x);
    hv_status_t st = HV_OK;
    uint32_t hp = xen_free_host_port(x);
    if (guest_port >= x->valid_ports || xen_port(x, guest_port)->state != XEN_PORT_UNBOUND ||
        xen_port(x, guest_port)->remote_dom != HV_XEN_DOMID_HOST) {
        st = HV_ERR_NOT_FOUND;
    } else if (!hp) {
        st = HV_ERR_LIMIT;
    } else {
        struct xen_port *p = xen_port(x, guest_port);
        p->state = XEN_PORT_INTERDOMAIN;
        p->remote_port = hp;
        x->host_ports[hp].state = XEN_PORT_INTERDOMAIN;
        x->host_ports[hp].guest_port = guest_port;
        x->host_ports[hp].pending = false;
        /* As for EVTCHNOP_bind_interdomain, the bound port is set pending. */
        xen_evtchn_set_pending(x, p->notify_vcpu, guest_port);
        *host_port = hp;
    }
    xen_unlock(x, t);
    return st;
}

hv_status_t hv_xen_evtchn_host_unbound(struct hv_vm *vm, uint32_t *host_port)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, host_port != NULL, &x);
    if (entry != HV_OK)
        return entry;
    uint64_t t = xen_lock(x);
    uint32_t hp = xen_free_host_port(x);
    if (hp) {
        x->host_ports[hp].state = XEN_PORT_UNBOUND;
        x->host_ports[hp].guest_port = 0;
        x->host_ports[hp].pending = false;
    }
    xen_unlock(x, t);
    if (!hp)
        return HV_ERR_LIMIT;
    *host_port = hp;
    return HV_OK;
}

/* The host port @p hp if allocated, else NULL [L]. */
static struct xen_host_port *host_port(struct hv_xen_vm *x, uint32_t hp)
{
    if (hp == 0 || hp >= XEN_HOST_PORTS || x->host_ports[hp].state == XEN_PORT_FREE)
        return NULL;
    return &x->host_ports[hp];
}

/* The guest port host port @p p is connected to, or NULL [L]. */
static struct xen_port *peer(struct hv_xen_vm *x, const struct xen_host_port *p)
{
    if (p->state != XEN_PORT_INTERDOMAIN || p->guest_port >= x->valid_ports)
        return NULL;
    return xen_port(x, p->guest_port);
}

/* A host port found and locked by lock_host_port(). */
struct locked_port {
    struct hv_xen_vm *x;
    uint64_t t; /* lock token */
    struct xen_host_port *p;
};

/*
 * The start of a call on host port @p hp: the entry check, then under the
 * lock the port. HV_OK with the lock held and @p lp filled in; else the
 * error, with the lock not held (HV_ERR_NOT_FOUND for a port not
 * allocated).
 */
static hv_status_t lock_host_port(struct hv_vm *vm, bool args_ok, uint32_t hp,
                                  struct locked_port *lp)
{
    hv_status_t st = xen_host_entry(vm, args_ok, &lp->x);
    if (st != HV_OK)
        return st;
    lp->t = xen_lock(lp->x);
    lp->p = host_port(lp->x, hp);
    if (lp->p)
        return HV_OK;
    xen_unlock(lp->x, lp->t);
    return HV_ERR_NOT_FOUND;
}

hv_status_t hv_xen_evtchn_notify(struct hv_vm *vm, uint32_t hp)
{
    struct locked_port lp;
    hv_status_t st = lock_host_port(vm, true, hp, &lp);
    if (st != HV_OK)
        return st;
    struct xen_port *gp = peer(lp.x, lp.p);
    if (gp)
        xen_evtchn_set_pending(lp.x, gp->notify_vcpu, lp.p->guest_port);
    xen_unlock(lp.x, lp.t);
    return HV_OK;
}

hv_status_t hv_xen_evtchn_pending(struct hv_vm *vm, uint32_t hp, bool *pending,
                                  uint32_t *guest_port)
{
    struct locked_port lp;
    hv_status_t st = lock_host_port(vm, pending != NULL, hp, &lp);
    if (st != HV_OK)
        return st;
    *pending = lp.p->pending;
    lp.p->pending = false;
    if (guest_port)
        *guest_port = lp.p->state == XEN_PORT_INTERDOMAIN ? lp.p->guest_port : 0;
    xen_unlock(lp.x, lp.t);
    return HV_OK;
}

hv_status_t hv_xen_evtchn_close(struct hv_vm *vm, uint32_t hp)
{
    struct locked_port lp;
    hv_status_t st = lock_host_port(vm, true, hp, &lp);
    if (st != HV_OK)
        return st;
    struct hv_xen_vm *x = lp.x;
    struct xen_port *gp = peer(x, lp.p);
    if (gp && gp->state == XEN_PORT_INTERDOMAIN && gp->remote_dom == HV_XEN_DOMID_HOST) {
        gp->state = XEN_PORT_UNBOUND; /* waits for the host again */
        gp->remote_port = 0;
    }
    if (hp == x->pvcons_host_port)
        x->pvcons = false;
    hv_memset(lp.p, 0, sizeof(*lp.p));
    xen_unlock(x, lp.t);
    return HV_OK;
}
