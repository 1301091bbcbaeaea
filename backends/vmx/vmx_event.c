/*
 * Event injection through the VM-entry interruption-information field
 * (SDM Vol. 3C 26.6), re-injection of events whose delivery a VM exit
 * interrupted (IDT-vectoring information, SDM 27.2.4), and the interrupt
 * and NMI windows (SDM 25.2).
 */
#include "vmx/vmx.h"
#include "core/util.h"

/* Expects the VMCS current (callers use vmx_vmcs_begin or run inside run()). */
static bool can_inject_locked(struct hv_vcpu *vcpu, hv_event_type_t type)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    uint32_t intr;

    if ((vv->inject.info | vv->reinject.info) & VMX_INTR_VALID)
        return false;
    switch (type) {
    case HV_EVENT_EXCEPTION:
    case HV_EVENT_SOFTINT:
        return true;
    case HV_EVENT_NMI:
        /* SDM 26.3.1.5: no NMI injection under MOV SS blocking or while
           virtual NMIs are blocked; some CPUs also refuse it under STI
           blocking (SDM 26.3.1.5 note), so wait that out too. */
        intr = (uint32_t)vmx_read(VMCS_GUEST_INTERRUPTIBILITY);
        return !(intr & (VMX_INTERRUPT_NMI | VMX_INTERRUPT_MOVSS | VMX_INTERRUPT_STI));
    case HV_EVENT_EXTINT:
        intr = (uint32_t)vmx_read(VMCS_GUEST_INTERRUPTIBILITY);
        return (vmx_read(VMCS_GUEST_RFLAGS) & X86_RFLAGS_IF) &&
               !(intr & (VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS));
    default:
        return false;
    }
}

bool vmx_can_inject(struct hv_vcpu *vcpu, hv_event_type_t type)
{
    hv_status_t st;
    uint64_t f = vmx_vmcs_begin(vcpu, &st);
    bool ok = st == HV_OK && can_inject_locked(vcpu, type);
    vmx_vmcs_end(f);
    return ok;
}

void vmx_inject(struct hv_vcpu *vcpu, const struct hv_event *ev)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    struct vmx_event e;
    if (vmx_event_encode(&vmx_ctx_of_vcpu(vcpu)->cfg, ev, !(vv->cr0 & X86_CR0_PE), &e))
        hv_memcpy(&vv->inject, &e, sizeof(e));
}

void vmx_raise(struct hv_vcpu *vcpu, uint8_t vector, bool has_error, uint32_t error)
{
    struct hv_event ev = {.type = HV_EVENT_EXCEPTION,
                          .vector = vector,
                          .has_error_code = has_error,
                          .error_code = error};
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    /* An exception raised while another event waits would be a double
       fault; libhv only raises from instruction exits, where no event is
       pending, so the first one stays. */
    if (!((vv->inject.info | vv->reinject.info) & VMX_INTR_VALID))
        vmx_inject(vcpu, &ev);
}

/* The primary processor-based controls with one bit on or off (SDM Vol.
   3C 25.6.2); the VMCS current. */
static void proc_ctl_locked(struct vmx_vcpu *vv, uint32_t bit, bool on)
{
    uint32_t ctls = on ? (vv->proc_ctls | bit) : (vv->proc_ctls & ~bit);
    if (ctls == vv->proc_ctls)
        return;
    vv->proc_ctls = ctls;
    vmx_write(VMCS_PROC_CTLS, ctls);
}

/* The same with the VMCS made current, only when the bit changes. */
static void proc_ctl(struct hv_vcpu *vcpu, uint32_t bit, bool on)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    if (!!(vv->proc_ctls & bit) == on)
        return;
    hv_status_t st;
    uint64_t f = vmx_vmcs_begin(vcpu, &st);
    if (st == HV_OK)
        proc_ctl_locked(vv, bit, on);
    vmx_vmcs_end(f);
}

void vmx_set_window(struct hv_vcpu *vcpu, hv_event_type_t type, bool on)
{
    proc_ctl(vcpu, type == HV_EVENT_NMI ? VMX_PROC_NMI_WINDOW : VMX_PROC_INTR_WINDOW, on);
}

/* vmx_inject_irq with the VMCS current: vmx_can_inject's EXTINT test, the
   encoding of an external interrupt (SDM Vol. 3C 24.8.3: type 0, no error
   code) and the interrupt-window control. */
static inline __attribute__((always_inline)) bool inject_irq_locked(struct hv_vcpu *vcpu,
                                                                    uint8_t vector)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    bool now = can_inject_locked(vcpu, HV_EVENT_EXTINT);
    if (now)
        vv->inject = (struct vmx_event){.info = VMX_INTR_INFO(VMX_INTR_TYPE_EXTINT, vector)};
    proc_ctl_locked(vv, VMX_PROC_INTR_WINDOW, !now);
    return now;
}

/* The same when the VMCS is not current here yet (vmx_vmcs_begin's slow
   half, out of line). */
