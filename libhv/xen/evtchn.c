/*
 * Event channels, 2-level ABI: port allocation and the delivery path
 * (set pending -> selector -> upcall pending -> upcall vector), following
 * Xen's common/event_channel.c and event_2l.c semantics: a 0->1 pending
 * transition on an unmasked port sets the selector bit of the notified
 * vCPU, and a 0->1 selector transition marks its upcall pending. Masked
 * ports only record the pending bit (the edge is the guest's to find when
 * it unmasks). Every function here runs with the [L] lock held.
 */
#include "core/guest_mem.h"
#include "xen/gva.h"

static uint32_t port_limit(const struct hv_xen_vm *x)
{
    return HV_MIN(x->max_ports, xen_2l_ports(x));
}

/* Does opening the next bucket need another port page? [L] */
static bool needs_page(const struct hv_xen_vm *x)
{
    uint32_t next = HV_MIN(x->valid_ports + XEN_EVTCHN_BUCKET, x->max_ports);
    return next > x->port_pages * XEN_PORTS_PER_PAGE;
}

/* Is a valid port free, so that allocating one opens no bucket? [L] */
static bool has_free_port(struct hv_xen_vm *x)
{
    uint32_t end = HV_MIN(x->valid_ports, port_limit(x));
    for (uint32_t p = 1; p < end; p++) {
        if (xen_port(x, p)->state == XEN_PORT_FREE)
            return true;
    }
    return false;
}

void xen_evtchn_reserve(struct hv_xen_vm *x)
{
    uint64_t t = xen_lock(x);
    bool want = !x->port_spare && !has_free_port(x) && needs_page(x);
    xen_unlock(x, t);
    if (!want)
        return;
    uint64_t hpa;
    struct xen_port *page = hv_host_page_alloc(xen_host(x), 1, &hpa);
    if (!page)
        return; /* the allocation that needs it fails with -ENOMEM */
    t = xen_lock(x);
    if (!x->port_spare && needs_page(x)) {
        x->port_spare = page;
        page = NULL;
    }
    xen_unlock(x, t);
    if (page)
        hv_host_page_free(xen_host(x), page, 1); /* another caller was first */
}

void xen_evtchn_fini(struct hv_xen_vm *x)
{
    for (uint32_t i = 0; i < x->port_pages; i++)
        hv_host_page_free(xen_host(x), x->port_page[i], 1);
    if (x->port_spare)
        hv_host_page_free(xen_host(x), x->port_spare, 1);
    x->port_pages = 0;
    x->port_spare = NULL;
}

long xen_evtchn_alloc_port(struct hv_xen_vm *x)
{
    uint32_t limit = port_limit(x);
    for (uint32_t p = 1; p < limit; p++) {
        if (p >= x->valid_ports) {
            /* Open the next bucket, as Xen's evtchn_allocate_port does;
               its storage failing is Xen's -ENOMEM. */
            if (needs_page(x)) {
                if (!x->port_spare)
                    return -XEN_ENOMEM;
                x->port_page[x->port_pages++] = x->port_spare;
                x->port_spare = NULL;
            }
            x->valid_ports = HV_MIN(x->valid_ports + XEN_EVTCHN_BUCKET, x->max_ports);
            return p;
        }
        if (xen_port(x, p)->state == XEN_PORT_FREE)
            return p;
    }
    return -XEN_ENOSPC;
}

