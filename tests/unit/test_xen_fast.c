/*
 * The hot paths of the Xen layer: which calls the backend's exit fast path
 * may finish (hv_pv_ops::hypercall_fast), the upcall a fast-path send
 * queues at once for the caller's own vCPU, and guest-virtual copies
 * through the data memo's host pointer, which must never outlive a change
 * of the guest's page tables or of the SLAT.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "core/fast.h"
#include "core/objects.h"
#include "core/pv.h"
#include "xen/internal.h"
#include "xen_fixture.h"

#define OP_SEND     4
#define OP_BIND_IPI 7
#define OP_UNMASK   9
#define UPCALL_VEC  0xe0

/* The fast hook as the backend calls it, with the 64-bit convention. */
static enum hv_pv_result fast_call(struct xf *f, uint64_t nr, uint64_t a0, uint64_t a1,
                                   bool *events)
{
    uint64_t *g = f->vcpu->gpr;
    if (f->compat) {
        g[HV_GPR_RAX] = nr;
        g[HV_GPR_RBX] = a0;
        g[HV_GPR_RCX] = a1;
    } else {
        g[HV_GPR_RAX] = nr;
        g[HV_GPR_RDI] = a0;
        g[HV_GPR_RSI] = a1;
    }
    *events = false;
    struct hv_fetch_regs fr;
    mock_get_fetch_regs(f->vcpu, &fr);
    return f->vm->pv->hypercall_fast(f->vcpu, &fr, events);
}

static long rax(struct xf *f)
{
    uint64_t v = f->vcpu->gpr[HV_GPR_RAX];
    return f->compat ? (long)(int32_t)(uint32_t)v : (long)v;
}

static bool implemented(uint64_t nr)
{
    return nr == HC_MEMORY_OP || nr == HC_SET_TIMER || nr == HC_VERSION || nr == HC_CONSOLE ||
           nr == HC_GNTTAB || nr == HC_VM_ASSIST || nr == HC_VCPU_OP || nr == HC_SCHED ||
           nr == HC_EVTCHN || nr == HC_HVM;
}

/* Every number the layer implements takes the full path from the fast
   hook, except xen_version and EVTCHNOP_send/unmask; every other number
   is -ENOSYS there, as on the full path. */
static void whitelist(bool compat)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.compat = compat, .svm = true});
    bool ev;
    for (uint64_t nr = 0; nr < 80; nr++) {
        if (nr == HC_VERSION || nr == HC_EVTCHN)
            continue;
        enum hv_pv_result r = fast_call(&f, nr, 0, XF_BUF, &ev);
        if (implemented(nr)) {
            CU_ASSERT_EQUAL(r, HV_PV_UNHANDLED);
            CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX], nr); /* untouched */
        } else {
            CU_ASSERT_EQUAL(r, HV_PV_DONE);
            CU_ASSERT_EQUAL(rax(&f), E_NOSYS);
            CU_ASSERT(!ev);
            CU_ASSERT_EQUAL(xf_call(&f, nr, 0, XF_BUF, 0, 0, 0, 0), E_NOSYS);
        }
    }
    /* xen_version: done, no event. 64-bit callers pass the whole RAX, i386
       callers EAX only. */
    CU_ASSERT_EQUAL(fast_call(&f, HC_VERSION, 0, 0, &ev), HV_PV_DONE);
    CU_ASSERT(rax(&f) > 0);
    CU_ASSERT(!ev);
    long ver = rax(&f);
    CU_ASSERT_EQUAL(fast_call(&f, (1ull << 32) | HC_VERSION, 0, 0, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), compat ? ver : E_NOSYS);
    /* Event channels: send and unmask only; the rest take the full path. */
    uint32_t port0 = 0;
    memcpy(xf_gpa(&f, XF_BUF), &port0, 4);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_INVAL); /* port 0 is reserved */
    CU_ASSERT(ev);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_UNMASK, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_BIND_IPI, XF_BUF, &ev), HV_PV_UNHANDLED);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, (1ull << 32) | OP_BIND_IPI, XF_BUF, &ev),
                    HV_PV_UNHANDLED);
    /* A caller outside ring 0: -EPERM, as on the full path. */
    xf_set_cpl(&f, 3);
    CU_ASSERT_EQUAL(fast_call(&f, HC_VERSION, 0, 0, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_PERM);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 0, 0, 0, 0, 0, 0), E_PERM);
    for (uint64_t nr = 0; nr < 80; nr++) {
        CU_ASSERT_EQUAL(fast_call(&f, nr, 0, XF_BUF, &ev), HV_PV_DONE); /* whatever the number */
        CU_ASSERT_EQUAL(rax(&f), E_PERM);
        CU_ASSERT(!ev);
    }
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 0, XF_BUF, 0, 0, 0, 0), E_PERM);
    xf_set_cpl(&f, 0);
    xf_teardown(&f);
}

