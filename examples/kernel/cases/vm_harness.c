/* The VM case harness (vm_harness.h). */
#include "vm_harness.h"

#include "core/util.h"

int vmt_ctx_create(struct kcase_ctx *kc, struct hv_ctx **ctx)
{
    hv_status_t st = hv_ctx_create(&kc->host_ops, NULL, ctx);
    if (st != HV_OK)
        return kcase_fail(kc, "hv_ctx_create: %s", hv_status_str(st));
    return 0;
}

const char *vmt_exit_name(uint32_t reason)
{
    static const char *const names[] = {
        "NONE",         "IO",   "MMIO",      "SLAT_FAULT",     "HLT", "SHUTDOWN", "HYPERCALL",
        "ENTRY_FAILED", "KICK", "UNHANDLED", "GUEST_SHUTDOWN",
    };
    return reason < HV_ARRAY_SIZE(names) ? names[reason] : "?";
}

static void watchdog_tick(void *arg, uint64_t ticks)
{
    struct vmt *t = arg;
    if (t->vcpu && ticks >= t->deadline && !t->watchdog_fired) {
        t->watchdog_fired = true;
        hv_vcpu_kick(t->vcpu);
    }
}

int vmt_vm_create(struct kcase_ctx *kc, struct hv_ctx *ctx, const struct vmt_image *img,
                  uint32_t max_vcpus, uint8_t **ram, uint8_t **reset_page, struct hv_vm **vm)
{
    hv_status_t st;
    size_t len = (size_t)(img->end - img->start);

    if (len == 0 || len > VMT_RAM_SIZE - VMT_LOAD_GPA)
        return kcase_fail(kc, "guest image %s missing or too big (%u bytes)", img->name,
                          (unsigned)len);
    *ram = pmm_alloc(VMT_RAM_SIZE / PAGE_SIZE);
    *reset_page = pmm_alloc(1);
    if (!*ram || !*reset_page)
        return kcase_fail(kc, "out of guest RAM");
    hv_memset(*ram, 0, VMT_RAM_SIZE);
    hv_memcpy(*ram + VMT_LOAD_GPA, img->start, len);
    /* Reset vector 0xfffffff0: ljmp $0x0000, $0x1000 (EA iw iw). */
    static const uint8_t reset_jump[] = {0xea, VMT_LOAD_GPA & 0xff, VMT_LOAD_GPA >> 8, 0x00, 0x00};
    hv_memcpy(*reset_page + 0xff0, reset_jump, sizeof(reset_jump));

    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = max_vcpus};
    if ((st = hv_vm_create(ctx, &vc, vm)) != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    if ((st = hv_vm_map(*vm, 0, (uintptr_t)*ram, VMT_RAM_SIZE, HV_MEM_RWX)) != HV_OK)
        return kcase_fail(kc, "hv_vm_map RAM: %s", hv_status_str(st));
    if ((st = hv_vm_map(*vm, VMT_RESET_GPA, (uintptr_t)*reset_page, PAGE_SIZE,
                        HV_MEM_READ | HV_MEM_EXEC)) != HV_OK)
        return kcase_fail(kc, "hv_vm_map reset page: %s", hv_status_str(st));
    return 0;
}

int vmt_create(struct kcase_ctx *kc, struct hv_ctx *ctx, struct vmt *t, const struct vmt_image *img)
{
    hv_status_t st;

    hv_memset(t, 0, sizeof(*t));
    t->kc = kc;
    t->ctx = ctx;
    if (vmt_vm_create(kc, ctx, img, 1, &t->ram, &t->reset_page, &t->vm))
        return -1;
    if ((st = hv_vcpu_create(t->vm, 0, &t->vcpu)) != HV_OK)
        return kcase_fail(kc, "hv_vcpu_create: %s", hv_status_str(st));
    t->deadline = UINT64_MAX;
    if (!timer_add_tick_fn(watchdog_tick, t))
        return kcase_fail(kc, "no free tick callback slot");
    t->watchdog_armed = true;
    return 0;
}

