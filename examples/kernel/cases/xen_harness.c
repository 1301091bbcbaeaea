/* The Xen case harness (xen_harness.h). */
#ifdef HV_XEN_GUESTS
#include "xen_harness.h"

#include "core/util.h"
#include "cpu.h"
#include "xg_layout.h"

#define SLICE_TICKS 5 /* 50 ms */

static const char *const exit_names[] = {
    "NONE",         "IO",   "MMIO",      "SLAT_FAULT",     "HLT", "SHUTDOWN", "HYPERCALL",
    "ENTRY_FAILED", "KICK", "UNHANDLED", "GUEST_SHUTDOWN",
};

static const char *exit_name(uint32_t r)
{
    return r < HV_ARRAY_SIZE(exit_names) ? exit_names[r] : "?";
}

bool xh_contains(const char *text, const char *s)
{
    size_t n = hv_strlen(s);
    for (const char *p = text; *p; p++)
        if (!hv_memcmp(p, s, n))
            return true;
    return false;
}

static void on_wake(void *opaque, struct hv_vcpu *vcpu)
{
    struct xh_dom *d = opaque;
    (void)vcpu;
    d->woken = true;
}

static void slice_tick(void *arg, uint64_t ticks)
{
    struct xh *h = arg;
    struct hv_vcpu *v = h->running;
    if (v && ticks >= h->slice_end)
        hv_vcpu_kick(v);
}

int xh_init(struct xh *h, struct kcase_ctx *kc)
{
    hv_memset(h, 0, sizeof(*h));
    h->kc = kc;
    hv_status_t st = hv_ctx_create(&kc->host_ops, NULL, &h->ctx);
    if (st != HV_OK)
        return kcase_fail(kc, "hv_ctx_create: %s", hv_status_str(st));
    st = hv_xen_hub_create(h->ctx, &h->hub);
    if (st != HV_OK)
        return kcase_fail(kc, "hv_xen_hub_create: %s", hv_status_str(st));
    if (!timer_add_tick_fn(slice_tick, h))
        return kcase_fail(kc, "no free tick callback slot");
    h->tick_armed = true;
    return 0;
}

static void append(char *buf, size_t *len, const char *s)
{
    while (*s && *len + 1 < 64)
        buf[(*len)++] = *s++;
    buf[*len] = 0;
}

static void utoa(char *out, uint32_t v)
{
    char t[12];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = t[n - 1 - i];
    out[n] = 0;
}

