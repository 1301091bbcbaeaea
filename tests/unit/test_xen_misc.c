/*
 * console_io, sched_op and timers, upcall delivery, memory_op, hvm_op,
 * vcpu_op and the pvclock.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "core/guest_mem.h"
#include "core/objects.h"
#include "xen/internal.h"
#include "xen_fixture.h"

#define SELF 0x7ff0
#define MS   1000000ull

static long bind_ipi(struct xf *f, uint32_t vcpu)
{
    uint32_t a[2] = {vcpu, 0};
    memcpy(xf_gpa(f, XF_BUF), a, 8);
    long rc = xf_call(f, HC_EVTCHN, 7, XF_BUF, 0, 0, 0, 0);
    uint32_t p;
    memcpy(&p, (uint8_t *)xf_gpa(f, XF_BUF) + 4, 4);
    return rc ? rc : (long)p;
}

static long bind_virq(struct xf *f, uint32_t virq, uint32_t vcpu)
{
    uint32_t a[3] = {virq, vcpu, 0};
    memcpy(xf_gpa(f, XF_BUF), a, 12);
    long rc = xf_call(f, HC_EVTCHN, 1, XF_BUF, 0, 0, 0, 0);
    uint32_t p;
    memcpy(&p, (uint8_t *)xf_gpa(f, XF_BUF) + 8, 4);
    return rc ? rc : (long)p;
}

static long send(struct xf *f, uint32_t port)
{
    memcpy(xf_gpa(f, XF_BUF), &port, 4);
    return xf_call(f, HC_EVTCHN, 4, XF_BUF, 0, 0, 0, 0);
}

static long hvm_param(struct xf *f, bool set, uint16_t dom, uint32_t index, uint64_t *value)
{
    uint8_t p[16];
    memset(p, 0, sizeof(p));
    memcpy(p, &dom, 2);
    memcpy(p + 4, &index, 4);
    memcpy(p + 8, value, 8);
    memcpy(xf_gpa(f, XF_BUF), p, 16);
    long rc = xf_call(f, HC_HVM, set ? 0 : 1, XF_BUF, 0, 0, 0, 0);
    memcpy(value, (uint8_t *)xf_gpa(f, XF_BUF) + 8, 8);
    return rc;
}

static long set_callback_vector(struct xf *f, uint8_t vector)
{
    uint64_t v = (2ull << 56) | vector;
    return hvm_param(f, true, SELF, 0, &v);
}

/* ---- console_io ---- */

static void test_console_io(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    char out[64];
    size_t n;
    uint64_t dropped;
    const char msg[] = "hi\x01\tthere\x7f\n";
    /* The buffers come with their first use: nothing to read, nothing
       allocated; an empty write or read allocates nothing either. */
    CU_ASSERT_EQUAL(hv_xen_console_read(f.vm, out, sizeof(out), &n, &dropped), HV_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 0, 0, XF_BUF, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 1, 8, XF_BUF, 0, 0, 0), 0);
    CU_ASSERT_PTR_NULL(f.vm->xen->con_out);
    CU_ASSERT_PTR_NULL(f.vm->xen->con_in);
    memcpy(xf_gpa(&f, XF_BUF), msg, sizeof(msg) - 1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 0, sizeof(msg) - 1, XF_BUF, 0, 0, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(f.vm->xen->con_out);
    CU_ASSERT_PTR_NULL(f.vm->xen->con_in);
    CU_ASSERT_EQUAL(hv_xen_console_read(f.vm, out, sizeof(out), &n, &dropped), HV_OK);
    CU_ASSERT_EQUAL(n, 9); /* control characters other than tab and newline dropped */
    CU_ASSERT_EQUAL(memcmp(out, "hi\tthere\n", 9), 0);
    CU_ASSERT_EQUAL(dropped, 0);
    CU_ASSERT_EQUAL(hv_xen_console_read(f.vm, out, sizeof(out), &n, NULL), HV_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 0, 0, XF_HOLE, 0, 0, 0), 0); /* nothing to copy */
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 0, 5, XF_HOLE, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 7, 5, XF_BUF, 0, 0, 0), E_NOSYS);
    /* A long write is continued: RIP stays on the call, the registers advance. */
    memset(xf_gpa(&f, XF_ALIAS_GPA), 'a', 100000);
    uint64_t rip = xf_rip(&f, NULL);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 0, 100000, XF_ALIAS_GVA, 0, 0, 0), HC_CONSOLE);
    CU_ASSERT_EQUAL(xf_rip(&f, NULL), rip); /* re-executes */
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RSI], 100000 - 65536);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RDX], XF_ALIAS_GVA + 65536);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX], 18); /* still the hypercall number */
    CU_ASSERT_EQUAL(hv_xen_console_read(f.vm, out, sizeof(out), &n, &dropped), HV_OK);
    CU_ASSERT_EQUAL(dropped, 65536 - HV_XEN_CONSOLE_BUFFER);

    /* CONSOLEIO_read: the queued input, up to count. */
    size_t acc;
    CU_ASSERT_EQUAL(hv_xen_console_input(f.vm, "keys", 4, &acc), HV_OK);
    CU_ASSERT_EQUAL(acc, 4);
    memset(xf_gpa(&f, XF_BUF), 0, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 1, 3, XF_BUF, 0, 0, 0), 3);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&f, XF_BUF), "key", 3), 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 1, 0x80000000u, XF_BUF, 0, 0, 0), E_2BIG);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 1, 10, XF_RO_PAGE, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 1, 10, XF_BUF, 0, 0, 0), 1); /* "s" kept */
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 1, 10, XF_BUF, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_console_read(NULL, out, 1, &n, NULL), HV_ERR_INVALID_ARG);
    xf_teardown(&f);

    /* A domain without console rights. */
    xf_setup(&f, &(struct xf_opts){.cfg = {.flags = HV_XEN_F_NO_CONSOLE_IO}});
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 0, 2, XF_BUF, 0, 0, 0), E_PERM);
    CU_ASSERT_EQUAL(xf_call(&f, HC_CONSOLE, 1, 2, XF_BUF, 0, 0, 0), E_PERM);
    xf_teardown(&f);
}

