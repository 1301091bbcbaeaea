/*
 * VMX control negotiation (SDM Vol. 3C Appendix A): every control libhv
 * wants is checked against the allowed-0 / allowed-1 settings the CPU
 * reports. Required controls fail the probe with a reason naming them;
 * optional ones degrade and the capabilities say so.
 */
#include "vmx/vmx_controls.h"
#include "vmx/vmx_arch.h"
#include "core/util.h"
#include <hv/vm.h>

#define W(word, bit, req, want, name)                                                              \
    {                                                                                              \
        VMX_CTL_##word, bit, req, want, name                                                       \
    }

/* What libhv programs. Each line: control word, bit, required, want 1/0. */
static const struct vmx_ctl_want wants[] = {
    /* Host interrupts and NMIs must reach the host (SDM 24.6.1). */
    W(PIN, 0, 1, 1, "external-interrupt exiting"),
    W(PIN, 3, 1, 1, "NMI exiting"),
    /* Virtual NMIs give NMI blocking and the NMI window (SDM 24.6.1). */
    W(PIN, 5, 1, 1, "virtual NMIs"),
    W(PROC, 2, 1, 1, "interrupt-window exiting"),
    W(PROC, 3, 1, 1, "use TSC offsetting"),
    W(PROC, 7, 1, 1, "HLT exiting"),
    /* MOV CR8 would otherwise reach the host's local APIC TPR. */
    W(PROC, 19, 1, 1, "CR8-load exiting"),
    W(PROC, 20, 1, 1, "CR8-store exiting"),
    W(PROC, 22, 1, 1, "NMI-window exiting"),
    /* The host's DR0-3 stay out of a guest's reach until it first uses
       its own (core/debugreg.h); cleared once they are loaded. */
    W(PROC, 23, 1, 1, "MOV-DR exiting"),
    W(PROC, 24, 1, 1, "unconditional I/O exiting"),
    W(PROC, 28, 1, 1, "use MSR bitmaps"),
    W(PROC, 31, 1, 1, "activate secondary controls"),
    /* MWAIT/MONITOR in a guest must not idle the host CPU. */
    W(PROC, 10, 0, 1, "MWAIT exiting"),
    W(PROC, 29, 0, 1, "MONITOR exiting"),
    /* With EPT the guest owns CR3; where the CPU forces these exits, the
       backend emulates MOV CR3 (vmx_cr.c). */
    W(PROC, 15, 0, 0, "CR3-load exiting"),
    W(PROC, 16, 0, 0, "CR3-store exiting"),
    W(PROC2, 1, 1, 1, "enable EPT"),
    W(PROC2, 7, 0, 1, "unrestricted guest"),
    W(PROC2, 5, 0, 1, "enable VPID"),
    W(EXIT, 2, 1, 1, "save debug controls"),
    W(EXIT, 9, 1, 1, "host address-space size"),
    /* Off: the host takes its interrupt through its own IDT after the exit. */
    W(EXIT, 15, 1, 0, "acknowledge interrupt on exit"),
    W(EXIT, 18, 1, 1, "save IA32_PAT"),
    W(EXIT, 19, 1, 1, "load IA32_PAT"),
    W(EXIT, 20, 1, 1, "save IA32_EFER"),
    W(EXIT, 21, 1, 1, "load IA32_EFER"),
    W(ENTRY, 2, 1, 1, "load debug controls"),
    /* Set per guest (EFER.LMA); only its availability is negotiated. */
    W(ENTRY, 9, 1, 1, "IA-32e mode guest"),
    W(ENTRY, 14, 1, 1, "load IA32_PAT"),
    W(ENTRY, 15, 1, 1, "load IA32_EFER"),
};

static const char *const word_names[VMX_CTL_COUNT] = {
    "pin-based", "primary processor-based", "secondary processor-based", "VM-exit", "VM-entry"};

const struct vmx_ctl_want *vmx_ctl_wants(uint32_t *count)
{
    *count = HV_ARRAY_SIZE(wants);
    return wants;
}

