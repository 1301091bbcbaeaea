/*
 * Xen PV layer: enabling, CPUID leaves, the hypercall-page MSR, the
 * hypercall ABI (modes, CPL, unknown numbers, pointers) and xen_version.
 * Other areas are in test_xen_*.c; main() runs them all.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "core/objects.h"
#include "xen/internal.h"
#include "xen_fixture.h"

/* ---- enable / disable ---- */

static void test_enable_args(void)
{
    struct xf f;
    struct xf_opts o = {.no_xen = true};
    xf_setup(&f, &o);
    struct hv_xen_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.tsc_khz = XF_TSC_KHZ;

    CU_ASSERT_EQUAL(hv_xen_enable(NULL, &cfg), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_disable(f.vm), HV_ERR_STATE);
    uint32_t id;
    CU_ASSERT_EQUAL(hv_xen_domid(f.vm, &id), HV_ERR_STATE);
    cfg.size = 4;
    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_ERR_INVALID_ARG);
    cfg.size = sizeof(cfg);
    cfg.flags = 0x80;
    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_ERR_INVALID_ARG);
    cfg.flags = 0;
    cfg.domid = 0x7ff0;
    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_ERR_INVALID_ARG);
    cfg.domid = 0;
    cfg.max_evtchn_ports = 5000;
    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_ERR_INVALID_ARG);
    cfg.max_evtchn_ports = 0;
    cfg.max_grant_frames = 65;
    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_ERR_INVALID_ARG);
    cfg.max_grant_frames = 0;
    memset(cfg.extraversion, 'x', sizeof(cfg.extraversion)); /* unterminated */
    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_ERR_INVALID_ARG);
    memset(cfg.extraversion, 0, sizeof(cfg.extraversion));
    cfg.memmap_count = 2; /* without a map */
    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_ERR_INVALID_ARG);
    cfg.memmap_count = 0;
    CU_ASSERT_PTR_NULL(f.vm->pv);

    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_OK);
    CU_ASSERT_PTR_NOT_NULL(f.vm->pv);
    CU_ASSERT_PTR_NOT_NULL(f.vcpu->xen);
    CU_ASSERT_EQUAL(hv_xen_enable(f.vm, &cfg), HV_ERR_EXISTS);
    CU_ASSERT_EQUAL(hv_xen_domid(f.vm, &id), HV_OK);
    CU_ASSERT_EQUAL(id, 1); /* lowest free id */
    /* A running vCPU keeps it enabled. */
    f.vcpu->running = 1;
    CU_ASSERT_EQUAL(hv_xen_disable(f.vm), HV_ERR_BUSY);
    f.vcpu->running = 0;
    CU_ASSERT_EQUAL(hv_xen_disable(f.vm), HV_OK);
    CU_ASSERT_PTR_NULL(f.vm->pv);
    CU_ASSERT_PTR_NULL(f.vcpu->xen);
    CU_ASSERT_EQUAL(hv_xen_disable(f.vm), HV_ERR_STATE);
    xf_teardown(&f);
}

/* The entry check every host call shares (xen_host_entry): a NULL VM or
   bad arguments first (HV_ERR_INVALID_ARG, Xen on or not), then
   HV_ERR_STATE on a VM without Xen. */
