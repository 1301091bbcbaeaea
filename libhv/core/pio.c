/*
 * Port ranges with handlers (hv_vm_pio_register): the table's upkeep.
 * Lookups and calls are inline in core/pio.h, for the exit paths.
 */
#include <hv/assist.h>
#include "core/host.h"
#include "core/objects.h"
#include "core/pio.h"

const struct hv_pio_range *hv_pio_lookup(struct hv_vcpu *vcpu, uint16_t port, unsigned size)
{
    const struct hv_pio_vm *pv = vcpu->vm->pio;
    for (uint32_t i = 0; i < pv->count; i++) {
        if (hv_pio_holds(&pv->ranges[i], port, size)) {
            vcpu->pio_hint = i;
            return &pv->ranges[i];
        }
    }
    return NULL;
}

hv_status_t hv_vm_pio_register(struct hv_vm *vm, uint16_t port, uint32_t count,
                               hv_pio_handler handler, void *opaque)
{
    if (!vm || !handler)
        return HV_ERR_INVALID_ARG;
    if (count == 0 || count > 0x10000u - port)
        return HV_ERR_RANGE;
    const struct hv_host *host = &vm->ctx->host;
    struct hv_pio_vm *fresh = NULL;
    if (!vm->pio) {
        fresh = hv_host_obj_alloc(host, sizeof(*fresh));
        if (!fresh)
            return HV_ERR_NO_MEMORY;
    }
    hv_status_t st = HV_OK;
    uint64_t t = hv_lock_acquire(host, &vm->lock);
    if (!hv_vm_hold_runs(vm))
        st = HV_ERR_BUSY;
    bool held = st == HV_OK;
    if (st == HV_OK && !vm->pio) {
        vm->pio = fresh;
        fresh = NULL;
    }
    struct hv_pio_vm *pv = vm->pio;
    for (uint32_t i = 0; st == HV_OK && i < pv->count; i++) {
        const struct hv_pio_range *r = &pv->ranges[i];
        if (port < r->port + r->count && r->port < port + count)
            st = HV_ERR_EXISTS;
    }
    if (st == HV_OK && pv->count == HV_PIO_RANGES_MAX)
        st = HV_ERR_LIMIT;
    if (st == HV_OK)
        pv->ranges[pv->count++] = (struct hv_pio_range){
            .port = port, .count = count, .handler = handler, .opaque = opaque};
    if (held)
        hv_vm_release_runs(vm);
    hv_lock_release(host, &vm->lock, t);
    if (fresh)
        hv_host_obj_free(host, fresh, sizeof(*fresh));
    return st;
}

hv_status_t hv_vm_pio_unregister(struct hv_vm *vm, uint16_t port)
{
    if (!vm)
        return HV_ERR_INVALID_ARG;
    const struct hv_host *host = &vm->ctx->host;
    hv_status_t st = HV_ERR_NOT_FOUND;
    uint64_t t = hv_lock_acquire(host, &vm->lock);
    struct hv_pio_vm *pv = vm->pio;
    for (uint32_t i = 0; pv && i < pv->count; i++) {
        if (pv->ranges[i].port == port) {
            if (!hv_vm_hold_runs(vm)) {
                st = HV_ERR_BUSY;
            } else {
                pv->ranges[i] = pv->ranges[--pv->count];
                hv_vm_release_runs(vm);
                st = HV_OK;
            }
            break;
        }
    }
    hv_lock_release(host, &vm->lock, t);
    return st;
}

void hv_pio_vm_fini(struct hv_vm *vm)
{
    if (vm->pio)
        hv_host_obj_free(&vm->ctx->host, vm->pio, sizeof(struct hv_pio_vm));
    vm->pio = NULL;
}
