/*
 * Event channels: every EVTCHNOP with valid and invalid arguments, the
 * 2-level pending/mask/selector/upcall bits exactly as Xen sets them,
 * interdomain channels inside a hub and with the host.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "core/objects.h"
#include "xen/internal.h"
#include "xen_fixture.h"

#define OP_BIND_INTERDOMAIN 0
#define OP_BIND_VIRQ        1
#define OP_BIND_PIRQ        2
#define OP_CLOSE            3
#define OP_SEND             4
#define OP_STATUS           5
#define OP_ALLOC_UNBOUND    6
#define OP_BIND_IPI         7
#define OP_BIND_VCPU        8
#define OP_UNMASK           9
#define OP_RESET            10
#define OP_INIT_CONTROL     11
#define OP_EXPAND_ARRAY     12
#define OP_SET_PRIORITY     13
#define SELF                0x7ff0

static long evtchn(struct xf *f, uint32_t cmd, const void *arg, size_t len)
{
    memcpy(xf_gpa(f, XF_BUF), arg, len);
    return xf_call(f, HC_EVTCHN, cmd, XF_BUF, 0, 0, 0, 0);
}

static uint32_t out32(struct xf *f, size_t off)
{
    uint32_t v;
    memcpy(&v, (uint8_t *)xf_gpa(f, XF_BUF) + off, 4);
    return v;
}

/* Returns the port or a negative error. */
static long alloc_unbound(struct xf *f, uint16_t dom, uint16_t remote)
{
    uint16_t a[4] = {dom, remote, 0xffff, 0xffff};
    long rc = evtchn(f, OP_ALLOC_UNBOUND, a, 8);
    return rc ? rc : (long)out32(f, 4);
}

static long bind_interdomain(struct xf *f, uint16_t rdom, uint32_t rport)
{
    uint32_t a[3] = {rdom, rport, 0xffffffff};
    long rc = evtchn(f, OP_BIND_INTERDOMAIN, a, 12);
    return rc ? rc : (long)out32(f, 8);
}

static long bind_virq(struct xf *f, uint32_t virq, uint32_t vcpu)
{
    uint32_t a[3] = {virq, vcpu, 0xffffffff};
    long rc = evtchn(f, OP_BIND_VIRQ, a, 12);
    return rc ? rc : (long)out32(f, 8);
}

static long bind_ipi(struct xf *f, uint32_t vcpu)
{
    uint32_t a[2] = {vcpu, 0xffffffff};
    long rc = evtchn(f, OP_BIND_IPI, a, 8);
    return rc ? rc : (long)out32(f, 4);
}

static long port_op(struct xf *f, uint32_t cmd, uint32_t port)
{
    return evtchn(f, cmd, &port, 4);
}

static long bind_vcpu(struct xf *f, uint32_t port, uint32_t vcpu)
{
    uint32_t a[2] = {port, vcpu};
    return evtchn(f, OP_BIND_VCPU, a, 8);
}

struct status {
    uint32_t status, vcpu, dom, port;
};

static long status(struct xf *f, uint16_t dom, uint32_t port, struct status *s)
{
    uint8_t a[24];
    memset(a, 0xee, sizeof(a));
    memcpy(a, &dom, 2);
    memcpy(a + 4, &port, 4);
    long rc = evtchn(f, OP_STATUS, a, sizeof(a));
    if (rc == 0) {
        s->status = out32(f, 8);
        s->vcpu = out32(f, 12);
        s->dom = out32(f, 16) & 0xffff;
        s->port = out32(f, 20);
    }
    return rc;
}