static void test_host_entry(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.no_xen = true});
    char buf[4] = {0};
    size_t n = 0;
    uint32_t u = 0;
    uint64_t v = 0;
    bool b = false;
    struct hv_xen_grant_mapping m;
    struct hv_xen_vcpu_status st;

    CU_ASSERT_EQUAL(hv_xen_domid(NULL, &u), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_domid(f.vm, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_set_param(NULL, 0, 0), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_set_param(f.vm, 0, 0), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_set_param(f.vm, 1000, 0), HV_ERR_STATE); /* state before range */
    CU_ASSERT_EQUAL(hv_xen_get_param(f.vm, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_get_param(f.vm, 0, &v), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_console_read(f.vm, NULL, 1, &n, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_console_read(f.vm, buf, 1, NULL, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_console_read(f.vm, NULL, 0, &n, NULL), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_console_input(f.vm, NULL, 1, &n), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_console_input(f.vm, buf, 1, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_console_input(f.vm, NULL, 0, &n), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_pvcons_attach(NULL, 0, &u), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_pvcons_attach(f.vm, 1, &u), HV_ERR_STATE); /* before alignment */
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, NULL, 1, &n), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, buf, 1, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, buf, 1, &n), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_pvcons_write(f.vm, NULL, 1, &n), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_pvcons_write(f.vm, buf, 1, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_pvcons_write(f.vm, NULL, 0, &n), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_evtchn_alloc_unbound(f.vm, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_evtchn_alloc_unbound(f.vm, &u), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_evtchn_bind(f.vm, 1, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_evtchn_bind(f.vm, 1, &u), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_evtchn_host_unbound(f.vm, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_evtchn_host_unbound(f.vm, &u), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(NULL, 1), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(f.vm, 1), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_evtchn_pending(f.vm, 1, NULL, &u), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_evtchn_pending(f.vm, 1, &b, NULL), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_evtchn_close(NULL, 1), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_evtchn_close(f.vm, 1), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 1, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 1, 0x80, &m), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 1, 0, &m), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_grant_unmap(NULL, 1), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_grant_unmap(f.vm, 1), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_vcpu_set_up(NULL, true), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_vcpu_set_up(f.vcpu, true), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_ERR_STATE);
    xf_teardown(&f);

    /* With Xen on, the same argument errors, and the per-call ones after. */
    xf_setup(&f, NULL);
    CU_ASSERT_EQUAL(hv_xen_get_param(f.vm, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_get_param(f.vm, 1000, &v), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_xen_set_param(f.vm, 1000, 0), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, NULL, 1, &n), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_pvcons_write(f.vm, buf, 1, &n), HV_ERR_STATE); /* none attached */
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(hv_xen_evtchn_notify(f.vm, 0), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_evtchn_pending(f.vm, 5, &b, &u), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_evtchn_close(f.vm, 100000), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(NULL, &st), HV_ERR_INVALID_ARG);
    xf_teardown(&f);
}

/* Every allocation of hv_xen_enable can fail and leaves nothing behind. */
static void test_enable_alloc_failures(void)
{
    for (uint64_t n = 0;; n++) {
        struct xf f;
        struct xf_opts o = {.no_xen = true};
        xf_setup(&f, &o);
        struct hv_xen_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.tsc_khz = XF_TSC_KHZ;
        uint64_t pages = f.mh.pages_out, objs = f.mh.objs_out;
        mock_fail_in(&f.mh, n);
        hv_status_t st = hv_xen_enable(f.vm, &cfg);
        mock_fail_none(&f.mh);
        if (st == HV_OK) {
            CU_ASSERT(n >= 4); /* the VM object, its ports, shared_info, a grant frame */
            xf_teardown(&f);
            break;
        }
        CU_ASSERT_EQUAL(st, HV_ERR_NO_MEMORY);
        CU_ASSERT_EQUAL(f.mh.pages_out, pages);
        CU_ASSERT_EQUAL(f.mh.objs_out, objs);
        CU_ASSERT_PTR_NULL(f.vm->xen);
        xf_teardown(&f);
    }
}

static void test_hub_domids(void)
{
    struct xf a, b;
    xf_setup(&a, &(struct xf_opts){.no_xen = true});
    struct hv_xen_hub *hub;
    CU_ASSERT_EQUAL(hv_xen_hub_create(NULL, &hub), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_xen_hub_create(a.ctx, &hub), HV_OK);
    struct hv_xen_config cfg = {.size = sizeof(cfg), .tsc_khz = XF_TSC_KHZ, .hub = hub, .domid = 7};
    CU_ASSERT_EQUAL(hv_xen_enable(a.vm, &cfg), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_hub_destroy(hub), HV_ERR_BUSY);
    xf_setup_peer(&b, &a, &(struct xf_opts){.no_xen = true});
    CU_ASSERT_EQUAL(hv_xen_enable(b.vm, &cfg), HV_ERR_EXISTS); /* domid 7 is taken */
    CU_ASSERT_PTR_NULL(b.vm->xen);
    cfg.domid = 0;
    CU_ASSERT_EQUAL(hv_xen_enable(b.vm, &cfg), HV_OK);
    uint32_t id;
    CU_ASSERT_EQUAL(hv_xen_domid(b.vm, &id), HV_OK);
    CU_ASSERT_EQUAL(id, 1);
    xf_teardown_peer(&b);
    CU_ASSERT_EQUAL(hv_xen_disable(a.vm), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_hub_destroy(hub), HV_OK);
    xf_teardown(&a);
}

/* ---- CPUID ---- */

static void cpuid(struct xf *f, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_CPUID;
    e.vx.rip = 0x5000;
    e.set_gprs = true;
    e.gpr[HV_GPR_RAX] = leaf;
    e.gpr[HV_GPR_RCX] = sub;
    mock_script(f->vcpu, &e);
    CU_ASSERT_EQUAL(hv_vcpu_run(f->vcpu, &f->exit), HV_OK);
    struct mock_vcpu *m = mock_vcpu_of(f->vcpu);
    m->script_len = m->script_pos = 0;
    r[0] = (uint32_t)f->vcpu->gpr[HV_GPR_RAX];
    r[1] = (uint32_t)f->vcpu->gpr[HV_GPR_RBX];
    r[2] = (uint32_t)f->vcpu->gpr[HV_GPR_RCX];
    r[3] = (uint32_t)f->vcpu->gpr[HV_GPR_RDX];
}

static void test_cpuid_leaves(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .cfg = {.domid = 42}});
    uint32_t r[4];
    cpuid(&f, 0x40000000, 0, r);
    CU_ASSERT_EQUAL(r[0], 0x40000005);
    CU_ASSERT_EQUAL(memcmp(&r[1], "XenVMMXenVMM", 12), 0);
    cpuid(&f, 0x40000001, 0, r);
    CU_ASSERT_EQUAL(r[0], (4u << 16) | 19u);
    CU_ASSERT_EQUAL(r[1] | r[2] | r[3], 0);
    cpuid(&f, 0x40000002, 0, r);
    CU_ASSERT_EQUAL(r[0], 1);          /* one hypercall page */
    CU_ASSERT_EQUAL(r[1], 0x40000000); /* its MSR */
    CU_ASSERT_EQUAL(r[2] | r[3], 0);
    cpuid(&f, 0x40000003, 0, r);
    CU_ASSERT_EQUAL(r[0], 0); /* not emulated */
    CU_ASSERT_EQUAL(r[2], XF_TSC_KHZ);
    cpuid(&f, 0x40000003, 1, r);
    CU_ASSERT_EQUAL(r[2], 0x80000000u); /* 2 GHz: 0.5 ns per tick, shift 0 */
    CU_ASSERT_EQUAL(r[3], 0);
    cpuid(&f, 0x40000003, 2, r);
    CU_ASSERT_EQUAL(r[0], XF_TSC_KHZ);
    cpuid(&f, 0x40000004, 0, r);
    CU_ASSERT_EQUAL(r[0], (1u << 3) | (1u << 4) | (1u << 6)); /* vcpu id, domid, upcall vector */
    CU_ASSERT_EQUAL(r[1], 0);
    CU_ASSERT_EQUAL(r[2], 42);
    cpuid(&f, 0x40000004, 1, r);
    CU_ASSERT_EQUAL(r[0] | r[1] | r[2] | r[3], 0);
    cpuid(&f, 0x40000005, 0, r); /* PV-only leaf: empty for HVM */
    CU_ASSERT_EQUAL(r[0] | r[1] | r[2] | r[3], 0);
    cpuid(&f, 0x40000006, 0, r);
    CU_ASSERT_EQUAL(r[0] | r[1] | r[2] | r[3], 0);
    cpuid(&f, 0x40000100, 0, r);
    CU_ASSERT_EQUAL(r[0] | r[1] | r[2] | r[3], 0);
    xf_teardown(&f);

    /* Another version, and the vCPU id of vCPU 1. */
    xf_setup(&f,
             &(struct xf_opts){.two_vcpus = true, .cfg = {.version_major = 4, .version_minor = 2}});
    cpuid(&f, 0x40000001, 0, r);
    CU_ASSERT_EQUAL(r[0], (4u << 16) | 2u);
    struct hv_vcpu *v0 = f.vcpu;
    f.vcpu = f.vcpu1;
    cpuid(&f, 0x40000004, 0, r);
    CU_ASSERT_EQUAL(r[1], 1);
    CU_ASSERT_EQUAL(r[2], 1);
    f.vcpu = v0;
    xf_teardown(&f);
}

/* ---- the hypercall page MSR ---- */

/* Run vCPU 0 through what was scripted, then forget the script. */
static void run_script(struct xf *f)
{
    CU_ASSERT_EQUAL(hv_vcpu_run(f->vcpu, &f->exit), HV_OK);
    struct mock_vcpu *m = mock_vcpu_of(f->vcpu);
    m->script_len = m->script_pos = 0;
}

static void wrmsr(struct xf *f, uint32_t msr, uint64_t v)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_WRMSR;
    e.vx.rip = 0x5000;
    e.set_gprs = true;
    memcpy(e.gpr, f->vcpu->gpr, sizeof(e.gpr));
    e.gpr[HV_GPR_RCX] = msr;
    e.gpr[HV_GPR_RAX] = (uint32_t)v;
    e.gpr[HV_GPR_RDX] = v >> 32;
    mock_script(f->vcpu, &e);
    run_script(f);
}

