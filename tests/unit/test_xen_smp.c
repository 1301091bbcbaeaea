/*
 * Xen PV layer: secondary vCPUs. VCPUOP_initialise with 64-bit and 32-bit
 * vcpu_hvm_context (every check of Xen's arch_set_info_hvm_guest that
 * gives -EINVAL), VCPUOP_up/down/is_up, what hv_vcpu_run() does with a
 * down vCPU, the wake callback, per-vCPU events on vCPU 1, and a domain
 * with the library's local APIC, whose SIPI brings a down vCPU up.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "core/objects.h"
#include "lapic/hooks.h"
#include "xen/internal.h"
#include "xen_fixture.h"

#define OP_INIT  0
#define OP_UP    1
#define OP_DOWN  2
#define OP_IS_UP 3
#define CTX_GPA  0x60000u

static struct xen_vcpu_hvm_context ctx64(void)
{
    struct xen_vcpu_hvm_context c;
    memset(&c, 0, sizeof(c));
    c.mode = XEN_VCPU_HVM_MODE_64B;
    struct xen_vcpu_hvm_x86_64 *r = &c.regs.x86_64;
    r->gpr[HV_GPR_RAX] = 0x1111;
    r->gpr[HV_GPR_RSP] = 0x9000;
    r->gpr[HV_GPR_RDI] = 0x2222;
    r->rip = 0x7000;
    r->rflags = 0x2;
    r->cr0 = 0x80000011u; /* PG PE ET */
    r->cr3 = XF_PT_BASE;
    r->cr4 = 0x20;   /* PAE */
    r->efer = 0x100; /* LME */
    return c;
}

static struct xen_vcpu_hvm_context ctx32(void)
{
    struct xen_vcpu_hvm_context c;
    memset(&c, 0, sizeof(c));
    c.mode = XEN_VCPU_HVM_MODE_32B;
    struct xen_vcpu_hvm_x86_32 *r = &c.regs.x86_32;
    r->gpr[HV_GPR_RBX] = 0x3333;
    r->gpr[HV_GPR_RSP] = 0x8800;
    r->eip = 0x6000;
    r->eflags = 0x2;
    r->cr0 = 0x11; /* PE ET, paging off */
    r->cs_limit = r->ds_limit = r->ss_limit = r->es_limit = 0xfffff;
    r->cs_ar = 0xc9b; /* G DB P S, code exec/read */
    r->ds_ar = r->ss_ar = r->es_ar = 0xc93;
    r->tr_limit = 0x67;
    r->tr_ar = 0x89; /* 32-bit TSS, available: becomes busy */
    return c;
}

static long init_vcpu(struct xf *f, uint32_t id, const struct xen_vcpu_hvm_context *c)
{
    memcpy(xf_gpa(f, CTX_GPA), c, sizeof(*c));
    return xf_call(f, HC_VCPU_OP, OP_INIT, id, CTX_GPA, 0, 0, 0);
}

/* hv_vcpu_run of a down vCPU: HLT/DOWN at once, nothing executed. */
static void assert_down_exit(struct xf *f, struct hv_vcpu *v)
{
    uint64_t rip = xf_rip(f, v);
    unsigned injected = xf_injected(v, NULL);
    struct hv_exit e;
    CU_ASSERT_EQUAL(hv_vcpu_run(v, &e), HV_OK);
    CU_ASSERT_EQUAL(e.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(e.hlt.source, HV_HLT_DOWN);
    CU_ASSERT_EQUAL(e.hlt.deadline_ns, 0);
    CU_ASSERT_EQUAL(xf_rip(f, v), rip);
    CU_ASSERT_EQUAL(xf_injected(v, NULL), injected);
    struct hv_xen_vcpu_status s;
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(v, &s), HV_OK);
    CU_ASSERT(s.down);
    CU_ASSERT(s.blocked);
}