void vmt_destroy(struct vmt *t)
{
    if (t->watchdog_armed)
        timer_remove_tick_fn(watchdog_tick, t);
    t->watchdog_armed = false;
    if (t->vcpu)
        hv_vcpu_destroy(t->vcpu);
    t->vcpu = NULL;
    if (t->vm)
        hv_vm_destroy(t->vm);
    t->vm = NULL;
    if (t->ram)
        pmm_free(t->ram, VMT_RAM_SIZE / PAGE_SIZE);
    if (t->reset_page)
        pmm_free(t->reset_page, 1);
    t->ram = t->reset_page = NULL;
}

int vmt_run(struct vmt *t)
{
    struct kcase_ctx *kc = t->kc;

    for (;;) {
        t->deadline = timer_ticks() + VMT_WATCHDOG_TICKS;
        hv_status_t st = hv_vcpu_run(t->vcpu, &t->exit);
        t->deadline = UINT64_MAX;
        if (st != HV_OK)
            return kcase_fail(kc, "hv_vcpu_run: %s", hv_status_str(st));
        if (t->watchdog_fired)
            return kcase_fail(kc, "guest made no progress for %u ticks (rip 0x%llx, exit %s)",
                              VMT_WATCHDOG_TICKS, (unsigned long long)t->exit.rip,
                              vmt_exit_name(t->exit.reason));
        if (t->exit.reason != HV_EXIT_IO)
            return 0;
        if (t->exit.io.write) {
            if (t->nouts == VMT_MAX_OUTS)
                return kcase_fail(kc, "more than %u OUTs", VMT_MAX_OUTS);
            struct vmt_out *o = &t->outs[t->nouts++];
            o->port = t->exit.io.port;
            o->size = t->exit.io.size;
            o->value = (uint32_t)t->exit.io.data;
            continue;
        }
        if (!t->on_in)
            return 0;
        t->exit.io.data = t->on_in(t, t->exit.io.port, t->exit.io.size);
    }
}

int vmt_run_until(struct vmt *t, uint32_t reason)
{
    if (vmt_run(t))
        return -1;
    if (t->exit.reason != reason)
        return kcase_fail(
            t->kc, "exit %s (raw 0x%llx, info 0x%llx/0x%llx) at rip 0x%llx, expected %s",
            vmt_exit_name(t->exit.reason), (unsigned long long)t->exit.raw_code,
            (unsigned long long)t->exit.raw_info1, (unsigned long long)t->exit.raw_info2,
            (unsigned long long)t->exit.rip, vmt_exit_name(reason));
    return 0;
}

int vmt_expect(struct vmt *t, const struct vmt_out *exp, unsigned n)
{
    for (unsigned i = 0; i < n || i < t->nouts; i++) {
        if (i >= t->nouts)
            return kcase_fail(t->kc, "OUT #%u missing: expected port 0x%x value 0x%x", i,
                              exp[i].port, exp[i].value);
        const struct vmt_out *o = &t->outs[i];
        if (i >= n)
            return kcase_fail(t->kc, "unexpected OUT #%u: port 0x%x value 0x%x", i, o->port,
                              o->value);
        if (o->port != exp[i].port || o->size != exp[i].size || o->value != exp[i].value)
            return kcase_fail(t->kc,
                              "OUT #%u: port 0x%x size %u value 0x%x, expected port 0x%x "
                              "size %u value 0x%x",
                              i, o->port, o->size, o->value, exp[i].port, exp[i].size,
                              exp[i].value);
    }
    return 0;
}

uint32_t vmt_io_guest_in(struct vmt *t, uint16_t port, uint8_t size)
{
    (void)t;
    if (port == 0x11 && size == 1)
        return 0xdeadbe5bu;
    if (port == 0x11 && size == 2)
        return 0xbeefcafeu;
    if (port == 0x11 && size == 4)
        return 0x13579bdfu;
    if (port == 0x1234 && size == 2)
        return 0xffff4321u;
    return 0xffffffffu;
}