static uint64_t rdmsr(struct xf *f, uint32_t msr)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_RDMSR;
    e.vx.rip = 0x5000;
    e.set_gprs = true;
    e.gpr[HV_GPR_RCX] = msr;
    e.gpr[HV_GPR_RAX] = 0x1234;
    e.gpr[HV_GPR_RDX] = 0x5678;
    mock_script(f->vcpu, &e);
    run_script(f);
    return (f->vcpu->gpr[HV_GPR_RDX] << 32) | (uint32_t)f->vcpu->gpr[HV_GPR_RAX];
}

static unsigned gp_count(struct xf *f)
{
    struct mock_vcpu *m = mock_vcpu_of(f->vcpu);
    unsigned n = 0;
    for (unsigned i = 0; i < m->injected_count; i++)
        n += m->injected[i].type == HV_EVENT_EXCEPTION && m->injected[i].vector == 13;
    return n;
}

static void check_stubs(const uint8_t *p, bool vmx)
{
    for (unsigned nr = 0; nr < 128; nr++) {
        const uint8_t *s = p + nr * 32;
        if (nr == 23) { /* HYPERVISOR_iret: UD2 */
            CU_ASSERT(s[0] == 0x0f && s[1] == 0x0b);
            continue;
        }
        uint8_t want[9] = {0xb8, (uint8_t)nr, 0, 0, 0, 0x0f, 0x01, vmx ? 0xc1 : 0xd9, 0xc3};
        CU_ASSERT_EQUAL(memcmp(s, want, 9), 0);
        CU_ASSERT_EQUAL(s[9], 0xcc);
        CU_ASSERT_EQUAL(s[31], 0xcc);
    }
}