void vmx_ctl_allowed(const struct vmx_msrs *m, enum vmx_ctl_word w, uint32_t *must_be_1,
                     uint32_t *may_be_1)
{
    bool use_true = (m->basic & VMX_BASIC_TRUE_CTLS) != 0;
    uint64_t v = 0;

    switch (w) {
    case VMX_CTL_PIN:
        v = use_true ? m->true_pinbased : m->pinbased;
        break;
    case VMX_CTL_PROC:
        v = use_true ? m->true_procbased : m->procbased;
        break;
    case VMX_CTL_PROC2:
        /* SDM A.3.3: exists only if the primary controls allow bit 31. */
        v = (m->procbased >> 32) & VMX_PROC_SECONDARY ? m->procbased2 : 0;
        break;
    case VMX_CTL_EXIT:
        v = use_true ? m->true_exit : m->exit;
        break;
    case VMX_CTL_ENTRY:
        v = use_true ? m->true_entry : m->entry;
        break;
    default:
        break;
    }
    *must_be_1 = (uint32_t)v;
    *may_be_1 = (uint32_t)(v >> 32);
}

static hv_status_t fail(struct vmx_config *cfg, hv_status_t st, const char *what)
{
    hv_strlcpy(cfg->reason, what, sizeof(cfg->reason));
    return st;
}

static hv_status_t negotiate_controls(const struct vmx_msrs *m, struct vmx_config *cfg)
{
    uint32_t must[VMX_CTL_COUNT], may[VMX_CTL_COUNT];

    for (int w = 0; w < VMX_CTL_COUNT; w++) {
        vmx_ctl_allowed(m, (enum vmx_ctl_word)w, &must[w], &may[w]);
        cfg->ctl[w] = must[w];
    }
    for (uint32_t i = 0; i < HV_ARRAY_SIZE(wants); i++) {
        const struct vmx_ctl_want *c = &wants[i];
        uint32_t bit = 1u << c->bit;

        if (c->want && (may[c->word] & bit)) {
            cfg->ctl[c->word] |= bit;
        } else if (c->want && c->required) {
            hv_snprintf(cfg->reason, sizeof(cfg->reason),
                        "required VMX control '%s' (%s bit %u) not supported", c->name,
                        word_names[c->word], c->bit);
            return HV_ERR_UNSUPPORTED;
        } else if (!c->want && (must[c->word] & bit) && c->required) {
            hv_snprintf(cfg->reason, sizeof(cfg->reason),
                        "VMX control '%s' (%s bit %u) cannot be cleared", c->name,
                        word_names[c->word], c->bit);
            return HV_ERR_UNSUPPORTED;
        }
    }
    /* Negotiated for availability only, set at run time: the IA-32e mode
       guest control follows EFER.LMA; the window exits are requested while
       an event waits (vmx_event.c). */
    cfg->ctl[VMX_CTL_ENTRY] &= ~VMX_ENTRY_IA32E;
    cfg->ctl[VMX_CTL_PROC] &= ~(VMX_PROC_INTR_WINDOW | VMX_PROC_NMI_WINDOW);
    return HV_OK;
}

static hv_status_t negotiate_ept(const struct vmx_msrs *m, struct vmx_config *cfg)
{
    uint64_t cap = m->ept_vpid_cap;

    /* SDM 24.6.11 / A.10: libhv builds 4-level write-back tables and
       invalidates them with INVEPT. */
    if (!(cap & VMX_EPT_WALK4))
        return fail(cfg, HV_ERR_UNSUPPORTED, "EPT lacks the 4-level page walk");
    if (!(cap & VMX_EPT_WB))
        return fail(cfg, HV_ERR_UNSUPPORTED, "EPT lacks the write-back paging-structure type");
    if (!(cap & VMX_EPT_INVEPT) || !(cap & (VMX_EPT_INVEPT_SINGLE | VMX_EPT_INVEPT_ALL)))
        return fail(cfg, HV_ERR_UNSUPPORTED, "INVEPT (single- or all-context) not supported");
    cfg->invept_type = (cap & VMX_EPT_INVEPT_SINGLE) ? VMX_INVEPT_SINGLE : VMX_INVEPT_ALL;
    cfg->ept_2m = (cap & VMX_EPT_2M) != 0;
    cfg->ept_1g = (cap & VMX_EPT_1G) != 0;
    cfg->ept_ad = (cap & VMX_EPT_AD) != 0;
    cfg->ept_exec_only = (cap & VMX_EPT_EXEC_ONLY) != 0;

    /* VPIDs are useless without a way to flush them: degrade (SDM 30.3). */
    cfg->vpid = (cfg->ctl[VMX_CTL_PROC2] & VMX_PROC2_VPID) && (cap & VMX_VPID_INVVPID) &&
                (cap & (VMX_VPID_INVVPID_SINGLE | VMX_VPID_INVVPID_ALL));
    if (!cfg->vpid)
        cfg->ctl[VMX_CTL_PROC2] &= ~VMX_PROC2_VPID;
    cfg->invvpid_type = (cap & VMX_VPID_INVVPID_SINGLE) ? VMX_INVVPID_SINGLE : VMX_INVVPID_ALL;
    return HV_OK;
}

