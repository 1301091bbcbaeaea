/*
 * Core API tests against the mock host and the scripted mock backend:
 * argument validation of every public call, the exit dispatcher (CPUID and
 * MSR policy, I/O completion, kicks, event windows, shutdown), and
 * allocation-failure injection over context/VM/vCPU creation.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include <hv/hv.h>
#include "backend.h"
#include "core/ctx_internal.h"
#include "core/guest_mem.h"
#include "core/objects.h"
#include "core/policy.h"
#include "core/xsave.h"
#include "mock_backend.h"
#include "mock_host.h"
#include "vmx/ept_format.h"

static struct mock_host mh;
static struct hv_slat_format ept;

static void setup(void)
{
    mock_host_init(&mh);
    hv_ept_format_init(&ept, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, true, false);
    mock_backend_reset(&ept);
}

static void teardown(void)
{
    CU_ASSERT(mock_host_clean(&mh));
    if (!mock_host_clean(&mh))
        fprintf(stderr, "leak: pages %llu objs %llu errors %llu %s\n",
                (unsigned long long)mh.pages_out, (unsigned long long)mh.objs_out,
                (unsigned long long)mh.errors, mh.last_error);
    mock_host_fini(&mh);
}

static struct hv_ctx *make_ctx(void)
{
    struct hv_ctx *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&mh.ops, NULL, &mock_backend_ops, &ctx),
                          HV_OK);
    return ctx;
}

/* --- status ------------------------------------------------------------ */

static void test_status_strings(void)
{
    for (int s = 0; s < HV_STATUS_COUNT; s++) {
        const char *n = hv_status_str((hv_status_t)s);
        CU_ASSERT_PTR_NOT_NULL(n);
        CU_ASSERT(strncmp(n, "HV_", 3) == 0);
        CU_ASSERT(strcmp(n, "HV_ERR_UNKNOWN") != 0);
    }
    CU_ASSERT_STRING_EQUAL(hv_status_str(HV_OK), "HV_OK");
    CU_ASSERT_STRING_EQUAL(hv_status_str(HV_STATUS_COUNT), "HV_ERR_UNKNOWN");
    CU_ASSERT_STRING_EQUAL(hv_status_str((hv_status_t)-1), "HV_ERR_UNKNOWN");
}

/* --- context ----------------------------------------------------------- */

static void test_ctx_args(void)
{
    setup();
    struct hv_ctx *ctx = (struct hv_ctx *)1;
    CU_ASSERT_EQUAL(hv_ctx_create(NULL, NULL, &ctx), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_ctx_create(&mh.ops, NULL, NULL), HV_ERR_INVALID_ARG);
    /* The hosted build compiles no runnable backend. */
    CU_ASSERT_EQUAL(hv_ctx_create(&mh.ops, NULL, &ctx), HV_ERR_NO_BACKEND);
    CU_ASSERT_PTR_NULL(ctx);
    struct hv_ctx_config cfg = {.size = sizeof(cfg), .backend = "nonesuch"};
    CU_ASSERT_EQUAL(hv_ctx_create(&mh.ops, &cfg, &ctx), HV_ERR_NO_BACKEND);

    struct hv_host_ops ops = mh.ops;
    ops.size = 8;
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&ops, NULL, &mock_backend_ops, &ctx),
                    HV_ERR_VERSION);
    ops = mh.ops;
    ops.version = 0;
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&ops, NULL, &mock_backend_ops, &ctx),
                    HV_ERR_VERSION);
    ops = mh.ops;
    ops.page_alloc = NULL;
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&ops, NULL, &mock_backend_ops, &ctx),
                    HV_ERR_VERSION);
    ops = mh.ops;
    ops.irq_restore = NULL; /* irq_save without irq_restore */
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&ops, NULL, &mock_backend_ops, &ctx),
                    HV_ERR_VERSION);
    /* A larger table from a newer embedder is accepted. */
    struct {
        struct hv_host_ops ops;
        void *future[4];
    } big;
    memset(&big, 0, sizeof(big));
    big.ops = mh.ops;
    big.ops.size = sizeof(big);
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&big.ops, NULL, &mock_backend_ops, &ctx), HV_OK);
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);

    cfg.size = 2;
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&mh.ops, &cfg, &mock_backend_ops, &ctx),
                    HV_ERR_INVALID_ARG);
    cfg.size = sizeof(cfg);
    cfg.backend = NULL;
    cfg.log_level = (hv_log_level_t)9;
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&mh.ops, &cfg, &mock_backend_ops, &ctx),
                    HV_ERR_INVALID_ARG);

    /* Probe and per-CPU enable failures are reported and leave nothing. */
    mock_be.probe_status = HV_ERR_UNSUPPORTED;
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&mh.ops, NULL, &mock_backend_ops, &ctx),
                    HV_ERR_UNSUPPORTED);
    mock_be.probe_status = HV_OK;
    mock_be.ctx_init_status = HV_ERR_HOST;
    CU_ASSERT_EQUAL(hv_ctx_create_with_backend(&mh.ops, NULL, &mock_backend_ops, &ctx),
                    HV_ERR_HOST);
    mock_be.ctx_init_status = HV_OK;

    CU_ASSERT_EQUAL(hv_ctx_destroy(NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_ctx_caps(NULL, NULL), HV_ERR_INVALID_ARG);
    teardown();
}

static void test_ctx_caps(void)
{
    setup();
    struct hv_ctx *ctx = make_ctx();
    struct hv_caps caps;
    memset(&caps, 0, sizeof(caps));
    CU_ASSERT_EQUAL(hv_ctx_caps(ctx, &caps), HV_ERR_INVALID_ARG); /* size unset */
    caps.size = sizeof(caps);
    CU_ASSERT_EQUAL(hv_ctx_caps(ctx, &caps), HV_OK);
    CU_ASSERT_STRING_EQUAL(caps.backend_name, "mock");
    CU_ASSERT_EQUAL(caps.gpa_bits, 48);
    CU_ASSERT_EQUAL(caps.slat_page_sizes, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G);
    /* An older, smaller struct gets only its prefix. */
    struct hv_caps small;
    memset(&small, 0x77, sizeof(small));
    small.size = offsetof(struct hv_caps, features);
    CU_ASSERT_EQUAL(hv_ctx_caps(ctx, &small), HV_OK);
    CU_ASSERT_EQUAL(small.features, 0x77777777u);
    CU_ASSERT_EQUAL(mock_be.ctx_inits, 1);
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    CU_ASSERT_EQUAL(mock_be.ctx_finis, 1);
    teardown();
}

/* --- VM ------------------------------------------------------------------ */