/* ---- sched_op ---- */

static void test_shutdown(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    uint32_t reason = 3; /* crash */
    memcpy(xf_gpa(&f, XF_BUF), &reason, 4);
    uint64_t rip = xf_rip(&f, NULL);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 2, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_GUEST_SHUTDOWN);
    CU_ASSERT_EQUAL(f.exit.guest_shutdown.reason, 3);
    CU_ASSERT_EQUAL(f.exit.rip, rip);
    CU_ASSERT_EQUAL(xf_rip(&f, NULL), rip + 3); /* completed */
    /* The first code sticks (domain_shutdown latches it). */
    reason = 0;
    memcpy(xf_gpa(&f, XF_BUF), &reason, 4);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 2, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.guest_shutdown.reason, 3);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 2, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_UNHANDLED);
    xf_teardown(&f);

    /* shutdown_code latches a code that a later shutdown reports. */
    xf_setup(&f, NULL);
    reason = 0x105; /* truncated to 8 bits, as Xen does */
    memcpy(xf_gpa(&f, XF_BUF), &reason, 4);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 5, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_UNHANDLED); /* no exit */
    reason = 1;
    memcpy(xf_gpa(&f, XF_BUF), &reason, 4);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 5, XF_BUF, 0, 0, 0, 0), 0);
    reason = 0;
    memcpy(xf_gpa(&f, XF_BUF), &reason, 4);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 2, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_GUEST_SHUTDOWN);
    CU_ASSERT_EQUAL(f.exit.guest_shutdown.reason, 5);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 5, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    /* remote_shutdown needs privilege; yield; pin_override; unknown. */
    uint32_t rs[2] = {1, 0}; /* ourselves */
    memcpy(xf_gpa(&f, XF_BUF), rs, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 4, XF_BUF, 0, 0, 0, 0), E_PERM);
    rs[0] = 0x7ff0; /* DOMID_SELF names no domain here */
    memcpy(xf_gpa(&f, XF_BUF), rs, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 4, XF_BUF, 0, 0, 0, 0), E_SRCH);
    rs[0] = 9;
    memcpy(xf_gpa(&f, XF_BUF), rs, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 4, XF_BUF, 0, 0, 0, 0), E_SRCH);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 4, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 0, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_YIELD);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 7, XF_BUF, 0, 0, 0, 0), E_PERM);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 6, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 99, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    xf_teardown(&f);
}

static void test_block_and_wake(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    struct hv_xen_vcpu_status st;
    CU_ASSERT_EQUAL(bind_ipi(&f, 0), 1);
    /* Nothing pending: the vCPU blocks (HLT exit, no deadline). */
    ((uint8_t *)f.vm->xen->shinfo)[1] = 1; /* upcall mask set by the guest */
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 1, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_BLOCK);
    CU_ASSERT_EQUAL(f.exit.hlt.deadline_ns, 0);
    CU_ASSERT_EQUAL(((uint8_t *)f.vm->xen->shinfo)[1], 0); /* block re-enables delivery */
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_TRUE(st.blocked);
    CU_ASSERT_FALSE(st.event_pending);
    /* An event wakes it: the callback fires, the status says runnable. */
    CU_ASSERT_EQUAL(f.wakes, 0);
    uint32_t hp, g;
    CU_ASSERT_EQUAL(hv_xen_evtchn_alloc_unbound(f.vm, &g), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_evtchn_bind(f.vm, g, &hp), HV_OK);
    CU_ASSERT_EQUAL(f.wakes, 1);
    CU_ASSERT_PTR_EQUAL(f.last_woken, f.vcpu);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_FALSE(st.blocked);
    CU_ASSERT_TRUE(st.event_pending);

    /* With the callback vector set and IF=1, a pending upcall means no block. */
    CU_ASSERT_EQUAL(set_callback_vector(&f, 0xf3), 0);
    xf_set_if(&f, f.vcpu, true);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 1, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_UNHANDLED);
    /* With IF=0 the upcall cannot be taken: it blocks. */
    xf_set_if(&f, f.vcpu, false);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 1, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    xf_teardown(&f);
}

