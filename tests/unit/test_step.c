/*
 * Single-step (RFLAGS.TF) over the instructions the core finishes for the
 * guest, against the scripted mock backend: after CPUID, an OUT or IN the
 * embedder completes, a hypercall the embedder answers and HLT, the next
 * entry delivers one #DB with DR6.BS (the backend's inject_step), before
 * a queued interrupt; none without TF, none for an instruction that
 * faulted, none left over after a full state reload. And the lazy switch
 * of DR0-3 (core/debugreg.h): loaded at the guest's first access, put back
 * with the backend's intercept on before hv_vcpu_run returns.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include <hv/hv.h>
#include "backend.h"
#include "core/ctx_internal.h"
#include "mock_backend.h"
#include "mock_host.h"
#include "vmx/ept_format.h"

#define TF      0x100ull
#define DR6_BS  (1ull << 14)
#define VEC_DB  1
#define VEC_GP  13
#define MSR_BAD 0xdeadu /* no such MSR: RDMSR faults */

static struct mock_host mh;
static struct hv_slat_format ept;

struct fixture {
    struct hv_ctx *ctx;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;
    struct mock_vcpu *mv;
};

static void fixture_up(struct fixture *f, uint64_t rflags)
{
    mock_host_init(&mh);
    hv_ept_format_init(&ept, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, true, false);
    mock_backend_reset(&ept);
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&mh.ops, NULL, &mock_backend_ops, &f->ctx),
                          HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(f->ctx, NULL, &f->vm), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(f->vm, 0, &f->vcpu), HV_OK);
    f->mv = mock_vcpu_of(f->vcpu);
    f->mv->st.rflags = rflags;
}

static void fixture_down(struct fixture *f)
{
    CU_ASSERT_EQUAL(hv_vcpu_destroy(f->vcpu), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_destroy(f->vm), HV_OK);
    CU_ASSERT_EQUAL(hv_ctx_destroy(f->ctx), HV_OK);
    CU_ASSERT(mock_host_clean(&mh));
    mock_host_fini(&mh);
}

/* An exit of @p kind at @p rip, RCX = @p rcx. */
static void script(struct fixture *f, uint32_t kind, uint64_t rip, uint64_t rcx)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = kind;
    e.vx.rip = rip;
    e.set_gprs = true;
    e.gpr[HV_GPR_RCX] = rcx;
    mock_script(f->vcpu, &e);
}

/* A port I/O exit at @p rip, 2 bytes long. */
static void script_io(struct fixture *f, uint64_t rip, bool write)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_IO;
    e.vx.rip = rip;
    e.vx.next_rip = rip + 2;
    e.vx.io.port = 0x80;
    e.vx.io.size = 1;
    e.vx.io.write = write;
    mock_script(f->vcpu, &e);
}

/* The #DBs injected so far, checking each is the mock's inject_step one. */
static unsigned dbs(const struct fixture *f)
{
    unsigned n = 0;
    for (unsigned i = 0; i < f->mv->injected_count; i++)
        if (f->mv->injected[i].type == HV_EVENT_EXCEPTION && f->mv->injected[i].vector == VEC_DB)
            n++;
    CU_ASSERT_EQUAL(n, f->mv->steps);
    return n;
}

/* CPUID finished by the dispatcher: one #DB at the entry after it, with
   RIP past the instruction; a second CPUID gets its own. */
static void test_cpuid(void)
{
    struct fixture f;
    fixture_up(&f, 0x2 | TF);
    script(&f, HV_VX_CPUID, 0x1000, 0);
    script(&f, HV_VX_CPUID, 0x1002, 0);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(x.rip, 0x1004);
    CU_ASSERT_EQUAL(f.mv->entries, 3);
    CU_ASSERT_EQUAL(dbs(&f), 2);
    CU_ASSERT(f.mv->dr6 & DR6_BS);
    /* Delivered once: a further entry injects nothing more. */
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(dbs(&f), 2);
    CU_ASSERT_EQUAL(f.mv->injected_count, 2);
    fixture_down(&f);
}