static void test_vm_args(void)
{
    setup();
    struct hv_ctx *ctx = make_ctx();
    struct hv_vm *vm = NULL;
    CU_ASSERT_EQUAL(hv_vm_create(NULL, NULL, &vm), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_create(ctx, NULL, NULL), HV_ERR_INVALID_ARG);
    struct hv_vm_config cfg = {.size = sizeof(cfg), .gpa_bits = 31};
    CU_ASSERT_EQUAL(hv_vm_create(ctx, &cfg, &vm), HV_ERR_RANGE);
    cfg.gpa_bits = 49;
    CU_ASSERT_EQUAL(hv_vm_create(ctx, &cfg, &vm), HV_ERR_RANGE);
    cfg.gpa_bits = 0;
    cfg.page_sizes = HV_PAGE_2M; /* no 4 KiB */
    CU_ASSERT_EQUAL(hv_vm_create(ctx, &cfg, &vm), HV_ERR_INVALID_ARG);
    cfg.page_sizes = 0x80 | HV_PAGE_4K;
    CU_ASSERT_EQUAL(hv_vm_create(ctx, &cfg, &vm), HV_ERR_INVALID_ARG);
    cfg.page_sizes = 0;
    cfg.max_vcpus = 100000;
    CU_ASSERT_EQUAL(hv_vm_create(ctx, &cfg, &vm), HV_ERR_LIMIT);
    cfg.size = 3;
    CU_ASSERT_EQUAL(hv_vm_create(ctx, &cfg, &vm), HV_ERR_INVALID_ARG);
    cfg.size = sizeof(cfg);
    cfg.max_vcpus = 2;
    cfg.gpa_bits = 36;
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, &cfg, &vm), HV_OK);

    /* The context cannot go while a VM lives. */
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_ERR_BUSY);

    /* Memory calls: forwarded validation, documented codes. */
    uint64_t hpa;
    void *ram = mock_guest_ram_alloc(&mh, 1 << 20, &hpa);
    CU_ASSERT_EQUAL(hv_vm_map(NULL, 0, hpa, 4096, HV_MEM_RWX), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa, 0, HV_MEM_RWX), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 1, hpa, 4096, HV_MEM_RWX), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa + 8, 4096, HV_MEM_RWX), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa, 4095, HV_MEM_RWX), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 1ull << 36, hpa, 4096, HV_MEM_RWX), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vm_map(vm, (1ull << 36) - 4096, hpa, 8192, HV_MEM_RWX), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa, 4096, 0), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa, 4096, HV_MEM_WRITE), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa, 4096, HV_MEM_RWX | 0x80), HV_ERR_INVALID_ARG);
    /* A call while another runs on the same VM is refused, nothing changed. */
    vm->slat_busy = 1;
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa, 1 << 20, HV_MEM_RWX), HV_ERR_BUSY);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0, 4096), HV_ERR_BUSY);
    CU_ASSERT_EQUAL(hv_vm_protect(vm, 0, 4096, HV_MEM_READ), HV_ERR_BUSY);
    vm->slat_busy = 0;
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa, 1 << 20, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0x80000, hpa, 4096, HV_MEM_RWX), HV_ERR_EXISTS);
    struct hv_mapping m;
    CU_ASSERT_EQUAL(hv_vm_query(vm, 0x1234, &m), HV_OK);
    CU_ASSERT_EQUAL(m.hpa, hpa + 0x1000);
    CU_ASSERT_EQUAL(m.flags & HV_MEM_RWX, HV_MEM_RWX);
    CU_ASSERT_EQUAL(hv_vm_query(vm, 0x200000, &m), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_vm_query(vm, 0, NULL), HV_ERR_INVALID_ARG);
    unsigned flushes = mock_be.slat_flushes;
    CU_ASSERT_EQUAL(hv_vm_protect(vm, 0, 1 << 20, HV_MEM_READ), HV_OK);
    CU_ASSERT_EQUAL(mock_be.slat_flushes, flushes + 1); /* one flush per call */
    CU_ASSERT_EQUAL(hv_vm_protect(vm, 0, 2 << 20, HV_MEM_READ), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0, 2 << 20), HV_OK); /* holes allowed */
    CU_ASSERT_EQUAL(mock_be.slat_flushes, flushes + 2);
    CU_ASSERT_EQUAL(hv_vm_unmap(NULL, 0, 4096), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_protect(NULL, 0, 4096, HV_MEM_READ), HV_ERR_INVALID_ARG);
    uint64_t bitmap[4];
    CU_ASSERT_EQUAL(hv_vm_dirty_harvest(vm, 0, 4096, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_dirty_harvest(vm, 0, 4096, bitmap), HV_OK);
    struct hv_vm_stats stats;
    CU_ASSERT_EQUAL(hv_vm_stats(vm, &stats), HV_OK);
    CU_ASSERT_EQUAL(stats.mapped_bytes, 0);
    CU_ASSERT_EQUAL(hv_vm_stats(vm, NULL), HV_ERR_INVALID_ARG);

    uint32_t regs[4] = {1, 2, 3, 4};
    CU_ASSERT_EQUAL(hv_vm_set_cpuid(NULL, 0, 0, regs), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_set_cpuid(vm, 0, 0, NULL), HV_ERR_INVALID_ARG);
    for (uint32_t i = 0; i < 32; i++)
        CU_ASSERT_EQUAL(hv_vm_set_cpuid(vm, 0x100 + i, 0, regs), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_set_cpuid(vm, 0x200, 0, regs), HV_ERR_LIMIT);
    CU_ASSERT_EQUAL(hv_vm_set_cpuid(vm, 0x100, 0, regs), HV_OK); /* replace */

    CU_ASSERT_EQUAL(hv_vm_destroy(NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    mock_guest_ram_free(&mh, ram);
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    teardown();
}

/* Guest-memory copies translate each page again as they copy: a page that
   left after the check (another CPU's SLAT change; here the host's
   translation of it answers NULL once) ends the copy there with
   HV_ERR_GUEST_FAULT, the bytes before it done, none after. */
static void test_gpa_copy_page_gone(void)
{
    setup();
    struct hv_ctx *ctx = make_ctx();
    struct hv_vm *vm;
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, NULL, &vm), HV_OK);
    uint64_t hpa;
    uint8_t *ram = mock_guest_ram_alloc(&mh, 2 * 4096, &hpa);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ram);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(vm, 0, hpa, 2 * 4096, HV_MEM_RWX), HV_OK);
    uint8_t buf[16], back[16];
    memset(buf, 0x5a, sizeof(buf));

    /* Write: the check translates pages 0 and 1, the copy 0, then 1 fails. */
    mh.p2v_fail_at = mh.p2v_calls + 3;
    CU_ASSERT_EQUAL(hv_gpa_write(vm, 4096 - 8, buf, sizeof(buf)), HV_ERR_GUEST_FAULT);
    CU_ASSERT(ram[4096 - 8] == 0x5a && ram[4095] == 0x5a);
    CU_ASSERT(ram[4096] == 0 && ram[4096 + 7] == 0);
    /* Read and zero the same way. */
    mh.p2v_fail_at = mh.p2v_calls + 3;
    memset(back, 0, sizeof(back));
    CU_ASSERT_EQUAL(hv_gpa_read(vm, 4096 - 8, back, sizeof(back)), HV_ERR_GUEST_FAULT);
    CU_ASSERT(back[0] == 0x5a && back[7] == 0x5a && back[8] == 0);
    mh.p2v_fail_at = mh.p2v_calls + 3;
    CU_ASSERT_EQUAL(hv_gpa_zero(vm, 4096 - 8, 16), HV_ERR_GUEST_FAULT);
    CU_ASSERT(ram[4096 - 8] == 0 && ram[4095] == 0);
    /* The check itself failing writes nothing. */
    memset(ram, 0, 2 * 4096);
    mh.p2v_fail_at = mh.p2v_calls + 1;
    CU_ASSERT_EQUAL(hv_gpa_write(vm, 4096 - 8, buf, sizeof(buf)), HV_ERR_GUEST_FAULT);
    CU_ASSERT(ram[4096 - 8] == 0);
    mh.p2v_fail_at = MOCK_NEVER;
    CU_ASSERT_EQUAL(hv_gpa_write(vm, 4096 - 8, buf, sizeof(buf)), HV_OK);
    CU_ASSERT(ram[4096 + 7] == 0x5a);
    CU_ASSERT_EQUAL(vm->slat_readers, 0); /* every walk counted out again */

    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    mock_guest_ram_free(&mh, ram);
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    teardown();
}

static void test_dirty_unsupported(void)
{
    setup();
    mock_be.caps.features &= ~HV_FEAT_SLAT_AD;
    struct hv_ctx *ctx = make_ctx();
    struct hv_vm *vm;
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, NULL, &vm), HV_OK);
    uint64_t bitmap[1];
    CU_ASSERT_EQUAL(hv_vm_dirty_harvest(vm, 0, 4096, bitmap), HV_ERR_UNSUPPORTED);
    hv_vm_destroy(vm);
    hv_ctx_destroy(ctx);
    teardown();
}

/* --- vCPU ------------------------------------------------------------------ */

struct fixture {
    struct hv_ctx *ctx;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;
    struct mock_vcpu *mv;
};

static void fixture_up(struct fixture *f)
{
    setup();
    f->ctx = make_ctx();
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(f->ctx, NULL, &f->vm), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(f->vm, 0, &f->vcpu), HV_OK);
    f->mv = mock_vcpu_of(f->vcpu);
}

static void fixture_down(struct fixture *f)
{
    CU_ASSERT_EQUAL(hv_vcpu_destroy(f->vcpu), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_destroy(f->vm), HV_OK);
    CU_ASSERT_EQUAL(hv_ctx_destroy(f->ctx), HV_OK);
    teardown();
}