static void test_fast_whitelist(void)
{
    whitelist(false);
    whitelist(true);
}

/* A 64-bit guest with shared_info, upcall vector UPCALL_VEC on vCPU 0 and
   an IPI port to itself, with a local APIC or not; returns the port. */
static uint32_t upcall_setup_apic(struct xf *f, bool lapic)
{
    xf_setup(f, &(struct xf_opts){.svm = true, .lapic = lapic});
    CU_ASSERT_EQUAL(xf_map_shinfo(f, SHINFO_GFN), 0);
    uint32_t uv[2] = {0, UPCALL_VEC};
    memcpy(xf_gpa(f, XF_BUF), uv, 8);
    CU_ASSERT_EQUAL(xf_call(f, HC_HVM, 23, XF_BUF, 0, 0, 0, 0), 0);
    uint32_t ipi[2] = {0, 0};
    memcpy(xf_gpa(f, XF_BUF), ipi, 8);
    CU_ASSERT_EQUAL(xf_call(f, HC_EVTCHN, OP_BIND_IPI, XF_BUF, 0, 0, 0, 0), 0);
    uint32_t port;
    memcpy(&port, xf_gpa(f, XF_BUF + 4), 4);
    CU_ASSERT(port > 0);
    xf_set_upcall_pending(f, 0, 0);
    xf_set_if(f, f->vcpu, true);
    xf_enter(f, f->vcpu); /* settle: nothing due */
    return port;
}

static uint32_t upcall_setup(struct xf *f)
{
    return upcall_setup_apic(f, false);
}

/* The guest's handler: upcall_pending, the selector and the port cleared. */
static void guest_ack(struct xf *f, uint32_t port)
{
    xf_set_upcall_pending(f, 0, 0);
    uint8_t *sel = (uint8_t *)f->vm->xen->shinfo + 8;
    memset(sel, 0, 8);
    xf_clear_pending(f, port);
}

