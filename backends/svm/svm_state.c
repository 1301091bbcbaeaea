/*
 * get_state / set_state: the HV_STATE_* groups <-> the VMCB. set_state
 * builds the would-be state first and checks it the way VMRUN would
 * (svm_check.c), so a refused state leaves the vCPU untouched.
 */
#include "svm/svm.h"
#include "core/policy.h"
#include "core/util.h"

/* The VMCB order of segments follows enum hv_seg except LDTR/TR. */
static struct vmcb_seg *seg_slot(struct vmcb *v, unsigned i)
{
    switch (i) {
    case HV_SEG_ES:
        return &v->save.es;
    case HV_SEG_CS:
        return &v->save.cs;
    case HV_SEG_SS:
        return &v->save.ss;
    case HV_SEG_DS:
        return &v->save.ds;
    case HV_SEG_FS:
        return &v->save.fs;
    case HV_SEG_GS:
        return &v->save.gs;
    case HV_SEG_LDTR:
        return &v->save.ldtr;
    default:
        return &v->save.tr;
    }
}

static const uint64_t svm_evt_types[] = {
    [HV_EVENT_EXTINT] = SVM_EVT_TYPE_INTR,
    [HV_EVENT_NMI] = SVM_EVT_TYPE_NMI,
    [HV_EVENT_EXCEPTION] = SVM_EVT_TYPE_EXC,
    [HV_EVENT_SOFTINT] = SVM_EVT_TYPE_SOFT,
};

/* Events the VMCB can carry (APM 15.20). */
bool svm_event_valid(const struct hv_event *ev)
{
    switch (ev->type) {
    case HV_EVENT_NONE:
        return true;
    case HV_EVENT_EXTINT:
    case HV_EVENT_SOFTINT:
        return !ev->has_error_code;
    case HV_EVENT_NMI:
        return ev->vector == 2 && !ev->has_error_code;
    case HV_EVENT_EXCEPTION:
        return ev->vector <= 31 && ev->vector != 2;
    default:
        return false;
    }
}

/* EVENTINJ encoding of @p ev (0 for HV_EVENT_NONE); @p ev must be valid. */
uint64_t svm_event_encode(const struct hv_event *ev)
{
    uint64_t e;
    if (ev->type == HV_EVENT_NONE || ev->type > HV_EVENT_SOFTINT)
        return 0;
    e = SVM_EVT_V | ev->vector | (svm_evt_types[ev->type] << SVM_EVT_TYPE_SHIFT);
    if (ev->has_error_code)
        e |= SVM_EVT_EV | ((uint64_t)ev->error_code << SVM_EVT_ERR_SHIFT);
    return e;
}

/* EVENTINJ / EXITINTINFO -> hv_event; false (and type NONE) if not valid. */
bool svm_event_decode(uint64_t e, struct hv_event *ev)
{
    hv_memset(ev, 0, sizeof(*ev));
    if (!(e & SVM_EVT_V))
        return false;
    switch ((e & SVM_EVT_TYPE_MASK) >> SVM_EVT_TYPE_SHIFT) {
    case SVM_EVT_TYPE_INTR:
        ev->type = HV_EVENT_EXTINT;
        break;
    case SVM_EVT_TYPE_NMI:
        ev->type = HV_EVENT_NMI;
        break;
    case SVM_EVT_TYPE_EXC:
        ev->type = HV_EVENT_EXCEPTION;
        break;
    case SVM_EVT_TYPE_SOFT:
        ev->type = HV_EVENT_SOFTINT;
        break;
    default:
        return false;
    }
    ev->vector = e & SVM_EVT_VECTOR_MASK;
    if (e & SVM_EVT_EV) {
        ev->has_error_code = 1;
        ev->error_code = (uint32_t)(e >> SVM_EVT_ERR_SHIFT);
    }
    return true;
}

static unsigned cpl_of(const struct vmcb *v)
{
    /* APM 15.5.1: the VMM keeps the CPL field; it is SS.DPL in protected
       mode, 0 in real mode and 3 in virtual-8086 mode. */
    if (!(v->save.cr0 & CR0_PE))
        return 0;
    if (v->save.rflags & RFLAGS_VM)
        return 3;
    return (v->save.ss.attrib >> HV_SEG_DPL_SHIFT) & 3;
}

