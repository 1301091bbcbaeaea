/*
 * The local APIC of a vCPU (hv/lapic.h): enabling, the MSRs and the xAPIC
 * page, event delivery before entries, HLT, INIT/SIPI and IPIs. The
 * register model is lapic.c.
 */
#include <hv/lapic.h>
#include "backend.h"
#include "core/assist.h"
#include "core/objects.h"
#include "core/policy.h"
#include "core/pv.h"
#include "core/util.h"
#include "lapic/hooks.h"
#include "lapic/lapic.h"

#define MSR_APIC_BASE    0x1bu
#define MSR_TSC_DEADLINE 0x6e0u
#define MSR_X2APIC_EOI      (0x800u + (LAPIC_EOI >> 4))
#define MSR_X2APIC_SELF_IPI (0x800u + (LAPIC_SELF_IPI >> 4))

/* CPUID leaf 1 ECX bits (SDM Vol. 2A table 3-10). */
#define L1_ECX_X2APIC (1u << 21)
#define L1_ECX_TSC_DL (1u << 24)

static uint64_t tsc_offset(struct hv_vcpu *vcpu)
{
    struct hv_vcpu_state st;
    vcpu->vm->ctx->be->get_state(vcpu, HV_STATE_TSC, &st);
    return st.tsc_offset;
}

static uint64_t guest_tsc(struct hv_vcpu *vcpu)
{
    return hv_rdtsc() + tsc_offset(vcpu);
}

/* The armed timer fired if due. If it is still armed, the host TSC of its
   expiry goes to vcpu->quiet_until (quiet_as HV_QUIET_UNTIL): until then
   the vCPU may stay quiet (core/fast.h hv_quiet_now), and the exit fast
   paths keep working. */
static void timer_check(struct hv_vcpu *vcpu, struct hv_lapic *l)
{
    uint64_t host = hv_rdtsc();
    uint64_t now = host + tsc_offset(vcpu);
    lapic_timer_run(l, now);
    if (!l->t_next)
        return;
    /* At most 2^62 ticks ahead: the fast paths compare signed. A far
       expiry then takes one full pass to be looked at again. */
    uint64_t d = lapic_until(l, now);
    if (d > HV_BIT(62))
        d = HV_BIT(62);
    vcpu->quiet_until = host + d;
    vcpu->quiet_as = HV_QUIET_UNTIL;
}

/* TPR[7:4] is CR8 (SDM Vol. 3A 11.8.6): the guest may write either. A
   CR8 write clears TPR[3:0]. */
static void tpr_from_cr8(struct hv_vcpu *vcpu, struct hv_lapic *l)
{
    struct hv_vcpu_state st;
    vcpu->vm->ctx->be->get_state(vcpu, HV_STATE_CR, &st);
    if ((l->tpr >> 4) != (st.cr8 & 0xfu))
        l->tpr = (uint32_t)(st.cr8 & 0xfu) << 4;
}

static void tpr_to_cr8(struct hv_vcpu *vcpu, const struct hv_lapic *l)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    struct hv_vcpu_state st;
    be->get_state(vcpu, HV_STATE_CR, &st);
    if (st.cr8 != l->tpr >> 4) {
        st.cr8 = l->tpr >> 4;
        be->set_state(vcpu, HV_STATE_CR, &st);
    }
}

/* Make a vCPU notice what another CPU (or this one) raised at it: the
   flags it reads before each entry were set before this. */
static void notify(struct hv_vcpu *t)
{
    struct hv_lapic *l = t->lapic;
    __atomic_store_n(&t->quiet, false, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&l->halted, 0, __ATOMIC_SEQ_CST)) {
        const struct hv_lapic_vm *lv = t->vm->lapic;
        if (lv->wake)
            lv->wake(lv->opaque, t);
        return;
    }
    /* Inside hv_vcpu_run: the event bit, and an interrupt if it runs on
       another CPU (core/objects.h HV_KICK_EVENT). */
    if (__atomic_load_n(&t->running, __ATOMIC_SEQ_CST))
        hv_kick_event(t);
}