static void test_poll(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    /* Port a: an IPI; port b: bound to the host, which signals it. */
    long a = bind_ipi(&f, 0);
    uint32_t b, hp;
    CU_ASSERT_EQUAL(hv_xen_evtchn_alloc_unbound(f.vm, &b), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_evtchn_bind(f.vm, b, &hp), HV_OK);
    xf_clear_pending(&f, b); /* binding set it */
    xf_set_upcall_pending(&f, 0, 0);
    uint64_t poll[3];
    uint32_t ports[2] = {(uint32_t)a, (uint32_t)b};
    memcpy(xf_gpa(&f, XF_BUF2), ports, 8);
    /* ports, nr_ports, timeout (absolute guest time) */
    poll[0] = XF_BUF2;
    poll[1] = 2;
    poll[2] = 5 * MS;
    memcpy(xf_gpa(&f, XF_BUF), poll, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 3, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_POLL);
    CU_ASSERT_EQUAL(f.exit.hlt.deadline_ns, 1000000000ull + 5 * MS);
    /* A masked port still ends the poll. */
    xf_mask_port(&f, b, true);
    struct hv_vcpu *v = f.vcpu;
    unsigned w = f.wakes;
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(f.vm, hp), HV_OK);
    CU_ASSERT_EQUAL(f.wakes, w + 1);
    CU_ASSERT_PTR_EQUAL(f.last_woken, v);
    /* A pending port: the poll returns at once. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 3, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_UNHANDLED);
    /* The timeout ends it too. */
    xf_clear_pending(&f, b);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 3, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    f.mh.time += 6 * MS;
    struct hv_xen_vcpu_status st;
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_FALSE(st.blocked);
    CU_ASSERT_EQUAL(f.wakes, w + 2);
    /* Bad arguments. */
    poll[1] = 129;
    memcpy(xf_gpa(&f, XF_BUF), poll, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 3, XF_BUF, 0, 0, 0, 0), E_INVAL);
    poll[1] = 2;
    ports[1] = 4096;
    memcpy(xf_gpa(&f, XF_BUF), poll, 24);
    memcpy(xf_gpa(&f, XF_BUF2), ports, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 3, XF_BUF, 0, 0, 0, 0), E_INVAL);
    poll[0] = XF_HOLE;
    memcpy(xf_gpa(&f, XF_BUF), poll, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 3, XF_BUF, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 3, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    xf_teardown(&f);

    /* i386 layout: ports(4) nr(4) timeout(8), 16 bytes. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    a = bind_ipi(&f, 0);
    memcpy(xf_gpa(&f, XF_BUF2), &a, 4);
    uint32_t p32[4] = {XF_BUF2, 1, 0, 0};
    memcpy(xf_gpa(&f, XF_BUF), p32, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 3, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.exit.hlt.deadline_ns, 0);
    xf_teardown(&f);
}

/* ---- timers and delivery ---- */

static void test_timers(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    long tp = bind_virq(&f, 0, 0);
    CU_ASSERT_EQUAL(tp, 1);
    CU_ASSERT_EQUAL(set_callback_vector(&f, 0xf3), 0);
    xf_set_if(&f, f.vcpu, true);
    /* set_timer_op(now + 2 ms), then block: the exit carries the deadline. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, 2 * MS, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 1, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.exit.hlt.deadline_ns, 1000000000ull + 2 * MS);
    CU_ASSERT_FALSE(xf_port_pending(&f, tp));
    /* Not yet due. */
    f.mh.time += 1 * MS;
    struct hv_xen_vcpu_status st;
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_TRUE(st.blocked);
    CU_ASSERT_EQUAL(st.deadline_ns, 1000000000ull + 2 * MS);
    /* Due: VIRQ_TIMER pending, the vCPU woken, then the upcall injected. */
    f.mh.time += 1 * MS;
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_FALSE(st.blocked);
    CU_ASSERT_EQUAL(st.deadline_ns, 0);
    CU_ASSERT_TRUE(xf_port_pending(&f, tp));
    CU_ASSERT_EQUAL(f.wakes, 1);
    uint8_t vec;
    unsigned before = xf_injected(f.vcpu, NULL);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, &vec), before + 1);
    CU_ASSERT_EQUAL(vec, 0xf3);

    /* Cancel; absurd timeouts fire in 100 ms; past ones at once. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, 50 * MS, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, 0, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, 0);
    uint64_t now = f.mh.time - 1000000000ull;
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, now + (1ull << 51), 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, f.mh.time + 100 * MS);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, 1ull << 63, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, f.mh.time + 100 * MS);
    xf_clear_pending(&f, tp);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, 1, 0, 0, 0, 0, 0), 0); /* long past */
    xf_enter(&f, f.vcpu);
    CU_ASSERT_TRUE(xf_port_pending(&f, tp));

    /* VCPUOP_set_singleshot_timer / stop, and the periodic timer. */
    uint64_t sst[2] = {now + 3 * MS, 0};
    memcpy(xf_gpa(&f, XF_BUF), sst, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 8, 0, XF_BUF, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, 1000000000ull + now + 3 * MS);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 8, 1, XF_BUF, 0, 0, 0), E_INVAL); /* not itself */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 8, 2, XF_BUF, 0, 0, 0), E_NOENT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 8, 0, XF_HOLE, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 9, 1, 0, 0, 0, 0), E_INVAL);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 9, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, 0);
    xf_clear_pending(&f, tp);
    sst[0] = 1; /* in the past: injected now, VCPU_SSHOTTMR_future or not */
    sst[1] = 1;
    memcpy(xf_gpa(&f, XF_BUF), sst, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 8, 0, XF_BUF, 0, 0, 0), 0);
    CU_ASSERT_TRUE(xf_port_pending(&f, tp));
    uint64_t period = MS / 2;
    memcpy(xf_gpa(&f, XF_BUF), &period, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 6, 0, XF_BUF, 0, 0, 0), E_INVAL);
    period = 10 * MS;
    memcpy(xf_gpa(&f, XF_BUF), &period, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 6, 0, XF_BUF, 0, 0, 0), 0);
    xf_clear_pending(&f, tp);
    f.mh.time += 25 * MS; /* two periods missed: one event, next in 5 ms */
    xf_enter(&f, f.vcpu);
    CU_ASSERT_TRUE(xf_port_pending(&f, tp));
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, f.mh.time + 5 * MS);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 7, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, 0);
    xf_teardown(&f);

    /* 32-bit: set_timer_op takes the 64-bit time in EBX (low) and ECX (high);
       the single-shot argument is 12 bytes. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, 7, 1, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, 1000000000ull + (1ull << 32) + 7);
    memcpy(xf_gpa(&f, XF_RO_PAGE - 12), (uint32_t[3]){9 * MS, 0, 0}, 12);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 8, 0, XF_RO_PAGE - 12, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.deadline_ns, 1000000000ull + 9 * MS);
    xf_teardown(&f);
}

static void test_upcall_delivery(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true});
    long p = bind_ipi(&f, 0);
    uint8_t vec;
    struct mock_vcpu *m = mock_vcpu_of(f.vcpu);

    /* No delivery method: bits only. */
    CU_ASSERT_EQUAL(send(&f, p), 0);
    xf_set_if(&f, f.vcpu, true);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), 0);

    /* Callback vector: level-triggered on upcall_pending. */
    CU_ASSERT_EQUAL(set_callback_vector(&f, 0xf3), 0);
    /* Delivered on the entry that resumes the guest after the hypercall. */
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, &vec), 1);
    CU_ASSERT_EQUAL(vec, 0xf3);
    CU_ASSERT_EQUAL(m->injected[0].type, HV_EVENT_EXTINT);
    xf_enter(&f, f.vcpu); /* still pending: again */
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), 2);
    xf_set_upcall_pending(&f, 0, 0);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), 2);
    /* IF=0: queued with a window request; withdrawn once the guest handled it. */
    xf_set_if(&f, f.vcpu, false);
    xf_clear_pending(&f, p);
    memset((uint8_t *)f.vm->xen->shinfo + 8, 0, 8);
    CU_ASSERT_EQUAL(send(&f, p), 0);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 1);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), 2);
    CU_ASSERT_TRUE(m->window[HV_EVENT_EXTINT]);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_EXTINT);
    xf_set_upcall_pending(&f, 0, 0);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_NONE);
    xf_set_if(&f, f.vcpu, true);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), 2);
    /* A vector below 32 is never injected as an interrupt. */
    CU_ASSERT_EQUAL(set_callback_vector(&f, 0x10), 0);
    xf_set_upcall_pending(&f, 0, 1);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), 2);
    xf_set_upcall_pending(&f, 0, 0);

    /* Per-vCPU upcall vector: an edge per 0->1 upcall_pending transition,
       plus one when the vector is set. */
    uint32_t uv[2] = {1, 0xe0};
    memcpy(xf_gpa(&f, XF_BUF2), uv, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 23, XF_BUF2, 0, 0, 0, 0), 0);
    xf_set_if(&f, f.vcpu1, true);
    xf_enter(&f, f.vcpu1);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu1, &vec), 1);
    CU_ASSERT_EQUAL(vec, 0xe0);
    xf_enter(&f, f.vcpu1);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu1, NULL), 1);
    long p1 = bind_ipi(&f, 1);
    CU_ASSERT_EQUAL(send(&f, p1), 0);
    xf_enter(&f, f.vcpu1);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu1, NULL), 2);
    xf_enter(&f, f.vcpu1); /* upcall_pending still 1: no new edge */
    CU_ASSERT_EQUAL(xf_injected(f.vcpu1, NULL), 2);
    uv[1] = 0x0f;
    memcpy(xf_gpa(&f, XF_BUF2), uv, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 23, XF_BUF2, 0, 0, 0, 0), E_INVAL);
    uv[0] = 2;
    uv[1] = 0xe0;
    memcpy(xf_gpa(&f, XF_BUF2), uv, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 23, XF_BUF2, 0, 0, 0, 0), E_NOENT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 23, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    /* HLT with an upcall due resumes; without, it halts and an event wakes it. */
    xf_set_upcall_pending(&f, 0, 0);
    xf_clear_pending(&f, p);
    memset((uint8_t *)f.vm->xen->shinfo + 8, 0, 8); /* vCPU 0's pending_sel */
    mock_script_kind(f.vcpu, HV_VX_HLT, xf_rip(&f, NULL));
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &f.exit), HV_OK);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_INSN);
    unsigned w = f.wakes;
    /* vCPU 1 sends (a hypercall on vCPU 0 would itself resume vCPU 0). */
    uint32_t port = (uint32_t)p;
    memcpy(xf_gpa(&f, XF_BUF), &port, 4);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_EVTCHN, 4, XF_BUF, 0), 0);
    CU_ASSERT_EQUAL(f.wakes, w + 1);
    CU_ASSERT_PTR_EQUAL(f.last_woken, f.vcpu);
    xf_teardown(&f);
}

