/*
 * get_state / set_state: vCPU state groups <-> VMCS guest-state area
 * (SDM Vol. 3C 24.4), the CR read shadows, the MSR lists and the pending
 * event. set_state assembles the state entry would see and runs the entry
 * checks on it (vmx_check.c) before writing anything, so a state the CPU
 * would refuse is refused here with HV_ERR_INVALID_ARG.
 */
#include "vmx/vmx.h"
#include "vmx/vmx_check.h"
#include "vmx/vmx_decode.h"
#include "core/guest_mem.h"
#include "core/policy.h"
#include "core/util.h"

/* 48-bit canonical (SDM Vol. 1 3.3.7.1). */
static bool canonical(uint64_t a)
{
    return hv_canonical(a, 48);
}

/* Everything the entry checks look at, as currently in the VMCS. */
void vmx_read_guest(struct hv_vcpu *vcpu, struct vmx_guest_state *g)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    hv_memset(g, 0, sizeof(*g));
    g->cr0 = vmx_read(VMCS_GUEST_CR0);
    g->cr3 = vmx_read(VMCS_GUEST_CR3);
    g->cr4 = vmx_read(VMCS_GUEST_CR4);
    g->dr7 = vmx_read(VMCS_GUEST_DR7);
    g->efer = vmx_read(VMCS_GUEST_EFER);
    g->pat = vmx_read(VMCS_GUEST_PAT);
    g->rflags = vmx_read(VMCS_GUEST_RFLAGS);
    g->rip = vmx_read(VMCS_GUEST_RIP);
    for (int i = 0; i < HV_SEG_COUNT; i++) {
        g->seg[i].sel = (uint16_t)vmx_read(VMCS_GUEST_ES_SEL + 2 * i);
        g->seg[i].base = vmx_read(VMCS_GUEST_ES_BASE + 2 * i);
        g->seg[i].limit = (uint32_t)vmx_read(VMCS_GUEST_ES_LIMIT + 2 * i);
        g->seg[i].ar = (uint32_t)vmx_read(VMCS_GUEST_ES_AR + 2 * i);
    }
    g->gdtr_base = vmx_read(VMCS_GUEST_GDTR_BASE);
    g->idtr_base = vmx_read(VMCS_GUEST_IDTR_BASE);
    g->gdtr_limit = (uint32_t)vmx_read(VMCS_GUEST_GDTR_LIMIT);
    g->idtr_limit = (uint32_t)vmx_read(VMCS_GUEST_IDTR_LIMIT);
    g->interruptibility = (uint32_t)vmx_read(VMCS_GUEST_INTERRUPTIBILITY);
    g->activity = (uint32_t)vmx_read(VMCS_GUEST_ACTIVITY);
    g->link_ptr = vmx_read(VMCS_LINK_POINTER);
    g->pin_ctls = (uint32_t)vmx_read(VMCS_PIN_CTLS);
    g->proc2_ctls = (uint32_t)vmx_read(VMCS_PROC2_CTLS);
    g->entry_ctls = vv->entry_ctls;
    g->entry_intr_info = (uint32_t)vmx_read(VMCS_ENTRY_INTR_INFO);
}

/* VMX interruption type <-> hv_event type. */
static void event_from_vmx(const struct vmx_event *e, struct hv_event *ev)
{
    hv_memset(ev, 0, sizeof(*ev));
    if (!(e->info & VMX_INTR_VALID))
        return;
    switch (VMX_INTR_TYPE(e->info)) {
    case VMX_INTR_TYPE_EXTINT:
        ev->type = HV_EVENT_EXTINT;
        break;
    case VMX_INTR_TYPE_NMI:
        ev->type = HV_EVENT_NMI;
        break;
    case VMX_INTR_TYPE_SOFT_INT:
        ev->type = HV_EVENT_SOFTINT;
        break;
    default:
        ev->type = HV_EVENT_EXCEPTION;
        break;
    }
    ev->vector = (uint8_t)VMX_INTR_VECTOR(e->info);
    ev->has_error_code = (e->info & VMX_INTR_HAS_ERROR) ? 1 : 0;
    ev->error_code = e->error;
    ev->cr2 = e->set_cr2 ? e->cr2 : 0;
}

