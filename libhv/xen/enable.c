/* Turning a VM into a Xen domain and back; hubs; HVM parameters; vCPU status. */
#include "backend.h"
#include "core/cpu.h"
#include "core/pv.h"
#include "xen/internal.h"

extern const struct hv_pv_ops xen_pv_ops;

#define CONFIG_MIN_SIZE   (offsetof(struct hv_xen_config, flags) + sizeof(uint32_t))
#define DEFAULT_PORTS     1024u
#define DEFAULT_GNT_FRAME 32u
#define DEFAULT_MAJOR     4u
#define DEFAULT_MINOR     19u

/* ---- hubs ---- */

hv_status_t hv_xen_hub_create(struct hv_ctx *ctx, struct hv_xen_hub **out)
{
    if (!ctx || !out)
        return HV_ERR_INVALID_ARG;
    struct hv_xen_hub *hub = hv_host_obj_alloc(&ctx->host, sizeof(*hub));
    if (!hub)
        return HV_ERR_NO_MEMORY;
    hub->ctx = ctx;
    *out = hub;
    return HV_OK;
}

hv_status_t hv_xen_hub_destroy(struct hv_xen_hub *hub)
{
    if (!hub)
        return HV_ERR_INVALID_ARG;
    const struct hv_host *h = &hub->ctx->host;
    uint64_t t = hv_lock_acquire(h, &hub->lock);
    uint32_t n = hub->count;
    hv_lock_release(h, &hub->lock, t);
    if (n)
        return HV_ERR_BUSY;
    hv_host_obj_free(h, hub, sizeof(*hub));
    return HV_OK;
}

struct hv_xen_vm *xen_find_domain(struct hv_xen_vm *self, uint32_t domid)
{
    if (!self->hub)
        return NULL;
    for (struct hv_xen_vm *v = self->hub->first; v; v = v->hub_next) {
        if (v->domid == domid)
            return v;
    }
    return NULL;
}

long xen_other_domain_error(struct hv_xen_vm *x, uint32_t domid)
{
    if (domid == HV_XEN_DOMID_HOST || xen_find_domain(x, domid))
        return -XEN_EPERM;
    return -XEN_ESRCH;
}

long xen_other_domain_error_locking(struct hv_xen_vm *x, uint32_t domid)
{
    uint64_t t = xen_lock(x);
    long rc = xen_other_domain_error(x, domid);
    xen_unlock(x, t);
    return rc;
}

/* Lowest free id, or the requested one if free; 0 if none (hub lock held). */
static uint32_t pick_domid(struct hv_xen_hub *hub, uint32_t want)
{
    for (uint32_t id = want ? want : 1; id <= HV_XEN_DOMID_MAX; id++) {
        bool used = false;
        for (struct hv_xen_vm *v = hub ? hub->first : NULL; v && !used; v = v->hub_next)
            used = v->domid == id;
        if (!used)
            return id;
        if (want)
            return 0;
    }
    return 0;
}

/* ---- enable / disable ---- */

static size_t xvm_size(uint32_t nvcpus)
{
    return sizeof(struct hv_xen_vm) + nvcpus * sizeof(struct hv_xen_vcpu);
}

static hv_status_t read_config(const struct hv_xen_config *config, struct hv_xen_config *cfg)
{
    hv_memset(cfg, 0, sizeof(*cfg));
    if (!config)
        return HV_OK;
    uint32_t size = config->size ? config->size : sizeof(*config);
    if (size < CONFIG_MIN_SIZE)
        return HV_ERR_INVALID_ARG;
    hv_memcpy(cfg, config, HV_MIN((size_t)size, sizeof(*cfg)));
    if (cfg->flags & ~(HV_XEN_F_NO_CONSOLE_IO | HV_XEN_F_TSC_STABLE))
        return HV_ERR_INVALID_ARG;
    if (cfg->domid > HV_XEN_DOMID_MAX)
        return HV_ERR_INVALID_ARG;
    if (cfg->max_evtchn_ports == 1 || cfg->max_evtchn_ports > XEN_EVTCHN_2L_PORTS_64)
        return HV_ERR_INVALID_ARG;
    if (cfg->max_grant_frames > XEN_MAX_GRANT_FRAMES)
        return HV_ERR_INVALID_ARG;
    if (cfg->memmap_count > HV_PVH_MAX_MEMMAP || (cfg->memmap_count && !cfg->memmap))
        return HV_ERR_INVALID_ARG;
    if (hv_strnlen(cfg->extraversion, sizeof(cfg->extraversion)) == sizeof(cfg->extraversion))
        return HV_ERR_INVALID_ARG;
    return HV_OK;
}