/* ---- memory_op ---- */

static void test_memory_map(void)
{
    struct xf f;
    struct hv_pvh_memmap map[3] = {
        {0, 0x9f000, 1}, {0x100000, 0x300000, 1}, {0xfee00000, 0x1000, 2}};
    xf_setup(&f, &(struct xf_opts){.cfg = {.memmap = map, .memmap_count = 3}});
    uint64_t mm[2] = {8, XF_BUF2};
    memset(xf_gpa(&f, XF_BUF2), 0xaa, 100);
    memcpy(xf_gpa(&f, XF_BUF), mm, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_BUF, 0, 0, 0, 0), 0);
    uint32_t nr;
    memcpy(&nr, xf_gpa(&f, XF_BUF), 4);
    CU_ASSERT_EQUAL(nr, 3);
    uint8_t *e = xf_gpa(&f, XF_BUF2);
    uint64_t v;
    uint32_t type;
    memcpy(&v, e + 20, 8); /* packed 20-byte entries */
    CU_ASSERT_EQUAL(v, 0x100000);
    memcpy(&v, e + 28, 8);
    CU_ASSERT_EQUAL(v, 0x300000);
    memcpy(&type, e + 56, 4);
    CU_ASSERT_EQUAL(type, 2);
    CU_ASSERT_EQUAL(e[60], 0xaa); /* nothing past 3 entries */
    /* A small buffer gets the first entries. */
    mm[0] = 1;
    memcpy(xf_gpa(&f, XF_BUF), mm, 16);
    memset(xf_gpa(&f, XF_BUF2), 0xaa, 100);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_BUF, 0, 0, 0, 0), 0);
    memcpy(&nr, xf_gpa(&f, XF_BUF), 4);
    CU_ASSERT_EQUAL(nr, 1);
    CU_ASSERT_EQUAL(e[20], 0xaa);
    mm[0] = 8;
    mm[1] = XF_RO_PAGE;
    memcpy(xf_gpa(&f, XF_BUF), mm, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_BUF, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 10, XF_BUF, 0, 0, 0, 0), E_NOSYS); /* machine map */
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 12, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 63, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    xf_teardown(&f);

    /* i386 layout, and a map derived from the VM's mappings. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    e = xf_gpa(&f, XF_BUF2); /* the new fixture's RAM */
    uint32_t m32[2] = {8, XF_BUF2};
    memcpy(xf_gpa(&f, XF_BUF), m32, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_BUF, 0, 0, 0, 0), 0);
    memcpy(&nr, xf_gpa(&f, XF_BUF), 4);
    /* RAM 0..0x30000, read-only page (reserved), RAM to the hole, RAM after. */
    CU_ASSERT_EQUAL(nr, 4);
    memcpy(&v, e, 8);
    CU_ASSERT_EQUAL(v, 0);
    memcpy(&v, e + 8, 8);
    CU_ASSERT_EQUAL(v, XF_RO_PAGE);
    memcpy(&type, e + 36, 4);
    CU_ASSERT_EQUAL(type, 2);
    memcpy(&v, e + 60, 8);
    CU_ASSERT_EQUAL(v, XF_HOLE + 4096);
    xf_teardown(&f);

    /* The derived map reaches mappings far above 4 GiB (RAM at 6 GiB, a
       read-only page at 64 GiB: reserved), listed mapping by mapping. */
    xf_setup(&f, &(struct xf_opts){.no_xen = true});
    CU_ASSERT_EQUAL(hv_vm_map(f.vm, 6ull << 30, f.ram_hpa, 2 * 4096, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_map(f.vm, 64ull << 30, f.ram_hpa, 4096, HV_MEM_READ), HV_OK);
    struct hv_xen_config xc = {.size = sizeof(xc), .tsc_khz = XF_TSC_KHZ};
    CU_ASSERT_EQUAL_FATAL(hv_xen_enable(f.vm, &xc), HV_OK);
    mm[0] = 8;
    mm[1] = XF_BUF2;
    memcpy(xf_gpa(&f, XF_BUF), mm, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_BUF, 0, 0, 0, 0), 0);
    memcpy(&nr, xf_gpa(&f, XF_BUF), 4);
    CU_ASSERT_EQUAL(nr, 6); /* the fixture's 4, then the two above 4 GiB */
    e = xf_gpa(&f, XF_BUF2);
    memcpy(&v, e + 4 * 20, 8);
    CU_ASSERT_EQUAL(v, 6ull << 30);
    memcpy(&v, e + 4 * 20 + 8, 8);
    CU_ASSERT_EQUAL(v, 2 * 4096);
    memcpy(&type, e + 4 * 20 + 16, 4);
    CU_ASSERT_EQUAL(type, 1);
    memcpy(&v, e + 5 * 20, 8);
    CU_ASSERT_EQUAL(v, 64ull << 30);
    memcpy(&type, e + 5 * 20 + 16, 4);
    CU_ASSERT_EQUAL(type, 2);
    xf_teardown(&f);
}