/* One delivery of an IPI or a device interrupt at one APIC. */
static void deliver(struct hv_vcpu *t, uint32_t mode, uint8_t vector)
{
    struct hv_lapic *l = t->lapic;
    switch (mode) {
    case LAPIC_DM_FIXED:
    case LAPIC_DM_LOWEST:
        if (!lapic_accept(l, vector))
            return;
        break;
    case LAPIC_DM_NMI:
        __atomic_store_n(&l->nmi, 1, __ATOMIC_RELEASE);
        break;
    case LAPIC_DM_INIT:
        /* A SIPI sent before this INIT is stale; one sent after it is
           not, even if the target sees both at once. */
        __atomic_store_n(&l->sipi, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&l->init, 1, __ATOMIC_RELEASE);
        break;
    case LAPIC_DM_SIPI:
        __atomic_store_n(&l->sipi, (uint16_t)(0x100u | vector), __ATOMIC_RELEASE);
        break;
    default:
        return; /* SMI, ExtINT: not modelled */
    }
    if (mode == LAPIC_DM_INIT || mode == LAPIC_DM_SIPI) /* taken at the run loop's top */
        __atomic_or_fetch(&t->kick_pending, HV_KICK_LAPIC, __ATOMIC_SEQ_CST);
    const struct hv_pv_ops *pv = __atomic_load_n(&t->vm->pv, __ATOMIC_ACQUIRE);
    if (mode == LAPIC_DM_SIPI && pv && pv->apic_sipi)
        pv->apic_sipi(t); /* a Xen vCPU that is down comes up for it */
    else if (mode == LAPIC_DM_INIT && pv && pv->apic_init)
        pv->apic_init(t); /* a Xen vCPU that is up goes down */
    notify(t);
}

static struct hv_vcpu *vcpu_at(struct hv_vm *vm, uint32_t i)
{
    return __atomic_load_n(&vm->vcpus[i], __ATOMIC_ACQUIRE);
}

/* Send to every vCPU the destination or shorthand names (SDM Vol. 3A
   11.6.1-11.6.2); self may be NULL (a device). */
static void send(struct hv_vm *vm, struct hv_vcpu *self, uint32_t shorthand, uint32_t dest,
                 bool logical, uint32_t mode, uint8_t vector)
{
    for (uint32_t i = 0; i < vm->max_vcpus; i++) {
        struct hv_vcpu *t = vcpu_at(vm, i);
        if (!t || !t->lapic || !lapic_hw_enabled(t->lapic))
            continue;
        bool hit;
        switch (shorthand) {
        case LAPIC_SH_SELF:
            hit = t == self;
            break;
        case LAPIC_SH_ALL:
            hit = true;
            break;
        case LAPIC_SH_OTHERS:
            hit = t != self;
            break;
        default:
            hit = lapic_match(t->lapic, dest, logical);
            break;
        }
        if (!hit)
            continue;
        deliver(t, mode, vector);
        if (mode == LAPIC_DM_LOWEST)
            return; /* one target: the first that matches */
    }
}

/* The guest wrote its ICR (or the x2APIC SELF IPI went through here). */
static void send_icr(struct hv_vcpu *vcpu, uint64_t icr)
{
    struct hv_lapic *l = vcpu->lapic;
    uint32_t lo = (uint32_t)icr;
    uint32_t mode = (lo & LAPIC_DM_MASK) >> LAPIC_DM_SHIFT;
    /* INIT level de-assert (level 0, trigger level): no effect (11.6.1). */
    if (mode == LAPIC_DM_INIT && !(lo & LAPIC_ICR_LEVEL) && (lo & LAPIC_ICR_TRIGGER))
        return;
    uint32_t dest = lapic_x2apic(l) ? (uint32_t)(icr >> 32) : (uint32_t)(icr >> 56);
    send(vcpu->vm, vcpu, (lo >> LAPIC_SH_SHIFT) & 3u, dest, (lo & LAPIC_ICR_LOGICAL) != 0, mode,
         (uint8_t)(lo & LAPIC_VEC_MASK));
}

