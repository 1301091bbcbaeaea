/*
 * xen.grub: a third-party Xen PVH guest, unmodified. GRUB 2's i386-xen_pvh
 * image (grub-mkimage -O i386-xen_pvh, built by
 * tests/system/guests/grub/) comes in as a multiboot module whose command
 * line contains "grub-pvh". This kernel plays the Xen toolstack and
 * domain 0 for it, as GRUB's PVH start-up code expects:
 *
 *   - RAM at gpa 0 and two special pages just above it, marked reserved in
 *     the memory map (start_info and XENMEM_memory_map), so that GRUB's
 *     heap, which takes every RAM entry, leaves them alone;
 *   - the PV console ring in the first (hv_xen_pvcons_attach: sets
 *     HVM_PARAM_CONSOLE_PFN/EVTCHN), read here as dom0's xenconsoled does;
 *   - the xenstore ring in the second (HVM_PARAM_STORE_PFN/EVTCHN), served
 *     by a minimal fixed-tree xenstore (xen_store.h): GRUB lists
 *     device/vbd at start-up and waits for the answer;
 *   - Xen's HVM debug console (port 0xe9), where GRUB writes its panics.
 *
 * GRUB finds the rest itself: CPUID leaves, the hypercall page MSR, the
 * memory map, grant table and shared_info frames (XENMEM_add_to_physmap
 * into the first hole above RAM), the pvclock for its TSC calibration.
 * Its embedded configuration (tests/system/guests/grub/grub.cfg) prints
 * known lines and halts, which on Xen is SCHEDOP_shutdown(poweroff).
 */
#ifdef HV_XEN_GUESTS
#include "core/util.h"
#include "xen_harness.h"
#include "xen_store.h"

#define GRUB_MODULE     "grub-pvh"
#define GRUB_RAM_SIZE   (8u << 20)
#define GRUB_RAM_PAGES  (GRUB_RAM_SIZE / PAGE_SIZE)
#define GRUB_SPECIAL    2u /* console ring, xenstore ring */
#define GRUB_CONS_GPA   ((uint64_t)GRUB_RAM_SIZE)
#define GRUB_STORE_GPA  ((uint64_t)GRUB_RAM_SIZE + PAGE_SIZE)
#define GRUB_OUT_CAP    16384u
#define GRUB_TIMEOUT_NS (60ull * 1000000000ull)

#define HVM_PARAM_STORE_PFN    1 /* hvm/params.h */
#define HVM_PARAM_STORE_EVTCHN 2
#define SHUTDOWN_POWEROFF      0 /* sched.h */

/* What the embedded grub.cfg prints (tests/system/guests/grub/grub.cfg). */
static const char *const expected[] = {
    "libhv-grub-ok",             /* echo */
    "platform=xen_pvh cpu=i386", /* GRUB's own variables */
    "test: running on xen_pvh",  /* the script's if/test */
    "Ref Count",                 /* lsmod's header */
    "minicmd",                   /* lsmod lists the module that provides it */
    "memdisk",                   /* and the one that held the script */
    "libhv-grub-sleep-end",      /* after `sleep 1` */
    "libhv-grub-halting",        /* the line before halt */
};

struct grub_vm {
    struct xh h;
    uint8_t *mem; /* RAM and the special pages */
    struct xstore *xs;
    char *out; /* PV console output, NUL-terminated */
    size_t out_len, line_start;
    uint64_t sleep_start_ns, sleep_end_ns; /* when the markers around `sleep 1` arrived */
};

static const struct boot_module *find_image(void)
{
    for (size_t i = 0; i < boot_module_count(); i++)
        if (xh_contains(boot_module(i)->name, GRUB_MODULE))
            return boot_module(i);
    return NULL;
}

/* Echo a console line to the serial port without control characters
   (GRUB's terminfo output uses vt100 escape sequences). */
