/*
 * The VMX host-state updates (backends/vmx/vmx_host.h) on a fake VMCS:
 * vmx_host_field / vmx_host_sel with VMX_HOST_WRITE redirected to an
 * array. Checked: with `all` (a new VMCS, after VMCLEAR) every field is
 * written and the copy filled; a value equal to the copy writes nothing;
 * a changed value is written once and remembered; selectors reach the
 * VMCS with RPL and TI clear while the copy keeps them as read (an RPL
 * change alone is written too); a failed VMWRITE clears the copy's
 * validity; MSR values compared by halves (a change in either is
 * written, joined); the TR base from the TSS descriptor's base bits (each
 * base byte decoded, the busy bit ignored). The reads of the host's registers themselves are
 * privileged and run only in the system tests (vm.host_state).
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "vmx/vmx_arch.h"

static uint64_t vmcs[0x8000];
static unsigned vmcs_writes;
static int fail_writes; /* VMfailValid for every write while set */

static int fake_write(uint32_t field, uint64_t value)
{
    if (fail_writes)
        return 2;
    vmcs[field & 0x7fff] = value;
    vmcs_writes++;
    return 0;
}

#define VMX_HOST_WRITE(f, v) fake_write(f, v)
#include "vmx/vmx_host.h"

static struct vmx_vcpu vv;

/* One "entry" with these host values, as vmx_vmcs_host_state does. */
static void sync(uint64_t cr3, uint64_t fs_base, uint16_t ds)
{
    bool all = !vv.host_valid;
    vv.host_valid = true;
    vmx_host_field(&vv.host.cr3, VMCS_HOST_CR3, cr3, all, &vv.host_valid);
    vmx_host_msr(vv.host.fs_base, VMCS_HOST_FS_BASE, (uint32_t)fs_base, (uint32_t)(fs_base >> 32),
                 all, &vv.host_valid);
    vmx_host_sel(&vv.host.ds, VMCS_HOST_DS_SEL, ds, all, &vv.host_valid);
}

static void reset(void)
{
    memset(vmcs, 0, sizeof(vmcs));
    memset(&vv, 0, sizeof(vv));
    vmcs_writes = 0;
    fail_writes = 0;
}

static void test_first_entry(void)
{
    reset();
    /* The copy happens to hold the host's values already (a stale copy of
       a recycled allocation): without `all` nothing would be written. */
    vv.host.cr3 = 0x1000;
    vv.host.fs_base[0] = vv.host.fs_base[1] = 0;
    vv.host.ds = 0x10;
    sync(0x1000, 0, 0x10);
    CU_ASSERT_EQUAL(vmcs_writes, 3);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_CR3], 0x1000);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_FS_BASE], 0);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_DS_SEL], 0x10);
    CU_ASSERT(vv.host_valid);
}

static void test_unchanged_and_changed(void)
{
    reset();
    sync(0x1000, 0x7000, 0x10);
    vmcs_writes = 0;
    sync(0x1000, 0x7000, 0x10);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    /* The host switched address space and thread. */
    sync(0x2000, 0x9000, 0x10);
    CU_ASSERT_EQUAL(vmcs_writes, 2);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_CR3], 0x2000);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_FS_BASE], 0x9000);
    CU_ASSERT_EQUAL(vv.host.cr3, 0x2000);
    CU_ASSERT_EQUAL(vv.host.fs_base[0], 0x9000);
    vmcs_writes = 0;
    sync(0x2000, 0x9000, 0x10);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    /* Back to the first values: written again. */
    sync(0x1000, 0x7000, 0x10);
    CU_ASSERT_EQUAL(vmcs_writes, 2);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_CR3], 0x1000);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_FS_BASE], 0x7000);
}

static void test_selector(void)
{
    reset();
    sync(0x1000, 0, 0x2b); /* RPL 3 */
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_DS_SEL], 0x28);
    CU_ASSERT_EQUAL(vv.host.ds, 0x2b);
    vmcs_writes = 0;
    sync(0x1000, 0, 0x2b);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    sync(0x1000, 0, 0x28); /* only the RPL changed: the VMCS value is the same */
    CU_ASSERT_EQUAL(vmcs_writes, 1);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_DS_SEL], 0x28);
    CU_ASSERT_EQUAL(vv.host.ds, 0x28);
    sync(0x1000, 0, 0x34); /* TI set: cleared for the VMCS */
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_DS_SEL], 0x30);
}

