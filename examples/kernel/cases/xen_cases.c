/*
 * System-test cases of libhv's Xen layer (xen.*) and the PVH demo
 * (demo.pvh). The guests come from tests/system/guests/xen: the test guest
 * built as ELF32 (i386 ABI), as ELF64 (x86-64 ABI) and as gzip-compressed
 * ELF64, and the assembly demo guest. Each xen.<group> case boots the
 * ELF64 and the ELF32 image with test=<group>; the guest checks every
 * result against Xen's documented values and reports through console_io,
 * then powers off (or crashes on a failure) through SCHEDOP_shutdown.
 */
#ifdef HV_XEN_GUESTS
#include "xen_harness.h"

#include "core/util.h"
#include "xg_layout.h"

#define XEN_IMAGE(n)                                                                               \
    extern const uint8_t xen_guest_##n##_start[], xen_guest_##n##_end[];                           \
    static const struct xh_image img_##n = {#n, xen_guest_##n##_start, xen_guest_##n##_end}

XEN_IMAGE(xg32);
XEN_IMAGE(xg64);
XEN_IMAGE(xg64gz);
XEN_IMAGE(hello);

#define TIMEOUT_NS        (60ull * 1000000000ull)
#define SHUTDOWN_POWEROFF 0
#define SHUTDOWN_REBOOT   1

/* Optional host-side step after the run, before teardown. */
typedef int (*after_fn)(struct xh *h, struct xh_dom *d);

static int run_opts(struct kcase_ctx *kc, const struct xh_image *img, struct xh_dom_opts o,
                    uint32_t reason, const char *marker, after_fn after)
{
    struct xh h;
    int rc = xh_init(&h, kc);
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], img, &o);
    if (!rc)
        rc = xh_run(&h, TIMEOUT_NS);
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[0], reason, marker);
    if (!rc && after)
        rc = after(&h, &h.doms[0]);
    xh_fini(&h);
    return rc;
}

static int run_one(struct kcase_ctx *kc, const struct xh_image *img, const char *test,
                   uint32_t reason, const char *marker, after_fn after)
{
    return run_opts(kc, img, (struct xh_dom_opts){.test = test}, reason, marker, after);
}

/* A test group on both the ELF64 and the ELF32 image. */
static int group(struct kcase_ctx *kc, const char *test, after_fn after)
{
    int rc = run_one(kc, &img_xg64, test, SHUTDOWN_POWEROFF, "xg: all ok", after);
    if (!rc)
        rc = run_one(kc, &img_xg32, test, SHUTDOWN_POWEROFF, "xg: all ok", after);
    return rc;
}

static int case_abi(struct kcase_ctx *kc)
{
    return group(kc, "abi", NULL);
}

static int case_version(struct kcase_ctx *kc)
{
    return group(kc, "version", NULL);
}

/* The host sees the guest's console_io text, control characters dropped. */
static int console_after(struct xh *h, struct xh_dom *d)
{
    if (!xh_contains(d->con, "xg: console write filtered\n"))
        return kcase_fail(h->kc, "%s: console_io text not as written", d->label);
    return 0;
}

static int case_console(struct kcase_ctx *kc)
{
    return group(kc, "console", console_after);
}

static int case_sched(struct kcase_ctx *kc)
{
    return group(kc, "sched", NULL);
}

/* Timers fired while the guest was blocked: the host saw HLT exits. */
static int timer_after(struct xh *h, struct xh_dom *d)
{
    if (d->hlts < 3)
        return kcase_fail(h->kc, "%s: only %u HLT exits: the guest never slept", d->label, d->hlts);
    return 0;
}

static int case_timer(struct kcase_ctx *kc)
{
    return group(kc, "timer", timer_after);
}

static int case_memory(struct kcase_ctx *kc)
{
    return group(kc, "memory", NULL);
}

static int case_hvm(struct kcase_ctx *kc)
{
    return group(kc, "hvm", NULL);
}

static int case_evtchn(struct kcase_ctx *kc)
{
    return group(kc, "evtchn", NULL);
}

static int case_upcall(struct kcase_ctx *kc)
{
    return group(kc, "upcall", NULL);
}

