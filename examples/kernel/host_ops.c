/*
 * libhv's host services (include/hv/host.h) on top of this kernel. Each
 * callback is a one-liner here because the kernel is simple: one CPU, no
 * preemption, and an identity map, so physical and virtual addresses are
 * the same number. A kernel with a higher-half or direct-map layout would
 * translate in virt_to_phys/phys_to_virt, and an SMP kernel would send an
 * IPI in kick_cpu and run run_on_each_cpu's function on every CPU.
 */
#include <hv/host.h>

#include "cpu.h"
#include "kernel.h"

#define IDENTITY_LIMIT (4ull << 30) /* boot.S maps the first 4 GiB */

static void *host_page_alloc(void *opaque, size_t count, uint64_t *hpa)
{
    void *p = pmm_alloc(count); /* contiguous and zeroed */
    if (p)
        *hpa = (uint64_t)(uintptr_t)p;
    return p;
}

static void host_page_free(void *opaque, void *hva, size_t count)
{
    pmm_free(hva, count);
}

static void *host_obj_alloc(void *opaque, size_t size)
{
    return heap_alloc(size); /* zeroed, 16-byte aligned */
}

static void host_obj_free(void *opaque, void *ptr, size_t size)
{
    heap_free(ptr, size);
}

static uint64_t host_virt_to_phys(void *opaque, const void *hva)
{
    uint64_t a = (uint64_t)(uintptr_t)hva;
    return a < IDENTITY_LIMIT ? a : UINT64_MAX;
}

static void *host_phys_to_virt(void *opaque, uint64_t hpa)
{
    return hpa < IDENTITY_LIMIT ? (void *)(uintptr_t)hpa : NULL;
}

static uint32_t host_cpu_count(void *opaque)
{
    return 1;
}

static uint32_t host_cpu_current(void *opaque)
{
    return 0;
}

static int host_run_on_each_cpu(void *opaque, hv_cpu_fn fn, void *arg)
{
    fn(arg, 0); /* this kernel never preempts, so nothing to disable */
    return 0;
}

static uint64_t host_irq_save(void *opaque)
{
    return irq_save();
}

static void host_irq_restore(void *opaque, uint64_t token)
{
    irq_restore(token);
}

static void host_log(void *opaque, hv_log_level_t level, const char *msg)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    kprintf("hv %s: %s\n", (unsigned)level < 4 ? names[level] : "?", msg);
}

static uint64_t host_time_ns(void *opaque)
{
    return ktime_ns();
}

void kernel_host_ops(struct hv_host_ops *ops)
{
    memset(ops, 0, sizeof(*ops));
    ops->size = sizeof(*ops);
    ops->version = HV_HOST_OPS_VERSION;
    ops->opaque = NULL;
    ops->page_alloc = host_page_alloc;
    ops->page_free = host_page_free;
    ops->obj_alloc = host_obj_alloc;
    ops->obj_free = host_obj_free;
    ops->virt_to_phys = host_virt_to_phys;
    ops->phys_to_virt = host_phys_to_virt;
    ops->cpu_count = host_cpu_count;
    ops->cpu_current = host_cpu_current;
    ops->run_on_each_cpu = host_run_on_each_cpu;
    ops->kick_cpu = NULL; /* uniprocessor: the timer tick forces the exit */
    ops->irq_save = host_irq_save;
    ops->irq_restore = host_irq_restore;
    ops->log = host_log;
    ops->time_ns = host_time_ns;
}