void vmx_get_state(struct hv_vcpu *vcpu, uint32_t mask, struct hv_vcpu_state *st)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    hv_status_t s;
    uint64_t f = vmx_vmcs_begin(vcpu, &s);
    if (s != HV_OK) {
        vmx_vmcs_end(f);
        return;
    }
    if (mask & HV_STATE_GPR) {
        hv_memcpy(st->gpr, vcpu->gpr, sizeof(st->gpr));
        st->rip = vmx_read(VMCS_GUEST_RIP);
        st->rflags = vmx_read(VMCS_GUEST_RFLAGS);
    }
    if (mask & HV_STATE_SEG) {
        for (int i = 0; i < HV_SEG_COUNT; i++) {
            st->seg[i].selector = (uint16_t)vmx_read(VMCS_GUEST_ES_SEL + 2 * i);
            st->seg[i].base = vmx_read(VMCS_GUEST_ES_BASE + 2 * i);
            st->seg[i].limit = (uint32_t)vmx_read(VMCS_GUEST_ES_LIMIT + 2 * i);
            st->seg[i].attr = vmx_ar_to_attr((uint32_t)vmx_read(VMCS_GUEST_ES_AR + 2 * i));
        }
    }
    if (mask & HV_STATE_DTABLE) {
        st->gdtr.base = vmx_read(VMCS_GUEST_GDTR_BASE);
        st->gdtr.limit = (uint16_t)vmx_read(VMCS_GUEST_GDTR_LIMIT);
        st->idtr.base = vmx_read(VMCS_GUEST_IDTR_BASE);
        st->idtr.limit = (uint16_t)vmx_read(VMCS_GUEST_IDTR_LIMIT);
    }
    if (mask & HV_STATE_CR) {
        st->cr0 = vmx_visible_cr0(vv);
        st->cr2 = vv->guest_cr2;
        st->cr3 = vmx_read(VMCS_GUEST_CR3);
        st->cr4 = vmx_visible_cr4(vv);
        st->cr8 = vv->cr8;
        st->efer = vmx_read(VMCS_GUEST_EFER);
        st->dr7 = vmx_read(VMCS_GUEST_DR7);
    }
    if (mask & HV_STATE_MSR) {
        const struct vmx_msr_entry *m = vv->msrs;
        st->kernel_gs_base = m[VMX_SW_KERNEL_GS_BASE].value;
        st->star = m[VMX_SW_STAR].value;
        st->lstar = m[VMX_SW_LSTAR].value;
        st->cstar = m[VMX_SW_CSTAR].value;
        st->sfmask = m[VMX_SW_SFMASK].value;
        st->sysenter_cs = vmx_read(VMCS_GUEST_SYSENTER_CS);
        st->sysenter_esp = vmx_read(VMCS_GUEST_SYSENTER_ESP);
        st->sysenter_eip = vmx_read(VMCS_GUEST_SYSENTER_EIP);
        st->pat = vmx_read(VMCS_GUEST_PAT);
    }
    if (mask & HV_STATE_EVENTS) {
        uint32_t intr = (uint32_t)vmx_read(VMCS_GUEST_INTERRUPTIBILITY);
        st->interrupt_shadow = (intr & (VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS)) ? 1 : 0;
        st->nmi_blocked = (intr & VMX_INTERRUPT_NMI) ? 1 : 0;
        hv_memset(st->reserved, 0, sizeof(st->reserved));
        event_from_vmx((vv->reinject.info & VMX_INTR_VALID) ? &vv->reinject : &vv->inject,
                       &st->pending);
    }
    if (mask & HV_STATE_TSC)
        st->tsc_offset = vmx_read(VMCS_TSC_OFFSET);
    if (mask & HV_STATE_DEBUG)
        st->dr6 = vv->dr6;
    vmx_vmcs_end(f);
}