/* The same with libhv's local APIC in the VM: an upcall then waits its
   turn behind the APIC's interrupts in the run loop's delivery instead of
   going straight in, also when the exit fast path raised it. */
static int case_upcall_lapic(struct kcase_ctx *kc)
{
    struct xh_dom_opts o = {.test = "upcall", .lapic = true};
    int rc = run_opts(kc, &img_xg64, o, SHUTDOWN_POWEROFF, "xg: all ok", NULL);
    return rc ? rc : run_opts(kc, &img_xg32, o, SHUTDOWN_POWEROFF, "xg: all ok", NULL);
}

/* The guest blocked on its timer at least once (HLT exits to the host). */
static int runstate_after(struct xh *h, struct xh_dom *d)
{
    if (d->hlts < 1)
        return kcase_fail(h->kc, "%s: no HLT exit: the guest never blocked", d->label);
    return 0;
}

static int case_runstate(struct kcase_ctx *kc)
{
    return group(kc, "runstate", runstate_after);
}

/* The second pvclock, with the stable bit the harness vouches for; the
   guest ends its updates, as the host's status shows. */
static int timearea_after(struct xh *h, struct xh_dom *d)
{
    struct hv_xen_vcpu_status st;
    if (hv_xen_vcpu_status(d->vcpu, &st) != HV_OK || st.time_area)
        return kcase_fail(h->kc, "%s: the time area is still registered", d->label);
    return 0;
}

static int case_timearea(struct kcase_ctx *kc)
{
    struct xh_dom_opts o = {.test = "timearea", .tsc_stable = true};
    int rc = run_opts(kc, &img_xg64, o, SHUTDOWN_POWEROFF, "xg: all ok", timearea_after);
    if (!rc)
        rc = run_opts(kc, &img_xg32, o, SHUTDOWN_POWEROFF, "xg: all ok", timearea_after);
    return rc;
}

static int case_grant(struct kcase_ctx *kc)
{
    return group(kc, "grant", NULL);
}

static int case_vcpu(struct kcase_ctx *kc)
{
    return group(kc, "vcpu", NULL);
}

/* The compressed image: every group in one boot. */
static int gzip_after(struct xh *h, struct xh_dom *d)
{
    if (!d->info.compressed || d->info.elf_class != 64)
        return kcase_fail(h->kc, "load info: compressed %u class %u", d->info.compressed,
                          d->info.elf_class);
    return 0;
}

static int case_gzip(struct kcase_ctx *kc)
{
    return run_one(kc, &img_xg64gz, "all", SHUTDOWN_POWEROFF, "xg: all ok", gzip_after);
}

/* SCHEDOP_shutdown_code latches the reason the plain shutdown reports. */
static int case_shutdown_code(struct kcase_ctx *kc)
{
    int rc = run_one(kc, &img_xg64, "reboot", SHUTDOWN_REBOOT, "after shutdown_code", NULL);
    if (!rc)
        rc = run_one(kc, &img_xg32, "reboot", SHUTDOWN_REBOOT, "after shutdown_code", NULL);
    return rc;
}

/* ---- two guests: a split driver over grant copies and event channels ---- */

static int split(struct kcase_ctx *kc, const struct xh_image *front, const struct xh_image *back)
{
    struct xh h;
    int rc = xh_init(&h, kc);
    /* The back end starts first and waits for the front end's grant. */
    struct xh_dom_opts bo = {.test = "back", .domid = 6, .peer = 5, .hub = true};
    struct xh_dom_opts fo = {.test = "front", .domid = 5, .peer = 6, .hub = true};
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], back, &bo);
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[1], front, &fo);
    if (!rc)
        rc = xh_run(&h, TIMEOUT_NS);
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[1], SHUTDOWN_POWEROFF, "answered by the back end");
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[0], SHUTDOWN_POWEROFF, "back end: 8 requests served");
    xh_fini(&h);
    return rc;
}

static int case_split(struct kcase_ctx *kc)
{
    /* Mixed ABIs: a 64-bit front end with a 32-bit back end, and back. */
    int rc = split(kc, &img_xg64, &img_xg32);
    if (!rc)
        rc = split(kc, &img_xg32, &img_xg64);
    return rc;
}

/* ---- the host as the back end: grant mappings and host ports ---- */

