/*
 * console_io (the hypervisor console, read by the embedder) and the PV
 * console ring (struct xencons_interface at HVM_PARAM_CONSOLE_PFN).
 */
#include "core/guest_mem.h"
#include "xen/internal.h"

#define WRITE_CHUNK  128u        /* bytes copied from the guest at a time */
#define WRITE_BUDGET (64u << 10) /* bytes per hypercall before a continuation */

HV_STATIC_ASSERT(HV_XEN_CONSOLE_BUFFER == HV_PAGE_SIZE, "a console buffer is one page");

/* The console buffer in *slot, allocated on first use: NULL when out of
   memory. Pages, not objects: a hypercall may be the first user. */
static char *console_buffer(struct hv_xen_vm *x, char **slot)
{
    char *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    uint64_t hpa;
    char *fresh = hv_host_page_alloc(xen_host(x), 1, &hpa);
    if (!fresh)
        return NULL;
    if (__atomic_compare_exchange_n(slot, &p, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return fresh;
    hv_host_page_free(xen_host(x), fresh, 1); /* another caller was first */
    return p;
}

void xen_console_fini(struct hv_xen_vm *x)
{
    if (x->con_out)
        hv_host_page_free(xen_host(x), x->con_out, 1);
    if (x->con_in)
        hv_host_page_free(xen_host(x), x->con_in, 1);
    x->con_out = x->con_in = NULL;
}

/* What Xen prints of an unprivileged guest's output. */
static bool printable(char ch)
{
    return (ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\t';
}

/* Append to the output ring, dropping the oldest bytes when full [L]. */
static void out_put(struct hv_xen_vm *x, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!printable(s[i]))
            continue;
        if (x->con_out_len == HV_XEN_CONSOLE_BUFFER) {
            x->con_out_head = (x->con_out_head + 1) % HV_XEN_CONSOLE_BUFFER;
            x->con_out_len--;
            x->con_dropped++;
        }
        x->con_out[(x->con_out_head + x->con_out_len) % HV_XEN_CONSOLE_BUFFER] = s[i];
        x->con_out_len++;
    }
}

static long console_write(struct xen_call *c)
{
    uint32_t count = (uint32_t)c->arg[1];
    uint64_t buf = c->arg[2];
    uint32_t done = 0;
    char chunk[WRITE_CHUNK];

    if (count && !console_buffer(c->x, &c->x->con_out))
        return -XEN_ENOMEM;
    while (count) {
        if (done >= WRITE_BUDGET) {
            /* Long write: continue in a fresh hypercall, as Xen does. */
            c->arg[1] = count;
            c->arg[2] = buf;
            c->restart = true;
            return 0;
        }
        uint32_t n = HV_MIN(count, WRITE_CHUNK);
        if (xen_copy_from_guest(c, buf, chunk, n))
            return -XEN_EFAULT;
        uint64_t t = xen_lock(c->x);
        out_put(c->x, chunk, n);
        xen_unlock(c->x, t);
        buf += n;
        count -= n;
        done += n;
    }
    return 0;
}

static long console_read(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    uint32_t count = (uint32_t)c->arg[1];
    uint64_t buf = c->arg[2];
    char tmp[WRITE_CHUNK];
    long got = 0;

    /* The result is a count or an error: refuse counts that look negative. */
    if ((int32_t)count < 0)
        return -XEN_E2BIG;
    if (!__atomic_load_n(&x->con_in, __ATOMIC_ACQUIRE))
        return 0; /* no input was ever queued */
    while ((uint32_t)got < count) {
        uint64_t t = xen_lock(x);
        uint32_t n = HV_MIN(HV_MIN(count - (uint32_t)got, WRITE_CHUNK), x->con_in_len);
        for (uint32_t i = 0; i < n; i++)
            tmp[i] = x->con_in[(x->con_in_head + i) % HV_XEN_CONSOLE_BUFFER];
        xen_unlock(x, t);
        if (!n)
            break;
        if (xen_copy_to_guest(c, buf + (uint64_t)got, tmp, n))
            return -XEN_EFAULT;
        t = xen_lock(x);
        x->con_in_head = (x->con_in_head + n) % HV_XEN_CONSOLE_BUFFER;
        x->con_in_len -= n;
        xen_unlock(x, t);
        got += n;
    }
    return got;
}

long xen_do_console_io(struct xen_call *c)
{
    if (c->x->flags & HV_XEN_F_NO_CONSOLE_IO)
        return -XEN_EPERM;
    switch ((uint32_t)c->arg[0]) {
    case XEN_CONSOLEIO_WRITE:
        return console_write(c);
    case XEN_CONSOLEIO_READ:
        return console_read(c);
    default:
        return -XEN_ENOSYS;
    }
}

hv_status_t hv_xen_console_read(struct hv_vm *vm, char *buf, size_t cap, size_t *len,
                                uint64_t *dropped)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, (buf || !cap) && len != NULL, &x);
    if (entry != HV_OK)
        return entry;
    uint64_t t = xen_lock(x);
    size_t n = x->con_out ? HV_MIN(cap, (size_t)x->con_out_len) : 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = x->con_out[(x->con_out_head + i) % HV_XEN_CONSOLE_BUFFER];
    x->con_out_head = (uint32_t)((x->con_out_head + n) % HV_XEN_CONSOLE_BUFFER);
    x->con_out_len -= (uint32_t)n;
    if (dropped) {
        *dropped = x->con_dropped;
        x->con_dropped = 0;
    }
    xen_unlock(x, t);
    *len = n;
    return HV_OK;
}