static void test_alloc_bind_send_close(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    struct status s;

    CU_ASSERT_EQUAL(alloc_unbound(&f, SELF, SELF), 1);
    CU_ASSERT_EQUAL(status(&f, SELF, 1, &s), 0);
    CU_ASSERT_EQUAL(s.status, 1); /* unbound */
    CU_ASSERT_EQUAL(s.dom, 1);    /* DOMID_SELF resolved to our id */
    CU_ASSERT_EQUAL(s.vcpu, 0);
    CU_ASSERT_EQUAL(alloc_unbound(&f, 1, 0), 2); /* own id works too; remote host */
    CU_ASSERT_EQUAL(alloc_unbound(&f, 5, SELF), E_SRCH);
    CU_ASSERT_EQUAL(alloc_unbound(&f, 0, SELF), E_PERM); /* the host exists */

    /* Loopback: bind to our own unbound port 1. */
    CU_ASSERT_FALSE(xf_port_pending(&f, 3));
    CU_ASSERT_EQUAL(bind_interdomain(&f, SELF, 1), 3);
    CU_ASSERT_TRUE(xf_port_pending(&f, 3)); /* always set pending on bind */
    CU_ASSERT_EQUAL(status(&f, SELF, 3, &s), 0);
    CU_ASSERT_EQUAL(s.status, 2);
    CU_ASSERT_EQUAL(s.dom, 1);
    CU_ASSERT_EQUAL(s.port, 1);
    CU_ASSERT_EQUAL(status(&f, SELF, 1, &s), 0);
    CU_ASSERT_EQUAL(s.status, 2);
    CU_ASSERT_EQUAL(s.port, 3);
    CU_ASSERT_FALSE(xf_port_pending(&f, 1));
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, 3), 0);
    CU_ASSERT_TRUE(xf_port_pending(&f, 1));

    /* Binding: the port must be unbound and accept us. */
    CU_ASSERT_EQUAL(bind_interdomain(&f, SELF, 1), E_INVAL);   /* now interdomain */
    CU_ASSERT_EQUAL(bind_interdomain(&f, SELF, 2), E_INVAL);   /* accepts domain 0 only */
    CU_ASSERT_EQUAL(bind_interdomain(&f, SELF, 40), E_INVAL);  /* free */
    CU_ASSERT_EQUAL(bind_interdomain(&f, SELF, 100), E_INVAL); /* not valid */
    CU_ASSERT_EQUAL(bind_interdomain(&f, 9, 1), E_SRCH);
    CU_ASSERT_EQUAL(bind_interdomain(&f, 0, 5), E_INVAL); /* no such host port */
    /* Failed binds gave their local port back. */
    CU_ASSERT_EQUAL(alloc_unbound(&f, SELF, SELF), 4);

    /* Close one end: the other waits, unbound, for us again. */
    CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, 1), 0);
    CU_ASSERT_FALSE(xf_port_pending(&f, 1)); /* cleared on close */
    CU_ASSERT_EQUAL(status(&f, SELF, 1, &s), 0);
    CU_ASSERT_EQUAL(s.status, 0); /* closed */
    CU_ASSERT_EQUAL(status(&f, SELF, 3, &s), 0);
    CU_ASSERT_EQUAL(s.status, 1);
    CU_ASSERT_EQUAL(s.dom, 1);
    xf_clear_pending(&f, 3);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, 3), 0); /* unbound: dropped */
    CU_ASSERT_FALSE(xf_port_pending(&f, 3));
    CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, 1), E_INVAL);
    CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, 0), E_INVAL);  /* reserved */
    CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, 63), E_INVAL); /* free */
    CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, 64), E_INVAL); /* not valid */
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, 0), E_INVAL);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, 63), E_INVAL);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, 0xffffffff), E_INVAL);
    CU_ASSERT_EQUAL(status(&f, SELF, 0, &s), 0);
    CU_ASSERT_EQUAL(s.status, 0);
    CU_ASSERT_EQUAL(status(&f, SELF, 63, &s), 0);
    CU_ASSERT_EQUAL(s.status, 0);
    CU_ASSERT_EQUAL(status(&f, SELF, 64, &s), E_INVAL);
    CU_ASSERT_EQUAL(status(&f, 3, 1, &s), E_SRCH);
    CU_ASSERT_EQUAL(status(&f, 0, 1, &s), E_PERM);
    /* The lowest free port is reused. */
    CU_ASSERT_EQUAL(alloc_unbound(&f, SELF, SELF), 1);

    /* Bad argument pointers. */
    for (uint32_t cmd = 0; cmd <= 13; cmd++)
        CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, cmd, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, 14, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, 99, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    /* int cmd: upper bits of RDI ignored. */
    uint32_t p = 3;
    memcpy(xf_gpa(&f, XF_BUF), &p, 4);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, 0x500000004ull, XF_BUF, 0, 0, 0, 0), 0); /* send */
    /* Output written to a read-only page: -EFAULT (the port stays allocated). */
    memcpy(xf_gpa(&f, XF_RO_PAGE), (uint16_t[4]){SELF, SELF, 0, 0}, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, OP_ALLOC_UNBOUND, XF_RO_PAGE, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(status(&f, SELF, 5, &s), 0);
    CU_ASSERT_EQUAL(s.status, 1);
    xf_teardown(&f);
}

