/*
 * The VMRUN consistency checks (APM Vol. 2 15.5.1 "Canonicalization and
 * Consistency Checks"). VMRUN refuses a VMCB that fails one of them with
 * #VMEXIT(VMEXIT_INVALID) and no further detail; this file repeats the
 * checks so that set_state can refuse such a state up front and so that an
 * INVALID exit comes with a reason a human can act on.
 */
#include "svm/svm.h"
#include "core/util.h"

/* G_PAT entries must hold a valid memory type (0 UC, 1 WC, 4 WT, 5 WP,
   6 WB, 7 UC-); APM 7.8.1. */
static bool pat_valid(uint64_t pat)
{
    for (int i = 0; i < 8; i++) {
        unsigned t = (pat >> (i * 8)) & 0xff;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

/* APM 15.20: reserved event types, and exception vector 2 (use NMI) or an
   exception vector above 31, make VMRUN fail. */
static const char *eventinj_check(uint64_t e)
{
    if (!(e & SVM_EVT_V))
        return NULL;
    uint64_t type = (e & SVM_EVT_TYPE_MASK) >> SVM_EVT_TYPE_SHIFT;
    unsigned vec = e & SVM_EVT_VECTOR_MASK;
    if (type == 1 || type > SVM_EVT_TYPE_SOFT)
        return "EVENTINJ type is reserved";
    if (type == SVM_EVT_TYPE_EXC && (vec == 2 || vec > 31))
        return "EVENTINJ exception vector is 2 or above 31";
    return NULL;
}

const char *svm_check_state(const struct svm_check_in *in, const struct svm_limits *lim)
{
    uint64_t maxpa = lim->hpa_bits >= 64 ? ~0ull : (1ull << lim->hpa_bits) - 1;
    bool long_paging = (in->efer & EFER_LME) && (in->cr0 & CR0_PG);

    if (!(in->efer & EFER_SVME))
        return "EFER.SVME is clear";
    if ((in->cr0 & CR0_NW) && !(in->cr0 & CR0_CD))
        return "CR0.NW set with CR0.CD clear";
    if (in->cr0 >> 32)
        return "CR0[63:32] not zero";
    if ((in->cr0 & CR0_PG) && !(in->cr0 & CR0_PE))
        return "CR0.PG set without CR0.PE";
    if (in->cr4 & ~lim->cr4_allowed)
        return "CR4 reserved bit set";
    if (long_paging ? (in->cr3 >> 52) != 0 : (in->cr3 >> 32) != 0)
        return "CR3 reserved bit set";
    if (in->dr6 >> 32)
        return "DR6[63:32] not zero";
    if (in->dr7 >> 32)
        return "DR7[63:32] not zero";
    if (in->efer & ~lim->efer_allowed)
        return "EFER reserved bit set";
    if (long_paging && !(in->cr4 & CR4_PAE))
        return "EFER.LME and CR0.PG set with CR4.PAE clear";
    if (long_paging && (in->cs_attr & HV_SEG_L) && (in->cs_attr & HV_SEG_DB))
        return "long mode with both CS.L and CS.D set";
    if (((in->efer & EFER_LMA) != 0) != long_paging)
        return "EFER.LMA differs from EFER.LME && CR0.PG";
    if (!(in->intercept_misc2 & SVM_I2_VMRUN))
        return "VMRUN intercept clear";
    if (in->asid == 0)
        return "guest ASID is 0";
    if (in->iopm_pa > maxpa || in->iopm_pa + 3 * HV_PAGE_SIZE - 1 > maxpa)
        return "IOPM beyond the physical address width";
    if (in->msrpm_pa > maxpa || in->msrpm_pa + 2 * HV_PAGE_SIZE - 1 > maxpa)
        return "MSRPM beyond the physical address width";
    if (in->np_enable && !pat_valid(in->g_pat))
        return "G_PAT holds a reserved memory type";
    return eventinj_check(in->eventinj);
}

void svm_check_in_from_vmcb(const struct vmcb *vmcb, struct svm_check_in *in)
{
    in->cr0 = vmcb->save.cr0;
    in->cr3 = vmcb->save.cr3;
    in->cr4 = vmcb->save.cr4;
    in->dr6 = vmcb->save.dr6;
    in->dr7 = vmcb->save.dr7;
    in->efer = vmcb->save.efer;
    in->g_pat = vmcb->save.g_pat;
    in->cs_attr = vmcb->save.cs.attrib;
    in->intercept_misc2 = vmcb->ctl.intercept_misc2;
    in->asid = vmcb->ctl.asid;
    in->eventinj = vmcb->ctl.eventinj;
    in->iopm_pa = vmcb->ctl.iopm_base_pa;
    in->msrpm_pa = vmcb->ctl.msrpm_base_pa;
    in->np_enable = (vmcb->ctl.np_control & SVM_NP_ENABLE) != 0;
}

/* Why VMRUN refused @p vmcb; a generic text when no check explains it. */
const char *svm_diagnose_vmcb(const struct vmcb *vmcb, const struct svm_limits *lim)
{
    struct svm_check_in in;
    svm_check_in_from_vmcb(vmcb, &in);
    const char *why = svm_check_state(&in, lim);
    return why ? why : "VMRUN refused the VMCB (no known check failed)";
}