hv_status_t hv_xen_console_input(struct hv_vm *vm, const char *buf, size_t len, size_t *accepted)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, (buf || !len) && accepted != NULL, &x);
    if (entry != HV_OK)
        return entry;
    if (len && !console_buffer(x, &x->con_in))
        return HV_ERR_NO_MEMORY;
    uint64_t t = xen_lock(x);
    size_t n = HV_MIN(len, (size_t)(HV_XEN_CONSOLE_BUFFER - x->con_in_len));
    for (size_t i = 0; i < n; i++)
        x->con_in[(x->con_in_head + x->con_in_len + i) % HV_XEN_CONSOLE_BUFFER] = buf[i];
    x->con_in_len += (uint32_t)n;
    xen_unlock(x, t);
    *accepted = n;
    return HV_OK;
}

/* ---- the PV console ring ------------------------------------------------ */

/* Signal the guest's console port through our host port [L]. */
static void pvcons_kick(struct hv_xen_vm *x)
{
    const struct xen_host_port *hp = &x->host_ports[x->pvcons_host_port];
    if (hp->state == XEN_PORT_INTERDOMAIN && hp->guest_port < x->valid_ports)
        xen_evtchn_set_pending(x, xen_port(x, hp->guest_port)->notify_vcpu, hp->guest_port);
}

hv_status_t hv_xen_pvcons_attach(struct hv_vm *vm, uint64_t ring_gpa, uint32_t *guest_port)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, true, &x);
    if (entry != HV_OK)
        return entry;
    if (!HV_ALIGNED(ring_gpa, HV_PAGE_SIZE))
        return HV_ERR_ALIGNMENT;
    if (hv_gpa_zero(vm, ring_gpa, HV_PAGE_SIZE) != HV_OK)
        return HV_ERR_GUEST_FAULT;
    xen_evtchn_reserve(x);
    uint64_t t = xen_lock(x);
    hv_status_t st = HV_OK;
    uint32_t hport = 0;
    long port = 0;
    if (x->pvcons) {
        st = HV_ERR_EXISTS;
        goto out;
    }
    hport = xen_free_host_port(x);
    port = hport ? xen_evtchn_alloc_port(x) : -XEN_ENOSPC;
    if (port < 0) {
        st = port == -XEN_ENOMEM ? HV_ERR_NO_MEMORY : HV_ERR_LIMIT;
        goto out;
    }
    /* A guest port connected to the host from the start, as a toolstack
       sets it up; the guest finds it in HVM_PARAM_CONSOLE_EVTCHN. */
    xen_port(x, port)->state = XEN_PORT_INTERDOMAIN;
    xen_port(x, port)->remote_dom = HV_XEN_DOMID_HOST;
    xen_port(x, port)->remote_port = hport;
    x->host_ports[hport].state = XEN_PORT_INTERDOMAIN;
    x->host_ports[hport].guest_port = (uint32_t)port;
    x->pvcons = true;
    x->pvcons_gpa = ring_gpa;
    x->pvcons_host_port = hport;
    x->params[HVM_PARAM_CONSOLE_PFN] = ring_gpa / HV_PAGE_SIZE;
    x->params[HVM_PARAM_CONSOLE_EVTCHN] = (uint64_t)port;