static void test_virq_ipi_bind_vcpu(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true});
    struct status s;
    CU_ASSERT_EQUAL(bind_virq(&f, 24, 0), E_INVAL);
    CU_ASSERT_EQUAL(bind_virq(&f, 0xffffffff, 0), E_INVAL);
    CU_ASSERT_EQUAL(bind_virq(&f, 0, 2), E_NOENT); /* VIRQ_TIMER, no vCPU 2 */
    CU_ASSERT_EQUAL(bind_virq(&f, 2, 1), E_INVAL); /* global VIRQ on vCPU 1 */
    long t0 = bind_virq(&f, 0, 0);
    CU_ASSERT_EQUAL(t0, 1);
    CU_ASSERT_EQUAL(bind_virq(&f, 0, 0), E_EXIST);
    long t1 = bind_virq(&f, 0, 1);
    CU_ASSERT_EQUAL(t1, 2);
    CU_ASSERT_EQUAL(status(&f, SELF, 2, &s), 0);
    CU_ASSERT_EQUAL(s.status, 4); /* virq */
    CU_ASSERT_EQUAL(s.vcpu, 1);
    CU_ASSERT_EQUAL(s.dom, 0);    /* u.virq = VIRQ_TIMER */
    long g = bind_virq(&f, 2, 0); /* VIRQ_CONSOLE: global */
    CU_ASSERT_EQUAL(g, 3);
    CU_ASSERT_EQUAL(bind_vcpu(&f, t1, 0), E_INVAL); /* per-vCPU VIRQ: fixed */
    CU_ASSERT_EQUAL(bind_vcpu(&f, g, 1), 0);        /* global: may move */
    CU_ASSERT_EQUAL(status(&f, SELF, g, &s), 0);
    CU_ASSERT_EQUAL(s.vcpu, 1);
    CU_ASSERT_EQUAL(bind_vcpu(&f, g, 2), E_NOENT);
    CU_ASSERT_EQUAL(bind_vcpu(&f, 50, 1), E_INVAL); /* free port */
    CU_ASSERT_EQUAL(bind_vcpu(&f, 64, 1), E_INVAL); /* invalid port */

    CU_ASSERT_EQUAL(bind_ipi(&f, 2), E_NOENT);
    long ipi = bind_ipi(&f, 1);
    CU_ASSERT_EQUAL(ipi, 4);
    CU_ASSERT_EQUAL(bind_vcpu(&f, ipi, 0), E_INVAL); /* IPI: fixed */
    CU_ASSERT_EQUAL(status(&f, SELF, ipi, &s), 0);
    CU_ASSERT_EQUAL(s.status, 5);
    CU_ASSERT_EQUAL(s.vcpu, 1);
    /* An IPI notifies its vCPU: selector and upcall of vCPU 1, not 0. */
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, ipi), 0);
    CU_ASSERT_TRUE(xf_port_pending(&f, ipi));
    CU_ASSERT_EQUAL(xf_pending_sel(&f, 1), 1);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 1), 1);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 0);
    /* Unbound and interdomain ports may change vCPU. */
    long u = alloc_unbound(&f, SELF, SELF);
    CU_ASSERT_EQUAL(bind_vcpu(&f, u, 1), 0);
    /* Closing a VIRQ port frees the VIRQ for binding again. */
    CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, t0), 0);
    CU_ASSERT_EQUAL(bind_virq(&f, 0, 0), t0);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, t0), E_INVAL); /* VIRQs are not sent */
    xf_teardown(&f);
}

