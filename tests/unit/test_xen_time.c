/*
 * The secondary pvclock (VCPUOP_register_vcpu_time_memory_area) and
 * XEN_PVCLOCK_TSC_STABLE_BIT (HV_XEN_F_TSC_STABLE): registration by a vCPU
 * for itself and for another, the copy equal to the primary after each
 * update, a null address, addresses that do not translate, the i386
 * caller's pointer, and when the stable bit is (not) promised.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "xen/internal.h"
#include "xen_fixture.h"

#define TIME_AREA 13
#define TI_SIZE   32
#define VI_TIME   32 /* vcpu_info.time */
#define E_NOENT   (-2)
#define E_FAULT   (-14)

/* Register @p id's area at @p gva on @p vcpu (argument at XF_BUF2). */
static long reg_on(struct xf *f, struct hv_vcpu *vcpu, uint32_t id, uint64_t gva)
{
    memcpy(xf_gpa(f, XF_BUF2), &gva, 8);
    return xf_call_on(f, vcpu, HC_VCPU_OP, TIME_AREA, id, XF_BUF2);
}

/* vcpu_time_info of vCPU @p id in shared_info (slot id). */
static const uint8_t *primary(struct xf *f, uint32_t id)
{
    return (const uint8_t *)f->vm->xen->shinfo + 64 * id + VI_TIME;
}

static uint32_t ver_of(const uint8_t *ti)
{
    uint32_t v;
    memcpy(&v, ti, 4);
    return v;
}

/* A second of TSC passes for the vCPU's pvclock (the host TSC is real
   here: the last update's stamp moves back a second). */
static void age_pvclock(struct xf *f, uint32_t id)
{
    struct hv_xen_vm *x = f->vm->xen;
    x->vcpus[id].time_stamp_tsc -= x->resync_tsc;
    x->vcpus[id].settled_until = 0;
}

/* A vCPU's own area: written before it resumes, equal to the primary
   (version included), again after each refresh; a null address stops it. */
static void test_register_self(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    uint8_t *area = xf_gpa(&f, XF_ALIAS_GPA + 0x100);
    memset(area, 0xaa, TI_SIZE);
    CU_ASSERT_EQUAL(reg_on(&f, f.vcpu, 0, XF_ALIAS_GVA + 0x100), 0); /* through the paging */
    CU_ASSERT_EQUAL(f.vm->xen->vcpus[0].ti_area, XF_ALIAS_GVA + 0x100);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(memcmp(area, primary(&f, 0), TI_SIZE), 0);
    CU_ASSERT_EQUAL(ver_of(area) & 1, 0);
    CU_ASSERT(ver_of(area) >= 2);
    uint32_t mul;
    memcpy(&mul, area + 24, 4);
    CU_ASSERT_EQUAL(mul, 0x80000000u);
    CU_ASSERT_EQUAL(area[29], 0); /* no HV_XEN_F_TSC_STABLE: no stable bit */
    struct hv_xen_vcpu_status st;
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.time_area, XF_ALIAS_GVA + 0x100);

    /* A refresh a second later: both copies move on together. */
    uint32_t v0 = ver_of(area);
    f.mh.time += 1000000000ull;
    age_pvclock(&f, 0);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(ver_of(primary(&f, 0)), v0 + 2);
    CU_ASSERT_EQUAL(memcmp(area, primary(&f, 0), TI_SIZE), 0);
    uint64_t sys;
    memcpy(&sys, area + 16, 8);
    CU_ASSERT_EQUAL(sys, 1000000000ull);

    /* Off: the next refresh leaves the area alone. */
    CU_ASSERT_EQUAL(reg_on(&f, f.vcpu, 0, 0), 0);
    f.mh.time += 1000000000ull;
    age_pvclock(&f, 0);
    xf_enter(&f, f.vcpu);
    CU_ASSERT(ver_of(primary(&f, 0)) > v0 + 2); /* refreshed */
    CU_ASSERT_EQUAL(ver_of(area), v0 + 2);
    CU_ASSERT_EQUAL(hv_xen_vcpu_status(f.vcpu, &st), HV_OK);
    CU_ASSERT_EQUAL(st.time_area, 0);
    xf_teardown(&f);
}