struct host_be {
    bool bound, quit;
    uint32_t host_port, cons, notified;
    struct hv_xen_grant_mapping ring;
    unsigned served;
};

static volatile uint32_t *ring32(struct host_be *be, unsigned off)
{
    return (volatile uint32_t *)((uint8_t *)be->ring.hva + off);
}

static int host_be_connect(struct xh *h, struct xh_dom *d, struct host_be *be)
{
    hv_status_t st = hv_xen_grant_map(d->vm, XG_RING_GREF, 0, &be->ring);
    if (st == HV_ERR_GUEST_FAULT)
        return 0; /* not granted yet */
    if (st != HV_OK)
        return kcase_fail(h->kc, "hv_xen_grant_map(ring): %s", hv_status_str(st));
    if (*ring32(be, XG_RING_OFF_MAGIC) != XG_RING_MAGIC) {
        hv_xen_grant_unmap(d->vm, be->ring.handle);
        return 0;
    }
    /* The data page is granted read-only; references past the table do not exist. */
    struct hv_xen_grant_mapping m;
    if ((st = hv_xen_grant_map(d->vm, XG_DATA_GREF, 0, &m)) != HV_ERR_GUEST_FAULT)
        return kcase_fail(h->kc, "writable map of a read-only grant: %s", hv_status_str(st));
    if ((st = hv_xen_grant_map(d->vm, 100000, 0, &m)) != HV_ERR_NOT_FOUND)
        return kcase_fail(h->kc, "map of grant 100000: %s", hv_status_str(st));
    uint32_t port = *ring32(be, XG_RING_OFF_PORT);
    if ((st = hv_xen_evtchn_bind(d->vm, port, &be->host_port)) != HV_OK)
        return kcase_fail(h->kc, "hv_xen_evtchn_bind(%u): %s", port, hv_status_str(st));
    be->bound = true;
    return 0;
}

static int host_be_exit(struct xh *h, struct xh_dom *d)
{
    struct host_be *be = h->arg;
    hv_status_t st;
    if (be->quit)
        return 0;
    if (!be->bound && host_be_connect(h, d, be))
        return -1;
    if (!be->bound)
        return 0;
    bool pend = false;
    hv_xen_evtchn_pending(d->vm, be->host_port, &pend, NULL);
    be->notified += pend;
    uint32_t prod = *ring32(be, XG_RING_OFF_REQPROD);
    if (prod - be->cons > XG_RING_SLOTS)
        return kcase_fail(h->kc, "ring producer %u, consumer %u", prod, be->cons);
    if (prod == be->cons)
        return 0;
    for (; be->cons != prod; be->cons++) {
        unsigned slot = be->cons % XG_RING_SLOTS;
        uint32_t id = *ring32(be, XG_RING_OFF_REQ + slot * XG_REQ_SIZE);
        uint32_t op = *ring32(be, XG_RING_OFF_REQ + slot * XG_REQ_SIZE + 4);
        uint32_t val = *ring32(be, XG_RING_OFF_REQ + slot * XG_REQ_SIZE + 8);
        uint32_t out = 0;
        if (op == XG_OP_SQUARE) {
            out = val * val;
        } else if (op == XG_OP_SUM) {
            struct hv_xen_grant_mapping m;
            if ((st = hv_xen_grant_map(d->vm, XG_DATA_GREF, HV_XEN_GRANT_READONLY, &m)) != HV_OK)
                return kcase_fail(h->kc, "hv_xen_grant_map(data): %s", hv_status_str(st));
            const uint8_t *p = m.hva;
            for (unsigned i = 0; i < PAGE_SIZE; i++)
                out += p[i];
            if ((st = hv_xen_grant_unmap(d->vm, m.handle)) != HV_OK)
                return kcase_fail(h->kc, "hv_xen_grant_unmap(data): %s", hv_status_str(st));
        } else if (op == XG_OP_QUIT) {
            be->quit = true;
        }
        *ring32(be, XG_RING_OFF_RSP + slot * XG_RSP_SIZE) = id;
        *ring32(be, XG_RING_OFF_RSP + slot * XG_RSP_SIZE + 4) = out;
        be->served++;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *ring32(be, XG_RING_OFF_RSPPROD) = be->cons;
    if (be->quit) {
        /* Done with the ring: unmap first, so the guest sees its grant idle. */
        uint32_t handle = be->ring.handle;
        if ((st = hv_xen_grant_unmap(d->vm, handle)) != HV_OK)
            return kcase_fail(h->kc, "hv_xen_grant_unmap(ring): %s", hv_status_str(st));
        if ((st = hv_xen_grant_unmap(d->vm, handle)) != HV_ERR_NOT_FOUND)
            return kcase_fail(h->kc, "second unmap: %s", hv_status_str(st));
    }
    if ((st = hv_xen_evtchn_notify(d->vm, be->host_port)) != HV_OK)
        return kcase_fail(h->kc, "hv_xen_evtchn_notify: %s", hv_status_str(st));
    return 0;
}

static int run_host_backend(struct kcase_ctx *kc, const struct xh_image *img)
{
    struct xh h;
    struct host_be be;
    hv_memset(&be, 0, sizeof(be));
    struct xh_dom_opts o = {.test = "front", .peer = 0};
    int rc = xh_init(&h, kc);
    h.on_exit = host_be_exit;
    h.arg = &be;
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], img, &o);
    if (!rc)
        rc = xh_run(&h, TIMEOUT_NS);
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[0], SHUTDOWN_POWEROFF, "answered by the host");
    if (!rc && (be.served != 8 || !be.notified))
        rc = kcase_fail(kc, "host back end: %u served, %u notifications", be.served, be.notified);
    if (!rc && hv_xen_evtchn_close(h.doms[0].vm, be.host_port) != HV_OK)
        rc = kcase_fail(kc, "hv_xen_evtchn_close failed");
    xh_fini(&h);
    return rc;
}