static void test_fast_upcall(void)
{
    struct xf f;
    uint32_t port = upcall_setup(&f);
    struct hv_xen_vcpu *xv = &f.vm->xen->vcpus[0];
    const struct hv_pv_ops *pv = f.vm->pv;
    uint8_t vec = 0;
    bool ev;
    unsigned n0 = xf_injected(f.vcpu, &vec);
    memcpy(xf_gpa(&f, XF_BUF), &port, 4);

    /* Send to itself: the upcall is injected in the call, without the
       delivery or a pre-entry pass, and the vCPU stays quiet. */
    CU_ASSERT(pv->idle(f.vcpu));
    CU_ASSERT(f.vcpu->quiet);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), 0);
    CU_ASSERT(!ev);
    CU_ASSERT(xf_port_pending(&f, port));
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 1);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, &vec), n0 + 1);
    CU_ASSERT_EQUAL(vec, UPCALL_VEC);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_NONE);
    CU_ASSERT_EQUAL(xv->queued_vector, 0);
    CU_ASSERT(!xv->upcall_assert);
    CU_ASSERT(pv->idle(f.vcpu)); /* the edge is handled: no pass needed */
    CU_ASSERT(f.vcpu->quiet);

    /* Sent again before the guest acknowledged: no new edge. */
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_NONE);
    CU_ASSERT(!xv->upcall_assert);
    if (ev)
        hv_deliver_events(f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), n0 + 1);

    /* Something queued before it (an NMI): the upcall waits in the queue
       behind it, for the delivery, which puts the NMI in first. */
    guest_ack(&f, port);
    f.vcpu->queued_nmi = true;
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT(ev);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), n0 + 1);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_EXTINT);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.vector, UPCALL_VEC);
    CU_ASSERT_EQUAL(xv->queued_vector, UPCALL_VEC);
    hv_deliver_events(f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, &vec), n0 + 2);
    CU_ASSERT_EQUAL(vec, 2);
    CU_ASSERT(!f.vcpu->quiet);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, &vec), n0 + 3);
    CU_ASSERT_EQUAL(vec, UPCALL_VEC);
    n0 += 2;

    /* Interrupts off: queued, not injected (a window opens), not quiet. A
       second edge while it waits stays asserted for the pass. */
    guest_ack(&f, port);
    xf_set_if(&f, f.vcpu, false);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT(ev);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_EXTINT);
    hv_deliver_events(f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), n0 + 1);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_EXTINT);
    CU_ASSERT(!f.vcpu->quiet);
    guest_ack(&f, port);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT(xv->upcall_assert);
    CU_ASSERT(!pv->idle(f.vcpu));
    /* Interrupts on: the first goes in, then the pass queues the second. */
    xf_set_if(&f, f.vcpu, true);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), n0 + 2);
    CU_ASSERT(xv->upcall_assert || f.vcpu->queued_irq.type == HV_EVENT_EXTINT);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, &vec), n0 + 3);
    CU_ASSERT_EQUAL(vec, UPCALL_VEC);
    CU_ASSERT(!xv->upcall_assert);

    /* A masked port: pending only, nothing queued; unmask raises it. */
    guest_ack(&f, port);
    xf_mask_port(&f, port, true);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_NONE);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 0);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_UNMASK, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 1);
    CU_ASSERT(!ev);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_NONE);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), n0 + 4);

    /* The embedder's interrupt waits in the queue: the upcall stays
       asserted for the pass, the embedder's event is not replaced. */
    guest_ack(&f, port);
    f.vcpu->queued_irq = (struct hv_event){.type = HV_EVENT_EXTINT, .vector = 0x40};
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.vector, 0x40);
    CU_ASSERT(xv->upcall_assert);
    xf_enter(&f, f.vcpu);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, &vec), n0 + 6);
    CU_ASSERT_EQUAL(vec, UPCALL_VEC);
    xf_teardown(&f);
}

/* A vCPU with a local APIC: the send queues its upcall for the delivery
   instead of injecting it, since the delivery then gives the APIC its
   turn (the vCPU is not quiet after it). */
static void test_fast_upcall_lapic(void)
{
    struct xf f;
    uint32_t port = upcall_setup_apic(&f, true);
    uint8_t vec = 0;
    bool ev;
    memcpy(xf_gpa(&f, XF_BUF), &port, 4);
    unsigned n0 = xf_injected(f.vcpu, NULL);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), 0);
    CU_ASSERT(ev);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), n0);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_EXTINT);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.vector, UPCALL_VEC);
    hv_deliver_events(f.vcpu);
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, &vec), n0 + 1);
    CU_ASSERT_EQUAL(vec, UPCALL_VEC);
    CU_ASSERT(!f.vcpu->quiet);
    xf_teardown(&f);
}

/* EVTCHNOP_send with its port read from linear @p gva. */
static long send_at(struct xf *f, uint64_t gva)
{
    return xf_call(f, HC_EVTCHN, OP_SEND, gva, 0, 0, 0, 0);
}

#define PD2_ENTRY (XF_PT_BASE + 0x3000) /* maps XF_ALIAS_GVA, 2 MiB */

static void put_pde(struct xf *f, uint64_t v)
{
    memcpy(xf_gpa(f, PD2_ENTRY), &v, 8);
}