static void check_2l_bits(bool compat)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.compat = compat});
    if (compat) {
        /* A 32-bit guest latches the i386 layout when it sets CALLBACK_IRQ
           (or writes the hypercall page MSR). */
        uint8_t param[16];
        memset(param, 0, sizeof(param));
        memcpy(param, (uint16_t[1]){SELF}, 2);
        memcpy(xf_gpa(&f, XF_BUF2), param, 16);
        CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 0, XF_BUF2, 0, 0, 0, 0), 0);
        CU_ASSERT_TRUE(f.vm->xen->compat);
    }
    /* Ports 1..39 taken so that the test port is 40: selector bit 1 in the
       i386 layout (32 ports per word), 0 in the 64-bit one. */
    long port = 0;
    for (int i = 0; i < 40; i++)
        port = bind_ipi(&f, 0);
    CU_ASSERT_EQUAL(port, 40);
    uint64_t sel = compat ? 1u << 1 : 1u << 0;
    /* Everything was set pending by nothing yet. */
    CU_ASSERT_EQUAL(xf_pending_sel(&f, 0), 0);
    /* Masked: only the pending bit. */
    xf_mask_port(&f, port, true);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, port), 0);
    CU_ASSERT_TRUE(xf_port_pending(&f, port));
    CU_ASSERT_EQUAL(xf_pending_sel(&f, 0), 0);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 0);
    /* Unmask: mask cleared, pending found, selector and upcall set. */
    CU_ASSERT_EQUAL(port_op(&f, OP_UNMASK, port), 0);
    CU_ASSERT_FALSE(xf_port_masked(&f, port));
    CU_ASSERT_EQUAL(xf_pending_sel(&f, 0), sel);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 1);
    /* Pending already set: a second send is no new edge. */
    xf_set_upcall_pending(&f, 0, 0);
    memset((uint8_t *)f.vm->xen->shinfo + (compat ? 4 : 8), 0, compat ? 4 : 8);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, port), 0);
    CU_ASSERT_EQUAL(xf_pending_sel(&f, 0), 0);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 0);
    /* The guest clears pending: the next send sets selector and upcall. */
    xf_clear_pending(&f, port);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, port), 0);
    CU_ASSERT_EQUAL(xf_pending_sel(&f, 0), sel);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 1);
    /* Selector already set (another port of the word pending): no new upcall. */
    xf_set_upcall_pending(&f, 0, 0);
    xf_clear_pending(&f, port);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, port), 0);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 0);
    /* Unmasking a port that is not pending or not masked changes nothing. */
    CU_ASSERT_EQUAL(port_op(&f, OP_UNMASK, 39), 0);
    CU_ASSERT_EQUAL(port_op(&f, OP_UNMASK, 63), 0); /* free but valid */
    CU_ASSERT_EQUAL(port_op(&f, OP_UNMASK, 64), E_INVAL);
    xf_teardown(&f);
}

static void test_2l_bits(void)
{
    check_2l_bits(false);
    check_2l_bits(true);
}