/* Wake the vCPU if it waits for events, or make a running one notice them. */
void xen_wake(struct hv_xen_vm *x, struct hv_xen_vcpu *xv)
{
    struct hv_vcpu *v = xen_vcpu_obj(x, xv->id);
    if (!v || xv->down)
        return; /* a down vCPU takes its events once VCPUOP_up wakes it */
    if (xv->block != XEN_RUNNING) {
        xen_runstate_wake(xv); /* runnable until it runs (vcpu.h) */
        xen_set_block(x, xv, XEN_RUNNING);
        xv->poll_deadline = 0;
        if (x->wake)
            x->wake(x->opaque, v);
        return;
    }
    /* Inside hv_vcpu_run: the event bit, and on another CPU an interrupt
       that makes it exit; the pre-entry hook then delivers
       (core/objects.h HV_KICK_EVENT). No hv_vcpu_kick(): that would make
       hv_vcpu_run() return to the embedder for nothing. The fence orders
       the event flags set before against the read of `running` (the
       pre-entry fast path reads them without the lock). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&v->running, __ATOMIC_SEQ_CST))
        hv_kick_event(v);
}

/*
 * The vCPU's upcall_pending went 0->1: assert the upcall, and return the
 * vCPU to wake (xen_wake), or NULL when it is @p self, the vCPU whose own
 * thread makes this call (a hypercall of it): that one runs here, on this
 * CPU, inside hv_vcpu_run, so xen_wake() would find it running with
 * nothing to kick, and its event delivery runs before its next entry.
 */
static inline struct hv_xen_vcpu *upcall_raised(struct hv_xen_vcpu *xv,
                                                const struct hv_xen_vcpu *self)
{
    /* hvm_assert_evtchn_irq: an edge on the per-vCPU vector; the global
       callback vector is level-triggered on upcall_pending (pre_entry). */
    if (xv->upcall_vector)
        xv->upcall_assert = true;
    return xv != self ? xv : NULL;
}

void xen_mark_events_pending(struct hv_xen_vm *x, struct hv_xen_vcpu *xv)
{
    uint8_t *vi = xen_vcpu_info(x, xv);
    if (vi && !xen_vi_test_and_set_upcall(vi))
        xen_wake(x, upcall_raised(xv, NULL));
}

/* The 2-level edges below an unmasked port's pending bit, in vcpu_info
   @p vi of layout @p compat: the selector bit of the port's word, then
   upcall_pending; the vCPU to wake (upcall_raised) or NULL. [L] */
static inline __attribute__((always_inline)) struct hv_xen_vcpu *
sel_edges(bool compat, uint8_t *vi, struct hv_xen_vcpu *xv, uint32_t port,
          const struct hv_xen_vcpu *self)
{
    if (xen_vi_test_and_set_sel(compat, vi, port / (compat ? 32 : 64)) ||
        xen_vi_test_and_set_upcall(vi))
        return NULL;
    return upcall_raised(xv, self);
}

/* sel_edges() in the vCPU's vcpu_info wherever it is. [L] */
static struct hv_xen_vcpu *raise_sel(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint32_t port,
                                     const struct hv_xen_vcpu *self)
{
    uint8_t *vi = xen_vcpu_info(x, xv);
    return vi ? sel_edges(x->compat, vi, xv, port, self) : NULL;
}

/* What may follow a pending edge: @p wake woken unless NULL, and the
   pollers of @p port. Out of line, as the next: the self-send path needs
   neither, and with no call left in it but tail calls it saves no
   registers. [L] */
static __attribute__((noinline)) void pending_wakes(struct hv_xen_vm *x, struct hv_xen_vcpu *wake,
                                                    uint32_t port)
{
    if (wake)
        xen_wake(x, wake);
    if (x->npolling)
        xen_check_pollers(x, port);
}

/* The rest of set_pending() for a vCPU whose vcpu_info the guest
   registered (translated again on every use: xen_vcpu_info). [L] */
static __attribute__((noinline)) void pending_registered(struct hv_xen_vm *x,
                                                         struct hv_xen_vcpu *xv, uint32_t port,
                                                         const struct hv_xen_vcpu *self)
{
    pending_wakes(x, raise_sel(x, xv, port, self), port);
}

/*
 * Xen's 2-level set_pending (event_2l.c) in one pass, the layout read
 * once: the port's pending bit; on its 0->1 edge, if the port is
 * unmasked, sel_edges(); pollers of the port are woken on the pending
 * edge, masked or not. A port outside the 2-level space has no bits:
 * nothing happens. @p self as for upcall_raised(). [L]
 */
static inline __attribute__((always_inline)) void set_pending_inline(struct hv_xen_vm *x,
                                                                     uint32_t vcpu_id,
                                                                     uint32_t port,
                                                                     const struct hv_xen_vcpu *self)
{
    if (vcpu_id >= x->nvcpus)
        return;
    bool compat = x->compat;
    void *shinfo = x->shinfo;
    if (port >= (compat ? XEN_EVTCHN_2L_PORTS_32 : XEN_EVTCHN_2L_PORTS_64) ||
        xen_bit_test_and_set(compat, xen_bitmap_of(shinfo, compat, false), port))
        return;
    struct hv_xen_vcpu *wake = NULL;
    if (!xen_bit_test(compat, xen_bitmap_of(shinfo, compat, true), port)) {
        struct hv_xen_vcpu *xv = &x->vcpus[vcpu_id];
        if (xv->vi_registered) {
            pending_registered(x, xv, port, self);
            return;
        }
        /* Its slot in shared_info (or the placeholder): never NULL. */
        wake = sel_edges(compat, xen_vcpu_info(x, xv), xv, port, self);
    }
    if (wake || x->npolling)
        pending_wakes(x, wake, port);
}

/* The same out of line, for every caller but a send to an IPI port. */
static void set_pending(struct hv_xen_vm *x, uint32_t vcpu_id, uint32_t port,
                        const struct hv_xen_vcpu *self)
{
    set_pending_inline(x, vcpu_id, port, self);
}

void xen_evtchn_set_pending(struct hv_xen_vm *x, uint32_t vcpu_id, uint32_t port)
{
    set_pending(x, vcpu_id, port, NULL);
}

void xen_send_vcpu_virq(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint32_t virq)
{
    uint32_t port = xv->virq_port[virq];
    if (port)
        xen_evtchn_set_pending(x, xv->id, port);
}

/* Per-vCPU VIRQs can be bound once on each vCPU; the others are global. */
static bool virq_is_global(uint32_t virq)
{
    return virq != XEN_VIRQ_TIMER && virq != XEN_VIRQ_DEBUG && virq != XEN_VIRQ_XENOPROF &&
           virq != XEN_VIRQ_XENPMU;
}

/* The far end of an interdomain port becomes unbound, waiting for us again. */
static void unbind_remote(struct hv_xen_vm *x, const struct xen_port *p)
{
    if (p->remote_dom == HV_XEN_DOMID_HOST) {
        if (p->remote_port < XEN_HOST_PORTS) {
            struct xen_host_port *hp = &x->host_ports[p->remote_port];
            hp->state = XEN_PORT_UNBOUND;
            hp->guest_port = 0;
        }
        return;
    }
    struct hv_xen_vm *r = p->remote_dom == x->domid ? x : xen_find_domain(x, p->remote_dom);
    if (!r || p->remote_port >= r->valid_ports)
        return;
    struct xen_port *rp = xen_port(r, p->remote_port);
    if (rp->state == XEN_PORT_INTERDOMAIN) {
        rp->state = XEN_PORT_UNBOUND;
        rp->remote_dom = x->domid;
        rp->remote_port = 0;
    }
}

long xen_evtchn_close_port(struct hv_xen_vm *x, uint32_t port)
{
    if (port >= x->valid_ports)
        return -XEN_EINVAL;
    struct xen_port *p = xen_port(x, port);
    switch (p->state) {
    case XEN_PORT_FREE:
    case XEN_PORT_RESERVED:
        return -XEN_EINVAL;
    case XEN_PORT_VIRQ: {
        uint32_t v = virq_is_global(p->virq) ? 0 : p->notify_vcpu;
        if (v < x->nvcpus && x->vcpus[v].virq_port[p->virq] == port)
            x->vcpus[v].virq_port[p->virq] = 0;
        break;
    }
    case XEN_PORT_INTERDOMAIN:
        unbind_remote(x, p);
        break;
    default:
        break;
    }
    /* Clear the pending bit so a re-bind starts clean; back to vCPU 0. */
    xen_port_clear_pending(x, port);
    hv_memset(p, 0, sizeof(*p));
    return 0;
}

void xen_evtchn_close_all(struct hv_xen_vm *x)
{
    for (uint32_t p = 1; p < x->valid_ports; p++) {
        if (xen_port(x, p)->state != XEN_PORT_FREE)
            xen_evtchn_close_port(x, p);
    }
    hv_memset(x->host_ports, 0, sizeof(x->host_ports));
}

bool xen_events_need_delivery(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, struct hv_vcpu *vcpu,
                              uint64_t rflags)
{
    if (xv->queued_vector)
        xen_settle_delivered(xv, &vcpu->queued_irq);
    /* HVM: an upcall is deliverable when its vector is set up, the event is
       pending and the guest can take interrupts (hvm_local_events_need_delivery). */
    if (!(rflags & HV_BIT(9)))
        return false;
    if (xv->upcall_vector)
        return xv->upcall_assert || xv->queued_vector;
    uint64_t cb = x->params[HVM_PARAM_CALLBACK_IRQ];
    if ((cb >> HVM_CALLBACK_TYPE_SHIFT) != HVM_CALLBACK_TYPE_VECTOR || !(uint8_t)cb)
        return false;
    uint8_t *vi = xen_vcpu_info(x, xv);
    return vi && xen_vi_upcall_pending(vi);
}

/* ---- EVTCHNOP_* --------------------------------------------------------- */

/* ---- EVTCHNOP_alloc_unbound and bind_*: a new port, returned in the argument ---- */

union bind_arg {
    struct xen_evtchn_alloc_unbound unbound;
    struct xen_evtchn_bind_interdomain interdomain;
    struct xen_evtchn_bind_virq virq;
    struct xen_evtchn_bind_ipi ipi;
};

/* What one of these ops does besides the common frame; each step returns 0
   or a negative Xen errno. */
struct bind_op {
    uint8_t size;     /* of its argument */
    uint8_t port_off; /* where the new port goes back to the guest */
    /* Argument checks before the lock (optional). */
    long (*validate)(const struct hv_xen_vm *x, const union bind_arg *a);
    /* Checks under the lock before a port is taken (optional). */
    long (*check)(struct hv_xen_vm *x, const union bind_arg *a);
    /* Binds the newly allocated @p port. */
    long (*setup)(struct hv_xen_vm *x, const union bind_arg *a, uint32_t port);
};

/* The bind_op of argument struct @p type, whose member @p port gets the port. */
#define BIND_OP(type, port, validate, check, setup)                                                \
    {                                                                                              \
        sizeof(struct type), offsetof(struct type, port), validate, check, setup                   \
    }

/*
 * The common frame: the argument read from arg[1] and validated, then
 * under the lock checked, a port allocated and bound, and on success the
 * argument written back with the port in it.
 */
static long bind_new_port(struct xen_call *c, const struct bind_op *op)
{
    struct hv_xen_vm *x = c->x;
    union bind_arg a;
    if (xen_copy_from_guest(c, c->arg[1], &a, op->size))
        return -XEN_EFAULT;
    long rc = op->validate ? op->validate(x, &a) : 0;
    if (rc)
        return rc;
    xen_evtchn_reserve(x);
    uint64_t t = xen_lock(x);
    rc = op->check ? op->check(x, &a) : 0;
    if (rc == 0) {
        rc = xen_evtchn_alloc_port(x);
        if (rc > 0) {
            uint32_t port = (uint32_t)rc;
            rc = op->setup(x, &a, port);
            if (rc == 0)
                hv_memcpy((uint8_t *)&a + op->port_off, &port, sizeof(port));
        }
    }
    xen_unlock(x, t);
    if (rc == 0 && xen_copy_to_guest(c, c->arg[1], &a, op->size))
        rc = -XEN_EFAULT; /* the port stays allocated, as in Xen */
    return rc;
}

static long unbound_check(struct hv_xen_vm *x, const union bind_arg *a)
{
    return xen_is_self(x, a->unbound.dom) ? 0 : xen_other_domain_error(x, a->unbound.dom);
}

static long unbound_setup(struct hv_xen_vm *x, const union bind_arg *a, uint32_t port)
{
    struct xen_port *p = xen_port(x, port);
    p->state = XEN_PORT_UNBOUND;
    p->remote_dom = a->unbound.remote_dom == XEN_DOMID_SELF ? x->domid : a->unbound.remote_dom;
    return 0;
}

static const struct bind_op bind_unbound =
    BIND_OP(xen_evtchn_alloc_unbound, port, NULL, unbound_check, unbound_setup);

/* Connect local port @p lport of x to @p rport of domain @p rdom. */
static long connect(struct hv_xen_vm *x, uint32_t lport, uint32_t rdom, uint32_t rport)
{
    struct xen_port *lp = xen_port(x, lport);
    if (rdom == HV_XEN_DOMID_HOST) {
        if (rport == 0 || rport >= XEN_HOST_PORTS || x->host_ports[rport].state != XEN_PORT_UNBOUND)
            return -XEN_EINVAL;
        x->host_ports[rport].state = XEN_PORT_INTERDOMAIN;
        x->host_ports[rport].guest_port = lport;
    } else {
        struct hv_xen_vm *r = rdom == x->domid ? x : xen_find_domain(x, rdom);
        if (!r)
            return -XEN_ESRCH;
        if (rport >= r->valid_ports)
            return -XEN_EINVAL;
        struct xen_port *rp = xen_port(r, rport);
        if (rp->state != XEN_PORT_UNBOUND || rp->remote_dom != x->domid)
            return -XEN_EINVAL;
        rp->state = XEN_PORT_INTERDOMAIN;
        rp->remote_dom = x->domid;
        rp->remote_port = lport;
    }
    lp->state = XEN_PORT_INTERDOMAIN;
    lp->remote_dom = (uint16_t)rdom;
    lp->remote_port = rport;
    /* The peer may already have signalled the unbound port: always set the
       new local port pending, as Xen does. */
    xen_evtchn_set_pending(x, lp->notify_vcpu, lport);
    return 0;
}

/* The domain an EVTCHNOP_bind_interdomain names. */
static uint32_t interdomain_rdom(const struct hv_xen_vm *x, const union bind_arg *a)
{
    return a->interdomain.remote_dom == XEN_DOMID_SELF ? x->domid : a->interdomain.remote_dom;
}

static long interdomain_check(struct hv_xen_vm *x, const union bind_arg *a)
{
    uint32_t rdom = interdomain_rdom(x, a);
    if (rdom != x->domid && rdom != HV_XEN_DOMID_HOST && !xen_find_domain(x, rdom))
        return -XEN_ESRCH;
    return 0;
}

static long interdomain_setup(struct hv_xen_vm *x, const union bind_arg *a, uint32_t port)
{
    return connect(x, port, interdomain_rdom(x, a), a->interdomain.remote_port);
}

static const struct bind_op bind_interdomain =
    BIND_OP(xen_evtchn_bind_interdomain, local_port, NULL, interdomain_check, interdomain_setup);

static long virq_validate(const struct hv_xen_vm *x, const union bind_arg *a)
{
    if (a->virq.virq >= XEN_NR_VIRQS)
        return -XEN_EINVAL;
    if (virq_is_global(a->virq.virq) && a->virq.vcpu != 0)
        return -XEN_EINVAL;
    if (a->virq.vcpu >= x->nvcpus)
        return -XEN_ENOENT;
    return 0;
}

static long virq_check(struct hv_xen_vm *x, const union bind_arg *a)
{
    return x->vcpus[a->virq.vcpu].virq_port[a->virq.virq] ? -XEN_EEXIST : 0;
}

static long virq_setup(struct hv_xen_vm *x, const union bind_arg *a, uint32_t port)
{
    struct xen_port *p = xen_port(x, port);
    p->state = XEN_PORT_VIRQ;
    p->virq = (uint8_t)a->virq.virq;
    p->notify_vcpu = a->virq.vcpu;
    x->vcpus[a->virq.vcpu].virq_port[a->virq.virq] = port;
    return 0;
}

static const struct bind_op bind_virq =
    BIND_OP(xen_evtchn_bind_virq, port, virq_validate, virq_check, virq_setup);

static long ipi_validate(const struct hv_xen_vm *x, const union bind_arg *a)
{
    return a->ipi.vcpu >= x->nvcpus ? -XEN_ENOENT : 0;
}

static long ipi_setup(struct hv_xen_vm *x, const union bind_arg *a, uint32_t port)
{
    xen_port(x, port)->state = XEN_PORT_IPI;
    xen_port(x, port)->notify_vcpu = a->ipi.vcpu;
    return 0;
}

static const struct bind_op bind_ipi =
    BIND_OP(xen_evtchn_bind_ipi, port, ipi_validate, NULL, ipi_setup);

/* EVTCHNOP_send on @p port; @p self: the caller's vCPU (set_pending).
   Inline in its two callers, the fast path's above all. */
static inline __attribute__((always_inline)) long op_send(struct hv_xen_vm *x, uint32_t port,
                                                          const struct hv_xen_vcpu *self)
{
    if (port >= x->valid_ports)
        return -XEN_EINVAL;
    const struct xen_port *p = xen_port(x, port);
    switch (p->state) {
    case XEN_PORT_INTERDOMAIN:
        if (p->remote_dom == HV_XEN_DOMID_HOST) {
            if (p->remote_port < XEN_HOST_PORTS) {
                x->host_ports[p->remote_port].pending = true;
                if (x->notify)
                    x->notify(x->opaque, x->vm, p->remote_port);
            }
        } else {
            struct hv_xen_vm *r = p->remote_dom == x->domid ? x : xen_find_domain(x, p->remote_dom);
            if (r && p->remote_port < r->valid_ports)
                set_pending(r, xen_port(r, p->remote_port)->notify_vcpu, p->remote_port, self);
        }
        return 0;
    case XEN_PORT_IPI:
        set_pending_inline(x, p->notify_vcpu, port, self);
        return 0;
    case XEN_PORT_UNBOUND:
        return 0; /* silently dropped */
    default:
        return -XEN_EINVAL;
    }
}

static long op_status(struct xen_call *c)
{
    struct xen_evtchn_status s;
    struct hv_xen_vm *x = c->x;
    if (xen_copy_from_guest(c, c->arg[1], &s, sizeof(s)))
        return -XEN_EFAULT;
    uint64_t t = xen_lock(x);
    long rc = 0;
    if (!xen_is_self(x, s.dom)) {
        rc = xen_other_domain_error(x, s.dom);
    } else if (s.port >= x->valid_ports) {
        rc = -XEN_EINVAL;
    } else {
        const struct xen_port *p = xen_port(x, s.port);
        hv_memset(&s.u, 0, sizeof(s.u));
        switch (p->state) {
        case XEN_PORT_UNBOUND:
            s.status = EVTCHNSTAT_unbound;
            s.u.unbound.dom = p->remote_dom;
            break;
        case XEN_PORT_INTERDOMAIN:
            s.status = EVTCHNSTAT_interdomain;
            s.u.interdomain.dom = p->remote_dom;
            s.u.interdomain.port = p->remote_port;
            break;
        case XEN_PORT_VIRQ:
            s.status = EVTCHNSTAT_virq;
            s.u.virq = p->virq;
            break;
        case XEN_PORT_IPI:
            s.status = EVTCHNSTAT_ipi;
            break;
        default:
            s.status = EVTCHNSTAT_closed;
            break;
        }
        s.vcpu = p->notify_vcpu;
    }
    xen_unlock(x, t);
    if (rc == 0 && xen_copy_to_guest(c, c->arg[1], &s, sizeof(s)))
        rc = -XEN_EFAULT;
    return rc;
}

static long op_bind_vcpu(struct hv_xen_vm *x, uint32_t port, uint32_t vcpu)
{
    if (vcpu >= x->nvcpus)
        return -XEN_ENOENT;
    if (port >= x->valid_ports)
        return -XEN_EINVAL;
    struct xen_port *p = xen_port(x, port);
    switch (p->state) {
    case XEN_PORT_VIRQ:
        if (!virq_is_global(p->virq))
            return -XEN_EINVAL;
        p->notify_vcpu = vcpu;
        return 0;
    case XEN_PORT_UNBOUND:
    case XEN_PORT_INTERDOMAIN:
        p->notify_vcpu = vcpu;
        return 0;
    default:
        return -XEN_EINVAL;
    }
}

/* EVTCHNOP_unmask on @p port (evtchn_2l_unmask); @p self as for op_send. */
static long op_unmask(struct hv_xen_vm *x, uint32_t port, const struct hv_xen_vcpu *self)
{
    if (port >= x->valid_ports)
        return -XEN_EINVAL;
    struct hv_xen_vcpu *xv = &x->vcpus[HV_MIN(xen_port(x, port)->notify_vcpu, x->nvcpus - 1)];
    if (xen_port_test_and_clear_mask(x, port) && xen_port_test_pending(x, port)) {
        struct hv_xen_vcpu *wake = raise_sel(x, xv, port, self);
        if (wake)
            xen_wake(x, wake);
    }
    return 0;
}

/* The fast path's port read by a walk (the data memo missed): of a
   call's set-up, what the copy takes. The port, or -1 for -XEN_EFAULT
   (a value: the caller's port never lives in memory). */
static __attribute__((noinline)) int64_t port_walked(struct hv_vcpu *vcpu,
                                                     const struct hv_fetch_regs *fr, uint64_t gva)
{
    struct xen_call c;
    c.vcpu = vcpu;
    c.x = xen_of(vcpu->vm);
    c.xv = xen_vcpu_cached(c.x, vcpu);
    c.fr = fr;
    c.regs_loaded = false;
    uint32_t port;
    return xen_copy_from_guest(&c, gva, &port, sizeof(port)) ? -1 : (int64_t)port;
}

enum hv_pv_result xen_evtchn_fast(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, bool lm,
                                  uint32_t cmd, uint64_t port_gva, bool *events)
{
    uint32_t port;
    if (!xen_memo_get_u32(vcpu, fr, port_gva, &port)) {
        int64_t walked = port_walked(vcpu, fr, port_gva);
        if (walked < 0) {
            xen_set_result(vcpu, lm, -XEN_EFAULT);
            return HV_PV_DONE;
        }
        port = (uint32_t)walked;
    }
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    struct hv_xen_vcpu *xv = xen_vcpu_cached(x, vcpu);
    /* Interrupts are off on the fast path: the lock needs no irq_save. */
    hv_spin_acquire(x->lock);
    long rc = cmd == EVTCHNOP_send ? op_send(x, port, xv) : op_unmask(x, port, xv);
    /* An upcall of the caller's own vCPU goes in here, under the lock
       already held, instead of by a locked pre-entry pass; the backend
       runs the event delivery right after unless it went in already. */
    *events = xen_upcall_now(xv, vcpu);
    hv_spin_release(x->lock);
    xen_set_result(vcpu, lm, rc);
    return HV_PV_DONE;
}

/* Operations taking a plain port or (port, vcpu), run under the lock. */
long xen_evtchn_port_op(struct xen_call *c, uint32_t cmd)
{
    struct hv_xen_vm *x = c->x;
    struct xen_evtchn_bind_vcpu a; /* port, then vcpu: covers close/send/unmask too */
    size_t len = cmd == EVTCHNOP_bind_vcpu ? sizeof(a) : sizeof(uint32_t);
    if (xen_copy_from_guest(c, c->arg[1], &a, len))
        return -XEN_EFAULT;
    uint64_t t = xen_lock(x);
    long rc;
    switch (cmd) {
    case EVTCHNOP_close:
        rc = xen_evtchn_close_port(x, a.port);
        break;
    case EVTCHNOP_send:
        rc = op_send(x, a.port, c->xv);
        break;
    case EVTCHNOP_unmask:
        rc = op_unmask(x, a.port, c->xv);
        break;
    default:
        rc = op_bind_vcpu(x, a.port, a.vcpu);
        break;
    }
    xen_unlock(x, t);
    return rc;
}

static long op_reset(struct xen_call *c)
{
    uint16_t dom;
    struct hv_xen_vm *x = c->x;
    if (xen_copy_from_guest(c, c->arg[1], &dom, sizeof(dom)))
        return -XEN_EFAULT;
    uint64_t t = xen_lock(x);
    long rc = 0;
    if (!xen_is_self(x, dom)) {
        rc = xen_other_domain_error(x, dom);
    } else {
        for (uint32_t p = 1; p < x->valid_ports; p++) {
            if (xen_port(x, p)->state != XEN_PORT_FREE)
                xen_evtchn_close_port(x, p);
        }
    }
    xen_unlock(x, t);
    return rc;
}

long xen_do_event_channel_op(struct xen_call *c)
{
    /* int cmd: the upper half of a 64-bit register is not part of it. */
    uint32_t cmd = (uint32_t)c->arg[0];
    uint8_t scratch[24];

    switch (cmd) {
    case EVTCHNOP_alloc_unbound:
        return bind_new_port(c, &bind_unbound);
    case EVTCHNOP_bind_interdomain:
        return bind_new_port(c, &bind_interdomain);
    case EVTCHNOP_bind_virq:
        return bind_new_port(c, &bind_virq);
    case EVTCHNOP_bind_ipi:
        return bind_new_port(c, &bind_ipi);
    case EVTCHNOP_close:
    case EVTCHNOP_send:
    case EVTCHNOP_unmask:
    case EVTCHNOP_bind_vcpu:
        return xen_evtchn_port_op(c, cmd);
    case EVTCHNOP_status:
        return op_status(c);
    case EVTCHNOP_reset:
        return op_reset(c);
    case EVTCHNOP_bind_pirq:
        /* No physical IRQs exist for the guest (pirq >= nr_pirqs). */
        if (xen_copy_from_guest(c, c->arg[1], scratch, 12))
            return -XEN_EFAULT;
        return -XEN_EINVAL;
    case EVTCHNOP_init_control:
    case EVTCHNOP_expand_array:
        /* FIFO ABI not built in: Xen's answer is -EOPNOTSUPP. */
        if (xen_copy_from_guest(c, c->arg[1], scratch,
                                cmd == EVTCHNOP_init_control
                                    ? sizeof(struct xen_evtchn_init_control)
                                    : sizeof(uint64_t)))
            return -XEN_EFAULT;
        return -XEN_EOPNOTSUPP;
    case EVTCHNOP_set_priority: {
        uint32_t a[2];
        if (xen_copy_from_guest(c, c->arg[1], a, sizeof(a)))
            return -XEN_EFAULT;
        uint64_t t = xen_lock(c->x);
        bool valid = a[0] < c->x->valid_ports;
        xen_unlock(c->x, t);
        /* The 2-level ABI has no priorities. */
        return valid ? -XEN_ENOSYS : -XEN_EINVAL;
    }
    default:
        return -XEN_ENOSYS;
    }
}