static void test_fast_memo_stale(void)
{
    struct xf f;
    uint32_t p = upcall_setup(&f);
    uint32_t ipi[2] = {0, 0};
    memcpy(xf_gpa(&f, XF_BUF), ipi, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, OP_BIND_IPI, XF_BUF, 0, 0, 0, 0), 0);
    uint32_t q;
    memcpy(&q, xf_gpa(&f, XF_BUF + 4), 4);
    uint64_t gva = XF_ALIAS_GVA + 0x100;
    memcpy(xf_gpa(&f, XF_ALIAS_GPA + 0x100), &p, 4);
    memcpy(xf_gpa(&f, 0x100), &q, 4);

    /* The first read walks and fills the memo; the second uses it. */
    CU_ASSERT_EQUAL(send_at(&f, gva), 0);
    uint64_t w0 = f.vcpu->data.walks;
    CU_ASSERT_PTR_NOT_NULL(f.vcpu->data.host);
    CU_ASSERT(xf_port_pending(&f, p));
    xf_clear_pending(&f, p);
    CU_ASSERT_EQUAL(send_at(&f, gva), 0);
    CU_ASSERT_EQUAL(f.vcpu->data.walks, w0);
    CU_ASSERT(xf_port_pending(&f, p));
    xf_clear_pending(&f, p);

    /* The guest points the page elsewhere: the new page's port. */
    put_pde(&f, 0x000000 | 0x83);
    CU_ASSERT_EQUAL(send_at(&f, gva), 0);
    CU_ASSERT_EQUAL(f.vcpu->data.walks, w0 + 1);
    CU_ASSERT(xf_port_pending(&f, q));
    CU_ASSERT(!xf_port_pending(&f, p));
    xf_clear_pending(&f, q);
    /* Not present: -EFAULT, nothing sent. */
    put_pde(&f, 0);
    CU_ASSERT_EQUAL(send_at(&f, gva), E_FAULT);
    CU_ASSERT(!xf_port_pending(&f, p) && !xf_port_pending(&f, q));
    /* Present again: the port again. */
    put_pde(&f, XF_ALIAS_GPA | 0x83);
    CU_ASSERT_EQUAL(send_at(&f, gva), 0);
    CU_ASSERT(xf_port_pending(&f, p));
    xf_clear_pending(&f, p);

    /* The SLAT takes the page away: -EFAULT, not the old host page. */
    CU_ASSERT_EQUAL(hv_vm_unmap(f.vm, XF_ALIAS_GPA, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(send_at(&f, gva), E_FAULT);
    CU_ASSERT(!xf_port_pending(&f, p));
    /* Mapped again to other host memory: that memory's port. */
    uint8_t *other = xf_gpa(&f, 0x100000);
    memcpy(other + 0x100, &q, 4);
    CU_ASSERT_EQUAL(hv_vm_map(f.vm, XF_ALIAS_GPA, f.ram_hpa + 0x100000, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(send_at(&f, gva), 0);
    CU_ASSERT(xf_port_pending(&f, q));
    CU_ASSERT(!xf_port_pending(&f, p));
    xf_clear_pending(&f, q);
    CU_ASSERT_EQUAL(hv_vm_unmap(f.vm, XF_ALIAS_GPA, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_map(f.vm, XF_ALIAS_GPA, f.ram_hpa + XF_ALIAS_GPA, 0x1000, HV_MEM_RWX),
                    HV_OK);

    /* Writes: bind_ipi returns its port through the argument. The second
       write goes through the memo; a read-only SLAT page then gets
       -EFAULT and no byte. */
    uint64_t arg = XF_ALIAS_GVA + 0x200;
    uint8_t *a = xf_gpa(&f, XF_ALIAS_GPA + 0x200);
    for (int i = 0; i < 2; i++) {
        memcpy(a, ipi, 8);
        CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, OP_BIND_IPI, arg, 0, 0, 0, 0), 0);
        uint32_t got;
        memcpy(&got, a + 4, 4);
        CU_ASSERT(got > q);
    }
    uint64_t w1 = f.vcpu->data.walks;
    memcpy(a, ipi, 8);
    CU_ASSERT_EQUAL(hv_vm_protect(f.vm, XF_ALIAS_GPA, 0x1000, HV_MEM_READ), HV_OK);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, OP_BIND_IPI, arg, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(memcmp(a, ipi, 8), 0);
    CU_ASSERT(f.vcpu->data.walks > w1);
    CU_ASSERT_EQUAL(hv_vm_protect(f.vm, XF_ALIAS_GPA, 0x1000, HV_MEM_RWX), HV_OK);
    /* A read memo never stands in for a write: a read-only guest PTE,
       which ring 0 honours with CR0.WP. */
    mock_vcpu_of(f.vcpu)->st.cr0 |= 1u << 16;
    put_pde(&f, XF_ALIAS_GPA | 0x81);           /* present, not writable */
    CU_ASSERT_EQUAL(send_at(&f, arg), E_INVAL); /* the read fills the memo (port 0) */
    CU_ASSERT_PTR_NOT_NULL(f.vcpu->data.host);
    memcpy(a, ipi, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, OP_BIND_IPI, arg, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(memcmp(a, ipi, 8), 0);
    put_pde(&f, XF_ALIAS_GPA | 0x83);
    xf_teardown(&f);
}

#define MS 1000000ull

/* The idle check reads the settled-until word the pre-entry pass wrote:
   whatever arms a timer, blocks or moves the pvclock after that pass
   must make the vCPU not idle at once, before any pass ran again, and a
   pass with nothing armed makes it idle again. */
static void test_fast_idle_settled(void)
{
    struct xf f;
    upcall_setup(&f);
    const struct hv_pv_ops *pv = f.vm->pv;
    struct hv_xen_vm *x = f.vm->xen;
    struct hv_xen_vcpu *xv = &x->vcpus[0];
    CU_ASSERT(pv->idle(f.vcpu));
    CU_ASSERT(f.vcpu->quiet);
    /* Settled until the pvclock is a resync period old. */
    CU_ASSERT(xv->time_valid);
    CU_ASSERT_EQUAL(xv->settled_until, xv->time_stamp_tsc + x->resync_tsc);

    uint64_t now = f.mh.time - x->time_base_ns; /* guest system time */
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, now + 50 * MS, 0, 0, 0, 0, 0), 0);
    CU_ASSERT(!pv->idle(f.vcpu));
    CU_ASSERT(!f.vcpu->quiet);
    xf_enter(&f, f.vcpu);
    CU_ASSERT(!pv->idle(f.vcpu)); /* armed: every entry takes the pass */
    CU_ASSERT_EQUAL(xf_call(&f, HC_SET_TIMER, 0, 0, 0, 0, 0, 0), 0);
    CU_ASSERT(pv->idle(f.vcpu)); /* the pass after the call settled it */
    CU_ASSERT(f.vcpu->quiet);

    uint64_t sst[2] = {now + 3 * MS, 0};
    memcpy(xf_gpa(&f, XF_BUF), sst, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 8, 0, XF_BUF, 0, 0, 0), 0);
    CU_ASSERT(!pv->idle(f.vcpu));
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 9, 0, 0, 0, 0, 0), 0);
    CU_ASSERT(pv->idle(f.vcpu));

    uint64_t period = 10 * MS;
    memcpy(xf_gpa(&f, XF_BUF), &period, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 6, 0, XF_BUF, 0, 0, 0), 0);
    CU_ASSERT(!pv->idle(f.vcpu));
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 7, 0, 0, 0, 0, 0), 0);
    CU_ASSERT(pv->idle(f.vcpu));

    /* SCHEDOP_block with nothing pending: not idle until the embedder
       runs it again (the pass ends the block). */
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, 1, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT(!pv->idle(f.vcpu));
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(xv->block, XEN_RUNNING);
    CU_ASSERT(pv->idle(f.vcpu));

    /* The pvclock's resync time passed: not idle, and the pass republishes. */
    xv->settled_until = hv_rdtsc() - 1;
    CU_ASSERT(!pv->idle(f.vcpu));
    xv->time_stamp_tsc -= x->resync_tsc;
    uint64_t stamp = xv->time_stamp_tsc;
    xf_enter(&f, f.vcpu);
    CU_ASSERT(xv->time_stamp_tsc > stamp);
    CU_ASSERT(pv->idle(f.vcpu));
    xf_teardown(&f);
}