static void init_fields(struct hv_xen_vm *x, struct hv_vm *vm, const struct hv_xen_config *cfg)
{
    x->vm = vm;
    x->flags = cfg->flags;
    x->vmx = vm->ctx->caps.backend != HV_BACKEND_SVM;
    x->ver_major = cfg->version_major || cfg->version_minor ? cfg->version_major : DEFAULT_MAJOR;
    x->ver_minor = cfg->version_major || cfg->version_minor ? cfg->version_minor : DEFAULT_MINOR;
    hv_strlcpy(x->extraversion, cfg->extraversion[0] ? cfg->extraversion : ".0",
               sizeof(x->extraversion));
    hv_memcpy(x->handle, cfg->handle, sizeof(x->handle));
    x->wake = cfg->wake;
    x->notify = cfg->notify;
    x->opaque = cfg->opaque;
    x->shinfo_gfn = XEN_INVALID_GFN;
    x->gnt_max = cfg->max_grant_frames ? cfg->max_grant_frames : DEFAULT_GNT_FRAME;
    for (uint32_t i = 0; i < XEN_MAX_GRANT_FRAMES; i++)
        x->gnt_gfn[i] = XEN_INVALID_GFN;
    x->max_ports = cfg->max_evtchn_ports ? cfg->max_evtchn_ports : DEFAULT_PORTS;
    x->valid_ports = HV_MIN(XEN_EVTCHN_BUCKET, x->max_ports);
    xen_port(x, 0)->state = XEN_PORT_RESERVED;
    x->shutdown_code = XEN_SHUTDOWN_CODE_NONE;
    x->nvcpus = vm->max_vcpus;
    for (uint32_t i = 0; i < x->nvcpus; i++) {
        x->vcpus[i].id = i;
        x->vcpus[i].initialised = i == 0; /* the boot vCPU; the rest wait for VCPUOP_up */
        x->vcpus[i].down = i != 0;
        /* Guest time 0 is now: vCPU 0 waits for its first run. */
        x->vcpus[i].rs_state = i == 0 ? XEN_RUNSTATE_runnable : XEN_RUNSTATE_offline;
    }
    if (cfg->memmap_count) {
        for (uint32_t i = 0; i < cfg->memmap_count; i++)
            x->memmap[i] = cfg->memmap[i];
        x->memmap_count = cfg->memmap_count;
        x->memmap_explicit = true;
    } else {
        xen_memmap_derive(vm, x->memmap, &x->memmap_count);
    }
}

static void free_xvm(const struct hv_host *h, struct hv_xen_vm *x)
{
    xen_console_fini(x);
    xen_evtchn_fini(x);
    for (uint32_t i = 0; i < x->gnt_nr; i++)
        hv_host_page_free(h, x->gnt_page[i], 1);
    hv_host_page_free(h, x->shinfo, 1);
    hv_host_obj_free(h, x, xvm_size(x->nvcpus));
}

