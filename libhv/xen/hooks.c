/*
 * The PV hooks (core/pv.h) a Xen-enabled VM installs: CPUID leaves
 * 0x40000000.., the hypercall-page MSR, hypercalls (hypercall.c), event
 * delivery before each entry, and HLT wake-up.
 */
#include "backend.h"
#include "core/cpu.h"
#include "core/guest_mem.h"
#include "core/pv.h"
#include "lapic/hooks.h"
#include "xen/internal.h"

enum hv_pv_result xen_hypercall(struct hv_vcpu *vcpu, struct hv_exit *exit);
enum hv_pv_result xen_hypercall_fast(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr,
                                     bool *events);

/* ---- CPUID (arch-x86/cpuid.h; values as Xen's cpuid_hypervisor_leaves) ---- */

static bool xen_cpuid(struct hv_vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    uint32_t idx = leaf - XEN_CPUID_BASE;

    out[0] = out[1] = out[2] = out[3] = 0;
    switch (idx) {
    case 0:
        out[0] = XEN_CPUID_BASE + XEN_CPUID_LEAVES; /* largest leaf */
        out[1] = XEN_CPUID_SIG_EBX;
        out[2] = XEN_CPUID_SIG_ECX;
        out[3] = XEN_CPUID_SIG_EDX;
        break;
    case 1:
        out[0] = ((uint32_t)x->ver_major << 16) | x->ver_minor;
        break;
    case 2:
        out[0] = 1;                      /* hypercall pages */
        out[1] = XEN_MSR_HYPERCALL_PAGE; /* MSR base */
        break;
    case 3: /* time: the guest TSC runs at the host rate, never emulated */
        if (subleaf == 0) {
            out[2] = x->tsc_khz;
        } else if (subleaf == 1) {
            out[2] = x->tsc_mul;
            out[3] = (uint32_t)(int32_t)x->tsc_shift;
        } else if (subleaf == 2) {
            out[0] = x->tsc_khz;
        }
        break;
    case 4: /* HVM features */
        if (subleaf == 0) {
            out[0] = XEN_HVM_CPUID_VCPU_ID | XEN_HVM_CPUID_DOMID | XEN_HVM_CPUID_UPCALL_VEC;
            out[1] = vcpu->id;
            out[2] = x->domid;
        }
        break;
    default: /* leaf 5 is PV-only; beyond the largest leaf: zeros */
        break;
    }
    return true;
}

/* ---- the hypercall page MSR ---- */

/* Fill one page with "mov $nr, %eax; vmcall|vmmcall; ret" stubs, 32 bytes
   apart; HYPERVISOR_iret is PV-only and gets UD2; the rest is INT3. */
static void fill_hypercall_page(uint8_t *p, bool vmx)
{
    hv_memset(p, 0xcc, HV_PAGE_SIZE);
    for (uint32_t nr = 0; nr < HV_PAGE_SIZE / XEN_HYPERCALL_STUB_SIZE; nr++) {
        uint8_t *s = p + nr * XEN_HYPERCALL_STUB_SIZE;
        if (nr == XEN_HC_IRET) {
            s[0] = 0x0f; /* ud2 */
            s[1] = 0x0b;
            continue;
        }
        s[0] = 0xb8; /* mov imm32, %eax */
        s[1] = (uint8_t)nr;
        s[2] = (uint8_t)(nr >> 8);
        s[3] = 0;
        s[4] = 0;
        s[5] = 0x0f; /* vmcall 0f 01 c1 (SDM Vol. 2B), vmmcall 0f 01 d9 (APM Vol. 3) */
        s[6] = 0x01;
        s[7] = vmx ? 0xc1 : 0xd9;
        s[8] = 0xc3; /* ret */
    }
}

void xen_latch_shinfo_size(struct hv_xen_vm *x, struct hv_vcpu *vcpu)
{
    /* Xen samples the caller's mode at the guest's first PV set-up steps
       and uses that shared_info layout from then on. */
    x->compat = !vcpu->vm->ctx->be->long_mode(vcpu);
}