/* XENMEM_set_memory_map on itself replaces what XENMEM_memory_map answers
   (GRUB's PVH start-up adds its grant-table and shared_info frames so). */
static void set_map_arg(struct xf *f, uint16_t dom, uint32_t nr, uint64_t buffer)
{
    uint8_t a[24];
    memset(a, 0, sizeof(a));
    memcpy(a, &dom, 2);
    if (f->compat) {
        memcpy(a + 4, &nr, 4);
        memcpy(a + 8, &buffer, 4);
    } else {
        memcpy(a + 8, &nr, 4);
        memcpy(a + 16, &buffer, 8);
    }
    memcpy(xf_gpa(f, XF_BUF), a, sizeof(a));
}

static void check_set_memory_map(bool compat)
{
    struct xf f;
    struct hv_pvh_memmap map[1] = {{0, 0x300000, 1}};
    xf_setup(&f, &(struct xf_opts){.compat = compat, .cfg = {.memmap = map, .memmap_count = 1}});
    struct hv_xen_vm *x = f.vm->xen;
    /* Two packed 20-byte entries: RAM, then a reserved page in a hole. */
    uint8_t e[40];
    uint64_t v;
    uint32_t type = 1;
    memset(e, 0, sizeof(e));
    v = 0x200000;
    memcpy(e + 8, &v, 8);
    memcpy(e + 16, &type, 4);
    v = 0x3f0000;
    memcpy(e + 20, &v, 8);
    v = 0x2000;
    memcpy(e + 28, &v, 8);
    type = 2;
    memcpy(e + 36, &type, 4);
    memcpy(xf_gpa(&f, XF_BUF2), e, sizeof(e));

    /* Refused: too many entries, another domain, an unknown one, a bad buffer. */
    set_map_arg(&f, SELF, HV_PVH_MAX_MEMMAP + 1, XF_BUF2);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 13, XF_BUF, 0, 0, 0, 0), E_INVAL);
    set_map_arg(&f, 0, 2, XF_BUF2);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 13, XF_BUF, 0, 0, 0, 0), E_PERM);
    set_map_arg(&f, 0x1234, 2, XF_BUF2);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 13, XF_BUF, 0, 0, 0, 0), E_SRCH);
    set_map_arg(&f, SELF, 2, XF_HOLE);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 13, XF_BUF, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 13, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(x->memmap_count, 1);
    CU_ASSERT_EQUAL(x->memmap[0].size, 0x300000);

    /* Accepted for DOMID_SELF and for its own id; read back verbatim. */
    set_map_arg(&f, SELF, 2, XF_BUF2);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 13, XF_BUF, 0, 0, 0, 0), 0);
    set_map_arg(&f, (uint16_t)x->domid, 2, XF_BUF2);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 13, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(x->memmap_count, 2);
    uint8_t mm[16];
    memset(mm, 0, sizeof(mm));
    uint32_t n = 8;
    uint64_t out = XF_BUF2 + 0x100;
    memcpy(mm, &n, 4);
    if (compat)
        memcpy(mm + 4, &out, 4);
    else
        memcpy(mm + 8, &out, 8);
    memcpy(xf_gpa(&f, XF_BUF), mm, sizeof(mm));
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_BUF, 0, 0, 0, 0), 0);
    memcpy(&n, xf_gpa(&f, XF_BUF), 4);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&f, XF_BUF2 + 0x100), e, sizeof(e)), 0);

    /* An empty map: XENMEM_memory_map then has none to give (-ENOSYS). */
    set_map_arg(&f, SELF, 0, 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 13, XF_BUF, 0, 0, 0, 0), 0);
    memcpy(xf_gpa(&f, XF_BUF), mm, sizeof(mm));
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    xf_teardown(&f);
}

