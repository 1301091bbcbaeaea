/* vCPU lifecycle, state access, event queueing and kicks (vcpu.h). */
#include "backend.h"
#include "core/fpu.h"
#include "core/objects.h"
#include "core/pv.h"
#include "core/policy.h"
#include "core/xsave.h"
#include "core/util.h"
#include "lapic/hooks.h"

hv_status_t hv_vcpu_create(struct hv_vm *vm, uint32_t id, struct hv_vcpu **out)
{
    if (!vm || !out)
        return HV_ERR_INVALID_ARG;
    *out = NULL;
    if (id >= vm->max_vcpus)
        return HV_ERR_LIMIT;
    const struct hv_host *host = &vm->ctx->host;
    uint64_t t = hv_lock_acquire(host, &vm->lock);
    bool taken = vm->vcpus[id] != NULL;
    hv_lock_release(host, &vm->lock, t);
    if (taken)
        return HV_ERR_EXISTS;

    struct hv_vcpu *vcpu = hv_host_obj_alloc(host, sizeof(*vcpu));
    if (!vcpu)
        return HV_ERR_NO_MEMORY;
    vcpu->vm = vm;
    vcpu->id = id;
    vcpu->host_cpu = UINT32_MAX;
    vcpu->hole_page = UINT64_MAX; /* no gpa page has this number */
    hv_fpu_init_state(vcpu->fpu);
    vcpu->xcr0 = HV_XCR0_X87;
    vcpu->quiet_as = HV_QUIET; /* without a local APIC, always */
    hv_status_t st = hv_xs_alloc(vcpu, hv_cpuid_host_xs(vm->ctx));
    if (st == HV_OK)
        st = vm->ctx->be->vcpu_init(vcpu);
    /* After the backend: the APIC reads the vCPU's CPUID view. */
    if (st == HV_OK && vm->lapic && (st = hv_lapic_vcpu_init(vcpu)) != HV_OK)
        vm->ctx->be->vcpu_fini(vcpu);
    if (st != HV_OK) {
        hv_xs_free(vcpu);
        hv_host_obj_free(host, vcpu, sizeof(*vcpu));
        return st;
    }
    t = hv_lock_acquire(host, &vm->lock);
    if (vm->vcpus[id]) {
        st = HV_ERR_EXISTS; /* lost a race with another creator */
    } else {
        vm->vcpus[id] = vcpu;
        vm->vcpu_count++;
    }
    hv_lock_release(host, &vm->lock, t);
    if (st != HV_OK) {
        vm->ctx->be->vcpu_fini(vcpu);
        if (vcpu->lapic)
            hv_lapic_vcpu_fini(vcpu);
        hv_xs_free(vcpu);
        hv_host_obj_free(host, vcpu, sizeof(*vcpu));
        return st;
    }
    *out = vcpu;
    return HV_OK;
}

hv_status_t hv_vcpu_destroy(struct hv_vcpu *vcpu)
{
    if (!vcpu)
        return HV_ERR_INVALID_ARG;
    if (vcpu->running || vcpu->loaded)
        return HV_ERR_BUSY;
    struct hv_vm *vm = vcpu->vm;
    const struct hv_host *host = &vm->ctx->host;
    uint64_t t = hv_lock_acquire(host, &vm->lock);
    vm->vcpus[vcpu->id] = NULL;
    vm->vcpu_count--;
    hv_lock_release(host, &vm->lock, t);
    const struct hv_pv_ops *pv = __atomic_load_n(&vm->pv, __ATOMIC_ACQUIRE);
    if (pv && pv->vcpu_gone)
        pv->vcpu_gone(vcpu);
    bool scrub = hv_vm_scrub_begin(vm);
    vm->ctx->be->vcpu_fini(vcpu);
    if (vcpu->lapic)
        hv_lapic_vcpu_fini(vcpu);
    hv_xs_free(vcpu);
    hv_host_obj_free(host, vcpu->host_fpu, HV_FPU_AREA);
    hv_memset(vcpu, 0, sizeof(*vcpu));
    hv_host_obj_free(host, vcpu, sizeof(*vcpu));
    hv_vm_scrub_end(vm->ctx, scrub);
    return HV_OK;
}

hv_status_t hv_vcpu_get_state(struct hv_vcpu *vcpu, uint32_t mask, struct hv_vcpu_state *state)
{
    if (!vcpu || !state || (mask & ~HV_STATE_ALL))
        return HV_ERR_INVALID_ARG;
    if (vcpu->running)
        return HV_ERR_BUSY;
    vcpu->vm->ctx->be->get_state(vcpu, mask, state);
    if (mask & HV_STATE_DEBUG) /* DR6 is the backend's; these are never loaded here */
        hv_memcpy(state->dr, vcpu->dr, sizeof(state->dr));
    return HV_OK;
}