hv_status_t hv_xen_enable(struct hv_vm *vm, const struct hv_xen_config *config)
{
    struct hv_xen_config cfg;
    if (!vm)
        return HV_ERR_INVALID_ARG;
    hv_status_t st = read_config(config, &cfg);
    if (st != HV_OK)
        return st;
    if (vm->xen || vm->pv)
        return HV_ERR_EXISTS;
    if (cfg.hub && cfg.hub->ctx != vm->ctx)
        return HV_ERR_INVALID_ARG;

    const struct hv_host *h = &vm->ctx->host;
    struct hv_xen_vm *x = hv_host_obj_alloc(h, xvm_size(vm->max_vcpus));
    if (!x)
        return HV_ERR_NO_MEMORY;
    x->vm = vm; /* free_xvm needs the host */
    x->nvcpus = vm->max_vcpus;
    x->max_ports = cfg.max_evtchn_ports ? cfg.max_evtchn_ports : DEFAULT_PORTS;
    uint64_t hpa;
    /* The first port page (port 0 is reserved); more as ports are used. */
    x->port_page[0] = hv_host_page_alloc(h, 1, &hpa);
    x->port_pages = x->port_page[0] ? 1 : 0;
    x->shinfo = hv_host_page_alloc(h, 1, &x->shinfo_hpa);
    if (!x->port_pages || !x->shinfo) {
        free_xvm(h, x);
        return HV_ERR_NO_MEMORY;
    }
    init_fields(x, vm, &cfg);
    xen_time_init(x, cfg.tsc_khz);
    /* A domain starts with one grant-table frame, as in Xen. */
    x->lock = &x->own_lock;
    if (xen_gnttab_grow(x, 1)) {
        free_xvm(h, x);
        return HV_ERR_NO_MEMORY;
    }

    x->hub = cfg.hub;
    x->lock = cfg.hub ? &cfg.hub->lock : &x->own_lock;
    uint64_t t = hv_lock_acquire(h, x->lock);
    uint32_t id = pick_domid(cfg.hub, cfg.domid);
    if (id) {
        x->domid = (uint16_t)id;
        if (cfg.hub) {
            x->hub_next = cfg.hub->first;
            cfg.hub->first = x;
            cfg.hub->count++;
        }
    }
    hv_lock_release(h, x->lock, t);
    if (!id) {
        free_xvm(h, x);
        return cfg.domid ? HV_ERR_EXISTS : HV_ERR_LIMIT;
    }

    t = hv_lock_acquire(h, &vm->lock);
    for (uint32_t i = 0; i < vm->max_vcpus; i++) {
        if (vm->vcpus[i])
            vm->vcpus[i]->xen = &x->vcpus[i];
    }
    vm->xen = x;
    __atomic_store_n(&vm->pv, &xen_pv_ops, __ATOMIC_RELEASE);
    hv_lock_release(h, &vm->lock, t);
    return HV_OK;
}

hv_status_t hv_xen_disable(struct hv_vm *vm)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, true, &x);
    if (entry != HV_OK)
        return entry;
    const struct hv_host *h = &vm->ctx->host;
    uint64_t t = hv_lock_acquire(h, &vm->lock);
    /* The hold keeps a run from starting with the hooks about to go; once
       they are gone, a run sees no Xen state. */
    bool busy = !hv_vm_hold_runs(vm);
    if (!busy) {
        __atomic_store_n(&vm->pv, NULL, __ATOMIC_RELEASE);
        for (uint32_t i = 0; i < vm->max_vcpus; i++) {
            if (vm->vcpus[i]) {
                vm->vcpus[i]->xen = NULL;
                if (x->vcpus[i].queued_vector &&
                    vm->vcpus[i]->queued_irq.vector == x->vcpus[i].queued_vector)
                    vm->vcpus[i]->queued_irq.type = HV_EVENT_NONE;
            }
        }
        hv_vm_release_runs(vm);
    }
    hv_lock_release(h, &vm->lock, t);
    if (busy)
        return HV_ERR_BUSY;
    bool scrub = hv_vm_scrub_begin(vm); /* HV_VM_SCRUB: what we free is zeroed */

    /* Peers in the hub see our ports closed; then leave the hub. */
    t = xen_lock(x);
    xen_evtchn_close_all(x);
    if (x->hub) {
        struct hv_xen_vm **pp = &x->hub->first;
        while (*pp && *pp != x)
            pp = &(*pp)->hub_next;
        if (*pp) {
            *pp = x->hub_next;
            x->hub->count--;
        }
    }
    xen_unlock(x, t);

    xen_gnttab_fini(x); /* unmaps and frees the table frames */
    if (x->shinfo_gfn != XEN_INVALID_GFN)
        xen_unmap_special(vm, x->shinfo_gfn);
    vm->xen = NULL;
    free_xvm(h, x);
    hv_vm_scrub_end(vm->ctx, scrub);
    return HV_OK;
}

