/* A PVH domain U with console and xenstore (xen_domu.h). */
#ifdef HV_XEN_GUESTS
#include "xen_domu.h"

#include "core/util.h"

#define DOMU_SPECIAL 2u /* console ring, xenstore ring */

#define HVM_PARAM_STORE_PFN    1 /* hvm/params.h */
#define HVM_PARAM_STORE_EVTCHN 2

static const struct boot_module *find_image(const char *name)
{
    for (size_t i = 0; i < boot_module_count(); i++)
        if (xh_contains(boot_module(i)->name, name))
            return boot_module(i);
    return NULL;
}

static uint64_t mem_pages(const struct xdomu_config *cfg)
{
    return cfg->ram_size / PAGE_SIZE + DOMU_SPECIAL;
}

/* Console text kept for the checks, console_io and PV console alike. */
static void keep(struct xdomu *u, char c)
{
    if (u->out_len + 1 < u->cfg->out_cap) {
        u->out[u->out_len++] = c;
        u->out[u->out_len] = 0;
    }
}

static void domu_on_console(struct xh *h, struct xh_dom *d, const char *s, size_t n)
{
    (void)d;
    for (size_t i = 0; i < n; i++)
        keep(h->arg, s[i]);
}

/* One byte of PV console output: kept while there is room, gathered into
   the current line without control characters (escape sequences such as
   GRUB's terminfo output included); a complete line is echoed. */
static void take(struct xdomu *u, char c)
{
    keep(u, c);
    u->total++;
    if (u->esc) {
        u->esc = !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
        return;
    }
    if (c == 0x1b) {
        u->esc = true;
        return;
    }
    if (c == '\n') {
        u->line[u->line_len] = 0;
        kprintf("  [%s dom%u] %s\n", u->cfg->label, xdomu_dom(u)->domid, u->line);
        if (u->cfg->on_line)
            u->cfg->on_line(u, u->line);
        u->line_len = 0;
        return;
    }
    if (u->line_len + 1 >= sizeof(u->line))
        return;
    if (c >= 0x20 && c < 0x7f)
        u->line[u->line_len++] = c;
    else if (c == '\t')
        u->line[u->line_len++] = ' ';
}

/* Dom0's side after every exit: read the PV console, serve xenstore. */
static int domu_on_exit(struct xh *h, struct xh_dom *d)
{
    struct xdomu *u = h->arg;
    for (;;) {
        char buf[256];
        size_t got = 0;
        hv_status_t st = hv_xen_pvcons_read(d->vm, buf, sizeof(buf), &got);
        if (st != HV_OK)
            return kcase_fail(h->kc, "hv_xen_pvcons_read: %s", hv_status_str(st));
        if (!got)
            break;
        for (size_t i = 0; i < got; i++)
            take(u, buf[i]);
    }
    xstore_poll(u->xs);
    if (u->xs->broken)
        return kcase_fail(h->kc, "xenstore ring: %s", u->xs->why);
    return 0;
}

/* hv_lapic_config::wake: a SIPI or interrupt for a vCPU that waits. */
static void domu_apic_wake(void *opaque, struct hv_vcpu *vcpu)
{
    struct xh_dom *d = opaque;
    (void)vcpu;
    d->woken = true;
}

