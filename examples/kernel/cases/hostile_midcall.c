/*
 * Hostile writes mid-call (hostile.h): a Xen domain whose hypercalls
 * rewrite, while they run, what they are using (tests/system/guests/
 * hostile/hm_midcall.c): GNTTABOP_copy batches whose first op overwrites
 * the page-table entry of the next op (or of its own), xen_version and
 * memory_op output over the guest's PML4, PDPT and page table (including
 * the entries that map the rest of the same buffer and the call's own
 * argument structure), console_io reading into the hypercall stub that is
 * executing it, hypercalls from the overwritten and re-installed page.
 * The guest checks every return value and where each write landed; the
 * host requires its "all ok" and poweroff, the neighbour VM's canaries
 * intact and the neighbour still answering.
 *
 *   hostile.midcall
 */
#ifdef HV_XEN_GUESTS
#include "core/util.h"
#include "hostile.h"
#include "xen_harness.h"

extern const uint8_t xen_guest_hm64_start[], xen_guest_hm64_end[];
static const struct xh_image hm64 = {"hm64", xen_guest_hm64_start, xen_guest_hm64_end};

#define HM_TIMEOUT_NS (60ull * 1000000000ull)

static int case_midcall(struct kcase_ctx *kc)
{
    struct xh h;
    struct neighbour n;
    struct xh_dom_opts o;
    int rc;

    hv_memset(&n, 0, sizeof(n));
    hv_memset(&o, 0, sizeof(o));
    o.test = "midcall";
    rc = xh_init(&h, kc);
    if (!rc)
        rc = neighbour_create(kc, h.ctx, &n);
    if (!rc)
        rc = neighbour_check(kc, &n, "set-up");
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], &hm64, &o);
    if (!rc)
        rc = xh_run(&h, HM_TIMEOUT_NS);
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[0], 0, "xg: all ok");
    if (!rc)
        rc = neighbour_check(kc, &n, "hm64 midcall");
    vmt_destroy(&n.t);
    xh_fini(&h);
    return rc;
}

static const struct kcase hostile_midcall_cases[] KCASE_TABLE = {
    {"hostile.midcall", case_midcall, 0},
};
#endif /* HV_XEN_GUESTS */