/* vCPU 1's vcpu_info in shared_info: clear its selector and upcall_pending. */
static void ack_vcpu1(struct xf *f, uint32_t port)
{
    xf_set_upcall_pending(f, 1, 0);
    memset((uint8_t *)f->vm->xen->shinfo + 64 + 8, 0, 8);
    xf_clear_pending(f, port);
}

/* A fast-path send to another vCPU's port wakes it when it blocks and
   kicks its CPU when it runs elsewhere; a send to the caller's own port
   does neither (it runs here), and queues nothing for another vCPU. */
static void test_fast_cross_vcpu(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.svm = true, .two_vcpus = true});
    CU_ASSERT_EQUAL(xf_map_shinfo(&f, SHINFO_GFN), 0);
    const struct hv_xen_vcpu *xv1 = &f.vm->xen->vcpus[1];
    uint32_t uv[2] = {1, UPCALL_VEC};
    memcpy(xf_gpa(&f, XF_BUF), uv, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 23, XF_BUF, 0, 0, 0, 0), 0);
    uint32_t ports[2];
    for (uint32_t v = 0; v < 2; v++) {
        uint32_t ipi[2] = {v, 0};
        memcpy(xf_gpa(&f, XF_BUF), ipi, 8);
        CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, OP_BIND_IPI, XF_BUF, 0, 0, 0, 0), 0);
        memcpy(&ports[v], xf_gpa(&f, XF_BUF + 4), 4);
    }
    xf_set_upcall_pending(&f, 0, 0);
    xf_set_upcall_pending(&f, 1, 0);
    xf_set_if(&f, f.vcpu1, true);
    xf_enter(&f, f.vcpu1);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_SCHED, 1, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(xv1->block, XEN_BLOCKED);

    bool ev;
    unsigned wakes = f.wakes;
    uint64_t kicks = f.mh.kicks;
    memcpy(xf_gpa(&f, XF_BUF), &ports[1], 4);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), 0);
    CU_ASSERT_EQUAL(f.wakes, wakes + 1);
    CU_ASSERT_PTR_EQUAL(f.last_woken, f.vcpu1);
    CU_ASSERT_EQUAL(xv1->block, XEN_RUNNING);
    CU_ASSERT(xv1->upcall_assert);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 1), 1);
    CU_ASSERT_EQUAL(xf_pending_sel(&f, 1), 1ull << (ports[1] / 64));
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 0);
    CU_ASSERT_EQUAL(f.vcpu->queued_irq.type, HV_EVENT_NONE); /* not the caller's */
    CU_ASSERT_EQUAL(f.mh.kicks, kicks);

    /* vCPU 1 inside hv_vcpu_run on CPU 1: its CPU is kicked, no wake. */
    ack_vcpu1(&f, ports[1]);
    f.mh.cpus = 2;
    f.vcpu1->running = 1;
    f.vcpu1->host_cpu = 1;
    f.mh.current_cpu = 0;
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(f.mh.kicks, kicks + 1);
    CU_ASSERT_EQUAL(f.mh.last_kick_cpu, 1);
    CU_ASSERT_EQUAL(f.wakes, wakes + 1);
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 1), 1);
    /* The event bit before the interrupt: an entry of vCPU 1 that had
       already passed its checks, or moved CPU, finds it (objects.h
       HV_KICK_EVENT); its run loop takes it and goes on. */
    CU_ASSERT_EQUAL(f.vcpu1->kick_pending, HV_KICK_EVENT);
    f.vcpu1->kick_pending = 0;

    /* The caller's own port: bits set, neither a wake nor a kick. */
    f.vcpu->running = 1;
    f.vcpu->host_cpu = 0;
    memcpy(xf_gpa(&f, XF_BUF), &ports[0], 4);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), 0);
    CU_ASSERT(xf_port_pending(&f, ports[0]));
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 1);
    CU_ASSERT_EQUAL(f.mh.kicks, kicks + 1);
    CU_ASSERT_EQUAL(f.wakes, wakes + 1);
    f.vcpu->running = 0;
    f.vcpu1->running = 0;
    xf_teardown(&f);
}