static void test_hypercall_page(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    memset(xf_gpa(&f, 0x8000), 0, 4096);
    wrmsr(&f, 0x40000000, 0x8000);
    CU_ASSERT_EQUAL(gp_count(&f), 0);
    CU_ASSERT_EQUAL(xf_rip(&f, NULL), 0x5002); /* WRMSR completed */
    check_stubs(xf_gpa(&f, 0x8000), true);
    CU_ASSERT_FALSE(f.vm->xen->compat);        /* written in 64-bit mode */
    CU_ASSERT_EQUAL(rdmsr(&f, 0x40000000), 0); /* reads as zero */
    CU_ASSERT_EQUAL(gp_count(&f), 0);

    /* Page index bits, unmapped and read-only pages: #GP, page untouched. */
    memset(xf_gpa(&f, 0x9000), 0x11, 4096);
    wrmsr(&f, 0x40000000, 0x9001);
    CU_ASSERT_EQUAL(gp_count(&f), 1);
    CU_ASSERT_EQUAL(xf_rip(&f, NULL), 0x5000); /* faulted: not completed */
    CU_ASSERT_EQUAL(((uint8_t *)xf_gpa(&f, 0x9000))[0], 0x11);
    wrmsr(&f, 0x40000000, XF_HOLE);
    CU_ASSERT_EQUAL(gp_count(&f), 2);
    wrmsr(&f, 0x40000000, XF_RO_PAGE);
    CU_ASSERT_EQUAL(gp_count(&f), 3);
    CU_ASSERT_EQUAL(((uint8_t *)xf_gpa(&f, XF_RO_PAGE))[0], 0);
    wrmsr(&f, 0x40000000, 1ull << 47); /* beyond guest memory */
    CU_ASSERT_EQUAL(gp_count(&f), 4);
    /* Other MSRs of the range are not Xen's. */
    wrmsr(&f, 0x40000001, 0x8000);
    CU_ASSERT_EQUAL(gp_count(&f), 5);
    rdmsr(&f, 0x40000001);
    CU_ASSERT_EQUAL(gp_count(&f), 6);
    xf_teardown(&f);

    /* SVM: VMMCALL stubs; a 32-bit caller latches the i386 shared_info layout. */
    xf_setup(&f, &(struct xf_opts){.svm = true, .compat = true});
    wrmsr(&f, 0x40000000, 0x8000);
    check_stubs(xf_gpa(&f, 0x8000), false);
    CU_ASSERT_TRUE(f.vm->xen->compat);
    xf_teardown(&f);
}