static hv_status_t xen_msr_read(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value)
{
    if (msr != XEN_MSR_HYPERCALL_PAGE)
        return HV_ERR_NOT_FOUND;
    *value = 0; /* write-only: reads as zero */
    return HV_OK;
}

static hv_status_t xen_msr_write(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    if (msr != XEN_MSR_HYPERCALL_PAGE)
        return HV_ERR_NOT_FOUND;
    /* Bits 11:0 select the page of a multi-page area; there is one page. */
    if (value & (HV_PAGE_SIZE - 1))
        return HV_ERR_GUEST_FAULT;
    uint8_t *page = hv_gpa_ptr(vcpu->vm, value, HV_MEM_READ | HV_MEM_WRITE);
    if (!page)
        return HV_ERR_GUEST_FAULT; /* not writable RAM: #GP, as Xen gives */
    fill_hypercall_page(page, x->vmx);
    uint64_t t = xen_lock(x);
    xen_latch_shinfo_size(x, vcpu);
    xen_unlock(x, t);
    return HV_OK;
}

/* ---- event delivery before each entry ---- */

/*
 * The vCPU's state that the pre-entry pass keeps current, judged under the
 * lock at the end of the pass: until which host TSC it stays settled (runs,
 * no block or poll to end, no timer armed, its pvclock current: the TSC at
 * which xen_time_fresh() turns false), or 0. Whatever unsettles it later
 * zeroes the value (xen_unsettle), so xen_idle() reads one word and the
 * TSC. Settling (a timer stopped, a wake) leaves it 0 until the next pass.
 */
static uint64_t settled_until(const struct hv_xen_vm *x, const struct hv_xen_vcpu *xv)
{
    if (xv->block != XEN_RUNNING || xv->poll_deadline || xv->singleshot || xv->periodic_period)
        return 0;
    if (!x->has_clock || !x->tsc_khz)
        return UINT64_MAX; /* no pvclock to keep */
    if (!xv->time_valid)
        return 0;
    uint64_t until;
    return hv_add_overflows(xv->time_stamp_tsc, x->resync_tsc, &until) ? UINT64_MAX : until;
}

/*
 * Nothing for the pre-entry hook to do, judged without the lock: the vCPU
 * is settled (settled_until) and no upcall is asserted. With the per-vCPU
 * upcall vector (an edge), an upcall this layer queued and the core has
 * not injected yet needs nothing from the pass either: the core injects
 * it (and stays out of the fast path while it waits), and the bookkeeping
 * of queued_vector is settled by the next locked pass. The domain's
 * callback vector is level-triggered on upcall_pending, so the pass must
 * look at a queued one (to withdraw it) and at upcall_pending. Whoever
 * asserts an upcall does so before it looks whether this vCPU runs
 * (xen_wake, after a full fence; hv_vcpu_run's exchange of `running` is
 * one too), so an assertion this read misses makes that CPU kick us into
 * a new entry.
 */
static bool xen_idle(struct hv_vcpu *vcpu)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    struct hv_xen_vcpu *xv = xen_vcpu_cached(x, vcpu);
    if (hv_rdtsc() >= __atomic_load_n(&xv->settled_until, __ATOMIC_RELAXED))
        return false;
    if (xv->upcall_vector)
        return !__atomic_load_n(&xv->upcall_assert, __ATOMIC_ACQUIRE);
    if (xv->queued_vector && vcpu->queued_irq.type != HV_EVENT_NONE)
        return false;
    uint64_t cb = __atomic_load_n(&x->params[HVM_PARAM_CALLBACK_IRQ], __ATOMIC_RELAXED);
    if ((cb >> HVM_CALLBACK_TYPE_SHIFT) != HVM_CALLBACK_TYPE_VECTOR || (uint8_t)cb < 32)
        return true;
    return false; /* level-triggered on upcall_pending: the locked path reads it */
}