int xh_dom_create(struct xh *h, struct xh_dom *d, const struct xh_image *img,
                  const struct xh_dom_opts *o)
{
    struct kcase_ctx *kc = h->kc;
    hv_status_t st;
    d->h = h;
    d->label = img->name;
    d->con = heap_alloc(XH_CONSOLE_CAP);
    d->ram = pmm_alloc(XG_RAM_SIZE / PAGE_SIZE);
    d->ro_page = pmm_alloc(1);
    if (!d->con || !d->ram || !d->ro_page)
        return kcase_fail(kc, "out of memory for a guest");
    hv_memset(d->ro_page, XG_RO_BYTE, PAGE_SIZE);

    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = 2};
    if ((st = hv_vm_create(h->ctx, &vc, &d->vm)) != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    if (o->lapic) {
        struct hv_lapic_config lc = {.size = sizeof(lc), .tsc_khz = (uint32_t)(tsc_hz() / 1000)};
        if ((st = hv_lapic_enable(d->vm, &lc)) != HV_OK)
            return kcase_fail(kc, "hv_lapic_enable: %s", hv_status_str(st));
    }
    if ((st = hv_vm_map(d->vm, 0, (uintptr_t)d->ram, XG_RAM_SIZE, HV_MEM_RWX)) != HV_OK ||
        (st = hv_vm_map(d->vm, XG_RO_GPA, (uintptr_t)d->ro_page, PAGE_SIZE, HV_MEM_READ)) != HV_OK)
        return kcase_fail(kc, "hv_vm_map: %s", hv_status_str(st));
    if ((st = hv_vcpu_create(d->vm, 0, &d->vcpu)) != HV_OK ||
        (o->smp && (st = hv_vcpu_create(d->vm, 1, &d->vcpu1)) != HV_OK))
        return kcase_fail(kc, "hv_vcpu_create: %s", hv_status_str(st));

    struct hv_xen_config xc;
    hv_memset(&xc, 0, sizeof(xc));
    xc.size = sizeof(xc);
    xc.domid = o->domid;
    xc.max_evtchn_ports = 64;
    xc.tsc_khz = (uint32_t)(tsc_hz() / 1000);
    xc.flags = o->tsc_stable ? HV_XEN_F_TSC_STABLE : 0;
    hv_memset(xc.handle, XG_HANDLE_BYTE, sizeof(xc.handle));
    xc.hub = o->hub ? h->hub : NULL;
    xc.wake = on_wake;
    xc.opaque = d;
    if ((st = hv_xen_enable(d->vm, &xc)) != HV_OK)
        return kcase_fail(kc, "hv_xen_enable: %s", hv_status_str(st));
    d->xen_on = true;
    hv_xen_domid(d->vm, &d->domid);
    hv_xen_set_param(d->vm, 1 /* HVM_PARAM_STORE_PFN */, XG_STORE_PFN);
    size_t acc;
    if (!o->no_input && (hv_xen_console_input(d->vm, "input-1234", 10, &acc) != HV_OK || acc != 10))
        return kcase_fail(kc, "hv_xen_console_input failed");

    char cmdline[64], num[12];
    size_t n = 0;
    cmdline[0] = 0;
    append(cmdline, &n, "test=");
    append(cmdline, &n, o->test);
    append(cmdline, &n, " dom=");
    utoa(num, d->domid);
    append(cmdline, &n, num);
    append(cmdline, &n, " peer=");
    utoa(num, o->peer);
    append(cmdline, &n, num);
    if (o->tsc_stable)
        append(cmdline, &n, " stable=1"); /* the guest expects the stable pvclock */
    struct hv_pvh_config pc = {.size = sizeof(pc),
                               .cmdline = cmdline,
                               .memmap = o->memmap,
                               .memmap_count = o->memmap_count};
    st = hv_pvh_load(d->vm, d->vcpu, img->start, (size_t)(img->end - img->start), &pc, &d->info);
    if (st != HV_OK)
        return kcase_fail(kc, "hv_pvh_load(%s): %s: %s", img->name, hv_status_str(st),
                          d->info.reason ? d->info.reason : "?");
    h->ndoms++;
    return 0;
}

/* kprintf has no precision: copy a line out to print it. */
static void copy_line(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    hv_memcpy(out, s, n);
    out[n] = 0;
}

/* Echo the complete lines of d->con not echoed yet. */
static void echo_lines(struct xh_dom *d)
{
    for (size_t i = d->line_start; i < d->con_len; i++) {
        if (d->con[i] != '\n')
            continue;
        char line[160];
        copy_line(line, sizeof(line), d->con + d->line_start, i - d->line_start);
        kprintf("  [%s dom%u] %s\n", d->label, d->domid, line);
        d->line_start = i + 1;
    }
}

/* Move console_io output into d->con and echo complete lines. A full
   buffer drops the lines already echoed (a guest as talkative as Linux),
   so that the output keeps flowing to the serial port. */
static void drain_console(struct xh *h, struct xh_dom *d)
{
    for (;;) {
        echo_lines(d);
        if (d->con_len + 1 == XH_CONSOLE_CAP && d->line_start) {
            hv_memmove(d->con, d->con + d->line_start, d->con_len - d->line_start + 1);
            d->con_len -= d->line_start;
            d->line_start = 0;
        }
        size_t room = XH_CONSOLE_CAP - 1 - d->con_len, got = 0;
        if (!room)
            return;
        if (hv_xen_console_read(d->vm, d->con + d->con_len, room, &got, NULL) != HV_OK || !got)
            return;
        if (h->on_console)
            h->on_console(h, d, d->con + d->con_len, got);
        d->con_len += got;
        d->con[d->con_len] = 0;
    }
}

static int unexpected(struct xh *h, struct xh_dom *d, const struct hv_exit *ex)
{
    return kcase_fail(h->kc, "%s: exit %s (raw 0x%llx info 0x%llx/0x%llx) at rip 0x%llx", d->label,
                      exit_name(ex->reason), (unsigned long long)ex->raw_code,
                      (unsigned long long)ex->raw_info1, (unsigned long long)ex->raw_info2,
                      (unsigned long long)ex->rip);
}

