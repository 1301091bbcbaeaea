/*
 * Hostile Xen guests next to a neighbour VM (hostile.h): the Xen test
 * guest's groups that abuse the hypercall ABI (arguments at the read-only
 * page, the hole, past the end of memory and in MMIO; hypercalls from ring
 * 3; the hypercall page MSR pointed at bad pages; grant and event-channel
 * misuse; vCPU and memory ops on foreign or absent objects) run in a Xen
 * domain while a plain VM of the same context holds canaries. After each
 * group the guest must report its checks passed and the neighbour's
 * canaries must be intact and it must still run.
 *
 *   hostile.xen_abuse   groups abi, memory, grant, evtchn, vcpu (ELF64) and
 *                       abi, grant (ELF32, the i386 ABI)
 */
#ifdef HV_XEN_GUESTS
#include "core/util.h"
#include "hostile.h"
#include "xen_harness.h"

#define HOSTILE_XEN_IMAGE(n)                                                                       \
    extern const uint8_t xen_guest_##n##_start[], xen_guest_##n##_end[];                           \
    static const struct xh_image hx_##n = {#n, xen_guest_##n##_start, xen_guest_##n##_end}

HOSTILE_XEN_IMAGE(xg64);
HOSTILE_XEN_IMAGE(xg32);

#define HX_TIMEOUT_NS (60ull * 1000000000ull)

static int abuse_group(struct kcase_ctx *kc, const struct xh_image *img, const char *group)
{
    struct xh h;
    struct neighbour n;
    struct xh_dom_opts o;
    char what[48];
    int rc;

    hv_memset(&n, 0, sizeof(n));
    hv_memset(&o, 0, sizeof(o));
    o.test = group;
    rc = xh_init(&h, kc);
    if (!rc)
        rc = neighbour_create(kc, h.ctx, &n);
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], img, &o);
    if (!rc)
        rc = xh_run(&h, HX_TIMEOUT_NS);
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[0], 0, "xg: all ok");
    hv_snprintf(what, sizeof(what), "%s test=%s", img->name, group);
    if (!rc)
        rc = neighbour_check(kc, &n, what);
    vmt_destroy(&n.t);
    xh_fini(&h);
    return rc;
}

static int case_xen_abuse(struct kcase_ctx *kc)
{
    static const char *const groups64[] = {"abi", "memory", "grant", "evtchn", "vcpu"};
    static const char *const groups32[] = {"abi", "grant"};
    int rc = 0;
    for (unsigned i = 0; i < sizeof(groups64) / sizeof(groups64[0]) && !rc; i++)
        rc = abuse_group(kc, &hx_xg64, groups64[i]);
    for (unsigned i = 0; i < sizeof(groups32) / sizeof(groups32[0]) && !rc; i++)
        rc = abuse_group(kc, &hx_xg32, groups32[i]);
    return rc;
}

static const struct kcase hostile_xen_cases[] KCASE_TABLE = {
    {"hostile.xen_abuse", case_xen_abuse, 0},
};
#endif /* HV_XEN_GUESTS */