static void echo_line(const struct xh_dom *d, const char *s, size_t n)
{
    char line[160];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof(line); i++) {
        char c = s[i];
        if (c == 0x1b) { /* ESC [ params letter */
            i++;
            while (i < n && !((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
                i++;
            continue;
        }
        if (c >= 0x20 && c < 0x7f)
            line[k++] = c;
        else if (c == '\t')
            line[k++] = ' ';
    }
    line[k] = 0;
    kprintf("  [%s dom%u] %s\n", d->label, d->domid, line);
}

/* Dom0's side after every exit: read the PV console, serve xenstore. */
static int grub_on_exit(struct xh *h, struct xh_dom *d)
{
    struct grub_vm *g = h->arg;
    for (;;) {
        size_t room = GRUB_OUT_CAP - 1 - g->out_len, got = 0;
        if (!room)
            break;
        hv_status_t st = hv_xen_pvcons_read(d->vm, g->out + g->out_len, room, &got);
        if (st != HV_OK)
            return kcase_fail(h->kc, "hv_xen_pvcons_read: %s", hv_status_str(st));
        if (!got)
            break;
        g->out_len += got;
        g->out[g->out_len] = 0;
    }
    for (size_t i = g->line_start; i < g->out_len; i++) {
        if (g->out[i] != '\n')
            continue;
        g->out[i] = 0;
        if (!g->sleep_start_ns && xh_contains(g->out + g->line_start, "libhv-grub-sleep-start"))
            g->sleep_start_ns = ktime_ns();
        if (!g->sleep_end_ns && xh_contains(g->out + g->line_start, "libhv-grub-sleep-end"))
            g->sleep_end_ns = ktime_ns();
        g->out[i] = '\n';
        echo_line(d, g->out + g->line_start, i - g->line_start);
        g->line_start = i + 1;
    }
    xstore_poll(g->xs);
    if (g->xs->broken)
        return kcase_fail(h->kc, "xenstore ring: %s", g->xs->why);
    return 0;
}

static int grub_create(struct grub_vm *g, const struct boot_module *img)
{
    struct kcase_ctx *kc = g->h.kc;
    struct xh_dom *d = &g->h.doms[0];
    hv_status_t st;

    d->h = &g->h;
    d->label = "grub";
    d->con = heap_alloc(XH_CONSOLE_CAP);
    g->out = heap_alloc(GRUB_OUT_CAP);
    g->xs = heap_alloc(sizeof(*g->xs));
    g->mem = pmm_alloc(GRUB_RAM_PAGES + GRUB_SPECIAL);
    if (!d->con || !g->out || !g->xs || !g->mem)
        return kcase_fail(kc, "out of memory for the GRUB guest");
    d->con[0] = g->out[0] = 0;

    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = 1};
    if ((st = hv_vm_create(g->h.ctx, &vc, &d->vm)) != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    if ((st = hv_vm_map(d->vm, 0, (uintptr_t)g->mem, GRUB_RAM_SIZE + GRUB_SPECIAL * PAGE_SIZE,
                        HV_MEM_RWX)) != HV_OK)
        return kcase_fail(kc, "hv_vm_map: %s", hv_status_str(st));
    if ((st = hv_vcpu_create(d->vm, 0, &d->vcpu)) != HV_OK)
        return kcase_fail(kc, "hv_vcpu_create: %s", hv_status_str(st));

    /* The special pages are not RAM to the guest: a toolstack reserves them. */
    static const struct hv_pvh_memmap map[] = {
        {0, GRUB_RAM_SIZE, HV_PVH_MEMMAP_RAM},
        {GRUB_CONS_GPA, GRUB_SPECIAL * PAGE_SIZE, HV_PVH_MEMMAP_RESERVED},
    };
    struct hv_xen_config xc;
    hv_memset(&xc, 0, sizeof(xc));
    xc.size = sizeof(xc);
    xc.max_evtchn_ports = 64;
    xc.tsc_khz = (uint32_t)(tsc_hz() / 1000);
    xc.memmap = map;
    xc.memmap_count = HV_ARRAY_SIZE(map);
    xc.opaque = d;
    if ((st = hv_xen_enable(d->vm, &xc)) != HV_OK)
        return kcase_fail(kc, "hv_xen_enable: %s", hv_status_str(st));
    d->xen_on = true;
    hv_xen_domid(d->vm, &d->domid);

    if ((st = hv_xen_pvcons_attach(d->vm, GRUB_CONS_GPA, NULL)) != HV_OK)
        return kcase_fail(kc, "hv_xen_pvcons_attach: %s", hv_status_str(st));
    /* Xenstore: a guest port bound to a host port, as xenstored's introduction does. */
    uint32_t store_port, host_port;
    if ((st = hv_xen_evtchn_alloc_unbound(d->vm, &store_port)) != HV_OK ||
        (st = hv_xen_evtchn_bind(d->vm, store_port, &host_port)) != HV_OK)
        return kcase_fail(kc, "xenstore event channel: %s", hv_status_str(st));
    if ((st = hv_xen_set_param(d->vm, HVM_PARAM_STORE_PFN, GRUB_STORE_GPA / PAGE_SIZE)) != HV_OK ||
        (st = hv_xen_set_param(d->vm, HVM_PARAM_STORE_EVTCHN, store_port)) != HV_OK)
        return kcase_fail(kc, "hv_xen_set_param: %s", hv_status_str(st));
    xstore_init(g->xs, d->vm, g->mem + GRUB_STORE_GPA, host_port, d->domid);

    struct hv_pvh_config pc = {
        .size = sizeof(pc), .memmap = map, .memmap_count = HV_ARRAY_SIZE(map)};
    st = hv_pvh_load(d->vm, d->vcpu, (const void *)(uintptr_t)img->start,
                     (size_t)(img->end - img->start), &pc, &d->info);
    if (st != HV_OK)
        return kcase_fail(kc, "hv_pvh_load(GRUB): %s: %s", hv_status_str(st),
                          d->info.reason ? d->info.reason : "?");
    kprintf("  grub: image %llu bytes%s, entry 0x%x, start_info 0x%llx, image 0x%llx-0x%llx\n",
            (unsigned long long)(img->end - img->start), d->info.compressed ? " (gzip)" : "",
            d->info.entry, (unsigned long long)d->info.start_info_gpa,
            (unsigned long long)d->info.paddr_lo, (unsigned long long)d->info.paddr_hi);
    g->h.ndoms = 1;
    return 0;
}

/* What GRUB did, for the log (also after a failure). */
static void grub_trace(struct grub_vm *g)
{
    struct xh_dom *d = &g->h.doms[0];
    if (!g->xs || !g->out)
        return;
    for (unsigned i = 0; i < g->xs->requests && i < XSTORE_LOG; i++)
        kprintf("  grub: xenstore %s \"%s\" -> %s\n", xstore_type_name(g->xs->log[i].type),
                g->xs->log[i].path, xstore_type_name(g->xs->log[i].answer));
    kprintf("  grub: %u exits, %u yields/halts, %llu console bytes\n", d->exits, d->hlts,
            (unsigned long long)g->out_len);
    if (d->con_len)
        kprintf("  grub: debug console/console_io: %s\n", d->con);
}

static int grub_check(struct grub_vm *g)
{
    struct kcase_ctx *kc = g->h.kc;
    struct xh_dom *d = &g->h.doms[0];
    if (!d->done)
        return kcase_fail(kc, "GRUB did not shut down");
    if (d->shutdown != SHUTDOWN_POWEROFF)
        return kcase_fail(kc, "GRUB shut down with reason %u, expected poweroff", d->shutdown);
    for (size_t i = 0; i < HV_ARRAY_SIZE(expected); i++)
        if (!xh_contains(g->out, expected[i]))
            return kcase_fail(kc, "no \"%s\" on GRUB's PV console", expected[i]);
    /* GRUB's start-up asked xenstore for its disks (and got none). */
    bool vbd = false;
    for (unsigned i = 0; i < g->xs->requests && i < XSTORE_LOG; i++)
        vbd |= !hv_strcmp(g->xs->log[i].path, "device/vbd");
    if (!vbd)
        return kcase_fail(kc, "GRUB never listed device/vbd in xenstore");
    /* `sleep 1` measures time with the TSC, scaled by the pvclock
       parameters in shared_info (GRUB's Xen TSC calibration): it must take
       about a second of host time (console lines arrive within a 50 ms
       time slice of being written). */
    uint64_t slept = g->sleep_end_ns - g->sleep_start_ns;
    kprintf("  grub: sleep 1 took %llu ms of host time\n", (unsigned long long)(slept / 1000000));
    if (!g->sleep_start_ns || !g->sleep_end_ns || slept < 900000000ull || slept > 1500000000ull)
        return kcase_fail(kc, "GRUB's sleep 1 took %llu ms of host time, expected 1000",
                          (unsigned long long)(slept / 1000000));
    /* It put the grant table and shared_info (XENMEM_add_to_physmap) in the
       first two frames of the memory map's first hole, above the special
       pages, as its PVH code chooses them. */
    struct hv_mapping m;
    for (uint64_t gpa = GRUB_STORE_GPA + PAGE_SIZE; gpa <= GRUB_STORE_GPA + 2 * PAGE_SIZE;
         gpa += PAGE_SIZE)
        if (hv_vm_query(d->vm, gpa, &m) != HV_OK)
            return kcase_fail(kc, "nothing mapped at 0x%llx: GRUB's add_to_physmap went elsewhere",
                              (unsigned long long)gpa);
    return 0;
}

static int case_grub(struct kcase_ctx *kc)
{
    const struct boot_module *img = find_image();
    if (!img)
        return kcase_fail(kc, "no multiboot module named \"" GRUB_MODULE
                              "\": the GRUB image was not handed over (grub-xen-bin missing?)");
    struct grub_vm *g = heap_alloc(sizeof(*g));
    if (!g)
        return kcase_fail(kc, "out of memory");
    hv_memset(g, 0, sizeof(*g));
    int rc = xh_init(&g->h, kc);
    g->h.on_exit = grub_on_exit;
    g->h.arg = g;
    g->h.debugcon = true;
    if (!rc)
        rc = grub_create(g, img);
    if (!rc)
        rc = xh_run(&g->h, GRUB_TIMEOUT_NS);
    grub_trace(g);
    if (!rc)
        rc = grub_check(g);
    xh_fini(&g->h); /* destroys the VM before its memory goes */
    if (g->mem)
        pmm_free(g->mem, GRUB_RAM_PAGES + GRUB_SPECIAL);
    if (g->out)
        heap_free(g->out, GRUB_OUT_CAP);
    if (g->xs)
        heap_free(g->xs, sizeof(*g->xs));
    heap_free(g, sizeof(*g));
    return rc;
}

static const struct kcase grub_cases[] KCASE_TABLE = {
    {"xen.grub", case_grub, 0},
};

#endif /* HV_XEN_GUESTS */