/* ---- hypercall ABI ---- */

static void test_abi_modes_and_cpl(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    /* Unknown and unimplemented numbers: -ENOSYS; RIP advanced past VMCALL. */
    CU_ASSERT_EQUAL(xf_call(&f, 0, 0, 0, 0, 0, 0, 0), E_NOSYS);
    CU_ASSERT_EQUAL(xf_rip(&f, NULL), 0x5003);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_UNHANDLED); /* finished inside: end of script */
    CU_ASSERT_EQUAL(xf_call(&f, 33, 0, 0, 0, 0, 0, 0), E_NOSYS); /* physdev_op */
    CU_ASSERT_EQUAL(xf_call(&f, 99, 0, 0, 0, 0, 0, 0), E_NOSYS);
    CU_ASSERT_EQUAL(xf_call(&f, 0x100000011ull, 0, 0, 0, 0, 0, 0), E_NOSYS); /* 64-bit RAX */
    CU_ASSERT_EQUAL(xf_call(&f, 17, 0, 0, 0, 0, 0, 0), (4 << 16) | 19);

    /* Ring 3 (and 1): -EPERM, whatever the call. */
    xf_set_cpl(&f, 3);
    CU_ASSERT_EQUAL(xf_call(&f, 17, 0, 0, 0, 0, 0, 0), E_PERM);
    CU_ASSERT_EQUAL(xf_call(&f, 99, 0, 0, 0, 0, 0, 0), E_PERM);
    xf_set_cpl(&f, 1);
    CU_ASSERT_EQUAL(xf_call(&f, 17, 0, 0, 0, 0, 0, 0), E_PERM);
    xf_set_cpl(&f, 0);
    xf_teardown(&f);

    /* 32-bit: EAX is the number (upper half ignored), EBX.. the arguments,
       and the result is written as 32 bits. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    CU_ASSERT_EQUAL(xf_call(&f, 0xffffffff00000011ull, 0, 0, 0, 0, 0, 0), (4 << 16) | 19);
    f.vcpu->gpr[HV_GPR_RAX] = 0;
    CU_ASSERT_EQUAL(xf_call(&f, 17, 7 /* XENVER_pagesize */, 0, 0, 0, 0, 0), 4096);
    CU_ASSERT_EQUAL(xf_call(&f, 17, 7, 0x10, 0, 0, 0, 0), E_INVAL);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX] >> 32, 0);
    /* Virtual-8086 mode: -EPERM. */
    mock_vcpu_of(f.vcpu)->st.rflags |= 1u << 17;
    CU_ASSERT_EQUAL(xf_call(&f, 17, 0, 0, 0, 0, 0, 0), E_PERM);
    mock_vcpu_of(f.vcpu)->st.rflags &= ~(1ull << 17);
    /* Real mode is allowed (CPL 0). */
    mock_vcpu_of(f.vcpu)->st.cr0 &= ~1ull;
    CU_ASSERT_EQUAL(xf_call(&f, 17, 0, 0, 0, 0, 0, 0), (4 << 16) | 19);
    xf_teardown(&f);
}

/* ---- xen_version ---- */

static void fill(struct xf *f, uint64_t gpa, uint8_t v, size_t n)
{
    memset(xf_gpa(f, gpa), v, n);
}