#define PT_4K 0x60000u /* a 4 KiB page table for XF_ALIAS_GVA's first 2 MiB */

static void put_pte(struct xf *f, unsigned i, uint64_t v)
{
    memcpy(xf_gpa(f, PT_4K + 8 * i), &v, 8);
}

/* The port read by the fast path: within a page through the memo, across
   a page boundary through the walk of both pages, never through the
   memo of the first page alone; a bad pointer -EFAULT with nothing sent
   and no event reported. */
static void test_fast_port_read(void)
{
    struct xf f;
    uint32_t port = upcall_setup(&f);
    bool ev;
    /* 4 KiB pages at XF_ALIAS_GVA: the first present, the second not. */
    memset(xf_gpa(&f, PT_4K), 0, 0x1000);
    put_pte(&f, 0, XF_ALIAS_GPA | 3);
    put_pde(&f, PT_4K | 3);
    uint64_t gva = XF_ALIAS_GVA + 0xffe; /* the last two bytes of the first page */
    uint8_t *at = xf_gpa(&f, XF_ALIAS_GPA + 0xffe);
    memcpy(at, &port, 4);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, gva, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_FAULT);
    CU_ASSERT(!ev);
    CU_ASSERT(!xf_port_pending(&f, port));
    /* The first page's memo (port 0 at its start: -EINVAL) does not
       stand in for the straddling read. */
    memset(xf_gpa(&f, XF_ALIAS_GPA), 0, 4);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_ALIAS_GVA, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_INVAL);
    CU_ASSERT_PTR_NOT_NULL(f.vcpu->data.host);
    uint64_t walks = f.vcpu->data.walks;
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_ALIAS_GVA, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(f.vcpu->data.walks, walks); /* the memo held */
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, gva, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_FAULT);
    CU_ASSERT(!xf_port_pending(&f, port));
    /* Both pages present: the value from both. */
    put_pte(&f, 1, (XF_ALIAS_GPA + 0x1000) | 3);
    unsigned n0 = xf_injected(f.vcpu, NULL);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, gva, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), 0);
    CU_ASSERT(!ev); /* the upcall went in at once */
    CU_ASSERT_EQUAL(xf_injected(f.vcpu, NULL), n0 + 1);
    CU_ASSERT(xf_port_pending(&f, port));
    guest_ack(&f, port);
    hv_deliver_events(f.vcpu);
    put_pde(&f, XF_ALIAS_GPA | 0x83);
    /* A non-canonical pointer, and one that wraps the address space. */
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, 0x0000800000000000ull, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_FAULT);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, gva | (1ull << 62), &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_FAULT); /* bits 47:0 are the port's: no alias */
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, ~0ull - 1, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_FAULT);
    CU_ASSERT(!ev);
    CU_ASSERT(!xf_port_pending(&f, port));
    xf_teardown(&f);
}