hv_status_t vmx_negotiate(const struct vmx_msrs *m, struct vmx_config *cfg)
{
    hv_status_t st;
    uint32_t must, may;

    hv_memset(cfg, 0, sizeof(*cfg));
    if (!(m->cpuid1_ecx & (1u << 5)))
        return fail(cfg, HV_ERR_NO_BACKEND, "CPUID.1:ECX.VMX[bit 5] is 0");

    /* SDM 23.7: a locked IA32_FEATURE_CONTROL without "VMXON outside SMX"
       means firmware disabled VMX; unlocked, the probe locks it on. */
    if (m->feature_control & VMX_FC_LOCK) {
        if (!(m->feature_control & VMX_FC_VMXON_OUTSIDE))
            return fail(cfg, HV_ERR_UNSUPPORTED,
                        "VMX disabled by firmware (IA32_FEATURE_CONTROL locked, bit 2 clear)");
    } else {
        cfg->feature_control_lock = true;
    }

    /* SDM A.1. */
    cfg->revision = VMX_BASIC_REVISION(m->basic);
    cfg->vmcs_size = VMX_BASIC_VMCS_SIZE(m->basic);
    if (cfg->vmcs_size == 0 || cfg->vmcs_size > 4096)
        return fail(cfg, HV_ERR_UNSUPPORTED, "IA32_VMX_BASIC reports a VMCS size above 4 KiB");
    if (m->basic & VMX_BASIC_ADDR32)
        return fail(cfg, HV_ERR_UNSUPPORTED,
                    "IA32_VMX_BASIC[48]: VMX structures limited to 32-bit addresses");
    if (VMX_BASIC_MEMTYPE(m->basic) != VMX_MEMTYPE_WB)
        return fail(cfg, HV_ERR_UNSUPPORTED, "IA32_VMX_BASIC: VMCS memory type is not WB");
    cfg->ins_outs_info = (m->basic & VMX_BASIC_INSOUTS_INFO) != 0;

    st = negotiate_controls(m, cfg);
    if (st != HV_OK)
        return st;
    st = negotiate_ept(m, cfg);
    if (st != HV_OK)
        return st;

    cfg->ug = (cfg->ctl[VMX_CTL_PROC2] & VMX_PROC2_UG) != 0;
    vmx_ctl_allowed(m, VMX_CTL_PIN, &must, &may);
    cfg->preempt_timer = (may & VMX_PIN_PREEMPT) != 0;
    cfg->timer_shift = VMX_MISC_TIMER_SHIFT(m->misc);
    cfg->zero_len_inject = (m->misc & VMX_MISC_ZERO_LEN_INJ) != 0;

    /* SDM A.7/A.8; with unrestricted guest, PE and PG may be 0 in the
       guest (SDM 26.3.1.1). */
    cfg->cr0_fixed0 = m->cr0_fixed0;
    cfg->cr0_fixed1 = m->cr0_fixed1;
    cfg->cr4_fixed0 = m->cr4_fixed0;
    cfg->cr4_fixed1 = m->cr4_fixed1;
    cfg->guest_cr0_fixed0 = m->cr0_fixed0 & ~(cfg->ug ? (X86_CR0_PE | X86_CR0_PG) : 0);

    cfg->features = 0;
    if (cfg->ug)
        cfg->features |= HV_FEAT_UNRESTRICTED_GUEST;
    if (cfg->vpid)
        cfg->features |= HV_FEAT_VPID;
    if (cfg->preempt_timer)
        cfg->features |= HV_FEAT_PREEMPTION_TIMER;
    if (cfg->ept_ad)
        cfg->features |= HV_FEAT_SLAT_AD;
    if (cfg->ept_exec_only)
        cfg->features |= HV_FEAT_SLAT_EXEC_ONLY;
    cfg->slat_page_sizes =
        HV_PAGE_4K | (cfg->ept_2m ? HV_PAGE_2M : 0) | (cfg->ept_1g ? HV_PAGE_1G : 0);
    /* CPUID.80000008H absent: 36 bits (SDM Vol. 3A 4.1.4). */
    cfg->hpa_bits = m->maxphyaddr ? m->maxphyaddr : 36;
    /* A 4-level EPT walk translates 48 guest-physical bits. */
    cfg->gpa_bits = HV_MIN(cfg->hpa_bits, 48u);
    return HV_OK;
}