/* A register access of the guest's; false for #GP. */
static bool reg_access(struct hv_vcpu *vcpu, uint32_t reg, bool x2, bool write, uint64_t *v)
{
    struct hv_lapic *l = vcpu->lapic;
    bool tpr = reg == LAPIC_TPR || reg == LAPIC_PPR;
    if (tpr)
        tpr_from_cr8(vcpu, l);
    uint64_t now = lapic_reads_clock(reg) ? guest_tsc(vcpu) : 0;
    if (!write)
        return lapic_read(l, reg, x2, now, v) == LAPIC_OK;
    enum lapic_result r = lapic_write(l, reg, x2, now, *v);
    if (r == LAPIC_GP)
        return false;
    if (reg == LAPIC_TPR)
        tpr_to_cr8(vcpu, l);
    if (r == LAPIC_IPI)
        send_icr(vcpu, l->icr);
    /* EOI, TPR, the timer, a self-IPI: the next entry looks again. */
    __atomic_store_n(&vcpu->quiet, false, __ATOMIC_RELAXED);
    return true;
}

hv_status_t hv_lapic_msr_read(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value)
{
    struct hv_lapic *l = vcpu->lapic;
    if (msr == MSR_APIC_BASE) {
        *value = l->base;
        return HV_OK;
    }
    if (msr == MSR_TSC_DEADLINE) {
        *value = lapic_tscdl_read(l);
        return HV_OK;
    }
    /* The x2APIC MSRs exist in x2APIC mode only (SDM Vol. 3A 11.12.1.2). */
    if (!lapic_x2apic(l))
        return HV_ERR_GUEST_FAULT;
    return reg_access(vcpu, (msr - 0x800u) << 4, true, false, value) ? HV_OK : HV_ERR_GUEST_FAULT;
}

hv_status_t hv_lapic_msr_write(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value)
{
    struct hv_lapic *l = vcpu->lapic;
    if (msr == MSR_APIC_BASE) {
        uint8_t maxphy;
        bool gb;
        hv_vm_paging_view(vcpu->vm, &maxphy, &gb);
        if (!lapic_set_base(l, value, maxphy))
            return HV_ERR_GUEST_FAULT;
        __atomic_store_n(&vcpu->quiet, false, __ATOMIC_RELAXED);
        return HV_OK;
    }
    if (msr == MSR_TSC_DEADLINE) {
        lapic_tscdl_write(l, value);
        __atomic_store_n(&vcpu->quiet, false, __ATOMIC_RELAXED);
        return HV_OK;
    }
    if (!lapic_x2apic(l))
        return HV_ERR_GUEST_FAULT;
    return reg_access(vcpu, (msr - 0x800u) << 4, true, true, &value) ? HV_OK : HV_ERR_GUEST_FAULT;
}

bool hv_lapic_msr_write_fast(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value)
{
    struct hv_lapic *l = vcpu->lapic;
    if (msr == MSR_TSC_DEADLINE) {
        lapic_tscdl_write(l, value);
        return true;
    }
    /* EOI and SELF IPI read no clock and send nothing to another vCPU
       (x2APIC MSRs 0x80b and 0x83f, SDM Vol. 3A table 11-6). */
    if ((msr != MSR_X2APIC_EOI && msr != MSR_X2APIC_SELF_IPI) || !lapic_x2apic(l))
        return false;
    /* LAPIC_GP (a non-zero EOI, a vector beyond 8 bits): nothing written. */
    return lapic_write(l, (msr - 0x800u) << 4, true, 0, value) == LAPIC_OK;
}

/*
 * The xAPIC page (registered per vCPU: the assist passes the vCPU). The
 * SDM asks for aligned 32-bit accesses (11.4.1); others read the 32-bit
 * register's bytes and write nothing. Without the xAPIC mode (disabled,
 * or x2APIC: 11.12.1.2) reads give 0 and writes are dropped.
 */