static int case_host_backend(struct kcase_ctx *kc)
{
    int rc = run_host_backend(kc, &img_xg64);
    if (!rc)
        rc = run_host_backend(kc, &img_xg32);
    return rc;
}

/* ---- the PV console ---- */

struct pvcons {
    char text[256];
    size_t len;
    bool sent;
};

static int pvcons_exit(struct xh *h, struct xh_dom *d)
{
    struct pvcons *pc = h->arg;
    size_t got = 0;
    hv_status_t st =
        hv_xen_pvcons_read(d->vm, pc->text + pc->len, sizeof(pc->text) - 1 - pc->len, &got);
    if (st != HV_OK)
        return kcase_fail(h->kc, "hv_xen_pvcons_read: %s", hv_status_str(st));
    pc->len += got;
    pc->text[pc->len] = 0;
    if (!pc->sent && xh_contains(pc->text, "hello from the PV console\n")) {
        size_t w = 0;
        if ((st = hv_xen_pvcons_write(d->vm, "ping\n", 5, &w)) != HV_OK || w != 5)
            return kcase_fail(h->kc, "hv_xen_pvcons_write: %s (%u)", hv_status_str(st),
                              (unsigned)w);
        pc->sent = true;
    }
    return 0;
}

static int run_pvcons(struct kcase_ctx *kc, const struct xh_image *img)
{
    /* The console page is outside the RAM the guest is told about. */
    static const struct hv_pvh_memmap map[] = {
        {0, XG_PVCONS_GPA, HV_PVH_MEMMAP_RAM},
        {XG_PVCONS_GPA, PAGE_SIZE, HV_PVH_MEMMAP_RESERVED},
        {XG_RO_GPA, PAGE_SIZE, HV_PVH_MEMMAP_RESERVED},
    };
    struct xh h;
    struct pvcons pc;
    hv_memset(&pc, 0, sizeof(pc));
    struct xh_dom_opts o = {.test = "pvcons", .memmap = map, .memmap_count = 3};
    int rc = xh_init(&h, kc);
    h.on_exit = pvcons_exit;
    h.arg = &pc;
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], img, &o);
    uint32_t port = 0;
    hv_status_t st;
    if (!rc && (st = hv_xen_pvcons_attach(h.doms[0].vm, XG_PVCONS_GPA, &port)) != HV_OK)
        rc = kcase_fail(kc, "hv_xen_pvcons_attach: %s", hv_status_str(st));
    if (!rc && hv_xen_pvcons_attach(h.doms[0].vm, XG_PVCONS_GPA, &port) != HV_ERR_EXISTS)
        rc = kcase_fail(kc, "second hv_xen_pvcons_attach accepted");
    if (!rc)
        rc = xh_run(&h, TIMEOUT_NS);
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[0], SHUTDOWN_POWEROFF, "got \"ping\" from the host");
    if (!rc && !xh_contains(pc.text, "hello from the PV console\necho: ping\n"))
        rc = kcase_fail(kc, "PV console text: \"%s\"", pc.text);
    if (!rc)
        kprintf("  [%s] PV console: %s", img->name, pc.text);
    xh_fini(&h);
    return rc;
}