/* Without TF the same exits inject nothing. */
static void test_no_tf(void)
{
    struct fixture f;
    fixture_up(&f, 0x2);
    script(&f, HV_VX_CPUID, 0x1000, 0);
    script(&f, HV_VX_HYPERCALL, 0x1002, 0);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HYPERCALL);
    script_io(&f, 0x1005, true);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.rip, 0x1007);
    CU_ASSERT_EQUAL(f.mv->injected_count, 0);
    CU_ASSERT_EQUAL(f.mv->steps, 0);
    fixture_down(&f);
}

/* OUT and IN completed at the next hv_vcpu_run(): the #DB comes with that
   completion, at the first entry of that run, not before. */
static void test_io_next_run(void)
{
    struct fixture f;
    fixture_up(&f, 0x2 | TF);
    script_io(&f, 0x2000, true);
    script_io(&f, 0x2002, false);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(f.mv->steps, 0); /* the OUT is not finished yet */
    unsigned entries = f.mv->entries;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(f.mv->entries, entries + 1);
    CU_ASSERT_EQUAL(dbs(&f), 1);
    x.io.data = 0x5a;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(x.rip, 0x2004);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX] & 0xff, 0x5a);
    CU_ASSERT_EQUAL(dbs(&f), 2);
    fixture_down(&f);
}

/* A hypercall the embedder answers (completed at the next run) and HLT
   (finished before the exit): one #DB each. */
static void test_hypercall_hlt(void)
{
    struct fixture f;
    fixture_up(&f, 0x2 | TF);
    script(&f, HV_VX_HYPERCALL, 0x3000, 0);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HYPERCALL);
    CU_ASSERT_EQUAL(f.mv->steps, 0);
    script(&f, HV_VX_HLT, 0x3003, 0);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(x.rip, 0x3003);
    CU_ASSERT_EQUAL(f.mv->st.rip, 0x3004);
    CU_ASSERT_EQUAL(dbs(&f), 1);
    /* The HLT's #DB waits for the next run (the embedder may sleep first). */
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(dbs(&f), 2);
    fixture_down(&f);
}

/* RDMSR of an MSR that does not exist raises #GP: RIP stays, no #DB. */
static void test_fault_no_db(void)
{
    struct fixture f;
    fixture_up(&f, 0x2 | TF);
    script(&f, HV_VX_RDMSR, 0x4000, MSR_BAD);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(x.rip, 0x4000);
    CU_ASSERT_EQUAL(f.mv->injected_count, 1);
    CU_ASSERT_EQUAL(f.mv->injected[0].vector, VEC_GP);
    CU_ASSERT_EQUAL(f.mv->steps, 0);
    fixture_down(&f);
}

/* An interrupt queued by the embedder while an OUT waits for completion,
   with the guest's interrupts open: the OUT's #DB (a trap on the previous
   instruction) goes first, alone at its entry, and asks for the
   interrupt's window; the interrupt follows at the window exit. */
static void test_before_irq(void)
{
    struct fixture f;
    fixture_up(&f, 0x202 | TF);
    script_io(&f, 0x5000, true);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    struct hv_event irq = {.type = HV_EVENT_EXTINT, .vector = 0x31};
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &irq), HV_OK);
    script(&f, HV_VX_IRQ_WINDOW, 0x5002, 0);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(f.mv->injected_count, 2);
    CU_ASSERT_EQUAL(f.mv->injected[0].vector, VEC_DB);
    CU_ASSERT_EQUAL(f.mv->injected[1].type, HV_EVENT_EXTINT);
    CU_ASSERT_EQUAL(f.mv->injected[1].vector, 0x31);
    CU_ASSERT_EQUAL(f.mv->steps, 1);
    CU_ASSERT(!f.mv->window[HV_EVENT_EXTINT]);
    fixture_down(&f);
}

/* A full state reload drops a #DB still due (the instruction it belonged
   to is gone with the old state). */
static void test_reload_drops(void)
{
    struct fixture f;
    fixture_up(&f, 0x2 | TF);
    script(&f, HV_VX_HLT, 0x8000, 0);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HLT);
    struct hv_vcpu_state st;
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(f.mv->steps, 0);
    fixture_down(&f);
}