static void test_port_limits(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.cfg = {.max_evtchn_ports = 8}});
    for (long p = 1; p < 8; p++)
        CU_ASSERT_EQUAL(bind_ipi(&f, 0), p);
    CU_ASSERT_EQUAL(bind_ipi(&f, 0), E_NOSPC);
    CU_ASSERT_EQUAL(alloc_unbound(&f, SELF, SELF), E_NOSPC);
    CU_ASSERT_EQUAL(bind_virq(&f, 0, 0), E_NOSPC);
    struct status s;
    CU_ASSERT_EQUAL(status(&f, SELF, 8, &s), E_INVAL);
    xf_teardown(&f);

    /* Ports become valid a bucket of 64 at a time. */
    xf_setup(&f, NULL);
    for (long p = 1; p < 64; p++)
        bind_ipi(&f, 0);
    CU_ASSERT_EQUAL(status(&f, SELF, 64, &s), E_INVAL);
    CU_ASSERT_EQUAL(bind_ipi(&f, 0), 64);
    CU_ASSERT_EQUAL(status(&f, SELF, 127, &s), 0);
    CU_ASSERT_EQUAL(s.status, 0);
    CU_ASSERT_EQUAL(status(&f, SELF, 128, &s), E_INVAL);
    /* Beyond the valid ports, in a port page not allocated yet (1024) and
       beyond any (0x7fffffff): every port operation refuses them before
       looking the port up. */
    static const uint32_t beyond[] = {1024, 0x7fffffff};
    for (unsigned i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, beyond[i]), E_INVAL);
        CU_ASSERT_EQUAL(port_op(&f, OP_SEND, beyond[i]), E_INVAL);
        CU_ASSERT_EQUAL(port_op(&f, OP_UNMASK, beyond[i]), E_INVAL);
        CU_ASSERT_EQUAL(bind_vcpu(&f, beyond[i], 0), E_INVAL);
        CU_ASSERT_EQUAL(bind_interdomain(&f, SELF, beyond[i]), E_INVAL);
        CU_ASSERT_EQUAL(status(&f, SELF, beyond[i], &s), E_INVAL);
    }
    xf_teardown(&f);

    /* Every one of the default 1024 ports, across the port pages that are
       allocated as they fill (256 ports a page, the first at enable). */
    xf_setup(&f, NULL);
    CU_ASSERT_EQUAL(f.vm->xen->port_pages, 1);
    for (long p = 1; p < 1024; p++) {
        long got = bind_ipi(&f, 0);
        CU_ASSERT_EQUAL(got, p);
        if (got != p)
            break;
    }
    CU_ASSERT_EQUAL(f.vm->xen->port_pages, 4);
    CU_ASSERT_PTR_NULL(f.vm->xen->port_spare);
    CU_ASSERT_EQUAL(bind_ipi(&f, 0), E_NOSPC);
    CU_ASSERT_EQUAL(status(&f, SELF, 700, &s), 0);
    CU_ASSERT_EQUAL(s.status, 5); /* EVTCHNSTAT_ipi */
    CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, 300), 0);
    CU_ASSERT_EQUAL(bind_ipi(&f, 0), 300); /* the lowest free port again */
    xf_teardown(&f);
}

static void test_fifo_and_others(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    uint8_t init[24];
    memset(init, 0, sizeof(init));
    CU_ASSERT_EQUAL(evtchn(&f, OP_INIT_CONTROL, init, sizeof(init)), E_OPNOTSUPP);
    CU_ASSERT_EQUAL(evtchn(&f, OP_EXPAND_ARRAY, init, 8), E_OPNOTSUPP);
    long p = bind_ipi(&f, 0);
    uint32_t prio[2] = {(uint32_t)p, 3};
    CU_ASSERT_EQUAL(evtchn(&f, OP_SET_PRIORITY, prio, 8), E_NOSYS);
    prio[0] = 64;
    CU_ASSERT_EQUAL(evtchn(&f, OP_SET_PRIORITY, prio, 8), E_INVAL);
    uint32_t pirq[3] = {1, 0, 0};
    CU_ASSERT_EQUAL(evtchn(&f, OP_BIND_PIRQ, pirq, 12), E_INVAL);
    /* reset: all our ports closed. */
    bind_virq(&f, 0, 0);
    uint16_t dom = SELF;
    CU_ASSERT_EQUAL(evtchn(&f, OP_RESET, &dom, 2), 0);
    struct status s;
    CU_ASSERT_EQUAL(status(&f, SELF, p, &s), 0);
    CU_ASSERT_EQUAL(s.status, 0);
    CU_ASSERT_EQUAL(bind_virq(&f, 0, 0), 1); /* the VIRQ was unbound too */
    dom = 4;
    CU_ASSERT_EQUAL(evtchn(&f, OP_RESET, &dom, 2), E_SRCH);
    xf_teardown(&f);
}