/* vCPU 0 registers vCPU 1's area: written by vCPU 1's own entry (its
   paging), with vCPU 1's pvclock; ids not created are -ENOENT. */
static void test_register_other(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .max_vcpus = 3});
    xf_enter(&f, f.vcpu1);
    uint8_t *area = xf_gpa(&f, XF_BUF + 0x300);
    memset(area, 0, TI_SIZE);
    CU_ASSERT_EQUAL(reg_on(&f, f.vcpu, 1, XF_BUF + 0x300), 0);
    CU_ASSERT_EQUAL(ver_of(area), 0); /* not by the caller */
    xf_enter(&f, f.vcpu1);
    CU_ASSERT(ver_of(area) >= 2);
    CU_ASSERT_EQUAL(memcmp(area, primary(&f, 1), TI_SIZE), 0);
    CU_ASSERT_EQUAL(reg_on(&f, f.vcpu, 2, XF_BUF + 0x400), E_NOENT); /* never created */
    CU_ASSERT_EQUAL(reg_on(&f, f.vcpu, 3, XF_BUF + 0x400), E_NOENT); /* beyond max_vcpus */
    xf_teardown(&f);
}

/* The argument itself unreadable: -EFAULT. An area that does not
   translate to writable RAM (a hole, a read-only page, the second half in
   a hole) is accepted and never written, not even in part; a good one
   registered later is written whole. */
static void test_bad_areas(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, TIME_AREA, 0, XF_HOLE, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(f.vm->xen->vcpus[0].ti_area, 0);
    const uint64_t bad[] = {XF_HOLE, XF_RO_PAGE + 0x100, XF_HOLE - 16};
    uint8_t *before = xf_gpa(&f, XF_HOLE - 16), *ro = xf_gpa(&f, XF_RO_PAGE + 0x100);
    memset(before, 0x5a, 16);
    memset(ro, 0x5a, TI_SIZE);
    for (unsigned i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(reg_on(&f, f.vcpu, 0, bad[i]), 0);
        xf_enter(&f, f.vcpu);
    }
    for (unsigned i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(before[i], 0x5a);
    for (unsigned i = 0; i < TI_SIZE; i++)
        CU_ASSERT_EQUAL(ro[i], 0x5a);
    /* A good area across a page boundary, registered afterwards. */
    uint8_t *good = xf_gpa(&f, XF_BUF + 0x1000 - 12);
    memset(good, 0, TI_SIZE);
    CU_ASSERT_EQUAL(reg_on(&f, f.vcpu, 0, XF_BUF + 0x1000 - 12), 0);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(memcmp(good, primary(&f, 0), TI_SIZE), 0);
    xf_teardown(&f);
}

/* An i386 caller's pointer is the low half of the union (the high half is
   whatever its stack held, and is not read); the structure has one layout. */
static void test_compat(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.compat = true});
    uint8_t *area = xf_gpa(&f, XF_BUF + 0x200);
    memset(area, 0, TI_SIZE);
    uint64_t arg = 0xdeadbeef00000000ull | (XF_BUF + 0x200);
    memcpy(xf_gpa(&f, XF_BUF2), &arg, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, TIME_AREA, 0, XF_BUF2, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.vm->xen->vcpus[0].ti_area, XF_BUF + 0x200);
    xf_enter(&f, f.vcpu);
    CU_ASSERT(ver_of(area) >= 2);
    CU_ASSERT_EQUAL(memcmp(area, primary(&f, 0), TI_SIZE), 0);
    /* Only the 4-byte handle is read: one right before a hole will do. */
    uint32_t h = XF_BUF + 0x280;
    memcpy(xf_gpa(&f, XF_HOLE - 4), &h, 4);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, TIME_AREA, 0, XF_HOLE - 4, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.vm->xen->vcpus[0].ti_area, XF_BUF + 0x280);
    xf_teardown(&f);
}

/* HV_XEN_F_TSC_STABLE: every vCPU publishes the same line of the TSC
   (stamp = TSC at enable + its offset, system time 0) with the stable bit,
   in both copies, and refreshes do not move it; a vCPU whose TSC offset
   differs from the first one seen loses the bit. Guest time is that line. */