/* A port xh::null_io answered, noted for the log. */
static void note_null_port(struct xh_dom *d, uint16_t port)
{
    d->null_io++;
    for (unsigned i = 0; i < d->null_nports; i++)
        if (d->null_ports[i] == port)
            return;
    if (d->null_nports < HV_ARRAY_SIZE(d->null_ports))
        d->null_ports[d->null_nports++] = port;
}

/* xh::null_io: a read gets all ones; what was accessed is noted for the log. */
static void null_access(struct xh_dom *d, const struct hv_exit *ex, uint64_t *data, uint8_t size)
{
    if (data)
        *data = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    if (ex->reason == HV_EXIT_MMIO) {
        d->null_io++;
        if (!d->null_mmio)
            d->null_mmio = ex->mmio.gpa;
        return;
    }
    note_null_port(d, ex->io.port);
}

/* The same answer for ports, from a port handler inside hv_vcpu_run: a
   guest that polls a port nothing backs (Linux's PIT calibration, the
   RTC's update flag) never leaves the run for it. */
static hv_status_t null_port(void *opaque, uint16_t port, unsigned size, bool write,
                             uint32_t *value)
{
    (void)size;
    if (!write)
        *value = 0xffffffffu;
    note_null_port(opaque, port);
    return HV_OK;
}

int xh_null_ports(struct xh *h, struct xh_dom *d)
{
    /* Every port but the debug console's (h->debugcon), which exits. */
    hv_status_t st;
    if ((st = hv_vm_pio_register(d->vm, 0, 0xe9, null_port, d)) != HV_OK ||
        (st = hv_vm_pio_register(d->vm, 0xea, 0x10000 - 0xea, null_port, d)) != HV_OK)
        return kcase_fail(h->kc, "hv_vm_pio_register: %s", hv_status_str(st));
    return 0;
}

/* One run of a vCPU of @p d and what its exit means for scheduling. */
static int run_once(struct xh *h, struct xh_dom *d, struct hv_vcpu *v)
{
    struct hv_exit ex;
    d->woken = false;
    h->slice_end = timer_ticks() + SLICE_TICKS;
    h->running = v;
    hv_status_t st = hv_vcpu_run(v, &ex);
    h->running = NULL;
    d->exits++;
    d->exits1 += v == d->vcpu1;
    drain_console(h, d);
    if (st != HV_OK)
        return kcase_fail(h->kc, "%s: hv_vcpu_run: %s", d->label, hv_status_str(st));
    switch (ex.reason) {
    case HV_EXIT_GUEST_SHUTDOWN:
        d->done = true;
        d->shutdown = ex.guest_shutdown.reason;
        break;
    case HV_EXIT_HLT:
        d->hlts++; /* also HV_HLT_DOWN (the harness does not run a down vCPU) */
        break;
    case HV_EXIT_KICK:
        d->kicks++;
        break;
    case HV_EXIT_IO:
        /* XEN_HVM_DEBUGCONS_IOPORT (public/arch-x86/xen.h); the library
           has completed the OUT, the byte only needs a place to go. */
        if (h->debugcon && ex.io.port == 0xe9 && ex.io.write && ex.io.size == 1) {
            if (d->con_len + 1 < XH_CONSOLE_CAP) {
                d->con[d->con_len++] = (char)ex.io.data;
                d->con[d->con_len] = 0;
            }
            break;
        }
        if (h->null_io) {
            null_access(d, &ex, ex.io.write ? NULL : &ex.io.data, ex.io.size);
            break;
        }
        return unexpected(h, d, &ex);
    case HV_EXIT_MMIO:
        if (h->null_io) {
            null_access(d, &ex, ex.mmio.write ? NULL : &ex.mmio.data, ex.mmio.size);
            break;
        }
        /* fall through */
    default:
        return unexpected(h, d, &ex);
    }
    if (h->on_exit)
        return h->on_exit(h, d);
    return 0;
}

/* The vCPU in scheduling slot @p k (two per domain), or NULL. */
static struct hv_vcpu *slot_vcpu(struct xh *h, unsigned k)
{
    struct xh_dom *d = &h->doms[k / 2];
    return k % 2 ? d->vcpu1 : d->vcpu;
}

