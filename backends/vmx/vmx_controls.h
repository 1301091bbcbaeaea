/*
 * VMX capability negotiation: a pure function from the raw capability MSRs
 * to the control words libhv programs into every VMCS and the features it
 * reports. No hardware access here, so the unit tests feed it MSR values
 * recorded on real CPUs and on Bochs' CPU models.
 */
#ifndef HV_VMX_CONTROLS_H
#define HV_VMX_CONTROLS_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/ctx.h>
#include <hv/status.h>

/* The raw values the probe reads (zero where the MSR does not exist). */
struct vmx_msrs {
    uint32_t cpuid1_ecx;                                           /* CPUID.1:ECX (bit 5 = VMX) */
    uint32_t maxphyaddr;                                           /* CPUID.80000008H:EAX[7:0] */
    uint64_t feature_control;                                      /* IA32_FEATURE_CONTROL */
    uint64_t basic;                                                /* IA32_VMX_BASIC */
    uint64_t pinbased, procbased, exit, entry;                     /* IA32_VMX_*_CTLS */
    uint64_t true_pinbased, true_procbased, true_exit, true_entry; /* if BASIC[55] */
    uint64_t procbased2;   /* IA32_VMX_PROCBASED_CTLS2 if PROCBASED allows secondary */
    uint64_t ept_vpid_cap; /* IA32_VMX_EPT_VPID_CAP if EPT or VPID can be 1 */
    uint64_t misc;         /* IA32_VMX_MISC */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
};

/* The five control words of a VMCS. */
enum vmx_ctl_word {
    VMX_CTL_PIN,
    VMX_CTL_PROC,
    VMX_CTL_PROC2,
    VMX_CTL_EXIT,
    VMX_CTL_ENTRY,
    VMX_CTL_COUNT
};

/* What negotiation chose. */
struct vmx_config {
    uint32_t ctl[VMX_CTL_COUNT]; /* values for the VMCS (IA-32e entry bit left 0) */
    uint32_t revision;           /* VMCS revision identifier */
    uint32_t vmcs_size;          /* bytes of the VMCS region */
    bool ins_outs_info;          /* VM-exit instruction info for INS/OUTS (BASIC[54]) */
    bool ug;                     /* unrestricted guest */
    bool vpid;                   /* VPIDs with a usable INVVPID type */
    uint32_t invvpid_type;       /* VMX_INVVPID_SINGLE or _ALL */
    uint32_t invept_type;        /* VMX_INVEPT_SINGLE or _ALL */
    bool ept_2m, ept_1g, ept_ad, ept_exec_only;
    bool preempt_timer;
    bool zero_len_inject;            /* IA32_VMX_MISC[30]: soft events with length 0 */
    bool feature_control_lock;       /* probe must lock IA32_FEATURE_CONTROL with VMX on */
    uint64_t cr0_fixed0, cr0_fixed1; /* as reported */
    uint64_t cr4_fixed0, cr4_fixed1;
    uint64_t guest_cr0_fixed0; /* CR0 bits that must be 1 in the guest (PE/PG dropped with UG) */
    /* hv_caps fields */
    uint32_t features;        /* HV_FEAT_* */
    uint32_t slat_page_sizes; /* HV_PAGE_* */
    uint32_t hpa_bits, gpa_bits;
    uint32_t timer_shift;
    /* On failure: a NUL-terminated diagnosis naming the missing piece. */
    char reason[96];
};

/* One control libhv asks for (exposed for the tests and the probe log). */
struct vmx_ctl_want {
    uint8_t word;     /* enum vmx_ctl_word */
    uint8_t bit;      /* bit number in that word */
    uint8_t required; /* 1: probe fails without it; 0: degrade */
    uint8_t want;     /* 1: set it; 0: clear it if the CPU allows */
    const char *name; /* SDM name, for log lines */
};

/* The table of controls libhv asks for, and its length. */
const struct vmx_ctl_want *vmx_ctl_wants(uint32_t *count);

/* Allowed-0 / allowed-1 settings of a control word (SDM A.3-A.5): the TRUE
   MSR when BASIC[55] says so, else the plain one; PROC2 has no TRUE MSR. */
void vmx_ctl_allowed(const struct vmx_msrs *m, enum vmx_ctl_word w, uint32_t *must_be_1,
                     uint32_t *may_be_1);

/*
 * Negotiate. Returns HV_OK with *cfg filled; HV_ERR_NO_BACKEND when the CPU
 * has no VMX; HV_ERR_UNSUPPORTED when firmware disabled VMX or a required
 * control / capability is missing (cfg->reason names it).
 */
hv_status_t vmx_negotiate(const struct vmx_msrs *m, struct vmx_config *cfg);

/* Is a CR0/CR4 value allowed by the fixed-bit MSRs (SDM A.7, A.8)? */
static inline bool vmx_fixed_ok(uint64_t v, uint64_t fixed0, uint64_t fixed1)
{
    return (v & fixed0) == fixed0 && (v & ~fixed1) == 0;
}

#endif /* HV_VMX_CONTROLS_H */