static void test_tsc_stable(void)
{
    struct xf f;
    struct xf_opts o = {.two_vcpus = true};
    o.cfg.flags = HV_XEN_F_TSC_STABLE;
    xf_setup(&f, &o);
    struct hv_xen_vm *x = f.vm->xen;
    CU_ASSERT(x->tsc_stable);
    uint8_t *area = xf_gpa(&f, XF_BUF + 0x200);
    CU_ASSERT_EQUAL(reg_on(&f, f.vcpu, 0, XF_BUF + 0x200), 0);
    xf_enter(&f, f.vcpu);
    xf_enter(&f, f.vcpu1);
    for (uint32_t id = 0; id < 2; id++) {
        const uint8_t *ti = primary(&f, id);
        uint64_t stamp, sys;
        memcpy(&stamp, ti + 8, 8);
        memcpy(&sys, ti + 16, 8);
        CU_ASSERT_EQUAL(stamp, x->tsc_base);
        CU_ASSERT_EQUAL(sys, 0);
        CU_ASSERT_EQUAL(ti[29], XEN_PVCLOCK_TSC_STABLE_BIT);
    }
    CU_ASSERT_EQUAL(memcmp(area, primary(&f, 0), TI_SIZE), 0);
    uint32_t v0 = ver_of(area);
    f.mh.time += 1000000000ull; /* the host clock is not the line */
    age_pvclock(&f, 0);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(ver_of(area), v0 + 2);
    CU_ASSERT_EQUAL(memcmp(area, primary(&f, 0), TI_SIZE), 0);
    uint64_t sys;
    memcpy(&sys, area + 16, 8);
    CU_ASSERT_EQUAL(sys, 0);
    /* xen_now() is the line: between two reads of it around one TSC read. */
    uint64_t a = xen_now(x);
    uint64_t mid = xen_tsc_to_ns(x, hv_rdtsc() - x->tsc_base);
    uint64_t b = xen_now(x);
    CU_ASSERT(a <= mid && mid <= b);

    /* vCPU 1's TSC moves: its pvclock follows, without the bit. */
    struct hv_vcpu_state st = {0};
    st.tsc_offset = 1000;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(f.vcpu1, HV_STATE_TSC, &st), HV_OK);
    age_pvclock(&f, 1);
    xf_enter(&f, f.vcpu1);
    uint64_t stamp;
    memcpy(&stamp, primary(&f, 1) + 8, 8);
    CU_ASSERT_EQUAL(stamp, x->tsc_base + 1000);
    CU_ASSERT_EQUAL(primary(&f, 1)[29], 0);
    CU_ASSERT_EQUAL(primary(&f, 0)[29], XEN_PVCLOCK_TSC_STABLE_BIT);
    xf_teardown(&f);
}

/* The guest's scale, exactly, for deltas beyond 32 bits too. */
static void test_scale(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    struct hv_xen_vm *x = f.vm->xen;
    CU_ASSERT_EQUAL(xen_tsc_to_ns(x, 2000), 1000);
    CU_ASSERT_EQUAL(xen_tsc_to_ns(x, 1ull << 40), 1ull << 39);
    CU_ASSERT_EQUAL(xen_tsc_to_ns(x, 3), 1);
    x->tsc_mul = 0xffffffffu; /* ns = delta * (2^32 - 1) / 2^32 */
    CU_ASSERT_EQUAL(xen_tsc_to_ns(x, 1ull << 40), (1ull << 40) - (1ull << 8));
    x->tsc_shift = -1;
    CU_ASSERT_EQUAL(xen_tsc_to_ns(x, 1ull << 41), (1ull << 40) - (1ull << 8));
    xf_teardown(&f);
}

void xen_suite_time(void)
{
    CU_pSuite s = CU_add_suite("xen_time", NULL, NULL);
    CU_add_test(s, "register_self", test_register_self);
    CU_add_test(s, "register_other", test_register_other);
    CU_add_test(s, "bad_areas", test_bad_areas);
    CU_add_test(s, "compat", test_compat);
    CU_add_test(s, "tsc_stable", test_tsc_stable);
    CU_add_test(s, "scale", test_scale);
}