static hv_status_t xapic_mmio(void *opaque, uint64_t gpa, unsigned size, bool write,
                              uint64_t *value)
{
    struct hv_vcpu *vcpu = opaque;
    struct hv_lapic *l = vcpu->lapic;
    uint32_t off = (uint32_t)(gpa & 0xfffu);
    uint32_t reg = off & ~0xfu;
    if (!lapic_hw_enabled(l) || lapic_x2apic(l) || (off & 0xfu) + size > 4) {
        if (!write)
            *value = 0;
        if (write || !lapic_hw_enabled(l) || lapic_x2apic(l) || (off & 0xfu) >= 4)
            return HV_OK;
        uint64_t v = 0;
        reg_access(vcpu, reg, false, false, &v);
        *value = (v >> ((off & 3u) * 8)) & (size >= 4 ? 0xffffffffull : (1ull << (size * 8)) - 1);
        return HV_OK;
    }
    if (write) {
        uint64_t v = *value;
        if (size == 4 && !(off & 0xfu))
            reg_access(vcpu, reg, false, true, &v);
        return HV_OK;
    }
    uint64_t v = 0;
    reg_access(vcpu, reg, false, false, &v);
    *value = (v >> ((off & 3u) * 8)) & (size >= 4 ? 0xffffffffull : (1ull << (size * 8)) - 1);
    return HV_OK;
}

/*
 * The xAPIC page for the exit fast path (core/assist.h
 * hv_assist_register_vcpu): the EOI register's write, which a guest makes
 * on every interrupt, as xapic_mmio makes it (an aligned 32-bit store in
 * the xAPIC mode; the value is ignored, 11.8.5); the backend's event
 * delivery follows. Anything else is declined (HV_ERR_AGAIN) with nothing
 * changed, for xapic_mmio on the full path: the ICR may wake another
 * vCPU, which calls the embedder, and the rest is rare.
 */
static hv_status_t xapic_mmio_fast(void *opaque, uint64_t gpa, unsigned size, bool write,
                                   uint64_t *value)
{
    struct hv_vcpu *vcpu = opaque;
    struct hv_lapic *l = vcpu->lapic;
    if (!write || size != 4 || (gpa & 0xfffu) != LAPIC_EOI || !lapic_hw_enabled(l) ||
        lapic_x2apic(l))
        return HV_ERR_AGAIN;
    return lapic_write(l, LAPIC_EOI, false, 0, *value) == LAPIC_OK ? HV_OK : HV_ERR_AGAIN;
}

hv_status_t hv_lapic_enable(struct hv_vm *vm, const struct hv_lapic_config *config)
{
    if (!vm || !config || config->tsc_khz == 0 ||
        (config->flags & ~(uint32_t)HV_LAPIC_APS_WAIT_SIPI))
        return HV_ERR_INVALID_ARG;
    if (config->size && config->size < sizeof(*config))
        return HV_ERR_INVALID_ARG;
    const struct hv_host *host = &vm->ctx->host;
    if (!host->ops.time_ns)
        return HV_ERR_UNSUPPORTED;
    struct hv_lapic_vm *lv = hv_host_obj_alloc(host, sizeof(*lv));
    if (!lv)
        return HV_ERR_NO_MEMORY;
    lv->tsc_khz = config->tsc_khz;
    lv->flags = config->flags;
    lv->wake = config->wake;
    lv->opaque = config->opaque;
    hv_status_t st = HV_OK;
    uint64_t t = hv_lock_acquire(host, &vm->lock);
    if (vm->lapic)
        st = HV_ERR_EXISTS;
    else if (vm->vcpu_count)
        st = HV_ERR_STATE;
    hv_lock_release(host, &vm->lock, t);
    if (st == HV_OK)
        st = hv_assist_register_vcpu(vm, LAPIC_BASE_ADDR, 0x1000, xapic_mmio, xapic_mmio_fast);
    if (st == HV_OK) {
        t = hv_lock_acquire(host, &vm->lock);
        if (vm->lapic || vm->vcpu_count)
            st = vm->lapic ? HV_ERR_EXISTS : HV_ERR_STATE; /* lost a race */
        else
            vm->lapic = lv;
        hv_lock_release(host, &vm->lock, t);
        if (st != HV_OK)
            hv_vm_mmio_unregister(vm, LAPIC_BASE_ADDR);
    }
    if (st != HV_OK)
        hv_host_obj_free(host, lv, sizeof(*lv));
    return st;
}

