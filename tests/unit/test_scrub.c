/*
 * HV_VM_SCRUB: teardown zeroes what held guest state.
 *
 * A VM with two vCPUs (register state set), Xen enabled (shared_info and a
 * grant-table frame filled as a guest would fill them), guest RAM mapped
 * twice (an alias) and a device buffer mapped uncacheable, all holding a
 * pattern. The mock host looks at every page and object the library frees
 * (scan_free). With the flag, hv_xen_disable, hv_vcpu_destroy and
 * hv_vm_destroy give back only zeroed memory and the guest RAM is zero
 * afterwards, the device buffer untouched; without it, the freed blocks
 * and the RAM still hold the data (so each check would catch a missing
 * scrub).
 */
#include <CUnit/Basic.h>
#include <stddef.h>
#include <string.h>

#include <hv/hv.h>
#include <hv/xen.h>
#include "core/ctx_internal.h"
#include "core/objects.h"
#include "mock_backend.h"
#include "mock_host.h"
#include "vmx/ept_format.h"
#include "xen/internal.h"

#define RAM_BYTES (256u * 1024)
#define ALIAS_GPA 0x40000000ull
#define DEV_GPA   0x80000000ull
#define PATTERN   0x5Au
#define DEV_FILL  0xC3u

struct world {
    struct mock_host mh;
    struct hv_slat_format fmt;
    struct hv_backend_ops be;
    struct hv_ctx *ctx;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu[2];
    uint8_t *ram, *dev;
    uint64_t ram_hpa, dev_hpa;
};

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static void build(struct world *w, uint32_t flags)
{
    memset(w, 0, sizeof(*w));
    mock_host_init(&w->mh);
    w->mh.time = 1000000000ull;
    hv_ept_format_init(&w->fmt, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, true, false);
    mock_backend_reset(&w->fmt);
    w->be = mock_backend_ops;
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&w->mh.ops, NULL, &w->be, &w->ctx), HV_OK);
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = 2, .flags = flags};
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(w->ctx, &vc, &w->vm), HV_OK);

    w->ram = mock_guest_ram_alloc(&w->mh, RAM_BYTES, &w->ram_hpa);
    w->dev = mock_guest_ram_alloc(&w->mh, 4096, &w->dev_hpa);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w->ram);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w->dev);
    memset(w->ram, PATTERN, RAM_BYTES);
    memset(w->dev, DEV_FILL, 4096);
    CU_ASSERT_EQUAL(hv_vm_map(w->vm, 0, w->ram_hpa, RAM_BYTES, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_map(w->vm, ALIAS_GPA, w->ram_hpa, RAM_BYTES, HV_MEM_READ), HV_OK);
    CU_ASSERT_EQUAL(
        hv_vm_map(w->vm, DEV_GPA, w->dev_hpa, 4096, HV_MEM_READ | HV_MEM_WRITE | HV_MEMTYPE_UC),
        HV_OK);

    for (unsigned i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(w->vm, i, &w->vcpu[i]), HV_OK);
        struct hv_vcpu_state st;
        CU_ASSERT_EQUAL(hv_vcpu_get_state(w->vcpu[i], HV_STATE_ALL, &st), HV_OK);
        for (unsigned r = 0; r < HV_GPR_COUNT; r++)
            st.gpr[r] = 0x5ec2e7000000ull + r;
        st.rip = 0x1000;
        st.cr3 = 0x2000;
        CU_ASSERT_EQUAL(hv_vcpu_set_state(w->vcpu[i], HV_STATE_ALL & ~HV_STATE_EVENTS, &st), HV_OK);
    }

    struct hv_xen_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.tsc_khz = 2000000;
    CU_ASSERT_EQUAL_FATAL(hv_xen_enable(w->vm, &cfg), HV_OK);
    /* What a guest leaves in the pages it shares with the hypervisor. */
    memset(w->vm->xen->shinfo, PATTERN, 4096);
    memset(w->vm->xen->gnt_page[0], PATTERN, 4096);
    w->mh.scan_free = true;
}

static void finish(struct world *w)
{
    w->mh.scan_free = false;
    mock_guest_ram_free(&w->mh, w->ram);
    mock_guest_ram_free(&w->mh, w->dev);
    CU_ASSERT_EQUAL(hv_ctx_destroy(w->ctx), HV_OK);
    CU_ASSERT(mock_host_clean(&w->mh));
    mock_host_fini(&w->mh);
}

/* Freed since the last reset: how many blocks, how many still held data. */
static void reset_scan(struct world *w)
{
    w->mh.freed_scanned = w->mh.freed_scanned_bytes = 0;
    w->mh.freed_nonzero = w->mh.freed_nonzero_bytes = 0;
    w->mh.freed_nonzero_first[0] = 0;
}