static void xen_pre_entry(struct hv_vcpu *vcpu)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    struct hv_xen_vcpu *xv = xen_vcpu_cached(x, vcpu);
    uint64_t now = xen_now(x);
    uint64_t now_tsc = hv_rdtsc(); /* the pvclock's pair for now (time.c) */
    uint64_t t = xen_lock(x);

    xen_set_block(x, xv, XEN_RUNNING); /* the embedder runs it: whatever it waited for is over */
    xv->poll_deadline = 0;
    xen_run_timers(x, xv, now);
    xen_time_update(x, xv, vcpu, now, now_tsc, false);

    /* Which vector, and is it asserted? The per-vCPU upcall vector is an
       edge (set when upcall_pending goes 0->1); the domain's callback
       vector is level-triggered on upcall_pending (hvm_vcpu_has_pending_irq). */
    uint8_t vec = 0;
    bool want = false, level = false;
    if (xv->upcall_vector) {
        vec = xv->upcall_vector;
        want = xv->upcall_assert;
    } else {
        uint64_t cb = x->params[HVM_PARAM_CALLBACK_IRQ];
        if ((cb >> HVM_CALLBACK_TYPE_SHIFT) == HVM_CALLBACK_TYPE_VECTOR && (uint8_t)cb >= 32) {
            uint8_t *vi = xen_vcpu_info(x, xv);
            vec = (uint8_t)cb;
            level = true;
            want = vi && xen_vi_upcall_pending(vi);
        }
    }
    struct hv_event *q = &vcpu->queued_irq;
    if (xv->queued_vector && !xen_settle_delivered(xv, q)) {
        if (level && !want) {
            q->type = HV_EVENT_NONE; /* the guest handled it meanwhile: withdraw */
            xv->queued_vector = 0;
        }
    }
    if (want && vec >= 32 && !xv->queued_vector && q->type == HV_EVENT_NONE) {
        xen_queue_upcall(xv, q, vec);
        if (!level)
            xv->upcall_assert = false;
    }
    __atomic_store_n(&xv->settled_until, settled_until(x, xv), __ATOMIC_RELAXED);
    xen_unlock(x, t);
}

/* The gate's other cases, out of line: a down vCPU does not run (Xen's
   _VPF_down): report HV_HLT_DOWN at once, without touching its state
   (VCPUOP_initialise may be setting it); one that blocked, yielded or was
   brought up is running from now (runstate.c). */
static __attribute__((noinline, cold)) bool gate_slow(struct hv_vcpu *vcpu, struct hv_exit *exit,
                                                      struct hv_xen_vm *x, struct hv_xen_vcpu *xv)
{
    if (!__atomic_load_n(&xv->down, __ATOMIC_SEQ_CST)) {
        xen_runstate_run(vcpu, x, xv);
        if (__builtin_expect(__atomic_load_n(&xv->leave_sipi_wait, __ATOMIC_RELAXED), 0)) {
            uint64_t t = xen_lock(x);
            bool leave = xv->leave_sipi_wait;
            xv->leave_sipi_wait = false;
            xen_unlock(x, t);
            if (leave && vcpu->lapic)
                hv_lapic_leave_sipi_wait(vcpu); /* VCPUOP_up's context runs */
        }
        return false;
    }
    hv_memset(exit, 0, sizeof(*exit));
    exit->reason = HV_EXIT_HLT;
    exit->hlt.source = HV_HLT_DOWN;
    return true;
}

/* At the start of every hv_vcpu_run: an up vCPU in the running state
   passes with a test of one byte each. */
static bool xen_run_gate(struct hv_vcpu *vcpu, struct hv_exit *exit)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    struct hv_xen_vcpu *xv = xen_vcpu(x, vcpu);
    if (__builtin_expect(!__atomic_load_n(&xv->down, __ATOMIC_SEQ_CST) &&
                             __atomic_load_n(&xv->rs_state, __ATOMIC_RELAXED) ==
                                 XEN_RUNSTATE_running,
                         1))
        return false;
    return gate_slow(vcpu, exit, x, xv);
}

