/**
 * @file ctx.h
 * @brief The libhv context: host services, CPU probe, backend selection.
 *
 * A context is created once by the embedder. It validates and copies the
 * host services table, probes the CPU, selects a backend (Intel VMX or AMD
 * SVM) and enables virtualization on every host CPU through
 * hv_host_ops::run_on_each_cpu. Several contexts may exist in one process
 * (the unit tests do that), but only one may have virtualization enabled on
 * a real CPU at a time.
 */
#ifndef HV_CTX_H
#define HV_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/host.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A libhv context (opaque). */
struct hv_ctx;

/** Backend identifiers (hv_caps::backend). */
typedef enum hv_backend_id {
    HV_BACKEND_NONE = 0, /**< No backend. */
    HV_BACKEND_VMX = 1,  /**< Intel VMX with EPT. */
    HV_BACKEND_SVM = 2   /**< AMD SVM with NPT. */
} hv_backend_id_t;

/** @name Optional CPU features (hv_caps::features bits)
 * @{ */
#define HV_FEAT_UNRESTRICTED_GUEST 0x0001u /**< Real-mode and paging-off guests run natively (VMX UG; always on SVM). */
#define HV_FEAT_NRIP_SAVE          0x0002u /**< SVM: the CPU reports the next RIP on exits. */
#define HV_FEAT_DECODE_ASSISTS     0x0004u /**< SVM: instruction bytes provided on nested page faults. */
#define HV_FEAT_FLUSH_BY_ASID      0x0008u /**< SVM: TLB flush of one ASID. */
#define HV_FEAT_VMCB_CLEAN         0x0010u /**< SVM: VMCB clean bits. */
#define HV_FEAT_VPID               0x0020u /**< VMX: virtual-processor identifiers. */
#define HV_FEAT_PREEMPTION_TIMER   0x0040u /**< VMX: preemption timer. */
#define HV_FEAT_SLAT_AD            0x0080u /**< SLAT accessed/dirty bits (dirty logging possible). */
#define HV_FEAT_SLAT_EXEC_ONLY     0x0100u /**< Execute-only SLAT mappings allowed (EPT). */
#define HV_FEAT_PAUSE_FILTER       0x0200u /**< PAUSE-loop exiting / pause filter. */
#define HV_FEAT_VGIF               0x0400u /**< SVM: virtual GIF. */
/** @} */

/** What the context found and selected (hv_ctx_caps()). */
struct hv_caps {
    uint32_t size;              /**< sizeof(struct hv_caps) as the caller compiled it. */
    hv_backend_id_t backend;    /**< Selected backend. */
    const char *backend_name;   /**< "vmx" or "svm". */
    uint32_t features;          /**< HV_FEAT_* bits. */
    uint32_t slat_page_sizes;   /**< HV_PAGE_* sizes the SLAT may use. */
    uint32_t asid_count;        /**< Address-space identifiers (SVM ASIDs or VMX VPIDs) available; 0 if none. */
    uint32_t gpa_bits;          /**< Largest guest-physical width a VM may have. */
    uint32_t hpa_bits;          /**< Host physical address width (MAXPHYADDR). */
    uint32_t revision;          /**< SVM revision or VMCS revision identifier. */
    uint32_t preemption_timer_shift; /**< VMX: the timer counts down every 2^shift TSC cycles. */
};

/** Options for hv_ctx_create(); a zeroed struct gives the defaults. */
struct hv_ctx_config {
    uint32_t size;            /**< sizeof(struct hv_ctx_config); 0 means the current size. */
    /** Force a backend by name ("vmx" or "svm"); NULL to probe. */
    const char *backend;
    /** Log level threshold (messages above it are dropped); 0 means ::HV_LOG_INFO. */
    hv_log_level_t log_level;
};

/**
 * @brief Create a context: validate @p ops, probe the CPU, pick a backend,
 *        enable virtualization on every host CPU.
 *
 * On AMD the per-CPU enable also clears EFER.FFXSR (fast FXSAVE/FXRSTOR
 * would skip XMM0-15 in the x87/SSE switch around each run); the host
 * must not set it while the context lives. hv_ctx_destroy() restores
 * EFER.SVME and EFER.FFXSR as it found them.
 * @param ops Host services; copied, so it may be temporary.
 * @param config Options, or NULL.
 * @param[out] out The new context.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_VERSION (ops too old or a
 *         required callback missing); ::HV_ERR_NO_BACKEND (no compiled-in
 *         backend fits this CPU, or the forced one is unknown or absent);
 *         ::HV_ERR_UNSUPPORTED (the backend needs a feature the CPU lacks,
 *         e.g. SLAT, or firmware disabled it); ::HV_ERR_HOST (per-CPU enable
 *         failed on some CPU; nothing is left enabled); ::HV_ERR_NO_MEMORY.
 */
hv_status_t hv_ctx_create(const struct hv_host_ops *ops, const struct hv_ctx_config *config,
                          struct hv_ctx **out);

/**
 * @brief Disable virtualization on every CPU and free the context.
 * @param ctx The context (no VM may remain).
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG for NULL; ::HV_ERR_BUSY while VMs exist.
 */
hv_status_t hv_ctx_destroy(struct hv_ctx *ctx);

/**
 * @brief Report the selected backend and CPU capabilities.
 * @param ctx The context.
 * @param[out] caps Filled up to caps->size bytes (set it first).
 * @return ::HV_OK or ::HV_ERR_INVALID_ARG.
 */
hv_status_t hv_ctx_caps(const struct hv_ctx *ctx, struct hv_caps *caps);

#ifdef __cplusplus
}
#endif

#endif /* HV_CTX_H */