static int case_pvcons(struct kcase_ctx *kc)
{
    int rc = run_pvcons(kc, &img_xg64);
    if (!rc)
        rc = run_pvcons(kc, &img_xg32);
    return rc;
}

/* ---- secondary vCPUs ---- */

/* One image with vCPU 1 created (down): the guest brings it up, takes it
   down and up again, and down at the end. hv_vcpu_run of vCPU 1 must
   return HV_HLT_DOWN before the bring-up and after the final down. */
static int expect_down(struct kcase_ctx *kc, const struct xh_image *img, struct hv_vcpu *v,
                       const char *when)
{
    struct hv_exit ex;
    struct hv_xen_vcpu_status s;
    hv_status_t st = hv_vcpu_run(v, &ex);
    if (st != HV_OK || ex.reason != HV_EXIT_HLT || ex.hlt.source != HV_HLT_DOWN)
        return kcase_fail(kc, "%s: vCPU 1 ran %s (%s, exit %u)", img->name, when, hv_status_str(st),
                          ex.reason);
    if (hv_xen_vcpu_status(v, &s) != HV_OK || !s.down || !s.blocked)
        return kcase_fail(kc, "%s: vCPU 1 not reported down %s", img->name, when);
    return 0;
}

static int run_smp(struct kcase_ctx *kc, const struct xh_image *img)
{
    struct xh h;
    struct xh_dom_opts o = {.test = "smp", .smp = true};
    int rc = xh_init(&h, kc);
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], img, &o);
    if (!rc)
        rc = expect_down(kc, img, h.doms[0].vcpu1, "before VCPUOP_up");
    if (!rc)
        rc = xh_run(&h, TIMEOUT_NS);
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[0], SHUTDOWN_POWEROFF, "xg: all ok");
    if (!rc)
        rc = expect_down(kc, img, h.doms[0].vcpu1, "after VCPUOP_down");
    xh_fini(&h);
    return rc;
}

static int case_smp(struct kcase_ctx *kc)
{
    int rc = run_smp(kc, &img_xg64); /* 64-bit vcpu_hvm_context */
    if (!rc)
        rc = run_smp(kc, &img_xg32); /* 32-bit vcpu_hvm_context */
    return rc;
}

/* ---- loading ---- */