hv_status_t hv_vcpu_set_state(struct hv_vcpu *vcpu, uint32_t mask,
                              const struct hv_vcpu_state *state)
{
    if (!vcpu || !state || (mask & ~HV_STATE_ALL))
        return HV_ERR_INVALID_ARG;
    if (vcpu->running)
        return HV_ERR_BUSY;
    if (mask & HV_STATE_EVENTS) {
        const struct hv_event *ev = &state->pending;
        if (ev->type > HV_EVENT_SOFTINT || ev->reserved)
            return HV_ERR_INVALID_ARG;
    }
    /* The values go into the CPU with MOV (core/debugreg.h), which raises
       #GP for a non-canonical DR0-3 or DR6[63:32] set: in the host. */
    if (mask & HV_STATE_DEBUG) {
        for (unsigned i = 0; i < 4; i++)
            if (!hv_canonical(state->dr[i], 48))
                return HV_ERR_INVALID_ARG;
        if (state->dr6 >> 32)
            return HV_ERR_INVALID_ARG;
    }
    hv_status_t st = vcpu->vm->ctx->be->set_state(vcpu, mask, state);
    if (st == HV_OK && (mask & HV_STATE_DEBUG)) {
        /* Loaded at every run from now on (core/debugreg.h): DR7 may arm
           them without the guest touching them again. */
        hv_memcpy(vcpu->dr, state->dr, sizeof(vcpu->dr));
        if (!vcpu->dr_used) {
            vcpu->dr_used = true;
            vcpu->vm->ctx->be->debug_intercept(vcpu, false);
        }
    }
    if (st == HV_OK && (mask & (HV_STATE_GPR | HV_STATE_CR | HV_STATE_SEG)) ==
                           (HV_STATE_GPR | HV_STATE_CR | HV_STATE_SEG)) {
        /* A full reload revives a vCPU that shut down and drops any
           half-finished instruction. */
        vcpu->shutdown = 0;
        vcpu->completion = HV_COMPLETE_NONE;
        vcpu->step_db = false;
        vcpu->completion_step = false;
    }
    return st;
}

/* Exceptions that push an error code (SDM Vol. 3A 6.15, table 6-1). */
static bool exception_has_error_code(uint8_t vector)
{
    switch (vector) {
    case 8: case 10: case 11: case 12: case 13: case 14: case 17: case 21: case 29: case 30:
        return true;
    default:
        return false;
    }
}

hv_status_t hv_vcpu_inject(struct hv_vcpu *vcpu, const struct hv_event *event)
{
    if (!vcpu || !event || event->reserved)
        return HV_ERR_INVALID_ARG;
    switch (event->type) {
    case HV_EVENT_EXCEPTION:
        if (event->vector > 31 || event->vector == 2 ||
            !!event->has_error_code != exception_has_error_code(event->vector))
            return HV_ERR_INVALID_ARG;
        /* fall through */
    case HV_EVENT_SOFTINT:
        if (vcpu->queued_exc.type != HV_EVENT_NONE)
            return HV_ERR_BUSY;
        hv_memcpy(&vcpu->queued_exc, event, sizeof(*event));
        return HV_OK;
    case HV_EVENT_NMI:
        if (event->vector != 2 || event->has_error_code)
            return HV_ERR_INVALID_ARG;
        if (vcpu->queued_nmi)
            return HV_ERR_BUSY;
        vcpu->queued_nmi = true;
        return HV_OK;
    case HV_EVENT_EXTINT:
        if (event->vector < 32 || event->has_error_code)
            return HV_ERR_INVALID_ARG;
        if (vcpu->queued_irq.type != HV_EVENT_NONE)
            return HV_ERR_BUSY;
        hv_memcpy(&vcpu->queued_irq, event, sizeof(*event));
        return HV_OK;
    default:
        return HV_ERR_INVALID_ARG;
    }
}

void hv_kick_event(struct hv_vcpu *vcpu)
{
    const struct hv_host *host = &vcpu->vm->ctx->host;
    __atomic_or_fetch(&vcpu->kick_pending, HV_KICK_EVENT, __ATOMIC_SEQ_CST);
    /* On this CPU it is not in guest mode now (this code runs): the bit
       stops its entry. */
    uint32_t cpu = __atomic_load_n(&vcpu->host_cpu, __ATOMIC_SEQ_CST);
    if (host->ops.kick_cpu && cpu != UINT32_MAX && cpu != hv_host_cpu_current(host))
        host->ops.kick_cpu(host->ops.opaque, cpu);
}

hv_status_t hv_vcpu_kick(struct hv_vcpu *vcpu)
{
    if (!vcpu)
        return HV_ERR_INVALID_ARG;
    __atomic_or_fetch(&vcpu->kick_pending, HV_KICK_USER, __ATOMIC_SEQ_CST);
    const struct hv_host *host = &vcpu->vm->ctx->host;
    /* A guest running on another CPU only notices through an interrupt;
       on the current CPU (e.g. from the timer handler) the exit that
       delivered this interrupt already stopped it. */
    uint32_t cpu = __atomic_load_n(&vcpu->host_cpu, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&vcpu->running, __ATOMIC_SEQ_CST) && host->ops.kick_cpu &&
        cpu != UINT32_MAX && cpu != hv_host_cpu_current(host))
        host->ops.kick_cpu(host->ops.opaque, cpu);
    return HV_OK;
}
