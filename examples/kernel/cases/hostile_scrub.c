/*
 * HV_VM_SCRUB on the real backends: a VM that ran (its VMCS/VMCB, save
 * areas and SLAT tables hold guest state), with Xen enabled, is torn down
 * with the flag; every page and object libhv gives back to this kernel in
 * the teardown must be zero, and so must the guest RAM it still mapped,
 * except the page mapped uncacheable (device memory). The same teardown
 * without the flag must give back data (or the check would prove nothing).
 *
 * The kernel's host services are wrapped: every callback forwards to the
 * kernel's, page_free and obj_free look at the memory first while a
 * teardown is being watched.
 *
 *   hostile.scrub
 */
#include <hv/hv.h>
#include <hv/xen.h>

#include "core/util.h"
#include "kcase.h"

#define RAM_PAGES 64u
#define RESET_GPA 0xfffff000ull
#define DEV_GPA   0x80000000ull
#define PATTERN   0x5a
#define DEV_FILL  0xc3

struct watch {
    struct hv_host_ops ops; /* handed to libhv; opaque = this */
    const struct hv_host_ops *in;
    bool on;
    unsigned freed, nonzero;
    char first[96];
};

static struct watch *W(void *opaque)
{
    return opaque;
}

static void look(struct watch *w, const char *kind, const void *p, size_t bytes)
{
    if (!w->on)
        return;
    w->freed++;
    const uint8_t *b = p;
    for (size_t i = 0; i < bytes; i++) {
        if (b[i]) {
            if (w->nonzero++ == 0)
                hv_snprintf(w->first, sizeof(w->first), "%s %p (%zu bytes): byte %zu = 0x%x", kind,
                            p, bytes, i, b[i]);
            return;
        }
    }
}

static void *w_page_alloc(void *o, size_t n, uint64_t *hpa)
{
    return W(o)->in->page_alloc(W(o)->in->opaque, n, hpa);
}
static void w_page_free(void *o, void *p, size_t n)
{
    look(W(o), "page", p, n * PAGE_SIZE);
    W(o)->in->page_free(W(o)->in->opaque, p, n);
}
static void *w_obj_alloc(void *o, size_t size)
{
    return W(o)->in->obj_alloc(W(o)->in->opaque, size);
}
static void w_obj_free(void *o, void *p, size_t size)
{
    look(W(o), "object", p, size);
    W(o)->in->obj_free(W(o)->in->opaque, p, size);
}
static uint64_t w_v2p(void *o, const void *p)
{
    return W(o)->in->virt_to_phys(W(o)->in->opaque, p);
}
static void *w_p2v(void *o, uint64_t hpa)
{
    return W(o)->in->phys_to_virt(W(o)->in->opaque, hpa);
}
static uint32_t w_cpu_count(void *o)
{
    return W(o)->in->cpu_count(W(o)->in->opaque);
}
static uint32_t w_cpu_current(void *o)
{
    return W(o)->in->cpu_current(W(o)->in->opaque);
}
static int w_run_on_each_cpu(void *o, hv_cpu_fn fn, void *arg)
{
    return W(o)->in->run_on_each_cpu(W(o)->in->opaque, fn, arg);
}
static void w_kick_cpu(void *o, uint32_t cpu)
{
    W(o)->in->kick_cpu(W(o)->in->opaque, cpu);
}
static uint64_t w_irq_save(void *o)
{
    return W(o)->in->irq_save(W(o)->in->opaque);
}
static void w_irq_restore(void *o, uint64_t t)
{
    W(o)->in->irq_restore(W(o)->in->opaque, t);
}
static void w_log(void *o, hv_log_level_t level, const char *msg)
{
    W(o)->in->log(W(o)->in->opaque, level, msg);
}
static uint64_t w_time_ns(void *o)
{
    return W(o)->in->time_ns(W(o)->in->opaque);
}