static bool xen_halt_wakeup(struct hv_vcpu *vcpu)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    struct hv_xen_vcpu *xv = xen_vcpu(x, vcpu);
    uint64_t rflags = vcpu->vm->ctx->be->get_rflags(vcpu);
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    xen_run_timers(x, xv, now);
    bool need = xen_events_need_delivery(x, xv, vcpu, rflags);
    if (!need) {
        xen_set_block(x, xv, XEN_HALTED);
        xen_runstate_set(x, xv, XEN_RUNSTATE_blocked, now);
        if (xv->rs_area) {
            struct xen_call c;
            xen_call_from_vcpu(&c, vcpu);
            xen_runstate_publish(&c, x, xv);
        }
    }
    xen_unlock(x, t);
    return need;
}

/* A SIPI for a vCPU that is down and whose local APIC waits for one (after
   INIT, or since power-up with HV_LAPIC_APS_WAIT_SIPI) brings it up, as
   Xen's vLAPIC does for an HVM vCPU (its state is then the APIC's, set at
   the SIPI in the vCPU's own run); the wake callback makes it runnable. A
   vCPU that VCPUOP_down stopped is not waiting: the SIPI leaves it down. */
static void xen_apic_sipi(struct hv_vcpu *vcpu)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    struct hv_xen_vcpu *xv = xen_vcpu(x, vcpu);
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    bool wake = false;
    if (__atomic_load_n(&xv->down, __ATOMIC_SEQ_CST) && hv_lapic_awaits_sipi(vcpu)) {
        xv->initialised = true;
        xen_vcpu_come_up(x, xv, false, now);
        wake = true;
    }
    xen_unlock(x, t);
    if (wake && x->wake)
        x->wake(x->opaque, vcpu);
}

/* An INIT for a vCPU that is up takes it down and uninitialised, as
   Xen's vLAPIC resets an HVM vCPU: it stops running Xen-wise at once
   (offline), and only a SIPI or VCPUOP_initialise + VCPUOP_up starts it
   again. A vCPU running elsewhere needs no kick of ours: the APIC's
   delivery interrupts it, and its run returns at the INIT. */
static void xen_apic_init(struct hv_vcpu *vcpu)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    struct hv_xen_vcpu *xv = xen_vcpu(x, vcpu);
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    if (!__atomic_load_n(&xv->down, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&xv->down, true, __ATOMIC_SEQ_CST);
        xv->initialised = false;
        xv->leave_sipi_wait = false;
        xen_runstate_set(x, xv, XEN_RUNSTATE_offline, now);
    }
    xen_unlock(x, t);
}

/* A vCPU destroyed: its slot is empty now, and every path that could
   have found it before (an event from another vCPU or another domain of
   the hub waking or kicking it: xen_wake) holds the domain's lock while
   it uses it. Taking that lock once waits for the last of them. */
static void xen_vcpu_gone(struct hv_vcpu *vcpu)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    if (!x)
        return; /* disabled since: no event path reaches the domain */
    uint64_t t = xen_lock(x);
    xen_unlock(x, t);
}

/* VM teardown: the PV state goes with the VM (no vCPU is left by then). */
static void xen_vm_destroy(struct hv_vm *vm)
{
    hv_xen_disable(vm);
}

const struct hv_pv_ops xen_pv_ops = {
    .vm_destroy = xen_vm_destroy,
    .vcpu_gone = xen_vcpu_gone,
    .cpuid = xen_cpuid,
    .msr_read = xen_msr_read,
    .msr_write = xen_msr_write,
    .hypercall = xen_hypercall,
    .run_gate = xen_run_gate,
    .idle = xen_idle,
    .pre_entry = xen_pre_entry,
    .hypercall_fast = xen_hypercall_fast,
    .halt_wakeup = xen_halt_wakeup,
    .apic_sipi = xen_apic_sipi,
    .apic_init = xen_apic_init,
};