static bool all(struct xf *f, uint64_t gpa, uint8_t v, size_t n)
{
    const uint8_t *p = xf_gpa(f, gpa);
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* A string sub-op fills exactly `size` bytes: the string, then zeros. */
static void check_string(struct xf *f, uint32_t op, const char *want, size_t size)
{
    fill(f, XF_BUF, 0xaa, size + 16);
    CU_ASSERT_EQUAL(xf_call(f, HC_VERSION, op, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_STRING_EQUAL((char *)xf_gpa(f, XF_BUF), want);
    CU_ASSERT(all(f, XF_BUF + strlen(want), 0, size - strlen(want)));
    CU_ASSERT(all(f, XF_BUF + size, 0xaa, 16));
    /* A bad pointer: -EFAULT, nothing written. */
    CU_ASSERT_EQUAL(xf_call(f, HC_VERSION, op, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    fill(f, XF_RO_PAGE - 8, 0xbb, 8);
    CU_ASSERT_EQUAL(xf_call(f, HC_VERSION, op, XF_RO_PAGE - 8, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT(all(f, XF_RO_PAGE - 8, 0xbb, 8)); /* no partial write */
}

static void test_xen_version(void)
{
    struct xf f;
    struct xf_opts o;
    memset(&o, 0, sizeof(o));
    memcpy(o.cfg.extraversion, "-rc1", 5);
    memset(o.cfg.handle, 0x5a, 16);
    xf_setup(&f, &o);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 0, 0, 0, 0, 0, 0), (4 << 16) | 19);
    check_string(&f, 1, "-rc1", 16);
    check_string(&f, 3, "hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64", 1024);
    check_string(&f, 4, "libhv", 64);
    /* compile_info: four fixed fields, 144 bytes, zero-filled. */
    fill(&f, XF_BUF, 0xaa, 160);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 2, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_STRING_EQUAL((char *)xf_gpa(&f, XF_BUF), "libhv");
    CU_ASSERT(all(&f, XF_BUF + 5, 0, 59));
    CU_ASSERT(all(&f, XF_BUF + 112, 0, 32)); /* compile_date */
    CU_ASSERT(all(&f, XF_BUF + 144, 0xaa, 16));
    /* platform_parameters: one unsigned long, 0 for an HVM guest. */
    fill(&f, XF_BUF, 0xaa, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 5, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT(all(&f, XF_BUF, 0, 8));
    CU_ASSERT(all(&f, XF_BUF + 8, 0xaa, 8));
    /* get_features: submap 0 only. */
    uint32_t fi[2] = {0, 0xdeadbeef};
    memcpy(xf_gpa(&f, XF_BUF), fi, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 6, XF_BUF, 0, 0, 0, 0), 0);
    memcpy(fi, xf_gpa(&f, XF_BUF), 8);
    CU_ASSERT_EQUAL(fi[0], 0);
    CU_ASSERT_EQUAL(fi[1], (1u << 0) | (1u << 2) | (1u << 8) | (1u << 9) | (1u << 16));
    fi[0] = 1;
    fi[1] = 0x1234;
    memcpy(xf_gpa(&f, XF_BUF), fi, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 6, XF_BUF, 0, 0, 0, 0), E_INVAL);
    memcpy(fi, xf_gpa(&f, XF_BUF), 8);
    CU_ASSERT_EQUAL(fi[1], 0x1234);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 6, XF_HOLE, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 6, XF_RO_PAGE, 0, 0, 0, 0),
                    E_FAULT); /* readable, not writable */
    /* pagesize: NULL argument only. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 7, 0, 0, 0, 0, 0), 4096);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 7, XF_BUF, 0, 0, 0, 0), E_INVAL);
    /* guest_handle: the configured handle. */
    fill(&f, XF_BUF, 0, 32);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 8, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT(all(&f, XF_BUF, 0x5a, 16));
    CU_ASSERT(all(&f, XF_BUF + 16, 0, 16));
    /* commandline: "<denied>" and its NUL, nothing more. */
    fill(&f, XF_BUF, 0xaa, 1100);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 9, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&f, XF_BUF), "<denied>", 9), 0);
    CU_ASSERT(all(&f, XF_BUF + 9, 0xaa, 1024));
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 10, XF_BUF, 0, 0, 0, 0), E_PERM); /* build_id */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 11, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, -1, XF_BUF, 0, 0, 0, 0), E_NOSYS);
    /* int cmd: the upper half of RDI is not part of it. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 0x700000007ull, 0, 0, 0, 0, 0), 4096);
    /* A buffer through the guest's page tables (gva 1 GiB -> gpa 2 MiB). */
    fill(&f, XF_ALIAS_GPA, 0xaa, 32);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 1, XF_ALIAS_GVA, 0, 0, 0, 0), 0);
    CU_ASSERT_STRING_EQUAL((char *)xf_gpa(&f, XF_ALIAS_GPA), "-rc1");
    /* A non-canonical or unmapped linear address; one whose bits 47:0
       are a mapped buffer's (the walk reads only those) must not reach it. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 1, 0x800000000000ull, 0, 0, 0, 0), E_FAULT);
    fill(&f, XF_ALIAS_GPA, 0xaa, 32);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 1, XF_ALIAS_GVA | (1ull << 62), 0, 0, 0, 0), E_FAULT);
    CU_ASSERT(all(&f, XF_ALIAS_GPA, 0xaa, 32));
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 1, 0x80000000ull, 0, 0, 0, 0), E_FAULT);
    /* A buffer crossing from a good page into an unmapped one. */
    fill(&f, XF_HOLE - 8, 0xcc, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 1, XF_HOLE - 8, 0, 0, 0, 0), E_FAULT);
    CU_ASSERT(all(&f, XF_HOLE - 8, 0xcc, 8));
    xf_teardown(&f);

    /* 32-bit: platform_parameters is 4 bytes. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    fill(&f, XF_BUF, 0xaa, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 5, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT(all(&f, XF_BUF, 0, 4));
    CU_ASSERT(all(&f, XF_BUF + 4, 0xaa, 12));
    check_string(&f, 1, ".0", 16);
    /* Paging off: an address above 4 GiB cannot come from a 32-bit register,
       and one past the RAM faults. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VERSION, 1, 0xfffffff8, 0, 0, 0, 0), E_FAULT);
    xf_teardown(&f);
}

/* A PV hypercall the library finishes never ran on the CPU: with RFLAGS.TF
   set the guest gets one single-step #DB with DR6.BS after it (the mock's
   inject_step, core/objects.h hv_step_trap), none without TF. */