static void test_initialise_64(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .vcpu1_down = true, .max_vcpus = 3});
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 0);
    assert_down_exit(&f, f.vcpu1);
    /* up before initialise; ids the domain does not have. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), E_INVAL);
    struct xen_vcpu_hvm_context c = ctx64();
    CU_ASSERT_EQUAL(init_vcpu(&f, 2, &c), E_NOENT); /* slot without a vCPU */
    CU_ASSERT_EQUAL(init_vcpu(&f, 3, &c), E_NOENT); /* beyond max_vcpus */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 3, 0, 0, 0, 0), E_NOENT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_DOWN, 3, 0, 0, 0, 0), E_NOENT);
    CU_ASSERT_EQUAL(init_vcpu(&f, 0, &c), E_EXIST); /* the boot vCPU */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_INIT, 1, XF_HOLE, 0, 0, 0), E_FAULT);

    /* Every rejected context leaves the vCPU uninitialised. */
    struct xen_vcpu_hvm_context b;
    b = c, b.mode = 2;
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.pad = 1;
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.rip = 0x0000800000000000ull; /* non-canonical */
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.cr0 = 0x11; /* paging off */
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.cr4 = 0;
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.efer = 0;
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.cr4 |= 1u << 12; /* LA57: not offered */
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.efer |= 1u << 2; /* reserved */
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.cr0 |= 1ull << 32; /* reserved */
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.cr0 = 0x80000010u; /* PG without PE */
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.cr3 = XF_HOLE; /* page tables not in RAM */
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    b = c, b.regs.x86_64.cr3 = 1ull << 52;
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);
    CU_ASSERT_FALSE(f.vm->xen->vcpus[1].initialised);

    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &c), 0);
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &c), E_EXIST);
    struct hv_vcpu_state st;
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu1, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(st.rip, 0x7000);
    CU_ASSERT_EQUAL(st.gpr[HV_GPR_RAX], 0x1111);
    CU_ASSERT_EQUAL(st.gpr[HV_GPR_RSP], 0x9000);
    CU_ASSERT_EQUAL(st.gpr[HV_GPR_RDI], 0x2222);
    CU_ASSERT_EQUAL(st.cr3, XF_PT_BASE);
    CU_ASSERT_EQUAL(st.efer, 0x500); /* LMA added */
    CU_ASSERT_EQUAL(st.seg[HV_SEG_CS].attr, 0xa9b);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_SS].attr, 0xc93);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_TR].attr, 0x8b);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_TR].limit, 0x67);
    /* Initialised but still down until VCPUOP_up. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 0);
    assert_down_exit(&f, f.vcpu1);
    unsigned wakes = f.wakes;
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.wakes, wakes + 1);
    CU_ASSERT_PTR_EQUAL(f.last_woken, f.vcpu1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), 0); /* already up */
    CU_ASSERT_EQUAL(f.wakes, wakes + 1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 1);
    struct hv_xen_vcpu_status s;
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu1, &s), HV_OK);
    CU_ASSERT_FALSE(s.down);
    CU_ASSERT_FALSE(s.blocked);
    /* It runs now: a hypercall from it completes. */
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_VCPU_OP, OP_IS_UP, 1, 0), 1);
    xf_teardown(&f);
}

static void test_initialise_32(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .vcpu1_down = true});
    struct xen_vcpu_hvm_context c = ctx32(), b;
    struct xen_vcpu_hvm_x86_32 *r = &b.regs.x86_32;
#define BAD(stmt)                                                                                  \
    do {                                                                                           \
        b = c;                                                                                     \
        stmt;                                                                                      \
        CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), E_INVAL);                                            \
    } while (0)
    BAD(r->pad1 = 1);
    BAD(r->pad2[2] = 1);
    BAD(r->cs_ar = 0);                           /* null CS */
    BAD(r->ss_ar = 0);                           /* null SS */
    BAD(r->tr_ar = 0);                           /* null TR */
    BAD(r->cs_ar = 0x1c9b);                      /* attribute bits 12-15 */
    BAD(r->cs_ar = 0xc1b);                       /* not present */
    BAD(r->cs_ar = 0xc93);                       /* data in CS */
    BAD(r->cs_ar = 0xc8b);                       /* system segment in CS */
    BAD(r->ss_ar = 0xc91);                       /* read-only SS */
    BAD(r->ss_ar = 0xc9b);                       /* code in SS */
    BAD(r->ds_ar = 0xc99);                       /* execute-only code in DS */
    BAD(r->es_ar = 0xc99);                       /* ... and ES */
    BAD(r->tr_ar = 0x99);                        /* code/data in TR */
    BAD(r->tr_ar = 0x81);                        /* 16-bit TSS */
    BAD(r->cs_ar = 0x49b; r->cs_limit = 0x5fff); /* byte granular: EIP beyond the limit */
    BAD(r->ss_ar = 0xcf3);                       /* SS.DPL 3, CS.DPL 0 */
    BAD(r->ds_ar = 0xcb3; r->cs_ar = 0xc9b);     /* DS.DPL 1 > CS.DPL 0 */
    BAD(r->efer = 0x400);                        /* LMA without LME */
    BAD(r->efer = 0x100; r->cr0 = 0x80000011u; r->cr3 = XF_PT_BASE); /* LME+PG without PAE */
    BAD(r->cr0 = 0x80000010u);                                       /* PG without PE */
    BAD(r->cr0 = 0x80000011u; r->cr3 = XF_HOLE);
    BAD(r->cr0 = 0x60000011u ^ 0x40000000u); /* NW without CD */