static void test_interdomain_hub(void)
{
    struct xf a, b;
    xf_setup(&a, &(struct xf_opts){.no_xen = true});
    struct hv_xen_hub *hub;
    CU_ASSERT_EQUAL_FATAL(hv_xen_hub_create(a.ctx, &hub), HV_OK);
    struct hv_xen_config cfg = {.size = sizeof(cfg), .tsc_khz = XF_TSC_KHZ, .hub = hub, .domid = 1};
    CU_ASSERT_EQUAL_FATAL(hv_xen_enable(a.vm, &cfg), HV_OK);
    xf_setup_peer(&b, &a, &(struct xf_opts){.hub = hub, .cfg = {.domid = 2}});

    long pa = alloc_unbound(&a, SELF, 2);
    CU_ASSERT_EQUAL(pa, 1);
    long other = alloc_unbound(&a, SELF, 3); /* for domain 3 only */
    CU_ASSERT_EQUAL(bind_interdomain(&b, 1, other), E_INVAL);
    CU_ASSERT_EQUAL(bind_interdomain(&b, 1, 200), E_INVAL);
    long pb = bind_interdomain(&b, 1, pa);
    CU_ASSERT_EQUAL(pb, 1);
    CU_ASSERT_TRUE(xf_port_pending(&b, pb));
    CU_ASSERT_FALSE(xf_port_pending(&a, pa));
    struct status s;
    CU_ASSERT_EQUAL(status(&a, SELF, pa, &s), 0);
    CU_ASSERT_EQUAL(s.status, 2);
    CU_ASSERT_EQUAL(s.dom, 2);
    CU_ASSERT_EQUAL(s.port, pb);
    CU_ASSERT_EQUAL(status(&a, 2, pa, &s), E_PERM); /* another domain's port */
    /* Events cross both ways; the receiver's own bits only. */
    xf_clear_pending(&b, pb);
    CU_ASSERT_EQUAL(port_op(&a, OP_SEND, pa), 0);
    CU_ASSERT_TRUE(xf_port_pending(&b, pb));
    CU_ASSERT_FALSE(xf_port_pending(&a, pa));
    CU_ASSERT_EQUAL(xf_upcall_pending(&b, 0), 1);
    CU_ASSERT_EQUAL(port_op(&b, OP_SEND, pb), 0);
    CU_ASSERT_TRUE(xf_port_pending(&a, pa));
    /* A guest cannot allocate in another domain. */
    CU_ASSERT_EQUAL(alloc_unbound(&b, 1, SELF), E_PERM);
    /* Domain 1 goes away: B's end waits for domain 1 again. */
    CU_ASSERT_EQUAL(hv_xen_disable(a.vm), HV_OK);
    CU_ASSERT_EQUAL(status(&b, SELF, pb, &s), 0);
    CU_ASSERT_EQUAL(s.status, 1);
    CU_ASSERT_EQUAL(s.dom, 1);
    CU_ASSERT_EQUAL(bind_interdomain(&b, 1, pa), E_SRCH);
    xf_teardown_peer(&b);
    CU_ASSERT_EQUAL(hv_xen_hub_destroy(hub), HV_OK);
    xf_teardown(&a);
}