hv_status_t hv_xen_domid(struct hv_vm *vm, uint32_t *domid)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, domid != NULL, &x);
    if (entry != HV_OK)
        return entry;
    *domid = x->domid;
    return HV_OK;
}

/* ---- HVM parameters, host side ---- */

/* Writes *@p value into parameter @p index (@p set) or reads it there. */
static hv_status_t host_param(struct hv_vm *vm, bool args_ok, uint32_t index, bool set,
                              uint64_t *value)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, args_ok, &x);
    if (entry != HV_OK)
        return entry;
    if (index >= HVM_NR_PARAMS)
        return HV_ERR_RANGE;
    uint64_t t = xen_lock(x);
    if (set)
        x->params[index] = *value;
    else
        *value = x->params[index];
    xen_unlock(x, t);
    return HV_OK;
}

hv_status_t hv_xen_set_param(struct hv_vm *vm, uint32_t index, uint64_t value)
{
    return host_param(vm, true, index, true, &value);
}

hv_status_t hv_xen_get_param(struct hv_vm *vm, uint32_t index, uint64_t *value)
{
    return host_param(vm, value != NULL, index, false, value);
}

/* ---- scheduling state for the embedder ---- */

hv_status_t hv_xen_vcpu_set_up(struct hv_vcpu *vcpu, bool up)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vcpu ? vcpu->vm : NULL, true, &x);
    if (entry != HV_OK)
        return entry;
    struct hv_xen_vcpu *xv = xen_vcpu(x, vcpu);
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    bool was_down = xv->down;
    if (up) {
        xv->initialised = true;
        xv->leave_sipi_wait |= was_down;
        xen_set_block(x, xv, XEN_RUNNING);
    } else {
        xv->leave_sipi_wait = false;
    }
    __atomic_store_n(&xv->down, !up, __ATOMIC_SEQ_CST);
    /* The area is written at the vCPU's next transition (its own paging). */
    if (up != !was_down)
        xen_runstate_set(x, xv, up ? XEN_RUNSTATE_runnable : XEN_RUNSTATE_offline, now);
    xen_unlock(x, t);
    if (!up && !was_down && __atomic_load_n(&vcpu->running, __ATOMIC_SEQ_CST))
        hv_vcpu_kick(vcpu);
    return HV_OK;
}

hv_status_t hv_xen_vcpu_status(struct hv_vcpu *vcpu, struct hv_xen_vcpu_status *status)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vcpu ? vcpu->vm : NULL, status != NULL, &x);
    if (entry != HV_OK)
        return entry;
    struct hv_xen_vcpu *xv = xen_vcpu(x, vcpu);
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    xen_run_timers(x, xv, now);
    uint8_t *vi = xen_vcpu_info(x, xv);
    status->event_pending = xv->upcall_assert || (vi && xen_vi_upcall_pending(vi));
    status->down = xv->down;
    status->blocked = xv->block != XEN_RUNNING || xv->down;
    uint64_t d = xen_next_deadline(xv);
    status->deadline_ns = d ? d + x->time_base_ns : 0;
    status->time_area = xv->ti_area;
    xen_unlock(x, t);
    return HV_OK;
}