/* A run with a DR access loads the guest's DR0-3 and drops the intercept
   (the mock, as the backends) for good; the run puts the host's back, and
   every later run loads the guest's again before its first entry. */
static void test_debug_regs_put(void)
{
    struct fixture f;
    fixture_up(&f, 0x2);
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_UNHANDLED;
    e.vx.raw_code = MOCK_DR_ACCESS;
    mock_script(f.vcpu, &e);
    script_io(&f, 0x2000, true);
    script_io(&f, 0x2002, true);
    CU_ASSERT_TRUE(f.mv->dr_intercept);
    struct hv_exit x;
    CU_ASSERT_FALSE(f.vcpu->dr_used);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(x.rip, 0x2000);
    CU_ASSERT_FALSE(f.vcpu->dr_loaded);
    CU_ASSERT_TRUE(f.vcpu->dr_used);
    CU_ASSERT_FALSE(f.mv->dr_intercept);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.rip, 0x2002);
    CU_ASSERT_FALSE(f.vcpu->dr_loaded);
    CU_ASSERT_EQUAL(f.mv->dr_intercept_calls, 0);
    fixture_down(&f);
}

/* HV_STATE_DEBUG: DR0-3 kept by the core, DR6 by the backend; what a MOV
   would refuse in the host is refused, and changes nothing. */
static void test_debug_state(void)
{
    struct fixture f;
    fixture_up(&f, 0x2);
    struct hv_vcpu_state st, got;
    memset(&st, 0, sizeof(st));
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_DEBUG, &st), HV_OK);
    CU_ASSERT_EQUAL(st.dr[0] | st.dr[1] | st.dr[2] | st.dr[3], 0);
    st.dr[0] = 0x1000;
    st.dr[1] = 0xffff800000001000ull;
    st.dr[2] = 0x00007ffffffff000ull;
    st.dr[3] = 0x2000;
    st.dr6 = 0xffff0ff1;
    CU_ASSERT_FALSE(f.vcpu->dr_used);
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, HV_STATE_DEBUG, &st), HV_OK);
    /* Set by the embedder: loaded at every run, no intercept. */
    CU_ASSERT_TRUE(f.vcpu->dr_used);
    CU_ASSERT_FALSE(f.mv->dr_intercept);
    CU_ASSERT_EQUAL(f.mv->dr_intercept_calls, 1);
    memset(&got, 0, sizeof(got));
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_DEBUG, &got), HV_OK);
    CU_ASSERT_EQUAL(memcmp(got.dr, st.dr, sizeof(st.dr)), 0);
    CU_ASSERT_EQUAL(got.dr6, 0xffff0ff1);
    struct hv_vcpu_state bad = st;
    bad.dr[3] = 0x0000800000000000ull; /* bit 47 set, 63:48 clear */
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, HV_STATE_DEBUG, &bad), HV_ERR_INVALID_ARG);
    bad = st;
    bad.dr[0] = 0xfff0000000000000ull;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, HV_STATE_DEBUG, &bad), HV_ERR_INVALID_ARG);
    bad = st;
    bad.dr6 = 1ull << 32;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, HV_STATE_DEBUG, &bad), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_DEBUG, &got), HV_OK);
    CU_ASSERT_EQUAL(memcmp(got.dr, st.dr, sizeof(st.dr)), 0);
    CU_ASSERT_EQUAL(got.dr6, 0xffff0ff1);
    fixture_down(&f);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("step", NULL, NULL);
    CU_add_test(s, "CPUID: one #DB with BS each", test_cpuid);
    CU_add_test(s, "no TF: no #DB", test_no_tf);
    CU_add_test(s, "OUT/IN completed at the next run", test_io_next_run);
    CU_add_test(s, "embedder hypercall and HLT", test_hypercall_hlt);
    CU_add_test(s, "faulting RDMSR: no #DB", test_fault_no_db);
    CU_add_test(s, "#DB before a queued interrupt", test_before_irq);
    CU_add_test(s, "full reload drops it", test_reload_drops);
    CU_add_test(s, "DR0-3 put back at the end of a run", test_debug_regs_put);
    CU_add_test(s, "HV_STATE_DEBUG", test_debug_state);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