void svm_get_state(struct hv_vcpu *vcpu, uint32_t mask, struct hv_vcpu_state *st)
{
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;

    if (mask & HV_STATE_GPR) {
        for (unsigned i = 0; i < HV_GPR_COUNT; i++)
            st->gpr[i] = vcpu->gpr[i];
        st->rip = v->save.rip;
        st->rflags = v->save.rflags;
    }
    if (mask & HV_STATE_SEG)
        for (unsigned i = 0; i < HV_SEG_COUNT; i++)
            svm_seg_to_hv(seg_slot(v, i), &st->seg[i]);
    if (mask & HV_STATE_DTABLE) {
        st->gdtr.base = v->save.gdtr.base;
        st->gdtr.limit = (uint16_t)v->save.gdtr.limit;
        st->idtr.base = v->save.idtr.base;
        st->idtr.limit = (uint16_t)v->save.idtr.limit;
    }
    if (mask & HV_STATE_CR) {
        st->cr0 = v->save.cr0;
        st->cr2 = v->save.cr2;
        st->cr3 = v->save.cr3;
        st->cr4 = v->save.cr4;
        /* With V_INTR_MASKING, guest CR8 writes go to V_TPR (APM 15.21.2). */
        st->cr8 = v->ctl.vintr & 0xf;
        st->efer = v->save.efer & ~EFER_SVME;
        st->dr7 = v->save.dr7;
    }
    if (mask & HV_STATE_MSR) {
        st->star = v->save.star;
        st->lstar = v->save.lstar;
        st->cstar = v->save.cstar;
        st->sfmask = v->save.sfmask;
        st->kernel_gs_base = v->save.kernel_gs_base;
        st->sysenter_cs = v->save.sysenter_cs;
        st->sysenter_esp = v->save.sysenter_esp;
        st->sysenter_eip = v->save.sysenter_eip;
        st->pat = v->save.g_pat;
    }
    if (mask & HV_STATE_EVENTS) {
        st->interrupt_shadow = (v->ctl.int_state & SVM_INT_SHADOW) ? 1 : 0;
        st->nmi_blocked = s->nmi_blocked ? 1 : 0;
        hv_memset(st->reserved, 0, sizeof(st->reserved));
        svm_event_decode(v->ctl.eventinj, &st->pending);
        if (st->pending.type == HV_EVENT_EXCEPTION && st->pending.vector == 14)
            st->pending.cr2 = v->save.cr2;
    }
    if (mask & HV_STATE_TSC)
        st->tsc_offset = v->ctl.tsc_offset;
    if (mask & HV_STATE_DEBUG)
        st->dr6 = v->save.dr6;
}

/* Canonical for the CPU's linear-address width (SDM Vol. 1 3.3.7.1). */
static bool canonical(uint64_t a, bool la57)
{
    return hv_canonical(a, la57 ? 57 : 48);
}

/* Checks of set_state beyond VMRUN's own (what the API promises). */
static const char *extra_checks(const struct hv_vcpu_state *st, uint32_t mask, uint64_t cr4)
{
    bool la57 = (cr4 & CR4_LA57) != 0;
    if (mask & HV_STATE_SEG) {
        /* Only FS, GS, LDTR and TR keep 64-bit bases in long mode. */
        static const unsigned wide[] = {HV_SEG_FS, HV_SEG_GS, HV_SEG_LDTR, HV_SEG_TR};
        for (unsigned i = 0; i < HV_ARRAY_SIZE(wide); i++)
            if (!canonical(st->seg[wide[i]].base, la57))
                return "non-canonical segment base";
        for (unsigned i = 0; i < HV_SEG_COUNT; i++)
            if (st->seg[i].attr & ~(0x0fffu | HV_SEG_UNUSABLE))
                return "unknown segment attribute bits";
    }
    if ((mask & HV_STATE_DTABLE) &&
        (!canonical(st->gdtr.base, la57) || !canonical(st->idtr.base, la57)))
        return "non-canonical GDTR/IDTR base";
    if (mask & HV_STATE_MSR) {
        if (!canonical(st->lstar, la57) || !canonical(st->cstar, la57) ||
            !canonical(st->kernel_gs_base, la57) || !canonical(st->sysenter_esp, la57) ||
            !canonical(st->sysenter_eip, la57))
            return "non-canonical MSR address";
    }
    if (mask & HV_STATE_CR) {
        if (st->efer & EFER_SVME)
            return "EFER.SVME is not a guest bit";
        if (st->cr8 > 15)
            return "CR8 above 15";
    }
    if (mask & HV_STATE_EVENTS) {
        if (!svm_event_valid(&st->pending))
            return "invalid pending event";
        if (st->pending.reserved || st->reserved[0] || st->reserved[1] || st->reserved[2] ||
            st->reserved[3] || st->reserved[4] || st->reserved[5])
            return "reserved event fields not zero";
    }
    return NULL;
}