static void test_vcpu_args(void)
{
    struct fixture f;
    fixture_up(&f);
    struct hv_vcpu *v;
    CU_ASSERT_EQUAL(hv_vcpu_create(NULL, 0, &v), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_create(f.vm, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_create(f.vm, 0, &v), HV_ERR_EXISTS);
    CU_ASSERT_EQUAL(hv_vcpu_create(f.vm, 1, &v), HV_ERR_LIMIT); /* max_vcpus defaults to 1 */
    CU_ASSERT_EQUAL(hv_vm_destroy(f.vm), HV_ERR_BUSY);

    struct hv_vcpu_state st;
    CU_ASSERT_EQUAL(hv_vcpu_get_state(NULL, HV_STATE_ALL, &st), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_ALL, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, 0x100, &st), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_ALL, &st), HV_OK);
    /* Reset state: SDM Vol. 3A 9.1.4. */
    CU_ASSERT_EQUAL(st.rip, 0xfff0);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_CS].selector, 0xf000);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_CS].base, 0xffff0000);
    CU_ASSERT_EQUAL(hv_vcpu_set_state(NULL, HV_STATE_ALL, &st), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, 0x100, &st), HV_ERR_INVALID_ARG);
    st.pending.type = 9;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, HV_STATE_EVENTS, &st), HV_ERR_INVALID_ARG);
    st.pending.type = HV_EVENT_NONE;
    st.cr0 = 0x80000000; /* PG without PE: refused by the backend, nothing written */
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, HV_STATE_CR, &st), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(f.mv->st.cr0, 0x60000010);

    /* Events. */
    struct hv_event ev = {.type = HV_EVENT_EXCEPTION, .vector = 13, .has_error_code = 1};
    CU_ASSERT_EQUAL(hv_vcpu_inject(NULL, &ev), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, NULL), HV_ERR_INVALID_ARG);
    ev.has_error_code = 0; /* #GP pushes an error code */
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &ev), HV_ERR_INVALID_ARG);
    ev.vector = 32;
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &ev), HV_ERR_INVALID_ARG);
    ev.vector = 2; /* NMI is not an exception type */
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &ev), HV_ERR_INVALID_ARG);
    ev.vector = 6;
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &ev), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &ev), HV_ERR_BUSY);
    struct hv_event irq = {.type = HV_EVENT_EXTINT, .vector = 31};
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &irq), HV_ERR_INVALID_ARG);
    irq.vector = 0x40;
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &irq), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &irq), HV_ERR_BUSY);
    struct hv_event nmi = {.type = HV_EVENT_NMI, .vector = 3};
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &nmi), HV_ERR_INVALID_ARG);
    nmi.vector = 2;
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &nmi), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &nmi), HV_ERR_BUSY);
    struct hv_event bad = {.type = 77};
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &bad), HV_ERR_INVALID_ARG);
    bad.type = HV_EVENT_EXTINT;
    bad.vector = 0x50;
    bad.reserved = 1;
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &bad), HV_ERR_INVALID_ARG);

    CU_ASSERT_EQUAL(hv_vcpu_kick(NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_run(NULL, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_destroy(NULL), HV_ERR_INVALID_ARG);
    fixture_down(&f);
}

/* --- x87/SSE state (hv/fpu.h) --------------------------------------------- */

/* This CPU's MXCSR mask, as the library must find it (SDM Vol. 1 11.6.6). */
static uint32_t host_mxcsr_mask(void)
{
    uint8_t area[512] __attribute__((aligned(16)));
    uint32_t mask;
    memset(area, 0, sizeof(area));
    __asm__ volatile("fxsave64 %0" : "=m"(area));
    memcpy(&mask, area + 28, sizeof(mask));
    return mask ? mask : HV_FPU_MXCSR_MASK_DEFAULT;
}

static uint32_t cur_mxcsr(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

/* --- hv_vcpu_load / hv_vcpu_put ------------------------------------------ */

/* XMM15's low quadword: a register the compiled code around these calls
   is unlikely to touch, so that it shows whose state the CPU holds. */
static uint64_t get_xmm15(void)
{
    uint64_t v;
    __asm__ volatile("movq %%xmm15, %0" : "=r"(v));
    return v;
}

static void set_xmm15(uint64_t v)
{
    __asm__ volatile("movq %0, %%xmm15" ::"r"(v) : "xmm15");
}

static void test_vcpu_load(void)
{
    struct fixture f;
    fixture_up(&f);
    struct hv_fpu_state fs;
    struct hv_exit e;
    const uint64_t host = 0x1111222233334444ull, guest = 0x5555666677778888ull,
                   guest2 = 0x99990000aaaabbbbull, guest3 = 0xccccddddeeeeffffull;

    CU_ASSERT_EQUAL(hv_vcpu_load(NULL, 0), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_load(f.vcpu, 2), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_put(NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_put(f.vcpu), HV_ERR_STATE); /* not loaded */
    CU_ASSERT_EQUAL(f.mv->loads + f.mv->puts, 0);

    /* The backend's refusal is the call's: nothing stays bound. */
    f.mv->load_status = HV_ERR_HOST;
    CU_ASSERT_EQUAL(hv_vcpu_load(f.vcpu, HV_LOAD_GUEST_FPU), HV_ERR_HOST);
    CU_ASSERT_EQUAL(hv_vcpu_put(f.vcpu), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &fs), HV_OK);
    f.mv->load_status = HV_OK;

    /* Bound without HV_LOAD_GUEST_FPU: the state stays readable, the vCPU
       cannot be loaded twice or destroyed, and the put reaches the backend. */
    mh.current_cpu = 0;
    CU_ASSERT_EQUAL(hv_vcpu_load(f.vcpu, 0), HV_OK);
    CU_ASSERT_EQUAL(f.mv->loads, 2);
    CU_ASSERT_EQUAL(f.mv->load_cpu, 0);
    CU_ASSERT_EQUAL(hv_vcpu_load(f.vcpu, 0), HV_ERR_BUSY);
    CU_ASSERT_EQUAL(hv_vcpu_destroy(f.vcpu), HV_ERR_BUSY);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &fs), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_put(f.vcpu), HV_OK);
    CU_ASSERT_EQUAL(f.mv->puts, 1);
    CU_ASSERT_EQUAL(hv_vcpu_put(f.vcpu), HV_ERR_STATE);

    /* With it, the guest's registers are the CPU's from the load to the
       put, and no run switches them: a run finds what the CPU holds (a
       switching run would load the image of the load, `guest`). */
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_get_fpu(f.vcpu, &fs), HV_OK);
    memcpy(fs.xmm[15], &guest, sizeof(guest));
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_set_fpu(f.vcpu, &fs), HV_OK);
    mh.current_cpu = 3;
    set_xmm15(host);
    hv_status_t load = hv_vcpu_load(f.vcpu, HV_LOAD_GUEST_FPU);
    uint64_t after_load = get_xmm15();
    hv_status_t run1 = hv_vcpu_run(f.vcpu, &e);
    uint64_t at_run1 = f.mv->xmm15_at_run;
    set_xmm15(guest2); /* as the guest would, while it runs */
    hv_status_t run2 = hv_vcpu_run(f.vcpu, &e);
    uint64_t at_run2 = f.mv->xmm15_at_run;
    set_xmm15(guest3);
    hv_status_t get = hv_vcpu_get_fpu(f.vcpu, &fs);
    hv_status_t set = hv_vcpu_set_fpu(f.vcpu, &fs);
    hv_status_t put = hv_vcpu_put(f.vcpu);
    uint64_t after_put = get_xmm15();
    CU_ASSERT_EQUAL(load, HV_OK);
    CU_ASSERT_EQUAL(f.mv->load_cpu, 3);
    CU_ASSERT_EQUAL(after_load, guest);
    CU_ASSERT_EQUAL(run1, HV_OK);
    CU_ASSERT_EQUAL(at_run1, guest);
    CU_ASSERT_EQUAL(run2, HV_OK);
    CU_ASSERT_EQUAL(at_run2, guest2);
    CU_ASSERT_EQUAL(get, HV_ERR_BUSY); /* the image is not in memory meanwhile */
    CU_ASSERT_EQUAL(set, HV_ERR_BUSY);
    CU_ASSERT_EQUAL(put, HV_OK);
    CU_ASSERT_EQUAL(after_put, host);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_get_fpu(f.vcpu, &fs), HV_OK);
    uint64_t saved;
    memcpy(&saved, fs.xmm[15], sizeof(saved));
    CU_ASSERT_EQUAL(saved, guest3);

    /* Runs after the put switch again: the guest's image goes in. */
    set_xmm15(host);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &e), HV_OK);
    CU_ASSERT_EQUAL(f.mv->xmm15_at_run, guest3);

    /* A put on another CPU: unbound, but that CPU's registers are not the
       guest's, so none of it is taken (nor the backend's put made). */
    unsigned puts = f.mv->puts;
    mh.current_cpu = 0;
    set_xmm15(host);
    load = hv_vcpu_load(f.vcpu, HV_LOAD_GUEST_FPU);
    set_xmm15(guest);
    mh.current_cpu = 1;
    put = hv_vcpu_put(f.vcpu);
    after_put = get_xmm15();
    CU_ASSERT_EQUAL(load, HV_OK);
    CU_ASSERT_EQUAL(put, HV_ERR_STATE);
    CU_ASSERT_EQUAL(after_put, guest);
    CU_ASSERT_EQUAL(f.mv->puts, puts);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_get_fpu(f.vcpu, &fs), HV_OK);
    memcpy(&saved, fs.xmm[15], sizeof(saved));
    CU_ASSERT_EQUAL(saved, guest3); /* the image of the load */
    CU_ASSERT_EQUAL(hv_vcpu_put(f.vcpu), HV_ERR_STATE);
    mh.current_cpu = 0;

    /* A running vCPU can be neither loaded nor put. */
    f.vcpu->running = 1;
    CU_ASSERT_EQUAL(hv_vcpu_load(f.vcpu, 0), HV_ERR_BUSY);
    f.vcpu->running = 0;
    CU_ASSERT_EQUAL(hv_vcpu_load(f.vcpu, 0), HV_OK);
    f.vcpu->running = 1;
    CU_ASSERT_EQUAL(hv_vcpu_put(f.vcpu), HV_ERR_BUSY);
    f.vcpu->running = 0;
    CU_ASSERT_EQUAL(hv_vcpu_put(f.vcpu), HV_OK);
    fixture_down(&f);
}

static void test_fpu_state(void)
{
    struct fixture f;
    fixture_up(&f);
    const uint32_t mask = host_mxcsr_mask();
    struct hv_fpu_state a, b, before;

    CU_ASSERT_EQUAL(sizeof(struct hv_fpu_state), 512);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(NULL, &a), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(NULL, &a), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, NULL), HV_ERR_INVALID_ARG);

    /* A new vCPU holds the INIT state (SDM Vol. 3A table 9-1); the mask
       reported is the host's, the reserved bytes zero. */
    memset(&a, 0xee, sizeof(a));
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_get_fpu(f.vcpu, &a), HV_OK);
    memset(&b, 0, sizeof(b));
    b.fcw = HV_FPU_FCW_INIT;
    b.mxcsr = HV_FPU_MXCSR_INIT;
    b.mxcsr_mask = mask;
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);

    /* Round trip: every field through XMM15 as given, the image's own
       mask and bytes 416-511 not taken. */
    uint8_t *p = (uint8_t *)&a;
    for (unsigned i = 0; i < sizeof(a); i++)
        p[i] = (uint8_t)(i * 7 + 3);
    a.mxcsr = 0x7f80; /* RC = 11, every exception masked: valid on any SSE CPU */
    a.mxcsr_mask = 0xdeadbeef;
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &a), HV_OK);
    CU_ASSERT_EQUAL(memcmp(f.vcpu->fpu, &a, 28), 0); /* the image the run loads */
    CU_ASSERT_EQUAL(memcmp(f.vcpu->fpu + 32, a.st, 416 - 32), 0);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &b), HV_OK);
    CU_ASSERT_EQUAL(memcmp(&b, &a, 28), 0);
    CU_ASSERT_EQUAL(b.mxcsr_mask, mask);
    CU_ASSERT_EQUAL(memcmp(b.st, a.st, 416 - 32), 0);
    for (unsigned i = 0; i < sizeof(b.reserved); i++)
        CU_ASSERT_EQUAL(b.reserved[i], 0);
    a.mxcsr_mask = 0; /* "0 means FFBF" in an image: still ignored */
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &a), HV_OK);

    /* An MXCSR bit outside the host's mask would make FXRSTOR raise #GP
       in the host: refused, nothing written. */
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_get_fpu(f.vcpu, &before), HV_OK);
    uint32_t bad = 0;
    for (unsigned bit = 0; bit < 32 && !bad; bit++)
        if (!(mask & (1u << bit)))
            bad = 1u << bit;
    CU_ASSERT_NOT_EQUAL_FATAL(bad, 0);
    memset(&b, 0x11, sizeof(b));
    b.mxcsr = HV_FPU_MXCSR_INIT | bad;
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &b), HV_ERR_INVALID_ARG);
    b.mxcsr = HV_FPU_MXCSR_INIT | 0x80000000u;
    b.mxcsr_mask = 0xffffffffu; /* the image's own mask does not widen it */
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &b), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &a), HV_OK);
    CU_ASSERT_EQUAL(memcmp(&a, &before, sizeof(a)), 0);
    /* The check follows the context's mask: a CPU without DAZ (bit 6)
       reports FFBF, one with it FFFF. */
    f.ctx->mxcsr_mask = HV_FPU_MXCSR_MASK_DEFAULT;
    b.mxcsr = HV_FPU_MXCSR_INIT | 0x40;
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &b), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &a), HV_OK);
    CU_ASSERT_EQUAL(a.mxcsr_mask, HV_FPU_MXCSR_MASK_DEFAULT);
    CU_ASSERT_EQUAL(a.mxcsr, before.mxcsr);
    f.ctx->mxcsr_mask = 0xffff;
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &b), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &a), HV_OK);
    CU_ASSERT_EQUAL(a.mxcsr, HV_FPU_MXCSR_INIT | 0x40);
    f.ctx->mxcsr_mask = mask;

    /* Not while the vCPU runs: its state is in the CPU then. */
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &before), HV_OK);
    f.vcpu->running = 1;
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &a), HV_ERR_BUSY);
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &b), HV_ERR_BUSY);
    f.vcpu->running = 0;
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &a), HV_OK);
    CU_ASSERT_EQUAL(memcmp(&a, &before, sizeof(a)), 0);

    /* Through a run: hv_vcpu_run loads the image into this CPU and saves
       it back (x87 and MXCSR only: the mock's C code may use the XMM
       registers), and this process's own MXCSR comes back. */
    memset(&a, 0, sizeof(a));
    a.fcw = HV_FPU_FCW_INIT;
    a.fsw = 7u << 11;  /* TOP = 7: ST0 is R7 */
    a.ftw = 0x80;      /* R7 valid */
    a.st[0][7] = 0x80; /* ST0 = 1.0: 3FFF 8000000000000000 */
    a.st[0][8] = 0xff;
    a.st[0][9] = 0x3f;
    a.mxcsr = HV_FPU_MXCSR_INIT | 0x2000; /* RC = 01 */
    CU_ASSERT_EQUAL(hv_vcpu_set_fpu(f.vcpu, &a), HV_OK);
    uint32_t own = cur_mxcsr();
    struct hv_exit x;
    mock_script_kind(f.vcpu, HV_VX_HLT, 0x500);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(cur_mxcsr(), own);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &b), HV_OK);
    CU_ASSERT_EQUAL(b.fcw, a.fcw);
    CU_ASSERT_EQUAL(b.fsw, a.fsw);
    CU_ASSERT_EQUAL(b.ftw, a.ftw);
    CU_ASSERT_EQUAL(memcmp(b.st[0], a.st[0], 10), 0);
    CU_ASSERT_EQUAL(b.mxcsr, a.mxcsr);
    fixture_down(&f);
}