static void gbpages_view(struct xf *f, bool on)
{
    CU_ASSERT_EQUAL(mock_cpuid_gbpages(f->vm, on), HV_OK);
}

/* The port's read walks in the VM's paging view (core/policy.h
   hv_vm_paging_view), on the fast path and the full one: through a
   1 GiB page while CPUID reports 1 GiB pages, -EFAULT once an override
   hides them (PS is then reserved in a PDPTE), the memo filled before
   notwithstanding, and the port again when they are back. */
static void test_fast_paging_view(void)
{
    struct xf f;
    uint32_t port = upcall_setup(&f);
    bool ev;
    uint64_t pdpt1 = XF_PT_BASE + 0x1000 + 8, was, gib = 0 | 0x83; /* 1 GiB at GPA 0 */
    memcpy(&was, xf_gpa(&f, pdpt1), 8);
    memcpy(xf_gpa(&f, pdpt1), &gib, 8);
    memcpy(xf_gpa(&f, 0x100), &port, 4);
    uint64_t gva = XF_ALIAS_GVA + 0x100;
    gbpages_view(&f, true);
    for (int i = 0; i < 2; i++) { /* a walk, then the memo */
        CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, gva, &ev), HV_PV_DONE);
        CU_ASSERT_EQUAL(rax(&f), 0);
        CU_ASSERT(xf_port_pending(&f, port));
        guest_ack(&f, port);
        hv_deliver_events(f.vcpu);
    }
    gbpages_view(&f, false);
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, gva, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_FAULT);
    CU_ASSERT_EQUAL(send_at(&f, gva), E_FAULT);
    CU_ASSERT(!xf_port_pending(&f, port));
    gbpages_view(&f, true);
    CU_ASSERT_EQUAL(send_at(&f, gva), 0);
    CU_ASSERT(xf_port_pending(&f, port));
    memcpy(xf_gpa(&f, pdpt1), &was, 8);
    xf_teardown(&f);
}