static void watch_init(struct watch *w, const struct hv_host_ops *in)
{
    hv_memset(w, 0, sizeof(*w));
    w->in = in;
    w->ops = *in;
    w->ops.opaque = w;
    w->ops.page_alloc = w_page_alloc;
    w->ops.page_free = w_page_free;
    w->ops.obj_alloc = w_obj_alloc;
    w->ops.obj_free = w_obj_free;
    w->ops.virt_to_phys = w_v2p;
    w->ops.phys_to_virt = w_p2v;
    w->ops.cpu_count = w_cpu_count;
    w->ops.cpu_current = w_cpu_current;
    w->ops.run_on_each_cpu = w_run_on_each_cpu;
    w->ops.kick_cpu = in->kick_cpu ? w_kick_cpu : NULL;
    w->ops.irq_save = in->irq_save ? w_irq_save : NULL;
    w->ops.irq_restore = in->irq_restore ? w_irq_restore : NULL;
    w->ops.log = in->log ? w_log : NULL;
    w->ops.time_ns = in->time_ns ? w_time_ns : NULL;
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* Build a VM (flags), run it to its HLT, tear it down watched. */
static int one(struct kcase_ctx *kc, struct watch *w, struct hv_ctx *ctx, uint32_t flags,
               uint8_t *ram, uint8_t *reset, uint8_t *dev)
{
    struct hv_vm *vm = NULL;
    struct hv_vcpu *vcpu = NULL;
    hv_status_t st;
    int rc = 0;

    hv_memset(ram, PATTERN, RAM_PAGES * PAGE_SIZE);
    hv_memset(reset, PATTERN, PAGE_SIZE);
    reset[0xff0] = 0xf4; /* the reset vector: HLT */
    hv_memset(dev, DEV_FILL, PAGE_SIZE);
    struct hv_vm_config vc = {.size = sizeof(vc), .flags = flags};
    if ((st = hv_vm_create(ctx, &vc, &vm)) != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    uint64_t ram_hpa = (uintptr_t)ram;
    if ((st = hv_vm_map(vm, 0, ram_hpa, RAM_PAGES * PAGE_SIZE, HV_MEM_RWX)) != HV_OK ||
        (st = hv_vm_map(vm, 0x100000, ram_hpa, RAM_PAGES * PAGE_SIZE, HV_MEM_READ)) != HV_OK ||
        (st = hv_vm_map(vm, RESET_GPA, (uintptr_t)reset, PAGE_SIZE, HV_MEM_READ | HV_MEM_EXEC)) !=
            HV_OK ||
        (st = hv_vm_map(vm, DEV_GPA, (uintptr_t)dev, PAGE_SIZE,
                        HV_MEM_READ | HV_MEM_WRITE | HV_MEMTYPE_UC)) != HV_OK) {
        rc = kcase_fail(kc, "hv_vm_map: %s", hv_status_str(st));
        goto out;
    }
    if ((st = hv_vcpu_create(vm, 0, &vcpu)) != HV_OK) {
        rc = kcase_fail(kc, "hv_vcpu_create: %s", hv_status_str(st));
        goto out;
    }
    struct hv_vcpu_state s;
    if ((st = hv_vcpu_get_state(vcpu, HV_STATE_ALL, &s)) != HV_OK) {
        rc = kcase_fail(kc, "hv_vcpu_get_state: %s", hv_status_str(st));
        goto out;
    }
    for (unsigned r = 0; r < HV_GPR_COUNT; r++)
        if (r != HV_GPR_RSP)
            s.gpr[r] = 0x5ec2e7000000ull + r;
    if ((st = hv_vcpu_set_state(vcpu, HV_STATE_GPR, &s)) != HV_OK) {
        rc = kcase_fail(kc, "hv_vcpu_set_state: %s", hv_status_str(st));
        goto out;
    }
    struct hv_exit ex;
    hv_memset(&ex, 0, sizeof(ex));
    if ((st = hv_vcpu_run(vcpu, &ex)) != HV_OK || ex.reason != HV_EXIT_HLT) {
        rc = kcase_fail(kc, "run: %s, exit %u", hv_status_str(st), ex.reason);
        goto out;
    }
    struct hv_xen_config xc;
    hv_memset(&xc, 0, sizeof(xc));
    xc.size = sizeof(xc);
    if ((st = hv_xen_enable(vm, &xc)) != HV_OK) {
        rc = kcase_fail(kc, "hv_xen_enable: %s", hv_status_str(st));
        goto out;
    }
    w->on = true;
    hv_xen_disable(vm);
out:
    w->on = !rc;
    if (vcpu)
        hv_vcpu_destroy(vcpu);
    if (vm)
        hv_vm_destroy(vm);
    w->on = false;
    return rc;
}

static int case_scrub(struct kcase_ctx *kc)
{
    struct watch w;
    struct hv_ctx *ctx = NULL;
    int rc = 0;
    watch_init(&w, &kc->host_ops);
    uint8_t *ram = pmm_alloc(RAM_PAGES), *reset = pmm_alloc(1), *dev = pmm_alloc(1);
    if (!ram || !reset || !dev) {
        rc = kcase_fail(kc, "out of memory");
        goto out;
    }
    hv_status_t st = hv_ctx_create(&w.ops, NULL, &ctx);
    if (st != HV_OK) {
        rc = kcase_fail(kc, "hv_ctx_create: %s", hv_status_str(st));
        goto out;
    }

    rc = one(kc, &w, ctx, HV_VM_SCRUB, ram, reset, dev);
    if (!rc && w.freed < 8)
        rc = kcase_fail(kc, "scrub: only %u blocks freed in the teardown", w.freed);
    if (!rc && w.nonzero)
        rc = kcase_fail(kc, "scrub: %u of %u freed blocks hold data, first %s", w.nonzero, w.freed,
                        w.first);
    if (!rc && (!all(ram, RAM_PAGES * PAGE_SIZE, 0) || !all(reset, PAGE_SIZE, 0)))
        rc = kcase_fail(kc, "scrub: guest RAM not zeroed");
    if (!rc && !all(dev, PAGE_SIZE, DEV_FILL))
        rc = kcase_fail(kc, "scrub: the uncacheable (device) page was written");
    if (!rc)
        kprintf("  scrub: %u blocks freed, all zero; RAM zero, device page kept\n", w.freed);

    /* Without the flag: the same teardown gives back what it held. */
    unsigned freed_scrub = w.freed;
    w.freed = w.nonzero = 0;
    if (!rc)
        rc = one(kc, &w, ctx, 0, ram, reset, dev);
    if (!rc && (w.freed != freed_scrub || !w.nonzero))
        rc = kcase_fail(kc, "no scrub: %u of %u freed blocks hold data (scrubbed run freed %u)",
                        w.nonzero, w.freed, freed_scrub);
    if (!rc && !all(ram, RAM_PAGES * PAGE_SIZE, PATTERN))
        rc = kcase_fail(kc, "no scrub: guest RAM changed");
    if (!rc)
        kprintf("  no scrub: %u of %u freed blocks hold data, RAM kept\n", w.nonzero, w.freed);
out:
    if (ctx)
        hv_ctx_destroy(ctx);
    if (ram)
        pmm_free(ram, RAM_PAGES);
    if (reset)
        pmm_free(reset, 1);
    if (dev)
        pmm_free(dev, 1);
    return rc;
}

static const struct kcase hostile_scrub_cases[] KCASE_TABLE = {
    {"hostile.scrub", case_scrub, 0},
};