/* Put the vCPU in 64-bit mode at CPL 0 with IF set. */
static void long_mode(struct fixture *f)
{
    struct hv_vcpu_state st;
    hv_vcpu_get_state(f->vcpu, HV_STATE_ALL, &st);
    st.cr0 = 0x80000011;
    st.cr4 = 0x20;
    st.efer = 0x500;
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | HV_SEG_L | 0xb;
    st.seg[HV_SEG_SS].attr = HV_SEG_P | HV_SEG_S | 3;
    st.rflags = 0x202;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f->vcpu, HV_STATE_ALL, &st), HV_OK);
}

static void test_run_cpuid_policy(void)
{
    struct fixture f;
    fixture_up(&f);
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_CPUID;
    e.vx.rip = 0x1000; /* no length info: the dispatcher knows CPUID is 2 bytes */
    e.set_gprs = true;
    e.gpr[HV_GPR_RAX] = 1;
    mock_script(f.vcpu, &e);
    e.vx.rip = 0x2000;
    e.vx.next_rip = 0x2003; /* NRIP provided (e.g. a prefixed CPUID) */
    e.gpr[HV_GPR_RAX] = 0x80000001u;
    mock_script(f.vcpu, &e);
    e.vx.next_rip = 0;
    e.vx.rip = 0x3000;
    e.vx.insn_len = 4;
    e.gpr[HV_GPR_RAX] = 0x40000000u;
    mock_script(f.vcpu, &e);
    e.vx.insn_len = 0;
    e.vx.rip = 0x4000;
    e.gpr[HV_GPR_RAX] = 0x12345678u; /* overridden */
    mock_script(f.vcpu, &e);

    uint32_t over[4] = {0xa, 0xb, 0xc, 0xd};
    CU_ASSERT_EQUAL(hv_vm_set_cpuid(f.vm, 0x12345678u, UINT32_MAX, over), HV_OK);

    struct hv_exit x;
    memset(&x, 0, sizeof(x));
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_UNHANDLED);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(f.mv->entries, 5);
    /* Each CPUID advanced RIP by its length; the last exit is at 0x4002. */
    CU_ASSERT_EQUAL(x.rip, 0x4002);
    uint64_t *g = f.vcpu->gpr;
    CU_ASSERT_EQUAL(g[HV_GPR_RAX], 0xa);
    CU_ASSERT_EQUAL(g[HV_GPR_RBX], 0xb);
    CU_ASSERT_EQUAL(g[HV_GPR_RCX], 0xc);
    CU_ASSERT_EQUAL(g[HV_GPR_RDX], 0xd);
    fixture_down(&f);
}

/* Run one CPUID through the dispatcher and return the registers. */
static void cpuid_through(struct fixture *f, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_CPUID;
    e.vx.rip = 0x1000;
    e.set_gprs = true;
    e.gpr[HV_GPR_RAX] = leaf;
    e.gpr[HV_GPR_RCX] = sub;
    struct mock_vcpu *m = f->mv;
    m->script_len = m->script_pos = 0;
    mock_script(f->vcpu, &e);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f->vcpu, &x), HV_OK);
    for (int i = 0; i < 4; i++)
        out[i] = (uint32_t)f->vcpu->gpr[(int[]){HV_GPR_RAX, HV_GPR_RBX, HV_GPR_RCX, HV_GPR_RDX}[i]];
}

static void test_cpuid_filter(void)
{
    struct fixture f;
    fixture_up(&f);
    uint32_t r[4];
    cpuid_through(&f, 1, 0, r);
    CU_ASSERT(r[2] & (1u << 31));    /* hypervisor present */
    CU_ASSERT(!(r[2] & (1u << 5)));  /* VMX hidden */
    /* XSAVE shown where the host has it (core/xsave.h); OSXSAVE follows
       the guest's CR4 (clear after reset). */
    struct hv_xs_layout xs;
    hv_xs_host_layout(&xs);
    CU_ASSERT_EQUAL(!!(r[2] & (1u << 26)), xs.supported != 0);
    CU_ASSERT(!(r[2] & (1u << 27)));
    CU_ASSERT_EQUAL(r[1] >> 24, 0);  /* APIC id = vCPU id */
    cpuid_through(&f, 0x80000001u, 0, r);
    CU_ASSERT(!(r[2] & (1u << 2))); /* SVM hidden */
    cpuid_through(&f, 0x40000000u, 0, r);
    CU_ASSERT_EQUAL(r[0], 0x40000000u);
    CU_ASSERT_EQUAL(memcmp(&r[1], "libhv", 5), 0);
    cpuid_through(&f, 0xd, 0, r);
    if (!xs.supported) {
        CU_ASSERT(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0);
    }

    /* The exit's shortcut for pass-through leaves (core/policy.h) claims
       only leaves the policy returns unchanged from the host, and answers
       them as the policy does. (0x1a, the core type, differs between the
       cores of a hybrid host the test may migrate across.) */
    for (uint32_t leaf = 0; leaf < 32; leaf++) {
        uint32_t pol[4], host[4];
        if (leaf == 0x1a || !hv_cpuid_passthrough(f.vm, leaf))
            continue;
        hv_cpuid_policy(f.vcpu, leaf, 0, pol);
        hv_cpuid(leaf, 0, host);
        CU_ASSERT_EQUAL(memcmp(pol, host, sizeof(pol)), 0);
        cpuid_through(&f, leaf, 0, r);
        CU_ASSERT_EQUAL(memcmp(r, pol, sizeof(pol)), 0);
    }
    CU_ASSERT(hv_cpuid_passthrough(f.vm, 0));
    CU_ASSERT(!hv_cpuid_passthrough(f.vm, 1));
    CU_ASSERT(!hv_cpuid_passthrough(f.vm, 0x80000000u));
    /* An override anywhere turns the shortcut off: leaf 0 is the VM's. */
    const uint32_t over[4] = {0x5, 0x11, 0x22, 0x33};
    CU_ASSERT_EQUAL(hv_vm_set_cpuid(f.vm, 0, 0, over), HV_OK);
    CU_ASSERT(!hv_cpuid_passthrough(f.vm, 0));
    cpuid_through(&f, 0, 0, r);
    CU_ASSERT_EQUAL(memcmp(r, over, sizeof(over)), 0);
    fixture_down(&f);
}

static void test_msr_policy(void)
{
    struct fixture f;
    fixture_up(&f);
    long_mode(&f);
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.set_gprs = true;
    /* Unknown MSR read: #GP(0), RIP not advanced. */
    e.vx.kind = HV_VX_RDMSR;
    e.vx.rip = 0x1000;
    e.gpr[HV_GPR_RCX] = 0xdead;
    mock_script(f.vcpu, &e);
    /* LSTAR write then read back through the state. */
    e.vx.kind = HV_VX_WRMSR;
    e.vx.rip = 0x2000;
    e.gpr[HV_GPR_RCX] = 0xc0000082u;
    e.gpr[HV_GPR_RAX] = 0x89abcdefu;
    e.gpr[HV_GPR_RDX] = 0xffffffffu;
    mock_script(f.vcpu, &e);
    /* Non-canonical LSTAR: #GP. */
    e.vx.rip = 0x3000;
    e.gpr[HV_GPR_RDX] = 0x00010000u;
    mock_script(f.vcpu, &e);
    /* APIC base read. */
    e.vx.kind = HV_VX_RDMSR;
    e.vx.rip = 0x4000;
    e.gpr[HV_GPR_RCX] = 0x1b;
    mock_script(f.vcpu, &e);

    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    /* Two #GPs injected, each with error code 0. */
    CU_ASSERT_EQUAL(f.mv->injected_count, 2);
    for (unsigned i = 0; i < f.mv->injected_count; i++) {
        CU_ASSERT_EQUAL(f.mv->injected[i].type, HV_EVENT_EXCEPTION);
        CU_ASSERT_EQUAL(f.mv->injected[i].vector, 13);
        CU_ASSERT_EQUAL(f.mv->injected[i].has_error_code, 1);
        CU_ASSERT_EQUAL(f.mv->injected[i].error_code, 0);
    }
    CU_ASSERT_EQUAL(f.mv->st.lstar, 0xffffffff89abcdefull);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX], 0xfee00900u);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RDX], 0);
    CU_ASSERT_EQUAL(x.rip, 0x4002);
    fixture_down(&f);
}