static void test_hypercall_step(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    struct mock_vcpu *m = mock_vcpu_of(f.vcpu);
    m->st.rflags |= 0x100; /* TF */
    CU_ASSERT_EQUAL(xf_call(&f, 17, 0, 0, 0, 0, 0, 0), (4 << 16) | 19);
    CU_ASSERT_EQUAL(m->steps, 1);
    CU_ASSERT(m->dr6 & (1u << 14));
    CU_ASSERT_EQUAL(xf_call(&f, 99, 0, 0, 0, 0, 0, 0), E_NOSYS);
    CU_ASSERT_EQUAL(m->steps, 2);
    m->st.rflags &= ~0x100ull;
    CU_ASSERT_EQUAL(xf_call(&f, 17, 0, 0, 0, 0, 0, 0), (4 << 16) | 19);
    CU_ASSERT_EQUAL(m->steps, 2);
    xf_teardown(&f);
}

/* ---- main ---- */

void xen_suite_abi(void)
{
    CU_pSuite s = CU_add_suite("xen_abi", NULL, NULL);
    CU_add_test(s, "enable_args", test_enable_args);
    CU_add_test(s, "hypercall_step", test_hypercall_step);
    CU_add_test(s, "host_entry", test_host_entry);
    CU_add_test(s, "enable_alloc_failures", test_enable_alloc_failures);
    CU_add_test(s, "hub_domids", test_hub_domids);
    CU_add_test(s, "cpuid_leaves", test_cpuid_leaves);
    CU_add_test(s, "hypercall_page", test_hypercall_page);
    CU_add_test(s, "abi_modes_and_cpl", test_abi_modes_and_cpl);
    CU_add_test(s, "xen_version", test_xen_version);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    xen_suite_abi();
    xen_suite_evtchn();
    xen_suite_grant();
    xen_suite_misc();
    xen_suite_pvh();
    xen_suite_smp();
    xen_suite_fast();
    xen_suite_runstate();
    xen_suite_time();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