static void test_set_memory_map(void)
{
    check_set_memory_map(false);
    check_set_memory_map(true);
}

static void test_add_to_physmap(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    struct hv_xen_vm *x = f.vm->xen;
    /* shared_info appears at the chosen frame, replacing the RAM there. */
    memset(xf_gpa(&f, SHINFO_GFN * 4096), 0x77, 4096);
    CU_ASSERT_EQUAL(xf_map_shinfo(&f, SHINFO_GFN), 0);
    struct hv_mapping mp;
    CU_ASSERT_EQUAL(hv_vm_query(f.vm, SHINFO_GFN * 4096, &mp), HV_OK);
    CU_ASSERT_EQUAL(mp.hpa, x->shinfo_hpa);
    CU_ASSERT_EQUAL(mp.flags & HV_MEM_RWX, HV_MEM_READ | HV_MEM_WRITE);
    /* The guest sees shared_info contents through it. */
    ((uint8_t *)x->shinfo)[3000] = 0x42;
    uint8_t b = 0;
    CU_ASSERT_EQUAL(hv_gpa_read(f.vm, SHINFO_GFN * 4096 + 3000, &b, 1), HV_OK);
    CU_ASSERT_EQUAL(b, 0x42);
    /* Moving it leaves the old frame empty. */
    CU_ASSERT_EQUAL(xf_map_shinfo(&f, SHINFO_GFN + 1), 0);
    CU_ASSERT_EQUAL(hv_vm_query(f.vm, SHINFO_GFN * 4096, &mp), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_vm_query(f.vm, (SHINFO_GFN + 1) * 4096, &mp), HV_OK);
    CU_ASSERT_EQUAL(mp.hpa, x->shinfo_hpa);
    /* idx != 0, unknown spaces, foreign, other domains, bad pointers. */
    uint8_t a[24];
    memset(a, 0, sizeof(a));
    uint16_t dom = SELF;
    memcpy(a, &dom, 2);
    uint64_t idx = 1, gpfn = 0x310;
    memcpy(a + 8, &idx, 8);
    memcpy(a + 16, &gpfn, 8);
    memcpy(xf_gpa(&f, XF_BUF), a, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 7, XF_BUF, 0, 0, 0, 0), E_INVAL);
    uint32_t space = 4; /* gmfn_foreign */
    memcpy(a + 4, &space, 4);
    memcpy(xf_gpa(&f, XF_BUF), a, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 7, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    space = 2; /* gmfn: not implemented */
    memcpy(a + 4, &space, 4);
    memcpy(xf_gpa(&f, XF_BUF), a, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 7, XF_BUF, 0, 0, 0, 0), E_INVAL);
    space = 0;
    memcpy(a + 4, &space, 4);
    dom = 5;
    memcpy(a, &dom, 2);
    memcpy(xf_gpa(&f, XF_BUF), a, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 7, XF_BUF, 0, 0, 0, 0), E_SRCH);
    dom = 0;
    memcpy(a, &dom, 2);
    memcpy(xf_gpa(&f, XF_BUF), a, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 7, XF_BUF, 0, 0, 0, 0), E_PERM);
    dom = 1; /* our own id */
    idx = 0;
    gpfn = 1ull << 40; /* beyond the guest-physical space */
    memcpy(a, &dom, 2);
    memcpy(a + 8, &idx, 8);
    memcpy(a + 16, &gpfn, 8);
    memcpy(xf_gpa(&f, XF_BUF), a, 24);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 7, XF_BUF, 0, 0, 0, 0), E_INVAL);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 7, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 7 | (0x10000ull << 6), XF_BUF, 0, 0, 0, 0), E_DOM);
    xf_teardown(&f);

    /* i386: 16-byte argument. Allocation failures leave the map unchanged. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    CU_ASSERT_EQUAL(xf_map_shinfo(&f, SHINFO_GFN), 0);
    CU_ASSERT_EQUAL(hv_vm_query(f.vm, SHINFO_GFN * 4096, &mp), HV_OK);
    CU_ASSERT_EQUAL(mp.hpa, f.vm->xen->shinfo_hpa);
    xf_teardown(&f);
}

/* ---- hvm_op ---- */