static void test_io_completion(void)
{
    struct fixture f;
    fixture_up(&f);
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.set_gprs = true;
    e.vx.kind = HV_VX_IO;
    e.vx.rip = 0x100;
    e.vx.next_rip = 0x101;
    e.vx.io.port = 0x3f8;
    e.vx.io.size = 1;
    e.vx.io.write = 1;
    e.gpr[HV_GPR_RAX] = 0x1122334455667741ull;
    mock_script(f.vcpu, &e);
    e.set_gprs = false; /* the guest's RAX carries over from here */
    e.vx.rip = 0x101;
    e.vx.next_rip = 0x103;
    e.vx.io.port = 0x71;
    e.vx.io.size = 2;
    e.vx.io.write = 0;
    mock_script(f.vcpu, &e);
    e.vx.rip = 0x103;
    e.vx.next_rip = 0x104;
    e.vx.io.size = 4;
    mock_script(f.vcpu, &e);

    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(x.io.port, 0x3f8);
    CU_ASSERT_EQUAL(x.io.write, 1);
    CU_ASSERT_EQUAL(x.io.size, 1);
    CU_ASSERT_EQUAL(x.io.data, 0x41);
    CU_ASSERT_EQUAL(f.mv->st.rip, 0x100); /* completed at the next run */

    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(x.io.write, 0);
    CU_ASSERT_EQUAL(x.io.size, 2);
    x.io.data = 0xbeefcafe;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    /* 16-bit IN merged into AX, upper bits kept. */
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX], 0x112233445566cafeull);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(x.io.size, 4);
    x.io.data = 0xffffffff87654321ull;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    /* 32-bit IN zero-extends into RAX. */
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX], 0x87654321ull);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(x.rip, 0x104);
    fixture_down(&f);
}

/* A port device for the handler tests: [0x60, 0x64); fails on 0x63. */
struct pio_dev {
    unsigned calls;
    uint16_t port;
    unsigned size;
    bool write;
    uint32_t value;
};

static hv_status_t pio_dev_access(void *opaque, uint16_t port, unsigned size, bool write,
                                  uint32_t *value)
{
    struct pio_dev *d = opaque;
    d->calls++;
    d->port = port;
    d->size = size;
    d->write = write;
    d->value = *value;
    if (port == 0x63)
        return HV_ERR_LIMIT;
    if (!write)
        *value = 0x8badf00du;
    return HV_OK;
}

static void script_io(struct hv_vcpu *vcpu, uint64_t rip, uint16_t port, uint8_t size, bool write)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_IO;
    e.vx.rip = rip;
    e.vx.next_rip = rip + 2;
    e.vx.io.port = port;
    e.vx.io.size = size;
    e.vx.io.write = write;
    mock_script(vcpu, &e);
}

/* An event bit (HV_KICK_EVENT) makes the run loop deliver events and go
   on, not return HV_EXIT_KICK; hv_kick_event sets it and interrupts the
   vCPU's CPU. */
static void test_kick_event(void)
{
    struct fixture f;
    fixture_up(&f);
    mh.cpus = 2;
    mh.current_cpu = 0;
    f.vcpu->host_cpu = 1;
    hv_kick_event(f.vcpu);
    CU_ASSERT_EQUAL(f.vcpu->kick_pending, HV_KICK_EVENT);
    CU_ASSERT_EQUAL(mh.kicks, 1);
    CU_ASSERT_EQUAL(mh.last_kick_cpu, 1);
    script_io(f.vcpu, 0x100, 0x80, 1, true);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(f.vcpu->kick_pending, 0);
    fixture_down(&f);
}

static void test_pio_handlers(void)
{
    struct fixture f;
    fixture_up(&f);
    struct pio_dev d = {0};
    hv_pio_handler h = pio_dev_access;

    /* Arguments, ranges, overlap, the limit. */
    CU_ASSERT_EQUAL(hv_vm_pio_register(NULL, 0x60, 4, h, &d), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0x60, 4, NULL, &d), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0x60, 0, h, &d), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0xffff, 2, h, &d), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0, 0x10001, h, &d), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vm_pio_unregister(f.vm, 0x60), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0xffff, 1, h, &d), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0x60, 4, h, &d), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0x63, 1, h, &d), HV_ERR_EXISTS);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0x50, 0x11, h, &d), HV_ERR_EXISTS);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0x64, 1, h, &d), HV_OK); /* adjacent */
    CU_ASSERT_EQUAL(hv_vm_pio_unregister(f.vm, 0x64), HV_OK);
    for (unsigned i = 2; i < HV_PIO_RANGES_MAX; i++)
        CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, (uint16_t)(0x1000 + i), 1, h, &d), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0x2000, 1, h, &d), HV_ERR_LIMIT);
    for (unsigned i = 2; i < HV_PIO_RANGES_MAX; i++)
        CU_ASSERT_EQUAL(hv_vm_pio_unregister(f.vm, (uint16_t)(0x1000 + i)), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_pio_unregister(f.vm, 0xffff), HV_OK);
    /* Not while a vCPU runs: its exit paths read the table unlocked. */
    __atomic_store_n(&f.vcpu->running, 1, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL(hv_vm_pio_register(f.vm, 0x70, 2, h, &d), HV_ERR_BUSY);
    CU_ASSERT_EQUAL(hv_vm_pio_unregister(f.vm, 0x60), HV_ERR_BUSY);
    /* The same rule for MMIO regions, which those paths read unlocked too. */
    CU_ASSERT_EQUAL(hv_vm_mmio_register(f.vm, 0xfe000000ull, 4096, NULL, NULL), HV_ERR_BUSY);
    __atomic_store_n(&f.vcpu->running, 0, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL(hv_vm_mmio_register(f.vm, 0xfe000000ull, 4096, NULL, NULL), HV_OK);
    __atomic_store_n(&f.vcpu->running, 1, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL(hv_vm_mmio_unregister(f.vm, 0xfe000000ull), HV_ERR_BUSY);
    __atomic_store_n(&f.vcpu->running, 0, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL(hv_vm_mmio_unregister(f.vm, 0xfe000000ull), HV_OK);
    /* The other side: while a change holds the runs (the moment after it
       found none running), a run that starts returns HV_ERR_BUSY, with
       the vCPU not left marked running, and runs once it is released. */
    struct hv_exit held;
    CU_ASSERT_FATAL(hv_vm_hold_runs(f.vm));
    unsigned entries = f.mv->entries;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &held), HV_ERR_BUSY);
    CU_ASSERT_EQUAL(f.mv->entries, entries);
    CU_ASSERT_EQUAL(f.vcpu->running, 0);
    hv_vm_release_runs(f.vm);
    __atomic_store_n(&f.vcpu->running, 1, __ATOMIC_RELEASE);
    CU_ASSERT_FALSE(hv_vm_hold_runs(f.vm)); /* one runs: nothing held */
    CU_ASSERT_EQUAL(f.vm->runs_held, 0);
    __atomic_store_n(&f.vcpu->running, 0, __ATOMIC_RELEASE);

    /* The dispatcher: OUT AX to 0x60 and IN AL from 0x61 finish inside the
       run (RIP past each, AL replaced); a 4-byte OUT at 0x62 passes the
       range's end and goes to the embedder; then the handler's failure. */
    f.vcpu->gpr[HV_GPR_RAX] = 0x1122334455667788ull;
    script_io(f.vcpu, 0x100, 0x60, 2, true);
    script_io(f.vcpu, 0x102, 0x61, 1, false);
    script_io(f.vcpu, 0x104, 0x62, 4, true);
    script_io(f.vcpu, 0x106, 0x63, 1, false);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(d.calls, 2);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(x.io.port, 0x62);
    CU_ASSERT_EQUAL(x.io.data, 0x5566770du);
    CU_ASSERT_EQUAL(x.rip, 0x104);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX], 0x112233445566770dull);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(d.calls, 3);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_UNHANDLED);
    CU_ASSERT_EQUAL(x.raw_info1, HV_ERR_LIMIT);
    CU_ASSERT_EQUAL(x.raw_info2, 0x63);
    CU_ASSERT_EQUAL(x.rip, 0x106);
    CU_ASSERT_EQUAL(f.mv->st.rip, 0x106); /* not advanced */
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RAX], 0x112233445566770dull);
    /* Unregistered: the same port exits to the embedder again. */
    CU_ASSERT_EQUAL(hv_vm_pio_unregister(f.vm, 0x60), HV_OK);
    script_io(f.vcpu, 0x106, 0x60, 2, true);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(x.io.port, 0x60);
    CU_ASSERT_EQUAL(d.calls, 3);
    fixture_down(&f);
}

static void test_kick_hlt_shutdown(void)
{
    struct fixture f;
    fixture_up(&f);
    struct hv_exit x;
    /* A kick before the run stops it before entering. */
    CU_ASSERT_EQUAL(hv_vcpu_kick(f.vcpu), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_KICK);
    CU_ASSERT_EQUAL(f.mv->entries, 0);

    /* Host interrupts and windows are absorbed; HLT returns, RIP past it. */
    mock_script_kind(f.vcpu, HV_VX_EXTINT, 0x500);
    mock_script_kind(f.vcpu, HV_VX_PREEMPT, 0x500);
    mock_script_kind(f.vcpu, HV_VX_HLT, 0x500);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(f.mv->st.rip, 0x501);
    CU_ASSERT_EQUAL(f.mv->entries, 3);

    /* Triple fault: reported, then the vCPU refuses to run until reset. */
    mock_script_kind(f.vcpu, HV_VX_SHUTDOWN, 0x600);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_SHUTDOWN);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_ERR_STATE);
    struct hv_vcpu_state st;
    hv_vcpu_get_state(f.vcpu, HV_STATE_ALL, &st);
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);

    /* Entry failure carries the backend's reason. */
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_ENTRY_FAILED;
    e.vx.entry_failed.code = 7;
    strcpy(e.vx.entry_failed.reason, "guest CR0.PG set without PE");
    mock_script(f.vcpu, &e);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_ENTRY_FAILED);
    CU_ASSERT_EQUAL(x.entry_failed.code, 7);
    CU_ASSERT_STRING_EQUAL(x.entry_failed.reason, "guest CR0.PG set without PE");
    fixture_down(&f);
}

