/*
 * Context creation with an explicit backend. hv_ctx_create() probes the
 * compiled-in backends; the hosted unit tests use this entry point to run
 * the whole core against a mock backend (a hosted process cannot execute
 * VMXON or VMRUN).
 */
#ifndef HV_CORE_CTX_INTERNAL_H
#define HV_CORE_CTX_INTERNAL_H

#include <hv/ctx.h>

struct hv_backend_ops;

hv_status_t hv_ctx_create_with_backend(const struct hv_host_ops *ops,
                                       const struct hv_ctx_config *config,
                                       const struct hv_backend_ops *backend,
                                       struct hv_ctx **out);

#endif /* HV_CORE_CTX_INTERNAL_H */
