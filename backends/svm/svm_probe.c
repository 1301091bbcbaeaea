/*
 * SVM capability probe (APM Vol. 2 15.4 "Enabling SVM", Vol. 3 Appendix E
 * CPUID Fn8000_0001, Fn8000_0008, Fn8000_000A).
 */
#include "svm/svm.h"
#include "core/util.h"

/* CR4 bits this CPU implements (APM Vol. 2 3.1.3; CPUID Fn0000_0001 and
   Fn0000_0007). Any other bit is reserved and makes VMRUN fail. */
static uint64_t cr4_allowed(void)
{
    uint32_t r[4], max;
    uint64_t m = 0x7ffull; /* VME .. OSXMMEXCPT: present on every x86-64 CPU */

    svm_cpuid(0, 0, r);
    max = r[0];
    svm_cpuid(1, 0, r);
    if (r[2] & (1u << 17))
        m |= 1ull << 17; /* PCIDE */
    if (r[2] & (1u << 26))
        m |= 1ull << 18; /* OSXSAVE */
    if (max >= 7) {
        svm_cpuid(7, 0, r);
        if (r[2] & (1u << 2))
            m |= 1ull << 11; /* UMIP */
        if (r[2] & (1u << 16))
            m |= 1ull << 12; /* LA57 */
        if (r[1] & (1u << 0))
            m |= 1ull << 16; /* FSGSBASE */
        if (r[1] & (1u << 7))
            m |= 1ull << 20; /* SMEP */
        if (r[1] & (1u << 20))
            m |= 1ull << 21; /* SMAP */
        if (r[2] & (1u << 3))
            m |= 1ull << 22; /* PKE */
        if (r[2] & (1u << 7))
            m |= 1ull << 23; /* CET */
    }
    return m;
}

/* EFER bits this CPU implements (APM Vol. 2 3.1.7). */
static uint64_t efer_allowed(void)
{
    uint32_t r[4];
    uint64_t m = EFER_SCE | EFER_LME | EFER_LMA | EFER_SVME;

    svm_cpuid(0x80000001u, 0, r);
    if (r[3] & (1u << 20))
        m |= EFER_NXE;
    if (r[3] & (1u << 25))
        m |= EFER_FFXSR;
    if (r[2] & (1u << 17))
        m |= EFER_TCE;
    return m;
}

static uint32_t phys_bits(void)
{
    uint32_t r[4];
    svm_cpuid(0x80000000u, 0, r);
    if (r[0] < 0x80000008u)
        return 36;
    svm_cpuid(0x80000008u, 0, r);
    return r[0] & 0xff;
}

void svm_limits_from_cpuid(struct svm_limits *lim)
{
    lim->cr4_allowed = cr4_allowed();
    lim->efer_allowed = efer_allowed();
    lim->hpa_bits = phys_bits();
}

hv_status_t svm_probe(const struct hv_host *host, struct hv_caps *caps)
{
    uint32_t r[4], edx;
    uint64_t vm_cr;
    uint32_t hpa_bits, gpa_bits;

    svm_cpuid(0x80000000u, 0, r);
    if (r[0] < 0x8000000au)
        return HV_ERR_NO_BACKEND;
    svm_cpuid(0x80000001u, 0, r);
    if (!(r[2] & (1u << 2))) /* Fn8000_0001 ECX.SVM */
        return HV_ERR_NO_BACKEND;
    bool page1g = (r[3] & (1u << 26)) != 0;

    /* APM 15.4: firmware may lock SVM off through VM_CR.SVMDIS. */
    if (!svm_rdmsr(MSR_VM_CR, &vm_cr)) {
        hv_log(host, HV_LOG_INFO, "svm: cannot read VM_CR here (hosted build)");
        return HV_ERR_NO_BACKEND;
    }
    if (vm_cr & VM_CR_SVMDIS) {
        hv_log(host, HV_LOG_ERROR, "svm: disabled by firmware (VM_CR.SVMDIS=1)");
        return HV_ERR_UNSUPPORTED;
    }

    svm_cpuid(0x8000000au, 0, r);
    edx = r[3];
    if (!(edx & SVM_CPUID_NP)) {
        hv_log(host, HV_LOG_ERROR, "svm: nested paging (NPT) missing; libhv requires it");
        return HV_ERR_UNSUPPORTED;
    }
    if (r[1] < 2) {
        hv_log(host, HV_LOG_ERROR, "svm: CPU reports %u ASIDs; at least 2 needed", r[1]);
        return HV_ERR_UNSUPPORTED;
    }

    hpa_bits = phys_bits();
    /* A 4-level NPT translates 48-bit guest-physical addresses. */
    gpa_bits = HV_MIN(hpa_bits, 48u);

    caps->backend = HV_BACKEND_SVM;
    caps->backend_name = "svm";
    caps->revision = r[0] & 0xff;
    caps->asid_count = r[1];
    caps->hpa_bits = hpa_bits;
    caps->gpa_bits = gpa_bits;
    caps->slat_page_sizes = HV_PAGE_4K | HV_PAGE_2M | (page1g ? HV_PAGE_1G : 0);
    caps->features = HV_FEAT_UNRESTRICTED_GUEST;
    if (edx & SVM_CPUID_NRIPS)
        caps->features |= HV_FEAT_NRIP_SAVE;
    if (edx & SVM_CPUID_DECODE)
        caps->features |= HV_FEAT_DECODE_ASSISTS;
    if (edx & SVM_CPUID_FLUSH_ASID)
        caps->features |= HV_FEAT_FLUSH_BY_ASID;
    if (edx & SVM_CPUID_VMCB_CLEAN)
        caps->features |= HV_FEAT_VMCB_CLEAN;
    if (edx & SVM_CPUID_PAUSE_FILTER)
        caps->features |= HV_FEAT_PAUSE_FILTER;
    if (edx & SVM_CPUID_VGIF)
        caps->features |= HV_FEAT_VGIF;
    caps->preemption_timer_shift = 0;

    hv_log(host, HV_LOG_INFO,
           "svm: revision %u, %u ASIDs, NPT%s%s%s%s%s%s, %u-bit phys, 1G pages %s", caps->revision,
           caps->asid_count, (edx & SVM_CPUID_NRIPS) ? " nrip" : "",
           (edx & SVM_CPUID_FLUSH_ASID) ? " flush-by-asid" : "",
           (edx & SVM_CPUID_DECODE) ? " decode-assists" : "",
           (edx & SVM_CPUID_VMCB_CLEAN) ? " vmcb-clean" : "",
           (edx & SVM_CPUID_PAUSE_FILTER) ? " pause-filter" : "",
           (edx & SVM_CPUID_VGIF) ? " vgif" : "", hpa_bits, page1g ? "yes" : "no");
    return HV_OK;
}