static void test_host_ports(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    uint32_t g, hp, hp2, gp;
    bool pending;
    struct status s;
    CU_ASSERT_EQUAL(hv_xen_evtchn_alloc_unbound(NULL, &g), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_evtchn_alloc_unbound(f.vm, &g), HV_OK);
    CU_ASSERT_EQUAL(g, 1);
    CU_ASSERT_EQUAL(status(&f, SELF, g, &s), 0);
    CU_ASSERT_EQUAL(s.status, 1);
    CU_ASSERT_EQUAL(s.dom, 0);
    long mine = alloc_unbound(&f, SELF, SELF);
    CU_ASSERT_EQUAL(hv_xen_evtchn_bind(f.vm, mine, &hp), HV_ERR_NOT_FOUND); /* not for the host */
    CU_ASSERT_EQUAL(hv_xen_evtchn_bind(f.vm, 99, &hp), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_evtchn_bind(f.vm, g, &hp), HV_OK);
    CU_ASSERT_TRUE(xf_port_pending(&f, g));
    CU_ASSERT_EQUAL(status(&f, SELF, g, &s), 0);
    CU_ASSERT_EQUAL(s.status, 2);
    CU_ASSERT_EQUAL(s.dom, 0);
    CU_ASSERT_EQUAL(s.port, hp);
    /* Guest -> host. */
    CU_ASSERT_EQUAL(hv_xen_evtchn_pending(f.vm, hp, &pending, &gp), HV_OK);
    CU_ASSERT_FALSE(pending);
    CU_ASSERT_EQUAL(gp, g);
    CU_ASSERT_EQUAL(port_op(&f, OP_SEND, g), 0);
    CU_ASSERT_EQUAL(f.notifies, 1);
    CU_ASSERT_EQUAL(f.last_notified, hp);
    CU_ASSERT_EQUAL(hv_xen_evtchn_pending(f.vm, hp, &pending, NULL), HV_OK);
    CU_ASSERT_TRUE(pending);
    CU_ASSERT_EQUAL(hv_xen_evtchn_pending(f.vm, hp, &pending, NULL), HV_OK);
    CU_ASSERT_FALSE(pending);
    /* Host -> guest. */
    xf_clear_pending(&f, g);
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(f.vm, hp), HV_OK);
    CU_ASSERT_TRUE(xf_port_pending(&f, g));
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(f.vm, 60), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(f.vm, 0), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(f.vm, 1000), HV_ERR_NOT_FOUND);
    /* The guest binds to a host port of its own choosing. */
    CU_ASSERT_EQUAL(hv_xen_evtchn_host_unbound(f.vm, &hp2), HV_OK);
    long g2 = bind_interdomain(&f, 0, hp2);
    CU_ASSERT(g2 > 0);
    CU_ASSERT_EQUAL(hv_xen_evtchn_pending(f.vm, hp2, &pending, &gp), HV_OK);
    CU_ASSERT_EQUAL(gp, (uint32_t)g2);
    CU_ASSERT_EQUAL(bind_interdomain(&f, 0, hp2), E_INVAL); /* taken now */
    /* The guest closes its end: the host port waits again. */
    CU_ASSERT_EQUAL(port_op(&f, OP_CLOSE, g2), 0);
    CU_ASSERT_EQUAL(hv_xen_evtchn_pending(f.vm, hp2, &pending, &gp), HV_OK);
    CU_ASSERT_EQUAL(gp, 0);
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(f.vm, hp2), HV_OK); /* dropped */
    /* The host closes: the guest end waits for the host. */
    CU_ASSERT_EQUAL(hv_xen_evtchn_close(f.vm, hp), HV_OK);
    CU_ASSERT_EQUAL(status(&f, SELF, g, &s), 0);
    CU_ASSERT_EQUAL(s.status, 1);
    CU_ASSERT_EQUAL(s.dom, 0);
    CU_ASSERT_EQUAL(hv_xen_evtchn_close(f.vm, hp), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_evtchn_bind(f.vm, g, &hp), HV_OK); /* again */
    xf_teardown(&f);
}

void xen_suite_evtchn(void)
{
    CU_pSuite s = CU_add_suite("xen_evtchn", NULL, NULL);
    CU_add_test(s, "alloc_bind_send_close", test_alloc_bind_send_close);
    CU_add_test(s, "virq_ipi_bind_vcpu", test_virq_ipi_bind_vcpu);
    CU_add_test(s, "2l_bits", test_2l_bits);
    CU_add_test(s, "port_limits", test_port_limits);
    CU_add_test(s, "fifo_and_others", test_fifo_and_others);
    CU_add_test(s, "interdomain_hub", test_interdomain_hub);
    CU_add_test(s, "host_ports", test_host_ports);
}