void hv_lapic_vm_fini(struct hv_vm *vm)
{
    hv_host_obj_free(&vm->ctx->host, vm->lapic, sizeof(struct hv_lapic_vm));
    vm->lapic = NULL;
}

hv_status_t hv_lapic_vcpu_init(struct hv_vcpu *vcpu)
{
    struct hv_lapic *l = hv_host_obj_alloc(&vcpu->vm->ctx->host, sizeof(*l));
    if (!l)
        return HV_ERR_NO_MEMORY;
    hv_memset(l, 0, sizeof(*l));
    vcpu->lapic = l;
    vcpu->lapic_on = true;
    /* The modes CPUID offers (hv_vm_set_cpuid overrides made before). */
    uint32_t r[4];
    hv_cpuid_policy(vcpu, 1, 0, r);
    l->x2apic_ok = (r[2] & L1_ECX_X2APIC) != 0;
    l->tscdl_ok = (r[2] & L1_ECX_TSC_DL) != 0;
    lapic_reset(l, vcpu->id, vcpu->id == 0);
    if (vcpu->id != 0 && (vcpu->vm->lapic->flags & HV_LAPIC_APS_WAIT_SIPI)) {
        l->wait_sipi = 1;
        vcpu->kick_pending |= HV_KICK_LAPIC; /* its first run stops at the gate */
    }
    return HV_OK;
}

void hv_lapic_vcpu_fini(struct hv_vcpu *vcpu)
{
    hv_host_obj_free(&vcpu->vm->ctx->host, vcpu->lapic, sizeof(struct hv_lapic));
    vcpu->lapic = NULL;
    vcpu->lapic_on = false;
}

bool hv_lapic_awaits_sipi(const struct hv_vcpu *vcpu)
{
    const struct hv_lapic *l = vcpu->lapic;
    return l && (__atomic_load_n(&l->init, __ATOMIC_ACQUIRE) ||
                 __atomic_load_n(&l->wait_sipi, __ATOMIC_ACQUIRE));
}

void hv_lapic_leave_sipi_wait(struct hv_vcpu *vcpu)
{
    struct hv_lapic *l = vcpu->lapic;
    __atomic_store_n(&l->init, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&l->sipi, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&l->wait_sipi, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&l->halted, 0, __ATOMIC_RELAXED);
}

bool hv_lapic_hw_on(const struct hv_vcpu *vcpu)
{
    return !vcpu->lapic || lapic_hw_enabled(vcpu->lapic);
}

static bool lapic_busy(const struct hv_lapic *l)
{
    return __atomic_load_n(&l->nmi, __ATOMIC_RELAXED) ||
           __atomic_load_n(&l->init, __ATOMIC_RELAXED) || l->wait_sipi;
}

bool hv_lapic_pre_entry(struct hv_vcpu *vcpu)
{
    struct hv_lapic *l = vcpu->lapic;
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (__atomic_load_n(&l->halted, __ATOMIC_RELAXED))
        __atomic_store_n(&l->halted, 0, __ATOMIC_RELAXED); /* it runs: no wake needed */
    if (__atomic_load_n(&l->nmi, __ATOMIC_RELAXED) && !vcpu->queued_nmi &&
        __atomic_exchange_n(&l->nmi, 0, __ATOMIC_ACQUIRE))
        vcpu->queued_nmi = true;
    vcpu->quiet_as = HV_QUIET;
    vcpu->quiet_until = 0;
    if (l->t_next)
        timer_check(vcpu, l);
    if (!lapic_irr_any(l))
        return !lapic_busy(l); /* an armed timer: quiet until its expiry */
    if (vcpu->queued_irq.type != HV_EVENT_NONE)
        return false; /* the embedder's interrupt first */
    tpr_from_cr8(vcpu, l);
    int v = lapic_deliverable(l);
    if (v >= 0) {
        /* Accepted (IRR to ISR) only when the guest takes it at this
           entry: until then TPR and newer, higher vectors still count. */
        if (be->can_inject(vcpu, HV_EVENT_EXTINT)) {
            lapic_ack(l, (uint8_t)v);
            vcpu->queued_irq.type = HV_EVENT_EXTINT;
            vcpu->queued_irq.vector = (uint8_t)v;
            vcpu->queued_irq.has_error_code = 0;
            vcpu->queued_irq.error_code = 0;
            /* Idle once it is in, if nothing else waits: a lower vector
               waits for this one's EOI, an exit that looks again. */
            return !lapic_irr_any(l) && !lapic_busy(l);
        } else {
            be->set_window(vcpu, HV_EVENT_EXTINT, true);
        }
    }
    return false;
}