/* hv_event -> VMX interruption information (SDM 24.8.3). */
bool vmx_event_encode(const struct vmx_config *cfg, const struct hv_event *ev, bool real_mode,
                      struct vmx_event *out)
{
    hv_memset(out, 0, sizeof(*out));
    uint32_t type;
    switch (ev->type) {
    case HV_EVENT_NONE:
        return true;
    case HV_EVENT_EXTINT:
        type = VMX_INTR_TYPE_EXTINT;
        break;
    case HV_EVENT_NMI:
        if (ev->vector != 2)
            return false;
        type = VMX_INTR_TYPE_NMI;
        break;
    case HV_EVENT_EXCEPTION:
        if (ev->vector > 31 || ev->vector == 2)
            return false;
        type = VMX_INTR_TYPE_HW_EXC;
        break;
    case HV_EVENT_SOFTINT:
        /* INT n semantics with the return address at RIP need a zero
           instruction length (IA32_VMX_MISC[30]); otherwise the event is
           delivered like an external interrupt (no DPL check). */
        type = cfg->zero_len_inject ? VMX_INTR_TYPE_SOFT_INT : VMX_INTR_TYPE_EXTINT;
        break;
    default:
        return false;
    }
    out->info = VMX_INTR_INFO(type, ev->vector);
    /* SDM 26.2.1.3: no error code in real mode (CR0.PE=0). */
    if (ev->has_error_code && type == VMX_INTR_TYPE_HW_EXC && !real_mode) {
        out->info |= VMX_INTR_HAS_ERROR;
        out->error = ev->error_code;
    }
    if (type == VMX_INTR_TYPE_HW_EXC && ev->vector == 14) {
        out->cr2 = ev->cr2;
        out->set_cr2 = true;
    }
    return true;
}

static void seg_to_vmx(const struct hv_segment *s, int i, struct vmx_seg_state *o)
{
    o->sel = s->selector;
    o->base = s->base;
    o->limit = s->limit;
    o->ar = vmx_attr_to_ar(s->attr);
    /* A not-present data segment or LDTR (SVM's way to say "null") is an
       unusable one in VMX terms (SDM 24.4.1). CS and TR must be usable. */
    if (i != HV_SEG_CS && i != HV_SEG_TR && !(o->ar & VMX_AR_P))
        o->ar |= VMX_AR_UNUSABLE;
}

/* Check and write. force: skip the unrestricted-guest refusal (vcpu_init
   writes the real-mode reset state; run() refuses it later). */