static void test_hvm_params(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    uint64_t v = 0x1234;
    CU_ASSERT_EQUAL(hv_xen_set_param(f.vm, 1, 0x555), HV_OK); /* STORE_PFN, toolstack */
    CU_ASSERT_EQUAL(hv_xen_set_param(f.vm, 39, 0), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hvm_param(&f, false, SELF, 1, &v), 0);
    CU_ASSERT_EQUAL(v, 0x555);
    v = 9;
    CU_ASSERT_EQUAL(hvm_param(&f, true, SELF, 1, &v), E_PERM); /* not the guest's to set */
    CU_ASSERT_EQUAL(hvm_param(&f, true, SELF, 2, &v), 0);      /* STORE_EVTCHN */
    CU_ASSERT_EQUAL(hvm_param(&f, false, 1, 2, &v), 0);
    CU_ASSERT_EQUAL(v, 9);
    CU_ASSERT_EQUAL(hvm_param(&f, true, SELF, 18, &v), 0); /* CONSOLE_EVTCHN */
    CU_ASSERT_EQUAL(hvm_param(&f, true, SELF, 17, &v), E_PERM);
    CU_ASSERT_EQUAL(hvm_param(&f, false, SELF, 17, &v), 0);
    CU_ASSERT_EQUAL(hvm_param(&f, false, SELF, 5, &v), E_PERM);  /* IOREQ_PFN */
    CU_ASSERT_EQUAL(hvm_param(&f, false, SELF, 12, &v), E_PERM); /* IDENT_PT */
    CU_ASSERT_EQUAL(hvm_param(&f, false, SELF, 39, &v), E_INVAL);
    CU_ASSERT_EQUAL(hvm_param(&f, true, SELF, 0xffffffff, &v), E_INVAL);
    CU_ASSERT_EQUAL(hvm_param(&f, false, 4, 1, &v), E_SRCH);
    CU_ASSERT_EQUAL(hvm_param(&f, false, 0, 1, &v), E_PERM);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 0, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    /* get_param writes the whole structure back: a read-only one faults. */
    memcpy(xf_gpa(&f, XF_RO_PAGE), (uint8_t[16]){0xf0, 0x7f, 0, 0, 1}, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 1, XF_RO_PAGE, 0, 0, 0, 0), E_FAULT);
    uint64_t t;
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 10, XF_BUF, 0, 0, 0, 0), 0); /* get_time */
    memcpy(&t, xf_gpa(&f, XF_BUF), 8);
    CU_ASSERT_EQUAL(t, 0);
    f.mh.time += 777;
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 10, XF_BUF, 0, 0, 0, 0), 0);
    memcpy(&t, xf_gpa(&f, XF_BUF), 8);
    CU_ASSERT_EQUAL(t, 777);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 5, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    v = 0;
    CU_ASSERT_EQUAL(hvm_param(&f, false, SELF, 1, &v), 0); /* restores the argument */
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 0x100 | 1, XF_BUF, 0, 0, 0, 0), 0); /* op & 0xff */
    xf_teardown(&f);
}

/* ---- vcpu_op and the pvclock ---- */