static __attribute__((noinline)) bool inject_irq_load(struct hv_vcpu *vcpu, uint8_t vector)
{
    hv_status_t st;
    uint64_t f = vmx_vmcs_begin_load(vcpu, &st);
    bool now = st == HV_OK && inject_irq_locked(vcpu, vector);
    vmx_vmcs_end(f);
    return now;
}

/* backend.h inject_irq. Its callers (the event delivery before an entry,
   the exit fast path's hypercalls) find the VMCS current: vmx_vmcs_begin's
   test inline, without a frame for its slow half. */
bool vmx_inject_irq(struct hv_vcpu *vcpu, uint8_t vector)
{
    uint64_t f;
    if (!vmx_vmcs_here(vcpu, &f))
        return inject_irq_load(vcpu, vector);
    bool now = inject_irq_locked(vcpu, vector);
    vmx_vmcs_end(f);
    return now;
}

/* MOV-DR exiting: every MOV to or from a debug register exits while the
   guest's DR0-3 are not loaded (core/debugreg.h). */
void vmx_debug_intercept(struct hv_vcpu *vcpu, bool on)
{
    proc_ctl(vcpu, VMX_PROC_MOV_DR, on);
}

/*
 * The single-step trap of an instruction the core finished (backend.h
 * inject_step): the BS bit of the guest's pending debug exceptions (SDM
 * Vol. 3C 25.4.2), which an entry that injects nothing turns into a #DB
 * right after it, with the priority of a trap on the previous instruction
 * and DR6 updated as for any #DB (27.7.3). DR6 is not in the VMCS, and an
 * injected #DB would leave it alone: hence the field, not injection. The
 * entry check on it (27.3.1.5: under STI / MOV SS blocking or in HLT, BS
 * must equal RFLAGS.TF and not DEBUGCTL.BTF) holds: TF is set, set_rip
 * ended the shadow, the vCPU is active and the guest cannot set BTF (its
 * DEBUGCTL writes fault, core/msr.c). A VM exit before the #DB is
 * delivered saves the field with BS still set (28.3.4).
 */
void vmx_inject_step(struct hv_vcpu *vcpu)
{
    hv_status_t st;
    uint64_t f = vmx_vmcs_begin(vcpu, &st);
    if (st == HV_OK)
        vmx_write(VMCS_GUEST_PENDING_DBG, vmx_read(VMCS_GUEST_PENDING_DBG) | VMX_PENDING_DBG_BS);
    vmx_vmcs_end(f);
}

void vmx_events_before_entry(struct hv_vcpu *vcpu)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    struct vmx_event *e = (vv->reinject.info & VMX_INTR_VALID) ? &vv->reinject : &vv->inject;

    if (!(e->info & VMX_INTR_VALID))
        return;
    /* The CPU clears the valid bit at every VM exit (SDM 24.8.3), so the
       field is written before each entry that delivers something. */
    vmx_write_nocheck(VMCS_ENTRY_INTR_INFO, e->info);
    if (e->info & VMX_INTR_HAS_ERROR)
        vmx_write_nocheck(VMCS_ENTRY_EXC_ERROR, e->error);
    vmx_write_nocheck(VMCS_ENTRY_INSN_LEN, e->len);
    if (e->set_cr2)
        vv->guest_cr2 = e->cr2;
    *e = (struct vmx_event){0}; /* a few stores, not hv_memset's loop */
}

void vmx_events_after_exit(struct hv_vcpu *vcpu, uint32_t basic, uint64_t qual, uint32_t insn_len)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    uint32_t idt = (uint32_t)vmx_read(VMCS_IDT_VEC_INFO);

    if (idt & VMX_INTR_VALID) {
        /* The exit interrupted the delivery of this event (e.g. an EPT
           violation on the IDT or the stack): deliver it again at the next
           entry, with its error code and, for software events, the
           instruction length (SDM 27.2.4). */
        uint32_t type = VMX_INTR_TYPE(idt);
        vv->reinject.info = idt & (VMX_INTR_VALID | VMX_INTR_HAS_ERROR | 0x7ffu);
        vv->reinject.error =
            (idt & VMX_INTR_HAS_ERROR) ? (uint32_t)vmx_read(VMCS_IDT_VEC_ERROR) : 0;
        vv->reinject.len = (type == VMX_INTR_TYPE_SOFT_INT || type == VMX_INTR_TYPE_PRIV_SW ||
                            type == VMX_INTR_TYPE_SOFT_EXC)
                               ? insn_len
                               : 0;
        vv->reinject.set_cr2 = false;
        return;
    }
    /* An EPT violation during an IRET that unblocked NMIs ("NMI unblocking
       due to IRET", qualification bit 12): blocking must be restored before
       the IRET is retried (SDM Vol. 3C 27.2.3, 28.2.3.2). */
    if (basic == VMX_EXIT_EPT_VIOLATION && (qual & VMX_INTR_NMI_UNBLOCK)) {
        uint64_t intr = vmx_read(VMCS_GUEST_INTERRUPTIBILITY);
        vmx_write(VMCS_GUEST_INTERRUPTIBILITY, intr | VMX_INTERRUPT_NMI);
    }
}