static int domu_create(struct xdomu *u, const struct boot_module *img,
                       const struct boot_module *initrd)
{
    const struct xdomu_config *cfg = u->cfg;
    struct kcase_ctx *kc = u->h.kc;
    struct xh_dom *d = xdomu_dom(u);
    hv_status_t st;

    d->h = &u->h;
    d->label = cfg->label;
    d->con = heap_alloc(XH_CONSOLE_CAP);
    u->out = heap_alloc(cfg->out_cap);
    u->xs = heap_alloc(sizeof(*u->xs));
    u->mem = pmm_alloc(mem_pages(cfg));
    if (!d->con || !u->out || !u->xs || !u->mem)
        return kcase_fail(kc, "out of memory for the %s guest", cfg->label);
    d->con[0] = u->out[0] = 0;
    u->cons_gpa = cfg->ram_size;
    u->store_gpa = cfg->ram_size + PAGE_SIZE;

    bool smp = cfg->platform && cfg->vcpus > 1;
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = smp ? 2 : 1};
    if ((st = hv_vm_create(u->h.ctx, &vc, &d->vm)) != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    if (cfg->platform) {
        /* Before the vCPUs: vCPU 1 waits for the SIPI of the guest's
           INIT-SIPI-SIPI, which also brings it up at Xen's level. */
        struct hv_lapic_config lc = {.size = sizeof(lc),
                                     .tsc_khz = (uint32_t)(tsc_hz() / 1000),
                                     .flags = HV_LAPIC_APS_WAIT_SIPI,
                                     .wake = domu_apic_wake,
                                     .opaque = d};
        if ((st = hv_lapic_enable(d->vm, &lc)) != HV_OK)
            return kcase_fail(kc, "hv_lapic_enable: %s", hv_status_str(st));
        xplat_mp_table(u->mem + XPLAT_MP_GPA, smp ? 2 : 1);
    }
    if ((st = hv_vm_map(d->vm, 0, (uintptr_t)u->mem, mem_pages(cfg) * PAGE_SIZE, HV_MEM_RWX)) !=
        HV_OK)
        return kcase_fail(kc, "hv_vm_map: %s", hv_status_str(st));
    if (cfg->null_io && xh_null_ports(&u->h, d))
        return -1;
    if ((st = hv_vcpu_create(d->vm, 0, &d->vcpu)) != HV_OK ||
        (smp && (st = hv_vcpu_create(d->vm, 1, &d->vcpu1)) != HV_OK))
        return kcase_fail(kc, "hv_vcpu_create: %s", hv_status_str(st));

    /* The special pages are not RAM to the guest: a toolstack reserves them. */
    const struct hv_pvh_memmap map[] = {
        {0, cfg->ram_size, HV_PVH_MEMMAP_RAM},
        {u->cons_gpa, DOMU_SPECIAL * PAGE_SIZE, HV_PVH_MEMMAP_RESERVED},
    };
    struct hv_xen_config xc;
    hv_memset(&xc, 0, sizeof(xc));
    xc.size = sizeof(xc);
    xc.max_evtchn_ports = 64;
    xc.tsc_khz = (uint32_t)(tsc_hz() / 1000);
    xc.memmap = map;
    xc.memmap_count = HV_ARRAY_SIZE(map);
    xc.flags = cfg->tsc_stable ? HV_XEN_F_TSC_STABLE : 0;
    xc.opaque = d;
    if ((st = hv_xen_enable(d->vm, &xc)) != HV_OK)
        return kcase_fail(kc, "hv_xen_enable: %s", hv_status_str(st));
    d->xen_on = true;
    hv_xen_domid(d->vm, &d->domid);

    if ((st = hv_xen_pvcons_attach(d->vm, u->cons_gpa, NULL)) != HV_OK)
        return kcase_fail(kc, "hv_xen_pvcons_attach: %s", hv_status_str(st));
    /* Xenstore: a guest port bound to a host port, as xenstored's introduction does. */
    uint32_t store_port, host_port;
    if ((st = hv_xen_evtchn_alloc_unbound(d->vm, &store_port)) != HV_OK ||
        (st = hv_xen_evtchn_bind(d->vm, store_port, &host_port)) != HV_OK)
        return kcase_fail(kc, "xenstore event channel: %s", hv_status_str(st));
    if ((st = hv_xen_set_param(d->vm, HVM_PARAM_STORE_PFN, u->store_gpa / PAGE_SIZE)) != HV_OK ||
        (st = hv_xen_set_param(d->vm, HVM_PARAM_STORE_EVTCHN, store_port)) != HV_OK)
        return kcase_fail(kc, "hv_xen_set_param: %s", hv_status_str(st));
    xstore_init(u->xs, d->vm, u->mem + u->store_gpa, host_port, d->domid);

    struct hv_pvh_module mod = {.data = initrd ? (const void *)(uintptr_t)initrd->start : NULL,
                                .size = initrd ? initrd->end - initrd->start : 0};
    struct hv_pvh_config pc = {.size = sizeof(pc),
                               .cmdline = cfg->cmdline,
                               .modules = initrd ? &mod : NULL,
                               .module_count = initrd ? 1 : 0,
                               .memmap = map,
                               .memmap_count = HV_ARRAY_SIZE(map)};
    st = hv_pvh_load(d->vm, d->vcpu, (const void *)(uintptr_t)img->start,
                     (size_t)(img->end - img->start), &pc, &d->info);
    if (st != HV_OK)
        return kcase_fail(kc, "hv_pvh_load(%s): %s: %s", cfg->label, hv_status_str(st),
                          d->info.reason ? d->info.reason : "?");
    kprintf("  %s: image %llu bytes%s, entry 0x%x, start_info 0x%llx, image 0x%llx-0x%llx\n",
            cfg->label, (unsigned long long)(img->end - img->start),
            d->info.compressed ? " (gzip)" : "", d->info.entry,
            (unsigned long long)d->info.start_info_gpa, (unsigned long long)d->info.paddr_lo,
            (unsigned long long)d->info.paddr_hi);
    u->h.ndoms = 1;
    return 0;
}

