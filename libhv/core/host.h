/*
 * Internal view of the host services: the copied ops table and thin wrappers
 * that every module uses instead of calling hv_host_ops members directly, so
 * that optional callbacks and logging are handled in one place.
 */
#ifndef HV_CORE_HOST_H
#define HV_CORE_HOST_H

#include <hv/host.h>
#include <hv/status.h>
#include "core/util.h"

/* The embedder's table, copied at context creation (missing tail zeroed). */
struct hv_host {
    struct hv_host_ops ops;
    hv_log_level_t log_level; /* messages above this level are dropped */
    /*
     * Scrubbing teardowns running now (hv_host_scrub_begin/end, for VMs
     * created with HV_VM_SCRUB). While non-zero, every page and object
     * freed through the wrappers below is zeroed first: one place for all
     * modules and backends. A free of another VM that overlaps the window
     * is zeroed too, which costs time but nothing else.
     */
    volatile uint32_t scrub;
};

/* Validates and copies @p ops (size/version checks, required callbacks). */
hv_status_t hv_host_init(struct hv_host *host, const struct hv_host_ops *ops);

static inline void *hv_host_page_alloc(const struct hv_host *h, size_t count, uint64_t *hpa)
{
    return h->ops.page_alloc(h->ops.opaque, count, hpa);
}

static inline bool hv_host_scrubbing(const struct hv_host *h)
{
    return HV_UNLIKELY(__atomic_load_n(&h->scrub, __ATOMIC_ACQUIRE) != 0);
}

static inline void hv_host_scrub_begin(struct hv_host *h)
{
    __atomic_add_fetch(&h->scrub, 1, __ATOMIC_SEQ_CST);
}

static inline void hv_host_scrub_end(struct hv_host *h)
{
    __atomic_sub_fetch(&h->scrub, 1, __ATOMIC_SEQ_CST);
}

static inline void hv_host_page_free(const struct hv_host *h, void *hva, size_t count)
{
    if (!hva)
        return;
    if (hv_host_scrubbing(h))
        hv_memset(hva, 0, count * HV_PAGE_SIZE);
    h->ops.page_free(h->ops.opaque, hva, count);
}

static inline void *hv_host_obj_alloc(const struct hv_host *h, size_t size)
{
    return h->ops.obj_alloc(h->ops.opaque, size);
}

static inline void hv_host_obj_free(const struct hv_host *h, void *ptr, size_t size)
{
    if (!ptr)
        return;
    if (hv_host_scrubbing(h))
        hv_memset(ptr, 0, size);
    h->ops.obj_free(h->ops.opaque, ptr, size);
}

static inline void *hv_host_phys_to_virt(const struct hv_host *h, uint64_t hpa)
{
    return h->ops.phys_to_virt(h->ops.opaque, hpa);
}

static inline uint64_t hv_host_virt_to_phys(const struct hv_host *h, const void *hva)
{
    return h->ops.virt_to_phys(h->ops.opaque, hva);
}

static inline uint32_t hv_host_cpu_current(const struct hv_host *h)
{
    return h->ops.cpu_current(h->ops.opaque);
}

static inline uint32_t hv_host_cpu_count(const struct hv_host *h)
{
    return h->ops.cpu_count(h->ops.opaque);
}

/* 0 when the host has no clock. */
static inline uint64_t hv_host_time_ns(const struct hv_host *h)
{
    return h->ops.time_ns ? h->ops.time_ns(h->ops.opaque) : 0;
}

/* printf-style log through the host's log callback (dropped if none). */
void hv_log(const struct hv_host *h, hv_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A ticket-free test-and-set spinlock. Held only for short, bounded
 * sections; interrupts are disabled while held when the host supplies
 * irq_save/irq_restore.
 */
struct hv_lock {
    volatile uint32_t held;
};

/* The lock alone, for a caller that runs with interrupts off already (the
   backends' exit fast paths): nothing to save or restore. */
static inline void hv_spin_acquire(struct hv_lock *l)
{
    while (__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&l->held, __ATOMIC_RELAXED))
            __builtin_ia32_pause();
}

static inline void hv_spin_release(struct hv_lock *l)
{
    __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

static inline uint64_t hv_lock_acquire(const struct hv_host *h, struct hv_lock *l)
{
    uint64_t token = h->ops.irq_save ? h->ops.irq_save(h->ops.opaque) : 0;
    hv_spin_acquire(l);
    return token;
}

static inline void hv_lock_release(const struct hv_host *h, struct hv_lock *l, uint64_t token)
{
    hv_spin_release(l);
    if (h->ops.irq_restore)
        h->ops.irq_restore(h->ops.opaque, token);
}

#endif /* HV_CORE_HOST_H */