static void test_event_windows(void)
{
    struct fixture f;
    fixture_up(&f);
    struct hv_exit x;
    /* IF=0 (reset state): the interrupt waits, a window is requested. */
    struct hv_event irq = {.type = HV_EVENT_EXTINT, .vector = 0x30};
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &irq), HV_OK);
    mock_script_kind(f.vcpu, HV_VX_HLT, 0x10);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(f.mv->injected_count, 0);
    CU_ASSERT(f.mv->window[HV_EVENT_EXTINT]);
    /* The guest enables interrupts: the window exit delivers it. */
    f.mv->st.rflags |= 0x200;
    mock_script_kind(f.vcpu, HV_VX_IRQ_WINDOW, 0x11);
    mock_script_kind(f.vcpu, HV_VX_HLT, 0x11);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(f.mv->injected_count, 1);
    CU_ASSERT_EQUAL(f.mv->injected[0].vector, 0x30);
    CU_ASSERT(!f.mv->window[HV_EVENT_EXTINT]);
    /* Exceptions go first; one event per entry. */
    struct hv_event ud = {.type = HV_EVENT_EXCEPTION, .vector = 6};
    struct hv_event nmi = {.type = HV_EVENT_NMI, .vector = 2};
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &nmi), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_inject(f.vcpu, &ud), HV_OK);
    mock_script_kind(f.vcpu, HV_VX_EXTINT, 0x20);
    mock_script_kind(f.vcpu, HV_VX_HLT, 0x20);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(f.mv->injected_count, 3);
    CU_ASSERT_EQUAL(f.mv->injected[1].vector, 6);
    CU_ASSERT_EQUAL(f.mv->injected[2].type, HV_EVENT_NMI);
    fixture_down(&f);
}

static void test_hypercall_exit(void)
{
    struct fixture f;
    fixture_up(&f);
    long_mode(&f);
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.set_gprs = true;
    e.vx.kind = HV_VX_HYPERCALL;
    e.vx.rip = 0x700;
    for (int i = 0; i < HV_GPR_COUNT; i++)
        e.gpr[i] = 0x100 + i;
    mock_script(f.vcpu, &e);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HYPERCALL);
    CU_ASSERT_EQUAL(x.hypercall.nr, 0x100 + HV_GPR_RAX);
    CU_ASSERT_EQUAL(x.hypercall.long_mode, 1);
    CU_ASSERT_EQUAL(x.hypercall.args[0], 0x100 + HV_GPR_RDI);
    CU_ASSERT_EQUAL(x.hypercall.args[3], 0x100 + HV_GPR_R10);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.rip, 0x703); /* VMCALL/VMMCALL are 3 bytes */
    fixture_down(&f);
}

/* --- allocation failure injection ------------------------------------------ */

/* Create ctx+VM+vCPU and map memory with allocation `k` failing. */
static hv_status_t build_all(uint64_t k, uint64_t hpa)
{
    struct hv_ctx *ctx = NULL;
    struct hv_vm *vm = NULL;
    struct hv_vcpu *vcpu = NULL;
    hv_status_t st;
    mh.fail_at = mh.alloc_index + k;
    st = hv_ctx_create_with_backend(&mh.ops, NULL, &mock_backend_ops, &ctx);
    if (st == HV_OK)
        st = hv_vm_create(ctx, NULL, &vm);
    if (st == HV_OK)
        st = hv_vcpu_create(vm, 0, &vcpu);
    if (st == HV_OK)
        st = hv_vm_map(vm, 0x1000, hpa + 0x1000, 0x3ff000, HV_MEM_RWX);
    if (st == HV_OK)
        st = hv_vm_mmio_register(vm, 0xfee00000, 0x1000, NULL, NULL);
    if (st == HV_OK)
        st = hv_vm_unmap(vm, 0x200000, 0x1000);
    mh.fail_at = MOCK_NEVER;
    /* Whatever was built must still be usable and destroyable. */
    if (vm && vm->slat.root) {
        struct hv_mapping m;
        hv_vm_query(vm, 0x1000, &m);
    }
    if (vcpu)
        CU_ASSERT_EQUAL(hv_vcpu_destroy(vcpu), HV_OK);
    if (vm)
        CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    if (ctx)
        CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    return st;
}

static void test_alloc_failure(void)
{
    setup();
    uint64_t hpa;
    void *ram = mock_guest_ram_alloc(&mh, 4 << 20, &hpa);
    uint64_t before = mh.alloc_index;
    CU_ASSERT_EQUAL(build_all(MOCK_NEVER - mh.alloc_index - 1, hpa), HV_OK);
    uint64_t sites = mh.alloc_index - before;
    CU_ASSERT(sites >= 6);
    unsigned failures = 0;
    for (uint64_t k = 0; k < sites; k++) {
        hv_status_t st = build_all(k, hpa);
        CU_ASSERT_EQUAL(st, HV_ERR_NO_MEMORY);
        failures += st == HV_ERR_NO_MEMORY;
        CU_ASSERT_EQUAL(mh.pages_out, 0);
        CU_ASSERT_EQUAL(mh.objs_out, 0);
    }
    printf("\n  core allocation sites exercised: %u of %llu\n", failures,
           (unsigned long long)sites);
    mock_guest_ram_free(&mh, ram);
    teardown();
}

/* --- the SLAT grace period (core/vm.c wait_for_guests) ------------------- */

static struct hv_vcpu *grace_vcpu;
static unsigned grace_kicks;

/* The host's kick_cpu: the kicked vCPU leaves guest mode (what the IPI's
   exit does), after the flush request was published. */
static void grace_kick(void *opaque, uint32_t cpu)
{
    (void)opaque;
    grace_kicks++;
    CU_ASSERT_EQUAL(cpu, 1);
    CU_ASSERT(grace_vcpu->flush_req);
    grace_vcpu->guest_epoch++;
}

static void test_slat_grace(void)
{
    setup();
    mh.cpus = 2;
    struct hv_host_ops ops = mh.ops;
    ops.kick_cpu = grace_kick;
    struct hv_ctx *ctx = NULL;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&ops, NULL, &mock_backend_ops, &ctx), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, NULL, &vm), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm, 0, &vcpu), HV_OK);
    uint64_t hpa;
    void *ram = mock_guest_ram_alloc(&mh, 0x4000, &hpa);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0, hpa, 0x4000, HV_MEM_RWX), HV_OK);
    grace_vcpu = vcpu;
    grace_kicks = 0;

    /* Out of guest mode (even epoch): not waited for, not kicked; its next
       entry takes the flush request. */
    CU_ASSERT_EQUAL(vcpu->guest_epoch, 0);
    CU_ASSERT(!vcpu->flush_req);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x3000, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(grace_kicks, 0);
    CU_ASSERT(vcpu->flush_req);

    /* In guest mode on CPU 1: kicked, and the unmap returns only once it
       has left guest mode (grace_kick moves the epoch on). */
    vcpu->flush_req = 0;
    vcpu->guest_epoch = 5;
    vcpu->host_cpu = 1;
    CU_ASSERT_EQUAL(hv_vm_protect(vm, 0x2000, 0x1000, HV_MEM_READ), HV_OK);
    CU_ASSERT_EQUAL(grace_kicks, 1);
    CU_ASSERT_EQUAL(vcpu->guest_epoch, 6);
    CU_ASSERT(vcpu->flush_req);

    /* A change that removes nothing needs no flush and no wait. */
    vcpu->guest_epoch = 7;
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0x3000, hpa + 0x3000, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(grace_kicks, 1);

    /* "In guest mode" on the caller's own CPU cannot be: not waited for. */
    vcpu->host_cpu = 0;
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x3000, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(grace_kicks, 1);
    vcpu->guest_epoch = 8;

    /* Host code: a vCPU inside hv_vcpu_run between exit and entry (even
       epoch, running) may be walking the tables an unmap retires. A page
       mapped alone at 1 TiB has a table at three levels; unmapping it
       retires all three, which stay allocated (not waited for: nothing
       blocks) until the vCPU has entered the guest since. */
    CU_ASSERT_EQUAL(hv_vm_map(vm, 1ull << 40, hpa, 0x1000, HV_MEM_RWX), HV_OK);
    uint64_t pages = mh.pages_out;
    __atomic_store_n(&vcpu->running, 1, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 1ull << 40, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(grace_kicks, 1);
    CU_ASSERT_EQUAL(mh.pages_out, pages);
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 3);
    /* A SLAT call while it is still there keeps them (and adds its own). */
    CU_ASSERT_EQUAL(hv_vm_map(vm, 1ull << 41, hpa, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 1ull << 41, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 6);
    CU_ASSERT_EQUAL(mh.pages_out, pages + 3); /* the new ones allocated, none freed */
    /* It entered the guest and left it (epoch moved): the next SLAT call
       frees them. */
    vcpu->guest_epoch = 10;
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0x3000, hpa + 0x3000, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 0);
    CU_ASSERT_EQUAL(mh.pages_out, pages - 3);
    /* Retired again while it is in host code, then its run returns: freed
       by the next call; and a VM destroyed with some still waiting frees
       them (the mock host's leak check at teardown). */
    CU_ASSERT_EQUAL(hv_vm_map(vm, 1ull << 40, hpa, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 1ull << 40, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 3);
    __atomic_store_n(&vcpu->running, 0, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x3000, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 0);
    __atomic_store_n(&vcpu->running, 1, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 1ull << 40, hpa, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 1ull << 40, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 3);
    __atomic_store_n(&vcpu->running, 0, __ATOMIC_RELEASE);

    /* A walk on no vCPU of the VM (another domain's grant, an embedder
       thread's query: hv_slat_read_begin) holds them too, whenever it
       began, until it ends. */
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x3000, 0x1000), HV_OK); /* frees the 3 */
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 0);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 1ull << 40, hpa, 0x1000, HV_MEM_RWX), HV_OK);
    hv_slat_read_begin(vm);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 1ull << 40, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 3);
    hv_slat_read_end(vm);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x3000, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(vm->retire_wait.table_pages, 0);

    CU_ASSERT_EQUAL(hv_vcpu_destroy(vcpu), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    mock_guest_ram_free(&mh, ram);
    teardown();
}

