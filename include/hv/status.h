/**
 * @file status.h
 * @brief The single status enum returned by every libhv call.
 */
#ifndef HV_STATUS_H
#define HV_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Result of every libhv call that can fail.
 *
 * Values are stable ABI: new codes are only ever appended before
 * ::HV_STATUS_COUNT.
 */
typedef enum hv_status {
    HV_OK = 0,               /**< Success. */
    HV_ERR_INVALID_ARG,      /**< A pointer is NULL, a flag is unknown, or a value is malformed. */
    HV_ERR_NO_MEMORY,        /**< A host page or object allocation failed. */
    HV_ERR_UNSUPPORTED,      /**< The CPU or the selected backend lacks a required feature. */
    HV_ERR_NO_BACKEND,       /**< No compiled-in backend can run on this CPU (or the forced one). */
    HV_ERR_ALIGNMENT,        /**< An address or length is not aligned as required. */
    HV_ERR_RANGE,            /**< An address or length is outside the valid range or overflows. */
    HV_ERR_EXISTS,           /**< The range or object is already present (overlap). */
    HV_ERR_NOT_FOUND,        /**< The range or object does not exist. */
    HV_ERR_BUSY,             /**< The object is in use (for example a VM that still has vCPUs). */
    HV_ERR_STATE,            /**< The object is in the wrong state for this call. */
    HV_ERR_LIMIT,            /**< A fixed limit was reached (vCPU count, ASIDs, handlers). */
    HV_ERR_HOST,             /**< A host service reported a failure. */
    HV_ERR_HW,               /**< A virtualization instruction failed (VMXON, VMRUN, ...). */
    HV_ERR_VERSION,          /**< The host services table is too old or malformed. */
    HV_ERR_BAD_IMAGE,        /**< A guest image is malformed; see the loader's reason. */
    HV_ERR_GUEST_FAULT,      /**< A guest memory access faulted (unmapped, protected or MMIO). */
    HV_ERR_AGAIN,            /**< The operation was interrupted and must be resumed by calling again. */
    HV_STATUS_COUNT          /**< Number of status codes; not a status. */
} hv_status_t;

/**
 * @brief Human-readable name of a status code.
 * @param status Any value; unknown values yield "HV_ERR_UNKNOWN".
 * @return A static, NUL-terminated string (never NULL).
 */
const char *hv_status_str(hv_status_t status);

#ifdef __cplusplus
}
#endif

#endif /* HV_STATUS_H */
