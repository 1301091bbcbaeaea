/*
 * Probe: read CPUID and the VMX capability MSRs (SDM Vol. 3C Appendix A),
 * negotiate the controls (vmx_controls.c) and report the result as
 * struct hv_caps. The only lasting side effect is the one the architecture
 * requires: an unlocked IA32_FEATURE_CONTROL is locked with VMX enabled
 * outside SMX (SDM 23.7), since VMXON faults while it is unlocked.
 */
#include "vmx/vmx.h"
#include "vmx/vmx_arch.h"
#include "core/cpu.h"
#include "core/util.h"

#if !HV_HOSTED
static void read_msrs(struct vmx_msrs *m)
{
    uint32_t r[4];

    hv_cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000008u) {
        hv_cpuid(0x80000008u, 0, r);
        m->maxphyaddr = r[0] & 0xffu;
    }
    m->feature_control = hv_rdmsr(VMX_MSR_FEATURE_CONTROL);
    m->basic = hv_rdmsr(VMX_MSR_BASIC);
    m->pinbased = hv_rdmsr(VMX_MSR_PINBASED_CTLS);
    m->procbased = hv_rdmsr(VMX_MSR_PROCBASED_CTLS);
    m->exit = hv_rdmsr(VMX_MSR_EXIT_CTLS);
    m->entry = hv_rdmsr(VMX_MSR_ENTRY_CTLS);
    m->misc = hv_rdmsr(VMX_MSR_MISC);
    m->cr0_fixed0 = hv_rdmsr(VMX_MSR_CR0_FIXED0);
    m->cr0_fixed1 = hv_rdmsr(VMX_MSR_CR0_FIXED1);
    m->cr4_fixed0 = hv_rdmsr(VMX_MSR_CR4_FIXED0);
    m->cr4_fixed1 = hv_rdmsr(VMX_MSR_CR4_FIXED1);
    /* The TRUE MSRs exist only if BASIC[55] (SDM A.1); the secondary
       controls only if the primary ones allow bit 31 (A.3.3); the EPT/VPID
       capabilities only if EPT or VPID may be 1 (A.10). */
    if (m->basic & VMX_BASIC_TRUE_CTLS) {
        m->true_pinbased = hv_rdmsr(VMX_MSR_TRUE_PINBASED_CTLS);
        m->true_procbased = hv_rdmsr(VMX_MSR_TRUE_PROCBASED_CTLS);
        m->true_exit = hv_rdmsr(VMX_MSR_TRUE_EXIT_CTLS);
        m->true_entry = hv_rdmsr(VMX_MSR_TRUE_ENTRY_CTLS);
    }
    if ((m->procbased >> 32) & VMX_PROC_SECONDARY) {
        m->procbased2 = hv_rdmsr(VMX_MSR_PROCBASED_CTLS2);
        if ((m->procbased2 >> 32) & (VMX_PROC2_EPT | VMX_PROC2_VPID))
            m->ept_vpid_cap = hv_rdmsr(VMX_MSR_EPT_VPID_CAP);
    }
}
#endif

hv_status_t vmx_read_config(const struct hv_host *host, struct vmx_config *cfg)
{
#if HV_HOSTED
    (void)host;
    hv_memset(cfg, 0, sizeof(*cfg));
    hv_strlcpy(cfg->reason, "hosted build: no VMX access", sizeof(cfg->reason));
    return HV_ERR_NO_BACKEND;
#else
    struct vmx_msrs m;
    uint32_t r[4];

    hv_memset(&m, 0, sizeof(m));
    hv_cpuid(1, 0, r);
    m.cpuid1_ecx = r[2];
    /* Without CPUID.1:ECX.VMX the VMX MSRs do not exist: never read them. */
    if (m.cpuid1_ecx & (1u << 5))
        read_msrs(&m);
    (void)host;
    return vmx_negotiate(&m, cfg);
#endif
}

hv_status_t vmx_probe(const struct hv_host *host, struct hv_caps *caps)
{
    struct vmx_config cfg;
    hv_status_t st = vmx_read_config(host, &cfg);

    if (st != HV_OK) {
        hv_log(host, st == HV_ERR_NO_BACKEND ? HV_LOG_INFO : HV_LOG_ERROR, "vmx: %s (%s)",
               cfg.reason, hv_status_str(st));
        return st;
    }
#if !HV_HOSTED
    if (cfg.feature_control_lock) {
        hv_wrmsr(VMX_MSR_FEATURE_CONTROL,
                 hv_rdmsr(VMX_MSR_FEATURE_CONTROL) | VMX_FC_LOCK | VMX_FC_VMXON_OUTSIDE);
        hv_log(host, HV_LOG_INFO, "vmx: locked IA32_FEATURE_CONTROL with VMX enabled");
    }
#endif
    caps->features = cfg.features;
    caps->slat_page_sizes = cfg.slat_page_sizes;
    caps->asid_count = cfg.vpid ? VMX_VPID_COUNT : 0;
    caps->gpa_bits = cfg.gpa_bits;
    caps->hpa_bits = cfg.hpa_bits;
    caps->revision = cfg.revision;
    caps->preemption_timer_shift = cfg.timer_shift;
    hv_log(host, HV_LOG_INFO,
           "vmx: VMCS revision %u, unrestricted guest %s, VPID %s, EPT 2M %s 1G %s A/D %s "
           "exec-only %s, preemption timer %s (shift %u), %u-bit physical",
           cfg.revision, cfg.ug ? "yes" : "no", cfg.vpid ? "yes" : "no", cfg.ept_2m ? "yes" : "no",
           cfg.ept_1g ? "yes" : "no", cfg.ept_ad ? "yes" : "no", cfg.ept_exec_only ? "yes" : "no",
           cfg.preempt_timer ? "yes" : "no", cfg.timer_shift, cfg.hpa_bits);
    return HV_OK;
}
