/* Context lifecycle: host table, backend selection, per-CPU enable. */
#include "backend.h"
#include "core/ctx_internal.h"
#include "core/util.h"
#include "core/xsave.h"

/*
 * Backends tried by hv_ctx_create(), in order. The hosted build (unit
 * tests, tools) cannot execute privileged instructions, so it probes none.
 */
static const struct hv_backend_ops *const builtin_backends[] = {
#if !HV_HOSTED
#if HV_CONFIG_VMX
    &hv_vmx_backend,
#endif
#if HV_CONFIG_SVM
    &hv_svm_backend,
#endif
#endif
    NULL,
};

/* Smallest hv_ctx_config we understand: size, backend. */
#define CTX_CONFIG_MIN_SIZE (offsetof(struct hv_ctx_config, backend) + sizeof(const char *))

static hv_status_t read_config(const struct hv_ctx_config *config, struct hv_ctx_config *out)
{
    hv_memset(out, 0, sizeof(*out));
    if (!config)
        return HV_OK;
    uint32_t size = config->size ? config->size : sizeof(*config);
    if (size < CTX_CONFIG_MIN_SIZE)
        return HV_ERR_INVALID_ARG;
    hv_memcpy(out, config, HV_MIN((size_t)size, sizeof(*out)));
    if ((unsigned)out->log_level > HV_LOG_DEBUG)
        return HV_ERR_INVALID_ARG;
    return HV_OK;
}

hv_status_t hv_ctx_create_with_backend(const struct hv_host_ops *ops,
                                       const struct hv_ctx_config *config,
                                       const struct hv_backend_ops *backend,
                                       struct hv_ctx **out)
{
    struct hv_host host;
    struct hv_ctx_config cfg;
    hv_status_t st;

    if (!ops || !out || !backend)
        return HV_ERR_INVALID_ARG;
    *out = NULL;
    if ((st = hv_host_init(&host, ops)) != HV_OK)
        return st;
    if ((st = read_config(config, &cfg)) != HV_OK)
        return st;
    if (cfg.log_level)
        host.log_level = cfg.log_level;

    struct hv_ctx *ctx = hv_host_obj_alloc(&host, sizeof(*ctx));
    if (!ctx)
        return HV_ERR_NO_MEMORY;
    hv_memcpy(&ctx->host, &host, sizeof(host));
    ctx->be = backend;
    ctx->caps.size = sizeof(ctx->caps);
    st = backend->probe(&ctx->host, &ctx->caps);
    if (st == HV_OK)
        st = backend->ctx_init(ctx);
    if (st != HV_OK) {
        /* A CPU without this extension is normal while probing: not an error. */
        hv_log(&host, st == HV_ERR_NO_BACKEND ? HV_LOG_INFO : HV_LOG_ERROR,
               "libhv: backend %s: %s", backend->name, hv_status_str(st));
        hv_host_obj_free(&host, ctx, sizeof(*ctx));
        return st;
    }
    ctx->caps.backend = backend->id;
    ctx->caps.backend_name = backend->name;
    hv_xs_host_layout(&ctx->xs); /* the CPUID policy's and XSAVE switch's (core/xsave.h) */
    hv_log(&ctx->host, HV_LOG_INFO, "libhv: %s backend, features %#x, gpa %u bits",
           backend->name, ctx->caps.features, ctx->caps.gpa_bits);
    *out = ctx;
    return HV_OK;
}

hv_status_t hv_ctx_create(const struct hv_host_ops *ops, const struct hv_ctx_config *config,
                          struct hv_ctx **out)
{
    struct hv_ctx_config cfg;
    struct hv_host host;
    hv_status_t st;

    if (!ops || !out)
        return HV_ERR_INVALID_ARG;
    *out = NULL;
    if ((st = hv_host_init(&host, ops)) != HV_OK)
        return st;
    if ((st = read_config(config, &cfg)) != HV_OK)
        return st;

    hv_status_t last = HV_ERR_NO_BACKEND;
    for (size_t i = 0; builtin_backends[i]; i++) {
        const struct hv_backend_ops *be = builtin_backends[i];
        if (cfg.backend && hv_strcmp(cfg.backend, be->name) != 0)
            continue;
        st = hv_ctx_create_with_backend(ops, config, be, out);
        if (st == HV_OK)
            return HV_OK;
        /* A CPU without this extension is not an error yet: try the next. */
        if (st != HV_ERR_NO_BACKEND)
            last = st;
    }
    return last;
}

hv_status_t hv_ctx_destroy(struct hv_ctx *ctx)
{
    if (!ctx)
        return HV_ERR_INVALID_ARG;
    uint64_t t = hv_lock_acquire(&ctx->host, &ctx->lock);
    uint32_t vms = ctx->vm_count;
    hv_lock_release(&ctx->host, &ctx->lock, t);
    if (vms)
        return HV_ERR_BUSY;
    ctx->be->ctx_fini(ctx);
    struct hv_host host;
    hv_memcpy(&host, &ctx->host, sizeof(host));
    hv_memset(ctx, 0, sizeof(*ctx));
    hv_host_obj_free(&host, ctx, sizeof(*ctx));
    return HV_OK;
}

hv_status_t hv_ctx_caps(const struct hv_ctx *ctx, struct hv_caps *caps)
{
    if (!ctx || !caps || caps->size == 0)
        return HV_ERR_INVALID_ARG;
    uint32_t size = caps->size;
    hv_memcpy(caps, &ctx->caps, HV_MIN((size_t)size, sizeof(*caps)));
    caps->size = size;
    return HV_OK;
}
