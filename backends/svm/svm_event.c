/*
 * Event injection (APM Vol. 2 15.20 EVENTINJ), re-injection of an event an
 * exit interrupted (15.7.2 EXITINTINFO), the interrupt window (15.21.4
 * V_IRQ + VINTR intercept) and NMI blocking.
 *
 * SVM has no NMI-window exit: after injecting an NMI the backend intercepts
 * IRET (15.9) to learn when the guest's handler returns. The IRET exit
 * happens before the IRET runs, so NMIs open only once the guest has left
 * that instruction (iret_pending / iret_rip); to get an exit soon after, an
 * NMI window also arms the virtual-interrupt window.
 */
#include "svm/svm.h"
#include "core/util.h"

/* An external interrupt can go into EVENTINJ now: the field free, RFLAGS.IF
   set, no STI / MOV SS shadow (APM Vol. 2 15.20, 15.21.4). */
static inline bool irq_injectable(const struct vmcb *v)
{
    return !(v->ctl.eventinj & SVM_EVT_V) && (v->save.rflags & RFLAGS_IF) &&
           !(v->ctl.int_state & SVM_INT_SHADOW);
}

/* EVENTINJ for external interrupt `vector` (15.20: type 0, no error
   code). */
static inline uint64_t irq_event(uint8_t vector)
{
    return SVM_EVT_V | vector | (SVM_EVT_TYPE_INTR << SVM_EVT_TYPE_SHIFT);
}

bool svm_can_inject(struct hv_vcpu *vcpu, hv_event_type_t type)
{
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;

    if (v->ctl.eventinj & SVM_EVT_V)
        return false;
    switch (type) {
    case HV_EVENT_EXTINT:
        return irq_injectable(v);
    case HV_EVENT_NMI:
        return !s->nmi_blocked && !(s->iret_pending && v->save.rip == s->iret_rip);
    default:
        return true;
    }
}

void svm_inject(struct hv_vcpu *vcpu, const struct hv_event *ev)
{
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;

    /* The common event, an external interrupt (the PV layer's upcall):
       its vector and type alone. */
    if (ev->type == HV_EVENT_EXTINT && !ev->has_error_code) {
        v->ctl.eventinj = irq_event(ev->vector);
        return;
    }
    if (!svm_event_valid(ev) || ev->type == HV_EVENT_NONE)
        return;
    v->ctl.eventinj = svm_event_encode(ev);
    /* Real mode pushes no error code (APM Vol. 2 8.2 / SDM Vol. 3A 20.1.4);
       the core queues #GP(0) without knowing the mode. */
    if (!(v->save.cr0 & CR0_PE))
        v->ctl.eventinj &= ~(SVM_EVT_EV | (0xffffffffull << SVM_EVT_ERR_SHIFT));
    if (ev->type == HV_EVENT_EXCEPTION && ev->vector == 14)
        v->save.cr2 = ev->cr2;
    if (ev->type == HV_EVENT_NMI) {
        s->nmi_blocked = true;
        s->iret_pending = false;
        v->ctl.intercept_misc1 |= SVM_I1_IRET;
    }
}

/* The V_IRQ request that makes the CPU exit (VINTR) once the guest can take
   an interrupt: priority 15 and TPR ignored so that only RFLAGS.IF and the
   interrupt shadow gate it (15.21.4). */
static void vintr_request(struct vmcb *v, bool on)
{
    if (on) {
        v->ctl.vintr |= SVM_VINTR_IRQ | (0xfull << SVM_VINTR_PRIO_SHIFT) | SVM_VINTR_IGN_TPR;
        v->ctl.intercept_misc1 |= SVM_I1_VINTR;
    } else {
        v->ctl.vintr &= ~(SVM_VINTR_IRQ | (0xfull << SVM_VINTR_PRIO_SHIFT) | SVM_VINTR_IGN_TPR);
        v->ctl.intercept_misc1 &= ~SVM_I1_VINTR;
    }
}

/* The V_IRQ request as the windows now want it (NMI's: VINTR stands in
   for the end of the IRET, svm_run.c). */
static inline void sync_vintr(const struct svm_vcpu *s, struct vmcb *v)
{
    bool want = s->irq_window || (s->nmi_window && s->iret_pending);
    bool armed = (v->ctl.intercept_misc1 & SVM_I1_VINTR) && (v->ctl.vintr & SVM_VINTR_IRQ);
    if (want != armed)
        vintr_request(v, want);
}