hv_status_t svm_set_state(struct hv_vcpu *vcpu, uint32_t mask, const struct hv_vcpu_state *st)
{
    struct svm_ctx *sc = svm_ctx_of(vcpu->vm->ctx);
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;
    struct svm_check_in in;
    const char *why;

    /* GPRs, RIP, RFLAGS and the TSC offset are not part of any check
       (APM Vol. 2 15.5.1, extra_checks): a set of those alone keeps the
       checked state as it is, which was checked when it was set. This is
       the instruction assist's write-back after every emulated access. */
    if (!(mask & ~(HV_STATE_GPR | HV_STATE_TSC)))
        goto apply;

    /* The would-be state of everything VMRUN checks. */
    svm_check_in_from_vmcb(v, &in);
    if (mask & HV_STATE_SEG)
        in.cs_attr = st->seg[HV_SEG_CS].attr & 0x0fffu;
    if (mask & HV_STATE_CR) {
        in.cr0 = st->cr0;
        in.cr3 = st->cr3;
        in.cr4 = st->cr4;
        in.dr7 = st->dr7;
        in.efer = st->efer | EFER_SVME;
    }
    if (mask & HV_STATE_DEBUG)
        in.dr6 = st->dr6;
    if (mask & HV_STATE_MSR)
        in.g_pat = st->pat;
    if (mask & HV_STATE_EVENTS)
        in.eventinj = svm_event_encode(&st->pending);
    /* Bits its CPUID view lacks (PKE, OSXSAVE without XSAVE), as the
       guest's own MOV to CR4 (svm_cr4.c) and VMX refuse them. */
    if ((mask & HV_STATE_CR) && hv_cr4_refused(vcpu, st->cr4)) {
        hv_log(&vcpu->vm->ctx->host, HV_LOG_WARN,
               "svm: set_state: CR4 0x%llx: PKE, or OSXSAVE without XSAVE in the guest's CPUID",
               (unsigned long long)st->cr4);
        return HV_ERR_UNSUPPORTED;
    }
    why = extra_checks(st, mask, in.cr4);
    if (!why)
        why = svm_check_state(&in, &sc->limits);
    if (why) {
        hv_log(&vcpu->vm->ctx->host, HV_LOG_DEBUG, "svm: set_state refused: %s", why);
        return HV_ERR_INVALID_ARG;
    }

apply:
    if (mask & HV_STATE_GPR) {
        for (unsigned i = 0; i < HV_GPR_COUNT; i++)
            vcpu->gpr[i] = st->gpr[i];
        v->save.rax = st->gpr[HV_GPR_RAX];
        v->save.rsp = st->gpr[HV_GPR_RSP];
        v->save.rip = st->rip;
        v->save.rflags = (st->rflags | 2) & 0x3f7fd7ull; /* reserved bits fixed */
    }
    if (mask & HV_STATE_SEG)
        for (unsigned i = 0; i < HV_SEG_COUNT; i++)
            svm_seg_from_hv(&st->seg[i], seg_slot(v, i));
    if (mask & HV_STATE_DTABLE) {
        v->save.gdtr.base = st->gdtr.base;
        v->save.gdtr.limit = st->gdtr.limit;
        v->save.idtr.base = st->idtr.base;
        v->save.idtr.limit = st->idtr.limit;
    }
    if (mask & HV_STATE_CR) {
        v->save.cr0 = st->cr0;
        v->save.cr2 = st->cr2;
        v->save.cr3 = st->cr3;
        v->save.cr4 = st->cr4;
        v->ctl.vintr = (v->ctl.vintr & ~SVM_VINTR_TPR_MASK) | (st->cr8 & 0xf);
        v->save.efer = st->efer | EFER_SVME;
        v->save.dr7 = st->dr7;
    }
    if (mask & HV_STATE_MSR) {
        v->save.star = st->star;
        v->save.lstar = st->lstar;
        v->save.cstar = st->cstar;
        v->save.sfmask = st->sfmask;
        v->save.kernel_gs_base = st->kernel_gs_base;
        v->save.sysenter_cs = st->sysenter_cs;
        v->save.sysenter_esp = st->sysenter_esp;
        v->save.sysenter_eip = st->sysenter_eip;
        v->save.g_pat = st->pat;
    }
    if (mask & HV_STATE_EVENTS) {
        v->ctl.int_state =
            (v->ctl.int_state & ~SVM_INT_SHADOW) | (st->interrupt_shadow ? SVM_INT_SHADOW : 0);
        s->nmi_blocked = st->nmi_blocked != 0;
        s->iret_pending = false;
        if (s->nmi_blocked)
            v->ctl.intercept_misc1 |= SVM_I1_IRET;
        else
            v->ctl.intercept_misc1 &= ~SVM_I1_IRET;
        v->ctl.eventinj = svm_event_encode(&st->pending);
        if (st->pending.type == HV_EVENT_EXCEPTION && st->pending.vector == 14)
            v->save.cr2 = st->pending.cr2;
    }
    if (mask & HV_STATE_TSC)
        v->ctl.tsc_offset = st->tsc_offset;
    if (mask & HV_STATE_DEBUG)
        v->save.dr6 = st->dr6;
    if (mask & (HV_STATE_SEG | HV_STATE_CR | HV_STATE_GPR))
        v->save.cpl = (uint8_t)cpl_of(v);
    return HV_OK;
}