hv_status_t vmx_apply_state(struct hv_vcpu *vcpu, uint32_t mask, const struct hv_vcpu_state *st,
                            bool force)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    const struct vmx_config *cfg = &vc->cfg;
    const struct hv_host *host = &vcpu->vm->ctx->host;
    struct vmx_guest_state g;
    struct vmx_event ev;
    char reason[96];
    uint64_t cr0, cr4;
    hv_status_t s;

    uint64_t f = vmx_vmcs_begin(vcpu, &s);
    if (s != HV_OK)
        goto out;
    cr0 = vmx_visible_cr0(vv);
    cr4 = vmx_visible_cr4(vv);
    vmx_read_guest(vcpu, &g);
    hv_memset(&ev, 0, sizeof(ev));

    s = HV_ERR_INVALID_ARG;
    if (mask & HV_STATE_GPR) {
        g.rip = st->rip;
        g.rflags = st->rflags | X86_RFLAGS_FIXED;
    }
    if (mask & HV_STATE_SEG)
        for (int i = 0; i < HV_SEG_COUNT; i++)
            seg_to_vmx(&st->seg[i], i, &g.seg[i]);
    if (mask & HV_STATE_DTABLE) {
        g.gdtr_base = st->gdtr.base;
        g.gdtr_limit = st->gdtr.limit;
        g.idtr_base = st->idtr.base;
        g.idtr_limit = st->idtr.limit;
    }
    if (mask & HV_STATE_CR) {
        cr0 = st->cr0;
        cr4 = st->cr4;
        /* What MOV to CR0/CR4 would #GP on (SDM Vol. 3A 2.5, Vol. 2 MOV). */
        if ((cr0 >> 32) || ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD)) || (cr4 & X86_CR4_VMXE) ||
            st->cr8 > 15) {
            hv_log(host, HV_LOG_WARN, "vmx: set_state: invalid CR0/CR4/CR8");
            goto out;
        }
        g.cr0 = vmx_real_cr0(cfg, cr0);
        g.cr4 = vmx_real_cr4(cfg, cr4);
        g.cr3 = st->cr3;
        g.efer = st->efer;
        g.dr7 = st->dr7;
        g.entry_ctls = (st->efer & X86_EFER_LMA) ? (vv->entry_ctls | VMX_ENTRY_IA32E)
                                                 : (vv->entry_ctls & ~VMX_ENTRY_IA32E);
    }
    if (mask & HV_STATE_MSR) {
        if (!canonical(st->kernel_gs_base) || !canonical(st->lstar) || !canonical(st->cstar) ||
            !canonical(st->sysenter_esp) || !canonical(st->sysenter_eip)) {
            hv_log(host, HV_LOG_WARN, "vmx: set_state: non-canonical MSR value");
            goto out;
        }
        g.pat = st->pat;
    }
    if (mask & HV_STATE_EVENTS) {
        g.interruptibility =
            (g.interruptibility & ~(VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS | VMX_INTERRUPT_NMI)) |
            (st->interrupt_shadow
                 ? ((g.rflags & X86_RFLAGS_IF) ? VMX_INTERRUPT_STI : VMX_INTERRUPT_MOVSS)
                 : 0) |
            (st->nmi_blocked ? VMX_INTERRUPT_NMI : 0);
        /* An STI shadow needs IF=1, MOV SS blocking does not (SDM 26.3.1.5). */
        if (!vmx_event_encode(cfg, &st->pending, !(cr0 & X86_CR0_PE), &ev))
            goto out;
        g.entry_intr_info = ev.info;
    }

    if (hv_cr4_refused(vcpu, cr4)) {
        hv_log(host, HV_LOG_WARN,
               "vmx: set_state: CR4 0x%llx: PKE, or OSXSAVE without XSAVE in the guest's CPUID",
               (unsigned long long)cr4);
        s = HV_ERR_UNSUPPORTED;
        goto out;
    }
    if (!cfg->ug && (!(cr0 & X86_CR0_PE) || !(cr0 & X86_CR0_PG)) && !force) {
        hv_log(host, HV_LOG_WARN,
               "vmx: set_state: real mode / paging off needs unrestricted guest");
        s = HV_ERR_UNSUPPORTED;
        goto out;
    }
    /* Without UG the forced reset state fails the checks by design: run()
       refuses it with a clear reason instead. */
    if (!(force && !cfg->ug) && !vmx_check_guest(&g, cfg, reason, sizeof(reason))) {
        hv_log(host, HV_LOG_WARN, "vmx: set_state refused: %s", reason);
        goto out;
    }

    /* Everything checked: write. */
    if (mask & HV_STATE_GPR) {
        hv_memcpy(vcpu->gpr, st->gpr, sizeof(vcpu->gpr));
        vmx_write(VMCS_GUEST_RSP, st->gpr[HV_GPR_RSP]);
        vmx_write(VMCS_GUEST_RIP, g.rip);
        vmx_write(VMCS_GUEST_RFLAGS, g.rflags);
    }
    if (mask & HV_STATE_SEG) {
        for (int i = 0; i < HV_SEG_COUNT; i++) {
            vmx_write(VMCS_GUEST_ES_SEL + 2 * i, g.seg[i].sel);
            vmx_write(VMCS_GUEST_ES_BASE + 2 * i, g.seg[i].base);
            vmx_write(VMCS_GUEST_ES_LIMIT + 2 * i, g.seg[i].limit);
            vmx_write(VMCS_GUEST_ES_AR + 2 * i, g.seg[i].ar);
        }
    }
    if (mask & HV_STATE_DTABLE) {
        vmx_write(VMCS_GUEST_GDTR_BASE, g.gdtr_base);
        vmx_write(VMCS_GUEST_GDTR_LIMIT, g.gdtr_limit);
        vmx_write(VMCS_GUEST_IDTR_BASE, g.idtr_base);
        vmx_write(VMCS_GUEST_IDTR_LIMIT, g.idtr_limit);
    }
    if (mask & HV_STATE_CR) {
        vv->cr0 = cr0;
        vv->cr4 = cr4;
        vv->cr8 = st->cr8;
        vv->guest_cr2 = st->cr2;
        vmx_write(VMCS_GUEST_CR0, g.cr0);
        vmx_write(VMCS_CR0_SHADOW, cr0);
        vmx_write(VMCS_GUEST_CR4, g.cr4);
        vmx_write(VMCS_CR4_SHADOW, cr4);
        vmx_write(VMCS_GUEST_CR3, g.cr3);
        vmx_write(VMCS_GUEST_EFER, g.efer);
        vmx_write(VMCS_GUEST_DR7, g.dr7);
        vv->entry_ctls = g.entry_ctls;
        vmx_write(VMCS_ENTRY_CTLS, vv->entry_ctls);
        vmx_load_pdptes(vcpu);
    }
    if (mask & HV_STATE_MSR) {
        struct vmx_msr_entry *m = vv->msrs;
        m[VMX_SW_KERNEL_GS_BASE].value = st->kernel_gs_base;
        m[VMX_SW_STAR].value = st->star;
        m[VMX_SW_LSTAR].value = st->lstar;
        m[VMX_SW_CSTAR].value = st->cstar;
        m[VMX_SW_SFMASK].value = st->sfmask;
        vmx_write(VMCS_GUEST_SYSENTER_CS, st->sysenter_cs);
        vmx_write(VMCS_GUEST_SYSENTER_ESP, st->sysenter_esp);
        vmx_write(VMCS_GUEST_SYSENTER_EIP, st->sysenter_eip);
        vmx_write(VMCS_GUEST_PAT, g.pat);
    }
    if (mask & HV_STATE_EVENTS) {
        vmx_write(VMCS_GUEST_INTERRUPTIBILITY, g.interruptibility);
        hv_memcpy(&vv->inject, &ev, sizeof(ev));
        hv_memset(&vv->reinject, 0, sizeof(vv->reinject));
    }
    if (mask & HV_STATE_TSC)
        vmx_write(VMCS_TSC_OFFSET, st->tsc_offset);
    if (mask & HV_STATE_DEBUG)
        vv->dr6 = st->dr6;
    s = HV_OK;