int xh_run(struct xh *h, uint64_t timeout_ns)
{
    uint64_t end = ktime_ns() + timeout_ns;
    unsigned next = 0, nslots = 2 * h->ndoms;
    for (;;) {
        bool all_done = true;
        uint64_t earliest = UINT64_MAX;
        struct xh_dom *pick = NULL;
        struct hv_vcpu *pick_vcpu = NULL;
        for (unsigned i = 0; i < nslots && !pick; i++) {
            unsigned k = (next + i) % nslots;
            struct xh_dom *d = &h->doms[k / 2];
            struct hv_vcpu *v = slot_vcpu(h, k);
            if (d->done || !v)
                continue;
            all_done = false;
            struct hv_xen_vcpu_status s;
            if (hv_xen_vcpu_status(v, &s) != HV_OK)
                return kcase_fail(h->kc, "hv_xen_vcpu_status failed");
            if (!s.blocked) {
                pick = d;
                pick_vcpu = v;
                next = k + 1;
            } else if (s.deadline_ns && s.deadline_ns < earliest) {
                earliest = s.deadline_ns;
            }
        }
        if (all_done)
            return 0;
        if (ktime_ns() > end) {
            for (unsigned i = 0; i < h->ndoms; i++)
                drain_console(h, &h->doms[i]);
            return kcase_fail(h->kc, "timeout: guests still running after %llu ms",
                              (unsigned long long)(timeout_ns / 1000000));
        }
        if (pick) {
            if (run_once(h, pick, pick_vcpu))
                return -1;
            continue;
        }
        if (earliest == UINT64_MAX)
            return kcase_fail(h->kc, "every guest is blocked with no timer pending");
        /* Everyone sleeps: halt until the earliest deadline (or a wake-up,
           which can only come from this loop anyway). */
        while (ktime_ns() < earliest && ktime_ns() <= end)
            wait_for_irq();
    }
}

int xh_expect_ok(struct xh *h, struct xh_dom *d, uint32_t reason, const char *marker)
{
    if (!d->done)
        return kcase_fail(h->kc, "%s did not shut down", d->label);
    /* The first FAIL line of the guest is the most useful reason. */
    const char *c = d->con;
    for (size_t i = 0; i + 5 <= d->con_len; i++) {
        if ((i == 0 || c[i - 1] == '\n') && !hv_memcmp(c + i, "FAIL", 4)) {
            size_t e = i;
            while (e < d->con_len && c[e] != '\n')
                e++;
            char line[160];
            copy_line(line, sizeof(line), c + i, e - i);
            return kcase_fail(h->kc, "%s dom%u: %s", d->label, d->domid, line);
        }
    }
    if (d->shutdown != reason)
        return kcase_fail(h->kc, "%s: shutdown reason %u, expected %u", d->label, d->shutdown,
                          reason);
    if (marker && !xh_contains(d->con, marker))
        return kcase_fail(h->kc, "%s: no \"%s\" on its console", d->label, marker);
    return 0;
}

void xh_fini(struct xh *h)
{
    if (h->tick_armed)
        timer_remove_tick_fn(slice_tick, h);
    h->tick_armed = false;
    for (unsigned i = 0; i < XH_MAX_DOMS; i++) {
        struct xh_dom *d = &h->doms[i];
        if (d->xen_on)
            hv_xen_disable(d->vm);
        if (d->vcpu)
            hv_vcpu_destroy(d->vcpu);
        if (d->vcpu1)
            hv_vcpu_destroy(d->vcpu1);
        if (d->vm)
            hv_vm_destroy(d->vm);
        if (d->ram)
            pmm_free(d->ram, XG_RAM_SIZE / PAGE_SIZE);
        if (d->ro_page)
            pmm_free(d->ro_page, 1);
        if (d->con)
            heap_free(d->con, XH_CONSOLE_CAP);
        hv_memset(d, 0, sizeof(*d));
    }
    h->ndoms = 0;
    if (h->hub)
        hv_xen_hub_destroy(h->hub);
    if (h->ctx)
        hv_ctx_destroy(h->ctx);
    h->hub = NULL;
    h->ctx = NULL;
}

#endif /* HV_XEN_GUESTS */