/* What hv_pvh_load refuses, and that nothing was written then. */
static int case_pvh_refusals(struct kcase_ctx *kc)
{
    struct xh h;
    int rc = xh_init(&h, kc);
    struct xh_dom_opts o = {.test = "abi"};
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], &img_hello, &o);
    size_t len = (size_t)(img_xg32.end - img_xg32.start);
    size_t pages = (len + PAGE_SIZE - 1) / PAGE_SIZE;
    uint8_t *copy = rc ? NULL : pmm_alloc(pages);
    if (!rc && !copy)
        rc = kcase_fail(kc, "out of memory");
    struct hv_pvh_info info;
    struct xh_dom *d = &h.doms[0];
    if (!rc) {
        hv_memcpy(copy, img_xg32.start, len);
        /* The first note is PHYS32_ENTRY (type 18): make it another type. */
        bool patched = false;
        for (size_t i = 0; i + 16 <= len && !patched; i += 4) {
            uint32_t w[4];
            hv_memcpy(w, copy + i, 16);
            if (w[0] == 4 && w[1] == 4 && w[2] == 18 && !hv_memcmp(copy + i + 12, "Xen", 4)) {
                w[2] = 19;
                hv_memcpy(copy + i, w, 16);
                patched = true;
            }
        }
        hv_memset(d->ram + XG_LOAD_GPA, 0xcd, 64);
        hv_status_t st = hv_pvh_load(d->vm, d->vcpu, copy, len, NULL, &info);
        if (!patched)
            rc = kcase_fail(kc, "no PHYS32_ENTRY note found in xg32.elf");
        else if (st != HV_ERR_BAD_IMAGE || !info.reason || !xh_contains(info.reason, "PHYS32"))
            rc = kcase_fail(kc, "image without PHYS32_ENTRY: %s (%s)", hv_status_str(st),
                            info.reason ? info.reason : "no reason");
        else if (d->ram[XG_LOAD_GPA] != 0xcd)
            rc = kcase_fail(kc, "a refused image was written to guest memory");
    }
    if (!rc) {
        hv_status_t st = hv_pvh_load(d->vm, d->vcpu, img_xg64gz.start, 100, NULL, &info);
        if (st == HV_OK || !info.reason)
            rc = kcase_fail(kc, "truncated gzip image: %s", hv_status_str(st));
        st = hv_pvh_load(d->vm, d->vcpu, img_xg64.start, 60, NULL, &info);
        if (!rc && (st != HV_ERR_BAD_IMAGE || !info.reason))
            rc = kcase_fail(kc, "truncated ELF image: %s", hv_status_str(st));
    }
    if (copy)
        pmm_free(copy, pages);
    xh_fini(&h);
    return rc;
}

/* ---- the demo guest ---- */

static int run_hello(struct kcase_ctx *kc, bool verbose)
{
    struct xh h;
    struct xh_dom_opts o = {.test = "hello"};
    int rc = xh_init(&h, kc);
    if (!rc)
        rc = xh_dom_create(&h, &h.doms[0], &img_hello, &o);
    if (!rc && verbose)
        kprintf("demo.pvh: loaded hello.elf (ELF%u, %u bytes): entry 0x%x, start_info at 0x%llx, "
                "domain %u\n",
                h.doms[0].info.elf_class, (unsigned)(img_hello.end - img_hello.start),
                h.doms[0].info.entry, (unsigned long long)h.doms[0].info.start_info_gpa,
                h.doms[0].domid);
    if (!rc)
        rc = xh_run(&h, TIMEOUT_NS);
    if (!rc)
        rc = xh_expect_ok(&h, &h.doms[0], SHUTDOWN_POWEROFF, "Hello from a PVH guest");
    if (!rc && verbose)
        kprintf("demo.pvh: the guest shut down (SHUTDOWN_poweroff) after %u exits\n",
                h.doms[0].exits);
    xh_fini(&h);
    return rc;
}

static int case_hello(struct kcase_ctx *kc)
{
    return run_hello(kc, false);
}

static int case_demo_pvh(struct kcase_ctx *kc)
{
    return run_hello(kc, true);
}

static const struct kcase xen_cases[] KCASE_TABLE = {
    {"xen.hello", case_hello, 0},
    {"xen.abi", case_abi, 0},
    {"xen.version", case_version, 0},
    {"xen.console", case_console, 0},
    {"xen.sched", case_sched, 0},
    {"xen.timer", case_timer, 0},
    {"xen.memory", case_memory, 0},
    {"xen.hvm", case_hvm, 0},
    {"xen.evtchn", case_evtchn, 0},
    {"xen.upcall", case_upcall, 0},
    {"xen.upcall_lapic", case_upcall_lapic, 0},
    {"xen.grant", case_grant, 0},
    {"xen.vcpu", case_vcpu, 0},
    {"xen.runstate", case_runstate, 0},
    {"xen.timearea", case_timearea, 0},
    {"xen.smp", case_smp, 0},
    {"xen.shutdown_code", case_shutdown_code, 0},
    {"xen.gzip", case_gzip, 0},
    {"xen.pvcons", case_pvcons, 0},
    {"xen.split", case_split, 0},
    {"xen.host_backend", case_host_backend, 0},
    {"xen.pvh_refusals", case_pvh_refusals, 0},
    {"demo.pvh", case_demo_pvh, KCASE_EXPLICIT},
};

#endif /* HV_XEN_GUESTS */