/* An i386 caller's fast send: the port from ECX's pointer (paging off),
   the bits in the 32-bit shared_info layout (selector word port / 32). */
static void test_fast_compat_send(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.compat = true, .svm = true});
    CU_ASSERT_EQUAL(xf_map_shinfo(&f, SHINFO_GFN), 0);
    /* HVMOP_set_param(CALLBACK_IRQ, 0) from i386 latches the i386 layout. */
    uint8_t param[16] = {0xf0, 0x7f}; /* DOMID_SELF, index 0, value 0 */
    memcpy(xf_gpa(&f, XF_BUF2), param, sizeof(param));
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 0, XF_BUF2, 0, 0, 0, 0), 0);
    CU_ASSERT_FATAL(f.vm->xen->compat);
    uint32_t port = 0;
    while (port < 70) { /* a port whose 32- and 64-bit selector words differ */
        uint32_t ipi[2] = {0, 0};
        memcpy(xf_gpa(&f, XF_BUF), ipi, 8);
        CU_ASSERT_FATAL(xf_call(&f, HC_EVTCHN, OP_BIND_IPI, XF_BUF, 0, 0, 0, 0) == 0);
        memcpy(&port, xf_gpa(&f, XF_BUF + 4), 4);
    }
    xf_set_upcall_pending(&f, 0, 0);
    memcpy(xf_gpa(&f, XF_BUF), &port, 4);
    bool ev;
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, (1ull << 32) | OP_SEND, XF_BUF, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), 0);
    CU_ASSERT(ev);
    CU_ASSERT(xf_port_pending(&f, port));
    CU_ASSERT_EQUAL(xf_pending_sel(&f, 0), 1ull << (port / 32));
    CU_ASSERT_EQUAL(xf_upcall_pending(&f, 0), 1);
    /* A pointer into a hole of guest RAM: -EFAULT, nothing reported. */
    CU_ASSERT_EQUAL(fast_call(&f, HC_EVTCHN, OP_SEND, XF_HOLE, &ev), HV_PV_DONE);
    CU_ASSERT_EQUAL(rax(&f), E_FAULT);
    CU_ASSERT(!ev);
    xf_teardown(&f);
}

void xen_suite_fast(void)
{
    CU_pSuite s = CU_add_suite("xen_fast", NULL, NULL);
    CU_add_test(s, "fast_whitelist", test_fast_whitelist);
    CU_add_test(s, "fast_upcall", test_fast_upcall);
    CU_add_test(s, "fast_upcall_lapic", test_fast_upcall_lapic);
    CU_add_test(s, "fast_memo_stale", test_fast_memo_stale);
    CU_add_test(s, "fast_idle_settled", test_fast_idle_settled);
    CU_add_test(s, "fast_cross_vcpu", test_fast_cross_vcpu);
    CU_add_test(s, "fast_port_read", test_fast_port_read);
    CU_add_test(s, "fast_paging_view", test_fast_paging_view);
    CU_add_test(s, "fast_compat_send", test_fast_compat_send);
}