/* XSETBV's value checks (SDM Vol. 2B XSETBV), without a CPU. */
static void test_xcr0_valid(void)
{
    const uint64_t all = 0xe7, avx = 7;
    CU_ASSERT(hv_xcr0_valid(1, avx));
    CU_ASSERT(hv_xcr0_valid(3, avx));
    CU_ASSERT(hv_xcr0_valid(7, avx));
    CU_ASSERT(hv_xcr0_valid(0xe7, all));
    CU_ASSERT(!hv_xcr0_valid(0, avx));              /* x87 clear */
    CU_ASSERT(!hv_xcr0_valid(2, avx));              /* x87 clear */
    CU_ASSERT(!hv_xcr0_valid(5, avx));              /* AVX without SSE */
    CU_ASSERT(!hv_xcr0_valid(0xe7, avx));           /* AVX-512 not offered */
    CU_ASSERT(!hv_xcr0_valid(0x27, all));           /* opmask alone */
    CU_ASSERT(!hv_xcr0_valid(0x67, all));           /* two of three */
    CU_ASSERT(!hv_xcr0_valid(0xe3, all));           /* AVX-512 without AVX */
    CU_ASSERT(!hv_xcr0_valid(0xe5, all));           /* ... and AVX without SSE */
    CU_ASSERT(!hv_xcr0_valid(0x1b, all));           /* MPX */
    CU_ASSERT(!hv_xcr0_valid(7, 3));                /* AVX not offered */
    CU_ASSERT(!hv_xcr0_valid(1ull << 63 | 1, all)); /* reserved high bit */
}

/* An XSETBV exit through the mock backend: the vector raised (0: none),
   with the guest's CR4 and CPL as given. */
static unsigned xsetbv_through(struct fixture *f, uint32_t ecx, uint64_t value, bool osxsave,
                               unsigned cpl)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_XSETBV;
    e.vx.rip = 0x1000;
    e.set_gprs = true;
    e.gpr[HV_GPR_RCX] = ecx | 0xabcd00000000ull; /* ECX only */
    e.gpr[HV_GPR_RAX] = (uint32_t)value | 0xffffffff00000000ull;
    e.gpr[HV_GPR_RDX] = value >> 32;
    struct mock_vcpu *m = f->mv;
    m->script_len = m->script_pos = 0;
    m->injected_count = 0;
    m->st.rip = 0x1000;
    m->st.cr4 = osxsave ? HV_CR4_OSXSAVE : 0;
    m->st.seg[HV_SEG_SS].attr = (uint16_t)((m->st.seg[HV_SEG_SS].attr & ~(3u << HV_SEG_DPL_SHIFT)) |
                                           (cpl << HV_SEG_DPL_SHIFT));
    mock_script(f->vcpu, &e);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(f->vcpu, &x), HV_OK);
    if (!m->injected_count) {
        CU_ASSERT_EQUAL(m->st.rip, 0x1003); /* 0F 01 D1 finished */
        return 0;
    }
    CU_ASSERT_EQUAL(m->injected_count, 1);
    CU_ASSERT_EQUAL(m->st.rip, 0x1000);
    const struct hv_event *ev = &m->injected[0];
    CU_ASSERT_EQUAL(ev->has_error_code, ev->vector == 13);
    CU_ASSERT_EQUAL(ev->error_code, 0);
    return ev->vector;
}

static void test_xsetbv_exit(void)
{
    struct fixture f;
    fixture_up(&f);
    uint64_t allowed = 0;
    CU_ASSERT_EQUAL(hv_vcpu_xsave_info(f.vcpu, &allowed, NULL), HV_OK);
    CU_ASSERT_EQUAL(f.vcpu->xcr0, 1); /* RESET value */
    if (!allowed) {
        /* A host without XSAVE: the guest's CPUID has none, XSETBV #UDs. */
        CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 3, true, 0), 6);
        fixture_down(&f);
        return;
    }
    CU_ASSERT_EQUAL(allowed & 3, 3);
    CU_ASSERT_EQUAL(allowed & ~0xe7ull, 0);                     /* never MPX, PKRU, AMX, ... */
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 3, false, 0), 6);     /* no CR4.OSXSAVE */
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 3, true, 3), 13);     /* CPL 3 */
    CU_ASSERT_EQUAL(xsetbv_through(&f, 1, 3, true, 0), 13);     /* ECX 1 */
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 2, true, 0), 13);     /* no x87 */
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 0x203, true, 0), 13); /* PKRU */
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 0x1f, true, 0), 13);  /* MPX */
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 1ull << 32 | 3, true, 0), 13); /* EDX */
    CU_ASSERT_EQUAL(f.vcpu->xcr0, 1);
    CU_ASSERT_EQUAL(f.vcpu->xs_used, 0);
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 3, true, 0), 0);
    CU_ASSERT_EQUAL(f.vcpu->xcr0, 3);
    CU_ASSERT_EQUAL(f.vcpu->xs_used, 0); /* nothing beyond SSE: no switch */
    if (allowed & 4) {
        CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 5, true, 0), 13); /* AVX without SSE */
        CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 7, true, 0), 0);
        CU_ASSERT_EQUAL(f.vcpu->xcr0, 7);
        CU_ASSERT_EQUAL(f.vcpu->xs_used, 4);
        /* CPUID 0DH.0 EBX follows XCR0 (SDM Vol. 2A CPUID). */
        uint32_t r[4];
        hv_cpuid_policy(f.vcpu, 0xd, 0, r);
        CU_ASSERT_EQUAL(r[1], 832);
        CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 3, true, 0), 0);
        CU_ASSERT_EQUAL(f.vcpu->xs_used, 4); /* its state is kept */
        hv_cpuid_policy(f.vcpu, 0xd, 0, r);
        CU_ASSERT_EQUAL(r[1], 576);
    }
    if ((allowed & 0xe0) == 0xe0) {
        CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 0x27, true, 0), 13);
        CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 0xe3, true, 0), 13);
        CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 0xe7, true, 0), 0);
        CU_ASSERT_EQUAL(f.vcpu->xs_used, 0xe4);
    }
    /* A value an emulator let through without the intercept (SVM under
       QEMU's TCG): adopted when valid, else left. */
    hv_xcr0_untrapped(f.vcpu, 0x203);
    CU_ASSERT_EQUAL(f.vcpu->xcr0 & 0x200, 0);
    hv_xcr0_untrapped(f.vcpu, 3);
    CU_ASSERT_EQUAL(f.vcpu->xcr0, 3);
    if (allowed & 4) {
        hv_xcr0_untrapped(f.vcpu, 7);
        CU_ASSERT_EQUAL(f.vcpu->xcr0, 7);
    }
    /* An override that hides AVX takes it out of the allowed set; one that
       hides XSAVE makes XSETBV #UD. */
    uint32_t l1[4];
    hv_cpuid(1, 0, l1);
    l1[2] &= ~(1u << 28);
    CU_ASSERT_EQUAL(hv_vm_set_cpuid(f.vm, 1, 0, l1), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_xsave_info(f.vcpu, &allowed, NULL), HV_OK);
    CU_ASSERT_EQUAL(allowed, 3);
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 7, true, 0), 13);
    uint32_t r[4];
    hv_cpuid_policy(f.vcpu, 0xd, 0, r);
    CU_ASSERT_EQUAL(r[0], 3);
    hv_cpuid_policy(f.vcpu, 0xd, 2, r);
    CU_ASSERT(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0);
    l1[2] &= ~(1u << 26);
    CU_ASSERT_EQUAL(hv_vm_set_cpuid(f.vm, 1, 0, l1), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_xsave_info(f.vcpu, &allowed, NULL), HV_OK);
    CU_ASSERT_EQUAL(allowed, 0);
    CU_ASSERT_EQUAL(xsetbv_through(&f, 0, 3, true, 0), 6);
    hv_cpuid_policy(f.vcpu, 0xd, 0, r);
    CU_ASSERT(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0);
    fixture_down(&f);
}

/* Leaves 1, 7 and 0DH as the policy composes them from the host's. */
/* The CR4 bits no guest gets (core/policy.h hv_cr4_refused), which both
   backends' MOV to CR4 and set_state apply. */
static void test_cr4_refused(void)
{
    struct fixture f;
    fixture_up(&f);
    const uint64_t pke = 1ull << 22, osxsave = 1ull << 18, pae = 1ull << 5, pge = 1ull << 7;
    struct hv_xs_layout xs;
    hv_xs_host_layout(&xs);
    CU_ASSERT_EQUAL(hv_cr4_refused(f.vcpu, pae | pge), 0);
    CU_ASSERT_EQUAL(hv_cr4_refused(f.vcpu, pae | pke), pke); /* PKRU is never switched */
    /* OSXSAVE follows the guest's CPUID: offered where the host has XSAVE... */
    CU_ASSERT_EQUAL(hv_cr4_refused(f.vcpu, osxsave), xs.supported ? 0 : osxsave);
    /* ... and not once an override of leaf 1 hides it. */
    uint32_t r[4];
    hv_cpuid_policy(f.vcpu, 1, 0, r);
    r[2] &= ~(1u << 26);
    CU_ASSERT_EQUAL_FATAL(hv_vm_set_cpuid(f.vm, 1, 0, r), HV_OK);
    CU_ASSERT_EQUAL(hv_cr4_refused(f.vcpu, osxsave | pke | pae), osxsave | pke);
    fixture_down(&f);
}