static void test_vcpu_info_and_time(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .max_vcpus = 3});
    struct hv_xen_vm *x = f.vm->xen;
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 3, 0, 0, 0, 0, 0), 1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 3, 1, 0, 0, 0, 0), 1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 3, 2, 0, 0, 0, 0), 0); /* not created: down */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 3, 3, 0, 0, 0, 0), E_NOENT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 0, 1, XF_BUF, 0, 0, 0),
                    E_EXIST); /* initialise: up already */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 11, 0, XF_BUF, 0, 0, 0), E_NOSYS); /* send_nmi */

    /* pvclock in shared_info slot 0 after the first entry. */
    xf_enter(&f, f.vcpu);
    uint8_t *vi = x->shinfo;
    uint32_t ver, mul;
    uint64_t sys;
    memcpy(&ver, vi + 32, 4);
    memcpy(&sys, vi + 48, 8);
    memcpy(&mul, vi + 56, 4);
    CU_ASSERT_EQUAL(ver & 1, 0);
    CU_ASSERT(ver >= 2);
    CU_ASSERT_EQUAL(mul, 0x80000000u);
    CU_ASSERT_EQUAL((int8_t)vi[60], 0);
    CU_ASSERT_EQUAL(sys, 0);

    /* register_vcpu_info: moves the structure, marks everything pending. */
    vi[0] = 0;
    vi[1] = 1;                    /* mask, copied along */
    uint64_t r[2] = {0x50, 0x40}; /* gfn 0x50, offset 0x40 */
    memcpy(xf_gpa(&f, XF_BUF), r, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 0, XF_BUF, 0, 0, 0), 0);
    uint8_t *nvi = xf_gpa(&f, 0x50040);
    CU_ASSERT_EQUAL(nvi[0], 1); /* upcall pending */
    CU_ASSERT_EQUAL(nvi[1], 1);
    uint64_t sel;
    memcpy(&sel, nvi + 8, 8);
    CU_ASSERT_EQUAL(sel, ~0ull);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 0, XF_BUF, 0, 0, 0), E_INVAL); /* once */
    /* Time is republished at the new place when the guest resumes. */
    memcpy(&ver, nvi + 32, 4);
    memcpy(&sys, nvi + 48, 8);
    memcpy(&mul, nvi + 56, 4);
    CU_ASSERT_EQUAL(ver & 1, 0);
    CU_ASSERT(ver >= 2);
    CU_ASSERT_EQUAL(sys, 0);
    CU_ASSERT_EQUAL(mul, 0x80000000u);
    /* Within a second (of TSC) the guest extrapolates: no rewrite; after a
       second the snapshot is refreshed (version advances by 2). The host
       TSC is real here: a second of it is simulated by moving the last
       snapshot's stamp back by one second of ticks. */
    uint32_t ver0 = ver;
    f.mh.time += 5000;
    x->vcpus[0].time_stamp_tsc = hv_rdtsc(); /* a slow run (valgrind) is not a second */
    xf_enter(&f, f.vcpu);
    memcpy(&ver, nvi + 32, 4);
    CU_ASSERT_EQUAL(ver, ver0);
    CU_ASSERT_EQUAL(x->resync_tsc, (uint64_t)XF_TSC_KHZ * 1000);
    f.mh.time += 1000000000ull;
    x->vcpus[0].time_stamp_tsc -= x->resync_tsc;
    if (x->vcpus[0].settled_until) /* the idle deadline the last pass took from it */
        x->vcpus[0].settled_until -= x->resync_tsc;
    xf_enter(&f, f.vcpu);
    memcpy(&ver, nvi + 32, 4);
    memcpy(&sys, nvi + 48, 8);
    CU_ASSERT_EQUAL(ver, ver0 + 2);
    CU_ASSERT_EQUAL(sys, 1000005000ull);
    /* Events now go to the registered copy. */
    long p = bind_ipi(&f, 0);
    nvi[0] = 0;
    memset(nvi + 8, 0, 8);
    CU_ASSERT_EQUAL(send(&f, p), 0);
    CU_ASSERT_EQUAL(nvi[0], 1);
    CU_ASSERT_EQUAL(vi[0], 0);

    /* Invalid: offset too large or misaligned, bad frame, another running vCPU. */
    r[0] = 0x51;
    r[1] = 4096 - 63;
    memcpy(xf_gpa(&f, XF_BUF), r, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 2, XF_BUF, 0, 0, 0), E_INVAL);
    r[1] = 4;
    memcpy(xf_gpa(&f, XF_BUF), r, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 2, XF_BUF, 0, 0, 0), E_INVAL);
    r[0] = XF_HOLE / 4096;
    r[1] = 0;
    memcpy(xf_gpa(&f, XF_BUF), r, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 2, XF_BUF, 0, 0, 0), E_INVAL);
    r[0] = XF_RO_PAGE / 4096;
    memcpy(xf_gpa(&f, XF_BUF), r, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 2, XF_BUF, 0, 0, 0), E_INVAL);
    r[0] = 0x51;
    memcpy(xf_gpa(&f, XF_BUF), r, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 1, XF_BUF, 0, 0, 0), E_INVAL); /* vCPU 1 is up */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 2, XF_BUF, 0, 0, 0), 0);       /* vCPU 2 is not */
    CU_ASSERT_EQUAL(((uint8_t *)xf_gpa(&f, 0x51000))[1], 0); /* slot 2 of shared_info copied */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 0, XF_HOLE, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 99, 0, 0, 0, 0, 0), E_NOSYS);
    xf_teardown(&f);

    /* i386 layout: 4-byte alignment is enough, the selector is 32 bits. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    uint64_t cb = 0;
    uint8_t par[16];
    memset(par, 0, 16);
    memcpy(par, (uint16_t[1]){SELF}, 2);
    memcpy(par + 8, &cb, 8);
    memcpy(xf_gpa(&f, XF_BUF2), par, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 0, XF_BUF2, 0, 0, 0, 0), 0); /* latches i386 */
    r[0] = 0x50;
    r[1] = 0x44;
    memcpy(xf_gpa(&f, XF_BUF), r, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 0, XF_BUF, 0, 0, 0), 0);
    uint32_t sel32, pad32;
    memcpy(&sel32, xf_gpa(&f, 0x50044 + 4), 4);
    memcpy(&pad32, xf_gpa(&f, 0x50044 + 8), 4);
    CU_ASSERT_EQUAL(sel32, ~0u);
    CU_ASSERT_EQUAL(pad32, 0);
    xf_teardown(&f);
}

void xen_suite_misc(void)
{
    CU_pSuite s = CU_add_suite("xen_misc", NULL, NULL);
    CU_add_test(s, "console_io", test_console_io);
    CU_add_test(s, "shutdown", test_shutdown);
    CU_add_test(s, "block_and_wake", test_block_and_wake);
    CU_add_test(s, "poll", test_poll);
    CU_add_test(s, "timers", test_timers);
    CU_add_test(s, "upcall_delivery", test_upcall_delivery);
    CU_add_test(s, "memory_map", test_memory_map);
    CU_add_test(s, "set_memory_map", test_set_memory_map);
    CU_add_test(s, "add_to_physmap", test_add_to_physmap);
    CU_add_test(s, "hvm_params", test_hvm_params);
    CU_add_test(s, "vcpu_info_and_time", test_vcpu_info_and_time);
}