#undef BAD
    CU_ASSERT_FALSE(f.vm->xen->vcpus[1].initialised);

    /* Null DS/ES are fine; present segments get their accessed bit. */
    b = c;
    b.regs.x86_32.es_ar = 0;
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &b), 0);
    struct hv_vcpu_state st;
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu1, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(st.rip, 0x6000);
    CU_ASSERT_EQUAL(st.gpr[HV_GPR_RBX], 0x3333);
    CU_ASSERT_EQUAL(st.cr0, 0x11);
    CU_ASSERT_EQUAL(st.efer, 0);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_CS].attr, 0xc9b);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_CS].limit, 0xffffffffu); /* scaled by G */
    CU_ASSERT_EQUAL(st.seg[HV_SEG_DS].attr, 0xc93);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_ES].attr, HV_SEG_UNUSABLE);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_TR].attr, 0x8b); /* busy */
    CU_ASSERT_EQUAL(st.seg[HV_SEG_TR].limit, 0x67);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 1);
    xf_teardown(&f);
}

/* Down and up again, from the other vCPU and from itself; the last vCPU
   going down powers the domain off. */
static void test_down_up(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true});
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_DOWN, 1, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_DOWN, 1, 0, 0, 0, 0), 0); /* again: no-op */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 0);
    assert_down_exit(&f, f.vcpu1);
    CU_ASSERT_EQUAL(f.vcpu1->kick_pending, 0); /* it was not running: no kick left over */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_VCPU_OP, OP_IS_UP, 1, 0), 1);

    /* A running vCPU taken down by another is kicked out. */
    f.vcpu1->running = 1;
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_DOWN, 1, 0, 0, 0, 0), 0);
    f.vcpu1->running = 0;
    CU_ASSERT_EQUAL(f.vcpu1->kick_pending, 1);
    f.vcpu1->kick_pending = 0;
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), 0);

    /* vCPU 1 takes itself down: the call returns 0 to it, RIP past it. */
    uint64_t rip = xf_rip(&f, f.vcpu1);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_VCPU_OP, OP_DOWN, 1, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_DOWN);
    CU_ASSERT_EQUAL(xf_rip(&f, f.vcpu1), rip + 3);
    assert_down_exit(&f, f.vcpu1);
    /* Events for a down vCPU do not wake it; VCPUOP_up does. */
    unsigned wakes = f.wakes;
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.wakes, wakes + 1);

    /* vCPU 0 goes down; then vCPU 1, the last one: poweroff. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_DOWN, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_DOWN);
    assert_down_exit(&f, f.vcpu);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_VCPU_OP, OP_IS_UP, 0, 0), 0);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_VCPU_OP, OP_DOWN, 1, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_GUEST_SHUTDOWN);
    CU_ASSERT_EQUAL(f.exit.guest_shutdown.reason, 0);
    /* The host brings vCPU 0 back (toolstack). */
    CU_ASSERT_EQUAL(hv_xen_vcpu_set_up(f.vcpu, true), HV_OK);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 0, 0, 0, 0, 0), 1);
    CU_ASSERT_EQUAL(hv_xen_vcpu_set_up(NULL, true), HV_ERR_INVALID_ARG);
    xf_teardown(&f);
}

/* Per-vCPU pieces on vCPU 1 after the guest brought it up: vcpu_info
   registration while down, an IPI port bound to it, its upcall vector. */