void svm_set_window(struct hv_vcpu *vcpu, hv_event_type_t type, bool on)
{
    struct svm_vcpu *s = svm_vcpu_of(vcpu);

    if (type == HV_EVENT_EXTINT) {
        s->irq_window = on;
    } else if (type == HV_EVENT_NMI) {
        s->nmi_window = on;
    } else {
        return;
    }
    sync_vintr(s, s->vmcb);
}

/* backend.h inject_irq: svm_can_inject's EXTINT test, svm_inject's
   encoding of an external interrupt, svm_set_window's EXTINT case. */
bool svm_inject_irq(struct hv_vcpu *vcpu, uint8_t vector)
{
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;
    bool now = irq_injectable(v);
    if (now)
        v->ctl.eventinj = irq_event(vector);
    s->irq_window = !now;
    sync_vintr(s, v);
    return now;
}

/* Queue a hardware exception from inside the backend (e.g. #UD for an SVM
   instruction). An event already waiting for re-injection goes first; the
   faulting instruction re-executes after it and faults again. */
void svm_inject_exception(struct hv_vcpu *vcpu, uint8_t vector, bool has_err, uint32_t err)
{
    struct hv_event ev = {.type = HV_EVENT_EXCEPTION,
                          .vector = vector,
                          .has_error_code = has_err ? 1 : 0,
                          .error_code = err};
    if (svm_vcpu_of(vcpu)->vmcb->ctl.eventinj & SVM_EVT_V)
        return;
    svm_inject(vcpu, &ev);
}

/*
 * The single-step trap of an instruction the core finished (backend.h
 * inject_step): what the CPU would have done, DR6.BS set in the guest's
 * DR6, which VMRUN loads from the VMCB (APM Vol. 2 15.5.1), and #DB
 * delivered (13.1.3), here through EVENTINJ (15.20). An injected event
 * is not checked against the exception intercepts: the #DB intercept
 * (svm_vcpu.c) does not see it, as for the #DBs svm_run reflects.
 */
void svm_inject_step(struct hv_vcpu *vcpu)
{
    struct vmcb *v = svm_vmcb(vcpu);
    struct hv_event db = {.type = HV_EVENT_EXCEPTION, .vector = SVM_VEC_DB};
    v->save.dr6 |= DR6_BS;
    svm_inject(vcpu, &db);
}

/*
 * After every exit: EVENTINJ has been consumed or reported in EXITINTINFO.
 * An interrupted event is put back for the next entry, except software
 * interrupts and INT3/INTO (soft exceptions): their RIP still points at the
 * instruction, which simply runs again (re-injecting would need its length).
 */
void svm_after_exit_events(struct hv_vcpu *vcpu)
{
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;
    uint64_t info = v->ctl.exitintinfo;

    v->ctl.eventinj = 0;
    if (s->iret_pending && v->save.rip != s->iret_rip) {
        s->iret_pending = false;
        vintr_request(v, s->irq_window);
    }
    if (!(info & SVM_EVT_V))
        return;
    uint64_t type = (info & SVM_EVT_TYPE_MASK) >> SVM_EVT_TYPE_SHIFT;
    unsigned vec = info & SVM_EVT_VECTOR_MASK;
    if (type == SVM_EVT_TYPE_SOFT)
        return;
    if (type == SVM_EVT_TYPE_EXC && (vec == SVM_VEC_BP || vec == SVM_VEC_OF))
        return;
    /* Keep vector, type, EV, V and the error code; bits 30:12 are reserved. */
    v->ctl.eventinj = info & (0xffffffff00000000ull | SVM_EVT_V | SVM_EVT_EV | SVM_EVT_TYPE_MASK |
                              SVM_EVT_VECTOR_MASK);
}

/* MOV to and from DR0-DR3 (APM Vol. 2 15.11: VMCB offset 004h, bits 3:0
   reads, 19:16 writes), until core/debugreg.h has loaded the guest's. */
void svm_debug_intercept(struct hv_vcpu *vcpu, bool on)
{
    struct vmcb *v = svm_vmcb(vcpu);
    if (on)
        v->ctl.intercept_dr |= SVM_DR0_3_INTERCEPTS;
    else
        v->ctl.intercept_dr &= ~SVM_DR0_3_INTERCEPTS;
}