/* What the guest did, for the log (also after a failure). */
static void domu_trace(struct xdomu *u)
{
    struct xh_dom *d = xdomu_dom(u);
    if (!u->xs || !u->out)
        return;
    for (unsigned i = 0; i < u->xs->requests && i < XSTORE_LOG; i++)
        kprintf("  %s: xenstore %s \"%s\" -> %s\n", u->cfg->label,
                xstore_type_name(u->xs->log[i].type), u->xs->log[i].path,
                xstore_type_name(u->xs->log[i].answer));
    kprintf("  %s: %u exits", u->cfg->label, d->exits);
    if (d->vcpu1)
        kprintf(" (%u of vCPU 1)", d->exits1);
    kprintf(", %u yields/halts, %llu console bytes\n", d->hlts, (unsigned long long)u->total);
    if (d->null_io) {
        kprintf("  %s: %u port/MMIO accesses answered as without a device model, ports",
                u->cfg->label, d->null_io);
        for (unsigned i = 0; i < d->null_nports; i++)
            kprintf(" 0x%x", d->null_ports[i]);
        kprintf(d->null_mmio ? ", MMIO 0x%llx\n" : "\n", (unsigned long long)d->null_mmio);
    }
    if (d->line_start < d->con_len) /* the harness echoed the complete lines */
        kprintf("  %s: debug console/console_io, unfinished line: %s\n", u->cfg->label,
                d->con + d->line_start);
}

int xdomu_boot(struct xdomu *u, struct kcase_ctx *kc, const struct xdomu_config *cfg, void *arg)
{
    hv_memset(u, 0, sizeof(*u));
    u->cfg = cfg;
    u->arg = arg;
    const struct boot_module *img = find_image(cfg->module);
    const struct boot_module *initrd = cfg->initrd ? find_image(cfg->initrd) : NULL;
    if (!img || (cfg->initrd && !initrd))
        return kcase_fail(kc, "no multiboot module named \"%s\": %s",
                          img ? cfg->initrd : cfg->module, cfg->missing);
    int rc = xh_init(&u->h, kc);
    u->h.on_exit = domu_on_exit;
    u->h.on_console = domu_on_console;
    u->h.arg = u;
    u->h.debugcon = true;
    u->h.null_io = cfg->null_io;
    if (!rc)
        rc = domu_create(u, img, initrd);
    if (!rc)
        rc = xh_run(&u->h, cfg->timeout_ns);
    domu_trace(u);
    return rc;
}

bool xdomu_asked(const struct xdomu *u, const char *path)
{
    for (unsigned i = 0; i < u->xs->requests && i < XSTORE_LOG; i++)
        if (!hv_strcmp(u->xs->log[i].path, path))
            return true;
    return false;
}

void xdomu_fini(struct xdomu *u)
{
    xh_fini(&u->h); /* destroys the VM before its memory goes */
    if (u->mem)
        pmm_free(u->mem, mem_pages(u->cfg));
    if (u->out)
        heap_free(u->out, u->cfg->out_cap);
    if (u->xs)
        heap_free(u->xs, sizeof(*u->xs));
    u->mem = NULL;
    u->out = NULL;
    u->xs = NULL;
}

#endif /* HV_XEN_GUESTS */