static void test_scrub_on(void)
{
    struct world w;
    build(&w, HV_VM_SCRUB);

    reset_scan(&w);
    CU_ASSERT_EQUAL(hv_xen_disable(w.vm), HV_OK);
    CU_ASSERT(w.mh.freed_scanned >= 4); /* shared_info, grant frame, ports, state */
    CU_ASSERT_EQUAL(w.mh.freed_nonzero, 0);
    if (w.mh.freed_nonzero)
        fprintf(stderr, "\n  xen_disable freed %s\n", w.mh.freed_nonzero_first);

    for (unsigned i = 0; i < 2; i++) {
        reset_scan(&w);
        CU_ASSERT_EQUAL(hv_vcpu_destroy(w.vcpu[i]), HV_OK);
        CU_ASSERT(w.mh.freed_scanned >= 2); /* the vCPU and the backend's state */
        CU_ASSERT_EQUAL(w.mh.freed_nonzero, 0);
        if (w.mh.freed_nonzero)
            fprintf(stderr, "\n  vcpu_destroy freed %s\n", w.mh.freed_nonzero_first);
    }

    reset_scan(&w);
    uint64_t table_pages = hv_slat_table_pages(&w.vm->slat);
    CU_ASSERT(table_pages >= 4);
    CU_ASSERT_EQUAL(hv_vm_destroy(w.vm), HV_OK);
    /* Every SLAT table page, the backend's page, the VM objects. */
    CU_ASSERT(w.mh.freed_scanned >= table_pages + 3);
    CU_ASSERT(w.mh.freed_scanned_bytes >= table_pages * 4096);
    CU_ASSERT_EQUAL(w.mh.freed_nonzero, 0);
    if (w.mh.freed_nonzero)
        fprintf(stderr, "\n  vm_destroy freed %s\n", w.mh.freed_nonzero_first);
    CU_ASSERT(all(w.ram, RAM_BYTES, 0));
    CU_ASSERT(all(w.dev, 4096, DEV_FILL)); /* device memory is not written */
    CU_ASSERT_EQUAL(w.ctx->host.scrub, 0);
    finish(&w);
}

static void test_scrub_off(void)
{
    struct world w;
    build(&w, 0);

    reset_scan(&w);
    CU_ASSERT_EQUAL(hv_xen_disable(w.vm), HV_OK);
    CU_ASSERT(w.mh.freed_nonzero >= 2); /* shared_info and the grant frame */
    CU_ASSERT(w.mh.freed_nonzero_bytes >= 2 * 4096);

    for (unsigned i = 0; i < 2; i++) {
        reset_scan(&w);
        CU_ASSERT_EQUAL(hv_vcpu_destroy(w.vcpu[i]), HV_OK);
        CU_ASSERT(w.mh.freed_nonzero >= 1); /* the register state */
    }

    reset_scan(&w);
    uint64_t table_pages = hv_slat_table_pages(&w.vm->slat);
    CU_ASSERT_EQUAL(hv_vm_destroy(w.vm), HV_OK);
    CU_ASSERT(w.mh.freed_nonzero >= table_pages); /* the tables' entries */
    CU_ASSERT(all(w.ram, RAM_BYTES, PATTERN));
    CU_ASSERT(all(w.dev, 4096, DEV_FILL));
    finish(&w);
}

/* A scrubbing teardown leaves no scrub window open for the next VM. */
static void test_scrub_window_closes(void)
{
    struct world w;
    build(&w, HV_VM_SCRUB);
    struct hv_vm *plain;
    struct hv_vm_config vc = {.size = sizeof(vc)};
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(w.ctx, &vc, &plain), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_map(plain, 0, w.ram_hpa, RAM_BYTES, HV_MEM_RWX), HV_OK);
    for (unsigned i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(hv_vcpu_destroy(w.vcpu[i]), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_destroy(w.vm), HV_OK); /* disables Xen too */
    CU_ASSERT_EQUAL(w.ctx->host.scrub, 0);
    CU_ASSERT(all(w.ram, RAM_BYTES, 0));

    memset(w.ram, PATTERN, RAM_BYTES);
    reset_scan(&w);
    CU_ASSERT_EQUAL(hv_vm_destroy(plain), HV_OK);
    CU_ASSERT(w.mh.freed_nonzero >= 1);
    CU_ASSERT(all(w.ram, RAM_BYTES, PATTERN));
    finish(&w);
}

/* The flags field: unknown bits refused; an older caller's smaller struct means none. */
static void test_scrub_config(void)
{
    struct world w;
    memset(&w, 0, sizeof(w));
    mock_host_init(&w.mh);
    hv_ept_format_init(&w.fmt, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, true, false);
    mock_backend_reset(&w.fmt);
    w.be = mock_backend_ops;
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&w.mh.ops, NULL, &w.be, &w.ctx), HV_OK);
    struct hv_vm *vm = NULL;
    struct hv_vm_config vc = {.size = sizeof(vc), .flags = 0x2};
    CU_ASSERT_EQUAL(hv_vm_create(w.ctx, &vc, &vm), HV_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(vm);
    vc.flags = 0x80000000u | HV_VM_SCRUB;
    CU_ASSERT_EQUAL(hv_vm_create(w.ctx, &vc, &vm), HV_ERR_INVALID_ARG);
    /* Size up to max_vcpus: the bytes after it are not read. */
    vc.size = offsetof(struct hv_vm_config, flags);
    vc.flags = 0xffffffffu;
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(w.ctx, &vc, &vm), HV_OK);
    CU_ASSERT_EQUAL(vm->flags, 0);
    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    vc.size = sizeof(vc);
    vc.flags = HV_VM_SCRUB;
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(w.ctx, &vc, &vm), HV_OK);
    CU_ASSERT_EQUAL(vm->flags, HV_VM_SCRUB);
    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    CU_ASSERT_EQUAL(hv_ctx_destroy(w.ctx), HV_OK);
    CU_ASSERT(mock_host_clean(&w.mh));
    mock_host_fini(&w.mh);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("scrub", NULL, NULL);
    CU_add_test(s, "teardown zeroes what it frees and the guest RAM", test_scrub_on);
    CU_add_test(s, "without the flag nothing is zeroed", test_scrub_off);
    CU_add_test(s, "the scrub window closes with the teardown", test_scrub_window_closes);
    CU_add_test(s, "flags: unknown bits, older struct size", test_scrub_config);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
