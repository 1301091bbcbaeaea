/* Validation and copy of the embedder's host services table; logging. */
#include "core/host.h"
#include "core/util.h"

/* Size of the version-1 table: everything up to and including time_ns. */
#define HOST_OPS_V1_SIZE (offsetof(struct hv_host_ops, time_ns) + sizeof(void *))

hv_status_t hv_host_init(struct hv_host *host, const struct hv_host_ops *ops)
{
    if (!host || !ops)
        return HV_ERR_INVALID_ARG;
    if (ops->version < 1 || ops->size < HOST_OPS_V1_SIZE)
        return HV_ERR_VERSION;
    hv_memset(host, 0, sizeof(*host));
    /* A newer embedder's table may be larger: copy only what we know. */
    hv_memcpy(&host->ops, ops, HV_MIN((size_t)ops->size, sizeof(host->ops)));
    host->ops.size = sizeof(host->ops);
    const struct hv_host_ops *o = &host->ops;
    if (!o->page_alloc || !o->page_free || !o->obj_alloc || !o->obj_free || !o->virt_to_phys ||
        !o->phys_to_virt || !o->cpu_count || !o->cpu_current || !o->run_on_each_cpu)
        return HV_ERR_VERSION;
    if (!o->irq_save != !o->irq_restore)
        return HV_ERR_VERSION;
    host->log_level = HV_LOG_INFO;
    return HV_OK;
}

void hv_log(const struct hv_host *h, hv_log_level_t level, const char *fmt, ...)
{
    if (!h->ops.log || level > h->log_level)
        return;
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    hv_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    h->ops.log(h->ops.opaque, level, line);
}
