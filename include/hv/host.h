/**
 * @file host.h
 * @brief Host services: the only way libhv reaches the embedding kernel.
 *
 * The embedder fills a struct hv_host_ops and passes it to hv_ctx_create().
 * libhv copies the table, so it may live on the caller's stack. Every
 * callback receives the table's @c opaque pointer first. The exact contract
 * of each callback (context, may it sleep, alignment, zeroing) is spelled
 * out here and in docs/porting.md.
 */
#ifndef HV_HOST_H
#define HV_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of struct hv_host_ops described by this header. */
#define HV_HOST_OPS_VERSION 1u

/** Size of a host page as libhv uses it (the x86 base page). */
#define HV_PAGE_SIZE 4096u

/** Log levels passed to hv_host_ops::log. */
typedef enum hv_log_level {
    HV_LOG_ERROR = 0, /**< Something failed; the call reports a status too. */
    HV_LOG_WARN = 1,  /**< Unusual but handled (a guest misbehaved, a feature degraded). */
    HV_LOG_INFO = 2,  /**< One-time facts (probe results). */
    HV_LOG_DEBUG = 3  /**< Per-exit detail; never emitted on hot paths unless enabled. */
} hv_log_level_t;

/** Function run on every host CPU by hv_host_ops::run_on_each_cpu. */
typedef void (*hv_cpu_fn)(void *arg, uint32_t cpu);

/**
 * @brief The host services table.
 *
 * Required callbacks are marked "required"; hv_ctx_create() fails with
 * ::HV_ERR_VERSION if one is NULL, or if @c size is smaller than the
 * version-1 layout. Optional callbacks may be NULL.
 */
struct hv_host_ops {
    /** sizeof(struct hv_host_ops) as the embedder compiled it (lets the table grow). */
    uint32_t size;
    /** ::HV_HOST_OPS_VERSION as the embedder compiled it. */
    uint32_t version;
    /** Passed back as the first argument of every callback. */
    void *opaque;

    /**
     * @brief Allocate @p count physically contiguous, zeroed 4 KiB pages (required).
     *
     * The block is 4 KiB aligned in both address spaces, mapped writable
     * (write-back) in the host's address space, and stays at the same host
     * physical address until freed. Called from thread context with
     * interrupts enabled; may sleep. libhv asks for count == 1 except for a
     * few architectural structures (SVM I/O and MSR permission maps, 3 and 2
     * pages).
     * @param opaque hv_host_ops::opaque.
     * @param count  Number of pages, at least 1.
     * @param[out] hpa Host-physical address of the first page.
     * @return Host-virtual address of the first page, or NULL on failure.
     */
    void *(*page_alloc)(void *opaque, size_t count, uint64_t *hpa);

    /**
     * @brief Free a block returned by page_alloc (required).
     * @param opaque hv_host_ops::opaque.
     * @param hva    The address page_alloc returned.
     * @param count  The count passed to page_alloc.
     */
    void (*page_free)(void *opaque, void *hva, size_t count);

    /**
     * @brief Allocate a zeroed object of @p size bytes, 16-byte aligned (required).
     *
     * Thread context; may sleep. Never called on exit-handling paths.
     * @return The object, or NULL on failure.
     */
    void *(*obj_alloc)(void *opaque, size_t size);

    /**
     * @brief Free an object from obj_alloc (required); @p size is the allocation size.
     */
    void (*obj_free)(void *opaque, void *ptr, size_t size);

    /**
     * @brief Translate a host-virtual address of host memory to host-physical (required).
     *
     * Used for pages from page_alloc and for guest RAM handed to the VM.
     * Any context; must not sleep.
     * @return The host-physical address, or UINT64_MAX if @p hva is not mapped.
     */
    uint64_t (*virt_to_phys)(void *opaque, const void *hva);

    /**
     * @brief Translate a host-physical address to a host-virtual pointer (required).
     *
     * libhv uses it to read and write guest RAM (which the embedder mapped
     * into the VM by host-physical address) and its own table pages. Any
     * context, including exit handling with interrupts off; must not sleep.
     * @return The pointer, or NULL if @p hpa is not accessible.
     */
    void *(*phys_to_virt)(void *opaque, uint64_t hpa);

    /** @brief Number of host CPUs (required). Any context. */
    uint32_t (*cpu_count)(void *opaque);

    /** @brief Index (0 .. cpu_count-1) of the calling CPU (required). Any context. */
    uint32_t (*cpu_current)(void *opaque);

    /**
     * @brief Run @p fn on every host CPU and wait for all to finish (required).
     *
     * Used to enable and disable virtualization per CPU at context create
     * and destroy. @p fn runs with preemption disabled on its CPU.
     * @return 0 on success; non-zero if it could not run on some CPU.
     */
    int (*run_on_each_cpu)(void *opaque, hv_cpu_fn fn, void *arg);

    /**
     * @brief Interrupt host CPU @p cpu so that a guest running there exits (optional).
     *
     * Any context. A uniprocessor host may leave this NULL: hv_vcpu_kick()
     * then only sets the request flag, which the run loop checks before
     * every entry, and the host's own timer interrupt forces the exit.
     */
    void (*kick_cpu)(void *opaque, uint32_t cpu);

    /**
     * @brief Disable interrupts on this CPU and return a token for irq_restore (optional).
     *
     * libhv's internal spinlocks call it so that a lock is never held across
     * an interrupt. When NULL, locks spin without touching interrupts.
     */
    uint64_t (*irq_save)(void *opaque);

    /** @brief Restore the interrupt state saved by irq_save (optional, paired with it). */
    void (*irq_restore)(void *opaque, uint64_t token);

    /**
     * @brief Emit one log line (optional). @p msg is NUL-terminated, no newline.
     * Any context; must not sleep.
     */
    void (*log)(void *opaque, hv_log_level_t level, const char *msg);

    /**
     * @brief Monotonic host time in nanoseconds (optional).
     *
     * Drives guest timers and the Xen time ABI. When NULL, guest timers are
     * unavailable and the calls that need them fail with ::HV_ERR_UNSUPPORTED.
     */
    uint64_t (*time_ns)(void *opaque);
};

#ifdef __cplusplus
}
#endif

#endif /* HV_HOST_H */