/* The INIT state (SDM Vol. 3A 9.1.1, table 9-1) with CS:IP at the SIPI
   vector (9.4.4.1). */
static hv_status_t start_at_sipi(struct hv_vcpu *vcpu, uint8_t vector)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    struct hv_vcpu_state st;
    be->get_state(vcpu, HV_STATE_ALL, &st);
    hv_memset(st.gpr, 0, sizeof(st.gpr));
    st.rip = 0;
    st.rflags = 2;
    for (int i = 0; i < HV_SEG_COUNT; i++) {
        st.seg[i].base = 0;
        st.seg[i].limit = 0xffff;
        st.seg[i].selector = 0;
        st.seg[i].attr = HV_SEG_P | HV_SEG_S | 0x3u; /* data, read/write, accessed */
    }
    st.seg[HV_SEG_CS].selector = (uint16_t)(vector << 8);
    st.seg[HV_SEG_CS].base = (uint64_t)vector << 12;
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | 0xbu; /* code, read, accessed */
    st.seg[HV_SEG_LDTR].attr = HV_SEG_P | 0x2u;
    st.seg[HV_SEG_TR].attr = HV_SEG_P | 0xbu;
    st.gdtr.base = st.idtr.base = 0;
    st.gdtr.limit = st.idtr.limit = 0xffff;
    st.cr0 = 0x60000010ull;
    st.cr2 = st.cr3 = st.cr4 = st.cr8 = 0;
    st.efer = 0;
    st.dr7 = 0x400;
    st.interrupt_shadow = 0;
    st.nmi_blocked = 0;
    hv_memset(&st.pending, 0, sizeof(st.pending));
    st.dr6 = 0xffff0ff0ull;
    hv_memset(st.dr, 0, sizeof(st.dr));
    return be->set_state(vcpu, HV_STATE_ALL & ~(uint32_t)HV_STATE_TSC, &st);
}