static void test_vcpu1_events(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .vcpu1_down = true});
    /* register_vcpu_info for another vCPU: only while it is down. */
    uint64_t r[2] = {0x51, 0x80};
    memcpy(xf_gpa(&f, XF_BUF), r, 16);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, 10, 1, XF_BUF, 0, 0, 0), 0);
    struct xen_vcpu_hvm_context c = ctx64();
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &c), 0);
    /* Upcall vector of vCPU 1 (HVMOP_set_evtchn_upcall_vector). */
    uint32_t uv[2] = {1, 0xe0};
    memcpy(xf_gpa(&f, XF_BUF), uv, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_HVM, 23, XF_BUF, 0, 0, 0, 0), 0);
    /* bind_ipi to vCPU 1 and send from vCPU 0 while it is down: pending,
       no wake; VCPUOP_up wakes it and its entry takes the upcall. */
    uint32_t ipi[2] = {1, 0};
    memcpy(xf_gpa(&f, XF_BUF), ipi, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, 7, XF_BUF, 0, 0, 0, 0), 0);
    uint32_t port;
    memcpy(&port, xf_gpa(&f, XF_BUF + 4), 4);
    CU_ASSERT(port > 0);
    uint8_t *vi1 = xf_gpa(&f, 0x51080);
    memset(vi1, 0, 16); /* registration set everything pending */
    memcpy(xf_gpa(&f, XF_BUF), &port, 4);
    unsigned wakes = f.wakes;
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, 4, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(vi1[0], 1);
    CU_ASSERT_EQUAL(f.wakes, wakes);
    assert_down_exit(&f, f.vcpu1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.wakes, wakes + 1);
    xf_set_if(&f, f.vcpu1, true);
    xf_enter(&f, f.vcpu1);
    uint8_t vec = 0;
    CU_ASSERT(xf_injected(f.vcpu1, &vec) >= 1);
    CU_ASSERT_EQUAL(vec, 0xe0);
    /* Its pvclock is published in its registered vcpu_info. */
    uint32_t ver, mul;
    memcpy(&ver, vi1 + 32, 4);
    memcpy(&mul, vi1 + 56, 4);
    CU_ASSERT(ver >= 2);
    CU_ASSERT_EQUAL(ver & 1, 0);
    CU_ASSERT_EQUAL(mul, 0x80000000u);
    xf_teardown(&f);
}

/* One WRMSR of @p vcpu (an x2APIC register), run to the end of the script. */
static void apic_wrmsr(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.set_gprs = true;
    e.vx.kind = HV_VX_WRMSR;
    e.vx.rip = mock_vcpu_of(vcpu)->st.rip;
    e.vx.next_rip = e.vx.rip + 2;
    e.gpr[HV_GPR_RCX] = msr;
    e.gpr[HV_GPR_RAX] = (uint32_t)value;
    e.gpr[HV_GPR_RDX] = value >> 32;
    mock_script(vcpu, &e);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_UNHANDLED);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
}

/* vCPU 1 enters the guest once, in real mode at CS = vector << 8. */
static void assert_started_at(struct hv_vcpu *v, uint8_t vector)
{
    struct mock_vcpu *m = mock_vcpu_of(v);
    unsigned entries = m->entries;
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(v, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_UNHANDLED);
    CU_ASSERT_EQUAL(m->entries, entries + 1);
    CU_ASSERT_EQUAL(m->st.seg[HV_SEG_CS].selector, (uint16_t)(vector << 8));
    CU_ASSERT_EQUAL(m->st.seg[HV_SEG_CS].base, (uint64_t)vector << 12);
    CU_ASSERT_EQUAL(m->st.rip, 0);
    CU_ASSERT_EQUAL(m->st.cr0 & 1, 0);
}

#define X2APIC_ICR   0x830u
#define ICR_TO_APIC1 (1ull << 32)
#define ICR_INIT     0x4500u /* delivery mode INIT, level assert */
#define ICR_SIPI     0x4600u /* delivery mode start-up, | vector */

/* A Xen domain with hv_lapic_enable(): vCPU 1 starts down and waiting for
   a SIPI; the guest's INIT-SIPI-SIPI brings it up, as Linux's native
   cpu_up does on Xen (its vLAPIC clears _VPF_down at the SIPI). */
