/* Names of the status codes (hv_status_str). */
#include <hv/status.h>

static const char *const status_names[HV_STATUS_COUNT] = {
    [HV_OK] = "HV_OK",
    [HV_ERR_INVALID_ARG] = "HV_ERR_INVALID_ARG",
    [HV_ERR_NO_MEMORY] = "HV_ERR_NO_MEMORY",
    [HV_ERR_UNSUPPORTED] = "HV_ERR_UNSUPPORTED",
    [HV_ERR_NO_BACKEND] = "HV_ERR_NO_BACKEND",
    [HV_ERR_ALIGNMENT] = "HV_ERR_ALIGNMENT",
    [HV_ERR_RANGE] = "HV_ERR_RANGE",
    [HV_ERR_EXISTS] = "HV_ERR_EXISTS",
    [HV_ERR_NOT_FOUND] = "HV_ERR_NOT_FOUND",
    [HV_ERR_BUSY] = "HV_ERR_BUSY",
    [HV_ERR_STATE] = "HV_ERR_STATE",
    [HV_ERR_LIMIT] = "HV_ERR_LIMIT",
    [HV_ERR_HOST] = "HV_ERR_HOST",
    [HV_ERR_HW] = "HV_ERR_HW",
    [HV_ERR_VERSION] = "HV_ERR_VERSION",
    [HV_ERR_BAD_IMAGE] = "HV_ERR_BAD_IMAGE",
    [HV_ERR_GUEST_FAULT] = "HV_ERR_GUEST_FAULT",
    [HV_ERR_AGAIN] = "HV_ERR_AGAIN",
};

const char *hv_status_str(hv_status_t status)
{
    if ((unsigned)status >= HV_STATUS_COUNT || !status_names[status])
        return "HV_ERR_UNKNOWN";
    return status_names[status];
}