bool hv_lapic_gate(struct hv_vcpu *vcpu, struct hv_exit *exit)
{
    struct hv_lapic *l = vcpu->lapic;
    if (!__atomic_load_n(&l->init, __ATOMIC_ACQUIRE) && !l->wait_sipi) {
        uint16_t s = __atomic_load_n(&l->sipi, __ATOMIC_ACQUIRE);
        if (!s)
            return false;
        /* A SIPI is ignored while running, unless its INIT has arrived
           since the look above (a sender stores the INIT first): then it
           is for the wait below. Dropped only if no newer one came. */
        if (!__atomic_load_n(&l->init, __ATOMIC_ACQUIRE)) {
            __atomic_compare_exchange_n(&l->sipi, &s, 0, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            return false;
        }
    }
    if (__atomic_exchange_n(&l->init, 0, __ATOMIC_ACQUIRE)) {
        /* INIT: the APIC's registers reset, ID and base kept (11.4.7.3);
           queued events dropped (the sender dropped older SIPIs). */
        uint64_t base = l->base;
        lapic_reset(l, l->id, false);
        l->base = base;
        l->wait_sipi = 1;
        vcpu->queued_irq.type = HV_EVENT_NONE;
        vcpu->queued_exc.type = HV_EVENT_NONE;
        vcpu->queued_nmi = false;
    }
    /* Announce the wait before looking for a SIPI: a sender sets sipi,
       then finds halted set and wakes us (notify). */
    __atomic_store_n(&l->halted, 1, __ATOMIC_SEQ_CST);
    uint16_t s = __atomic_exchange_n(&l->sipi, 0, __ATOMIC_SEQ_CST);
    if (!s) {
        /* The next run comes back here. */
        __atomic_or_fetch(&vcpu->kick_pending, HV_KICK_LAPIC, __ATOMIC_SEQ_CST);
        hv_memset(exit, 0, sizeof(*exit));
        exit->reason = HV_EXIT_HLT;
        exit->rip = vcpu->vm->ctx->be->get_rip(vcpu);
        exit->hlt.source = HV_HLT_WAIT_SIPI;
        return true;
    }
    __atomic_store_n(&l->halted, 0, __ATOMIC_RELAXED);
    l->wait_sipi = 0;
    hv_status_t st = start_at_sipi(vcpu, (uint8_t)s);
    if (st != HV_OK) {
        hv_memset(exit, 0, sizeof(*exit));
        exit->reason = HV_EXIT_ENTRY_FAILED;
        exit->entry_failed.code = (uint64_t)st;
        hv_memcpy(exit->entry_failed.reason, "SIPI: real mode not supported", 30);
        return true;
    }
    return false;
}

bool hv_lapic_halt(struct hv_vcpu *vcpu, uint64_t rflags, uint64_t *deadline_ns)
{
    struct hv_lapic *l = vcpu->lapic;
    const struct hv_lapic_vm *lv = vcpu->vm->lapic;
    *deadline_ns = 0;
    /* Announce the halt, then look (notify sets IRR, then reads halted). */
    __atomic_store_n(&l->halted, 1, __ATOMIC_SEQ_CST);
    uint64_t now = guest_tsc(vcpu);
    uint64_t now_ns = hv_host_time_ns(&vcpu->vm->ctx->host);
    if (l->t_next)
        lapic_timer_run(l, now);
    bool wake = __atomic_load_n(&l->nmi, __ATOMIC_SEQ_CST) ||
                __atomic_load_n(&l->init, __ATOMIC_SEQ_CST) || vcpu->queued_nmi;
    if (!wake && (rflags & (1u << 9))) { /* RFLAGS.IF: an interrupt ends the HLT */
        tpr_from_cr8(vcpu, l);
        wake = lapic_deliverable(l) >= 0 || vcpu->queued_irq.type != HV_EVENT_NONE;
    }
    if (wake) {
        __atomic_store_n(&l->halted, 0, __ATOMIC_RELAXED);
        return true;
    }
    if (l->t_next) {
        /* Guest TSC ticks to host ns at tsc_khz, rounded up; a far expiry
           is clamped (the vCPU halts again with the rest). */
        uint64_t d = lapic_until(l, now);
        if (d > (1ull << 40))
            d = 1ull << 40;
        *deadline_ns = now_ns + (d * 1000000ull + lv->tsc_khz - 1) / lv->tsc_khz;
        if (!*deadline_ns)
            *deadline_ns = 1;
    }
    return false;
}

hv_status_t hv_lapic_raise(struct hv_vcpu *vcpu, uint32_t mode, uint8_t vector)
{
    if (!vcpu || (mode != HV_LAPIC_FIXED && mode != HV_LAPIC_NMI))
        return HV_ERR_INVALID_ARG;
    if (!vcpu->lapic)
        return HV_ERR_STATE;
    if (lapic_hw_enabled(vcpu->lapic))
        deliver(vcpu, mode, vector);
    return HV_OK;
}

hv_status_t hv_lapic_send(struct hv_vm *vm, uint32_t dest, uint32_t flags, uint32_t mode,
                          uint8_t vector)
{
    if (!vm || (flags & ~(uint32_t)HV_LAPIC_DEST_LOGICAL) ||
        (mode != HV_LAPIC_FIXED && mode != HV_LAPIC_NMI))
        return HV_ERR_INVALID_ARG;
    if (!vm->lapic)
        return HV_ERR_STATE;
    send(vm, NULL, LAPIC_SH_NONE, dest, (flags & HV_LAPIC_DEST_LOGICAL) != 0, mode, vector);
    return HV_OK;
}