static void test_apic_sipi(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .vcpu1_down = true, .lapic = true});
    struct mock_vcpu *m1 = mock_vcpu_of(f.vcpu1);
    unsigned entries = m1->entries;
    /* Down at Xen's level: HV_HLT_DOWN, the APIC's gate not reached. */
    assert_down_exit(&f, f.vcpu1);
    /* vCPU 0 in x2APIC mode; INIT alone leaves vCPU 1 down, no wake. */
    apic_wrmsr(f.vcpu, 0x1b, 0xfee00d00u); /* IA32_APIC_BASE: EN, EXTD, BSP */
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_INIT);
    CU_ASSERT_EQUAL(f.wakes, 0);
    assert_down_exit(&f, f.vcpu1);
    CU_ASSERT_EQUAL(m1->entries, entries);
    /* The SIPI: up, and Xen's wake callback names it (its APIC's wake is
       not called: the vCPU never reached the APIC's gate to wait there). */
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_SIPI | 0x08);
    CU_ASSERT_EQUAL(f.wakes, 1);
    CU_ASSERT_PTR_EQUAL(f.last_woken, f.vcpu1);
    CU_ASSERT_EQUAL(f.apic_wakes, 0);
    struct hv_xen_vcpu_status s;
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu1, &s), HV_OK);
    CU_ASSERT(!s.down);
    CU_ASSERT(!s.blocked);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 1);
    assert_started_at(f.vcpu1, 0x08);
    /* Running: another SIPI changes nothing. */
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_SIPI | 0x09);
    CU_ASSERT_EQUAL(f.wakes, 1);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu1, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_UNHANDLED);
    CU_ASSERT_EQUAL(m1->st.seg[HV_SEG_CS].base, 0x8000);
    /* VCPUOP_down: not waiting for a SIPI, so a SIPI leaves it down. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_DOWN, 1, 0, 0, 0, 0), 0);
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_SIPI | 0x0a);
    CU_ASSERT_EQUAL(f.wakes, 1);
    assert_down_exit(&f, f.vcpu1);
    /* INIT then SIPI: up again, restarted at the new vector. */
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_INIT);
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_SIPI | 0x0b);
    CU_ASSERT_EQUAL(f.wakes, 2);
    assert_started_at(f.vcpu1, 0x0b);
    /* An INIT while it is up takes it down (Xen resets it): down and
       blocked at once, no guest code until a SIPI; VCPUOP_up refuses a
       vCPU the INIT left without a context. */
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_INIT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 0);
    entries = m1->entries;
    assert_down_exit(&f, f.vcpu1);
    CU_ASSERT_EQUAL(m1->entries, entries);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), -XEN_EINVAL);
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_SIPI | 0x0c);
    CU_ASSERT_EQUAL(f.wakes, 3);
    assert_started_at(f.vcpu1, 0x0c);
    /* An INIT level de-assert is no INIT (SDM Vol. 3A 11.6.1): still up. */
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | 0x8500u);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_IS_UP, 1, 0, 0, 0, 0), 1);
    xf_teardown(&f);
}

/* With the local APIC too, the Xen way still starts a vCPU: VCPUOP_up (or
   the toolstack's hv_xen_vcpu_set_up) runs its context, not the APIC's
   wait for a SIPI it was created in (HV_LAPIC_APS_WAIT_SIPI). */
static void test_apic_vcpuop_up(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .vcpu1_down = true, .lapic = true});
    struct mock_vcpu *m1 = mock_vcpu_of(f.vcpu1);
    struct xen_vcpu_hvm_context c = ctx64();
    CU_ASSERT_EQUAL(init_vcpu(&f, 1, &c), 0);
    assert_down_exit(&f, f.vcpu1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, OP_UP, 1, 0, 0, 0, 0), 0);
    unsigned entries = m1->entries;
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu1, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_UNHANDLED); /* it entered: end of the mock's script */
    CU_ASSERT_EQUAL(m1->entries, entries + 1);
    CU_ASSERT_EQUAL(m1->st.rip, 0x7000);
    CU_ASSERT_EQUAL(f.vcpu1->gpr[HV_GPR_RDI], 0x2222);
    CU_ASSERT_FALSE(hv_lapic_awaits_sipi(f.vcpu1));
    /* A SIPI now finds it running: nothing changes. */
    apic_wrmsr(f.vcpu, 0x1b, 0xfee00d00u);
    apic_wrmsr(f.vcpu, X2APIC_ICR, ICR_TO_APIC1 | ICR_SIPI | 0x08);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu1, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_UNHANDLED);
    CU_ASSERT_EQUAL(m1->st.rip, 0x7000);
    xf_teardown(&f);

    /* The fixture's toolstack start (hv_xen_vcpu_set_up) likewise. */
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .lapic = true});
    m1 = mock_vcpu_of(f.vcpu1);
    entries = m1->entries;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu1, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_UNHANDLED);
    CU_ASSERT_EQUAL(m1->entries, entries + 1);
    xf_teardown(&f);
}

void xen_suite_smp(void)
{
    CU_pSuite s = CU_add_suite("xen_smp", NULL, NULL);
    CU_add_test(s, "initialise_64", test_initialise_64);
    CU_add_test(s, "initialise_32", test_initialise_32);
    CU_add_test(s, "down_up", test_down_up);
    CU_add_test(s, "vcpu1_events", test_vcpu1_events);
    CU_add_test(s, "apic_sipi", test_apic_sipi);
    CU_add_test(s, "apic_vcpuop_up", test_apic_vcpuop_up);
}