static void test_cpuid_xsave(void)
{
    struct fixture f;
    fixture_up(&f);
    struct hv_xs_layout xs;
    uint32_t r[4], h[4];
    hv_xs_host_layout(&xs);
    hv_cpuid_policy(f.vcpu, 1, 0, r);
    hv_cpuid(1, 0, h);
    const uint32_t avx_family = (1u << 28) | (1u << 29) | (1u << 12);
    CU_ASSERT_EQUAL(r[2] & avx_family, (xs.supported & 4) ? h[2] & avx_family : 0);
    /* OSXSAVE is the guest's CR4.OSXSAVE, override or not. */
    CU_ASSERT(!(r[2] & (1u << 27)));
    f.mv->st.cr4 |= HV_CR4_OSXSAVE;
    hv_cpuid_policy(f.vcpu, 1, 0, r);
    CU_ASSERT_EQUAL(!!(r[2] & (1u << 27)), xs.supported != 0);
    hv_cpuid(7, 0, h);
    hv_cpuid_policy(f.vcpu, 7, 0, r);
    CU_ASSERT_EQUAL(r[1] & (1u << 5), (xs.supported & 4) ? h[1] & (1u << 5) : 0); /* AVX2 */
    CU_ASSERT_EQUAL(r[1] & (1u << 16),
                    (xs.supported & 0xe0) == 0xe0 ? h[1] & (1u << 16) : 0); /* AVX512F */
    if (!xs.supported) {
        fixture_down(&f);
        return;
    }
    hv_cpuid_policy(f.vcpu, 0xd, 0, r);
    CU_ASSERT_EQUAL(r[0], (uint32_t)xs.supported);
    CU_ASSERT_EQUAL(r[3], 0);
    CU_ASSERT_EQUAL(r[1], 576); /* XCR0 = x87 */
    CU_ASSERT_EQUAL(r[2], hv_xs_size(&xs, xs.supported));
    hv_cpuid_policy(f.vcpu, 0xd, 1, r);
    CU_ASSERT_EQUAL(r[0] & ~1u, 0); /* XSAVEOPT at most */
    CU_ASSERT(r[1] == 0 && r[2] == 0 && r[3] == 0);
    for (uint32_t i = 2; i < 64; i++) {
        hv_cpuid_policy(f.vcpu, 0xd, i, r);
        if (i < 8 && ((xs.supported >> i) & 1)) {
            hv_cpuid(0xd, i, h);
            CU_ASSERT(r[0] == h[0] && r[1] == h[1] && r[3] == 0);
        } else {
            CU_ASSERT(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0);
        }
    }
    fixture_down(&f);
}

/* hv_vcpu_get_xsave / hv_vcpu_set_xsave: the refusals, and a round trip. */
static void test_xsave_api(void)
{
    struct fixture f;
    fixture_up(&f);
    static uint8_t img[HV_XSAVE_MAX_SIZE], back[HV_XSAVE_MAX_SIZE];
    uint64_t xcr0 = 0, allowed = 0;
    size_t used = 0, all = 0;
    CU_ASSERT_EQUAL(hv_vcpu_xsave_info(NULL, &allowed, &all), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_xsave_info(f.vcpu, &allowed, &all), HV_OK);
    CU_ASSERT(all >= 576 && all <= HV_XSAVE_MAX_SIZE);
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(NULL, &xcr0, img, sizeof(img), &used), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, NULL, img, sizeof(img), &used), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, NULL, sizeof(img), &used), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, img, 575, &used), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(used, 576);
    memset(img, 0xee, sizeof(img));
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, img, sizeof(img), &used), HV_OK);
    CU_ASSERT_EQUAL(xcr0, 1);
    CU_ASSERT_EQUAL(used, 576);
    /* The legacy region is get_fpu's; header: x87|SSE, the rest 0. */
    struct hv_fpu_state fpu;
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &fpu), HV_OK);
    CU_ASSERT_EQUAL(memcmp(img, &fpu, 512), 0);
    uint64_t bv;
    memcpy(&bv, img + 512, 8);
    CU_ASSERT_EQUAL(bv, 3);
    for (unsigned i = 520; i < 576; i++)
        CU_ASSERT_EQUAL(img[i], 0);
    CU_ASSERT_EQUAL(img[576], 0xee); /* nothing past the size */

    /* Refusals: nothing changes. */
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 1, NULL, 576), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 0, img, 576), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 5, img, sizeof(img)), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 0x207, img, sizeof(img)), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 1, img, 575), HV_ERR_RANGE);
    /* The legacy bits are always taken: get's image of a fresh vCPU (XCR0
       1, XSTATE_BV 3) comes back; AVX's bit beyond XCR0 1 does not. */
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 1, img, 576), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, back, sizeof(back), NULL), HV_OK);
    CU_ASSERT(xcr0 == 1 && !memcmp(back, img, 576));
    bv = 7;
    memcpy(img + 512, &bv, 8);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 1, img, 576), HV_ERR_INVALID_ARG);
    uint64_t x = (allowed & 3) == 3 ? 3 : 1;
    memcpy(img + 512, &x, 8);
    img[512 + 8] = 0x80; /* XCOMP_BV[63]: compacted */
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, x, img, sizeof(img)), HV_ERR_INVALID_ARG);
    img[512 + 8] = 0;
    img[512 + 63] = 1; /* reserved */
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, x, img, sizeof(img)), HV_ERR_INVALID_ARG);
    img[512 + 63] = 0;
    uint32_t mxcsr = 0xffffffffu; /* bits no CPU has */
    uint32_t good_mxcsr;
    memcpy(&good_mxcsr, img + 24, 4);
    memcpy(img + 24, &mxcsr, 4);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, x, img, sizeof(img)), HV_ERR_INVALID_ARG);
    memcpy(img + 24, &good_mxcsr, 4);
    f.vcpu->running = 1;
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, x, img, sizeof(img)), HV_ERR_BUSY);
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, img, sizeof(img), NULL), HV_ERR_BUSY);
    f.vcpu->running = 0;
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, back, sizeof(back), NULL), HV_OK);
    CU_ASSERT_EQUAL(xcr0, 1);
    CU_ASSERT_EQUAL(memcmp(back, &fpu, 512), 0);

    if (!(allowed & 4)) {
        fixture_down(&f);
        return;
    }
    /* XCR0 = x87|SSE|AVX with YMM upper halves, then x87 in its initial
       state (XSTATE_BV bit 0 clear). */
    for (unsigned i = 0; i < 256; i++) {
        img[160 + i] = (uint8_t)(i * 7 + 1);
        img[576 + i] = (uint8_t)(i * 11 + 3);
    }
    img[0] = 0x12; /* FCW: replaced by its initial value */
    bv = 6;
    memcpy(img + 512, &bv, 8);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 7, img, 831), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 7, img, 832), HV_OK);
    CU_ASSERT_EQUAL(f.vcpu->xcr0, 7);
    CU_ASSERT_EQUAL(f.vcpu->xs_used, 4);
    memset(back, 0, sizeof(back));
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, back, sizeof(back), &used), HV_OK);
    CU_ASSERT_EQUAL(xcr0, 7);
    CU_ASSERT_EQUAL(used, 832);
    memcpy(&bv, back + 512, 8);
    CU_ASSERT_EQUAL(bv, 7);
    CU_ASSERT_EQUAL(memcmp(back + 160, img + 160, 256), 0);
    CU_ASSERT_EQUAL(memcmp(back + 576, img + 576, 256), 0);
    CU_ASSERT_EQUAL(back[0] | back[1] << 8, HV_FPU_FCW_INIT);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &fpu), HV_OK);
    CU_ASSERT_EQUAL(memcmp(fpu.xmm, img + 160, 256), 0);
    /* AVX in its initial state: zeros back, XSTATE_BV without it. */
    bv = 3;
    memcpy(img + 512, &bv, 8);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 7, img, 832), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, back, sizeof(back), NULL), HV_OK);
    memcpy(&bv, back + 512, 8);
    CU_ASSERT_EQUAL(bv, 3);
    for (unsigned i = 576; i < 832; i++)
        CU_ASSERT_EQUAL(back[i], 0);
    /* Back to x87 alone: the old AVX values are not kept. */
    bv = 1;
    memcpy(img + 512, &bv, 8);
    CU_ASSERT_EQUAL(hv_vcpu_set_xsave(f.vcpu, 1, img, 576), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_get_xsave(f.vcpu, &xcr0, back, sizeof(back), &used), HV_OK);
    CU_ASSERT_EQUAL(xcr0, 1);
    CU_ASSERT_EQUAL(used, 576);
    CU_ASSERT_EQUAL(hv_vcpu_get_fpu(f.vcpu, &fpu), HV_OK);
    for (unsigned i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(memcmp(fpu.xmm[i], (uint8_t[16]){0}, 16), 0); /* SSE initial */
    fixture_down(&f);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("core", NULL, NULL);
    CU_add_test(s, "status strings", test_status_strings);
    CU_add_test(s, "context arguments", test_ctx_args);
    CU_add_test(s, "context caps", test_ctx_caps);
    CU_add_test(s, "VM arguments and memory API", test_vm_args);
    CU_add_test(s, "guest-memory copies when a page leaves meanwhile", test_gpa_copy_page_gone);
    CU_add_test(s, "an event kick: the run goes on", test_kick_event);
    CU_add_test(s, "dirty harvest unsupported", test_dirty_unsupported);
    CU_add_test(s, "vCPU arguments and events", test_vcpu_args);
    CU_add_test(s, "x87/SSE state get/set", test_fpu_state);
    CU_add_test(s, "hv_vcpu_load / hv_vcpu_put", test_vcpu_load);
    CU_add_test(s, "run: CPUID dispatch and RIP advance", test_run_cpuid_policy);
    CU_add_test(s, "CPUID filter", test_cpuid_filter);
    CU_add_test(s, "XCR0 checks", test_xcr0_valid);
    CU_add_test(s, "XSETBV exit and CPUID overrides", test_xsetbv_exit);
    CU_add_test(s, "CPUID leaves 1, 7, 0DH", test_cpuid_xsave);
    CU_add_test(s, "CR4 bits refused", test_cr4_refused);
    CU_add_test(s, "XSAVE state get/set", test_xsave_api);
    CU_add_test(s, "MSR policy", test_msr_policy);
    CU_add_test(s, "I/O completion", test_io_completion);
    CU_add_test(s, "port I/O handlers", test_pio_handlers);
    CU_add_test(s, "kick, HLT, shutdown, entry failure", test_kick_hlt_shutdown);
    CU_add_test(s, "event windows", test_event_windows);
    CU_add_test(s, "unhandled hypercall exit", test_hypercall_exit);
    CU_add_test(s, "allocation failure injection", test_alloc_failure);
    CU_add_test(s, "SLAT grace period", test_slat_grace);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