static void test_failed_write(void)
{
    reset();
    sync(0x1000, 0x7000, 0x10);
    fail_writes = 1;
    sync(0x2000, 0x7000, 0x10);
    CU_ASSERT(!vv.host_valid);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_CR3], 0x1000);
    /* The next entry writes every field, CR3 included. */
    fail_writes = 0;
    vmcs_writes = 0;
    sync(0x2000, 0x7000, 0x10);
    CU_ASSERT_EQUAL(vmcs_writes, 3);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_CR3], 0x2000);
    CU_ASSERT(vv.host_valid);
}

/* MSR-valued fields: EDX:EAX compared as halves, written joined. */
static void test_msr(void)
{
    reset();
    vv.host_valid = true;
    vmx_host_msr(vv.host.efer, VMCS_HOST_EFER, 0xd01, 0, true, &vv.host_valid);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_EFER], 0xd01);
    vmcs_writes = 0;
    vmx_host_msr(vv.host.efer, VMCS_HOST_EFER, 0xd01, 0, false, &vv.host_valid);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    /* Only the high half changes. */
    vmx_host_msr(vv.host.efer, VMCS_HOST_EFER, 0xd01, 0xffff8000u, false, &vv.host_valid);
    CU_ASSERT_EQUAL(vmcs_writes, 1);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_EFER], 0xffff800000000d01ull);
    /* Only the low half changes. */
    vmx_host_msr(vv.host.efer, VMCS_HOST_EFER, 0x501, 0xffff8000u, false, &vv.host_valid);
    CU_ASSERT_EQUAL(vmcs_writes, 2);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_EFER], 0xffff800000000501ull);
    CU_ASSERT(vv.host_valid);
}

/* A 64-bit TSS descriptor (SDM Vol. 3A 7.2.3) for @p base, limit 0x67,
   available (type 9) or busy (type 11). */
static void tss_desc(uint64_t base, bool busy, uint64_t *lo, uint32_t *hi)
{
    *lo = 0x67 | ((base & 0xffffff) << 16) | ((uint64_t)(busy ? 0x8b : 0x89) << 40) |
          (((base >> 24) & 0xff) << 56);
    *hi = (uint32_t)(base >> 32);
}

static void test_tss(void)
{
    uint64_t lo;
    uint32_t hi;

    reset();
    vv.host_valid = true;
    tss_desc(0xffff8000123456a0ull, false, &lo, &hi);
    vmx_host_tss(&vv.host, lo, hi, true, &vv.host_valid);
    CU_ASSERT_EQUAL(vmcs[VMCS_HOST_TR_BASE], 0xffff8000123456a0ull);
    vmcs_writes = 0;
    /* The busy bit flips when the host loads TR: not a base change. */
    tss_desc(0xffff8000123456a0ull, true, &lo, &hi);
    vmx_host_tss(&vv.host, lo, hi, false, &vv.host_valid);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    /* Each base byte: bits 23:0, 31:24, 63:32 of the base. */
    static const uint64_t bases[] = {0xffff8000123456b0ull, 0xffff8000ab3456b0ull,
                                     0xffff8001ab3456b0ull, 0xb0ull};
    for (unsigned i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        tss_desc(bases[i], true, &lo, &hi);
        vmx_host_tss(&vv.host, lo, hi, false, &vv.host_valid);
        CU_ASSERT_EQUAL(vmcs_writes, i + 1);
        CU_ASSERT_EQUAL(vmcs[VMCS_HOST_TR_BASE], bases[i]);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("vmx_host", NULL, NULL);
    CU_add_test(s, "first_entry", test_first_entry);
    CU_add_test(s, "unchanged_and_changed", test_unchanged_and_changed);
    CU_add_test(s, "selector", test_selector);
    CU_add_test(s, "failed_write", test_failed_write);
    CU_add_test(s, "msr", test_msr);
    CU_add_test(s, "tss", test_tss);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