out:
    vmx_vmcs_end(f);
    return s;
}

hv_status_t vmx_set_state(struct hv_vcpu *vcpu, uint32_t mask, const struct hv_vcpu_state *st)
{
    return vmx_apply_state(vcpu, mask, st, false);
}

void vmx_load_pdptes(struct hv_vcpu *vcpu)
{
    /* With EPT and PAE paging outside IA-32e mode, VM entry loads the four
       PDPTEs from the VMCS, not from memory (SDM 26.3.2.4, 28.3.1): after
       libhv changed CR0/CR3/CR4 itself it must read them as MOV CR would. */
    uint64_t cr0 = vmx_read(VMCS_GUEST_CR0), cr4 = vmx_read(VMCS_GUEST_CR4);
    uint64_t efer = vmx_read(VMCS_GUEST_EFER);
    uint64_t pdpte[4] = {0, 0, 0, 0};
    if (!(cr0 & X86_CR0_PG) || !(cr4 & X86_CR4_PAE) || (efer & X86_EFER_LMA))
        return;
    uint64_t cr3 = vmx_read(VMCS_GUEST_CR3) & 0xffffffe0ull;
    if (hv_gpa_read(vcpu->vm, cr3, pdpte, sizeof(pdpte)) != HV_OK)
        hv_memset(pdpte, 0, sizeof(pdpte));
    for (int i = 0; i < 4; i++)
        vmx_write(VMCS_GUEST_PDPTE0 + 2 * i, pdpte[i]);
}

void vmx_reset_state(struct hv_vcpu *vcpu)
{
    /* The INIT state (SDM Vol. 3A 9.1.4, table 9-1). */
    struct hv_vcpu_state st;
    hv_memset(&st, 0, sizeof(st));
    st.rip = 0xfff0;
    st.rflags = X86_RFLAGS_FIXED;
    st.gpr[HV_GPR_RDX] = 0x600;
    for (int i = 0; i < HV_SEG_COUNT; i++) {
        st.seg[i].limit = 0xffff;
        st.seg[i].attr = HV_SEG_P | HV_SEG_S | 0x3; /* read/write data, accessed */
    }
    st.seg[HV_SEG_CS].selector = 0xf000;
    st.seg[HV_SEG_CS].base = 0xffff0000ull;
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | 0xb; /* execute/read code, accessed */
    st.seg[HV_SEG_LDTR].attr = HV_SEG_P | 0x2;          /* LDT */
    st.seg[HV_SEG_TR].attr = HV_SEG_P | 0xb;            /* busy TSS (VMX needs busy) */
    st.gdtr.limit = 0xffff;
    st.idtr.limit = 0xffff;
    st.cr0 = X86_CR0_CD | X86_CR0_NW | X86_CR0_ET;
    st.dr7 = 0x400;
    st.dr6 = VMX_DR6_INIT;
    st.pat = 0x0007040600070406ull;
    vmx_apply_state(vcpu, HV_STATE_ALL, &st, true);
}