out:
    xen_unlock(x, t);
    if (st == HV_OK && guest_port)
        *guest_port = (uint32_t)port;
    return st;
}

/* The ring page in *@p r, checked to be guest RAM: HV_ERR_STATE when no
   console is attached, HV_ERR_GUEST_FAULT when the page is not RAM [L]. */
static hv_status_t ring(struct hv_xen_vm *x, struct xen_cons_interface **r)
{
    if (!x->pvcons)
        return HV_ERR_STATE;
    *r = hv_gpa_ptr_foreign(x->vm, x->pvcons_gpa, HV_MEM_READ | HV_MEM_WRITE); /* host API */
    return *r ? HV_OK : HV_ERR_GUEST_FAULT;
}

/*
 * Moves up to @p max bytes through one direction of the ring (io/console.h):
 * the host consumes "out" into @p to_host, or produces "in" from @p from_host
 * (exactly one of the two is used: @p to_guest says which). Indices are
 * free-running; a distance beyond the ring's size means the guest corrupted
 * it. *@p done gets the bytes moved, 0 on failure.
 */
static hv_status_t pvcons_xfer(struct hv_vm *vm, bool args_ok, bool to_guest, char *to_host,
                               const char *from_host, size_t max, size_t *done)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, args_ok, &x);
    if (entry != HV_OK)
        return entry;
    uint64_t t = xen_lock(x);
    size_t n = 0;
    struct xen_cons_interface *r;
    hv_status_t st = ring(x, &r);
    if (st != HV_OK)
        goto out;
    char *data = to_guest ? r->in : r->out;
    uint32_t size = to_guest ? sizeof(r->in) : sizeof(r->out);
    uint32_t *cons_p = to_guest ? &r->in_cons : &r->out_cons;
    uint32_t *prod_p = to_guest ? &r->in_prod : &r->out_prod;
    uint32_t cons = __atomic_load_n(cons_p, __ATOMIC_ACQUIRE);
    uint32_t prod = __atomic_load_n(prod_p, __ATOMIC_ACQUIRE);
    uint32_t used = prod - cons;
    if (used > size) {
        st = HV_ERR_GUEST_FAULT;
        goto out;
    }
    if (to_guest) {
        n = HV_MIN(max, (size_t)(size - used));
        for (size_t i = 0; i < n; i++)
            data[(prod + i) % size] = from_host[i];
        __atomic_store_n(prod_p, prod + (uint32_t)n, __ATOMIC_RELEASE);
    } else {
        n = HV_MIN((size_t)used, max);
        for (size_t i = 0; i < n; i++)
            to_host[i] = data[(cons + i) % size];
        __atomic_store_n(cons_p, cons + (uint32_t)n, __ATOMIC_RELEASE);
    }
    if (n)
        pvcons_kick(x);
out:
    xen_unlock(x, t);
    *done = n;
    return st;
}

hv_status_t hv_xen_pvcons_read(struct hv_vm *vm, char *buf, size_t cap, size_t *len)
{
    return pvcons_xfer(vm, (buf || !cap) && len != NULL, false, buf, NULL, cap, len);
}

hv_status_t hv_xen_pvcons_write(struct hv_vm *vm, const char *buf, size_t len, size_t *written)
{
    return pvcons_xfer(vm, (buf || !len) && written != NULL, true, NULL, buf, len, written);
}
