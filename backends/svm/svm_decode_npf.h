/*
 * Decoding of an NPF exit (APM Vol. 2 15.25.6), inline: svm_run and the
 * exit fast path (svm_fast.c) both use it, and it is on every MMIO access.
 */
#ifndef HV_SVM_DECODE_NPF_H
#define HV_SVM_DECODE_NPF_H

#include "svm/svm.h"
#include "core/util.h"

/* gpa, access, present, during_walk and the decode-assist bytes into ex;
   ex->rip and the raw fields are the caller's. */
static inline __attribute__((always_inline)) void svm_decode_npf(struct hv_vcpu *vcpu,
                                                                 struct hv_vexit *ex)
{
    const struct vmcb *v = svm_vmcb(vcpu);
    uint64_t i1 = v->ctl.exitinfo1;

    ex->kind = HV_VX_NPF;
    ex->npf.gpa = v->ctl.exitinfo2;
    ex->npf.gva = 0;
    ex->npf.gva_valid = 0; /* SVM does not report the linear address */
    if (i1 & SVM_NPF_ID)
        ex->npf.access = HV_ACCESS_EXEC;
    else if (i1 & SVM_NPF_RW)
        ex->npf.access = HV_ACCESS_WRITE;
    else
        ex->npf.access = HV_ACCESS_READ;
    ex->npf.present = (i1 & SVM_NPF_P) ? 1 : 0;
    ex->npf.during_walk = (i1 & SVM_NPF_WALK) ? 1 : 0;
    ex->npf.insn_count = 0;
    if (svm_vcpu_of(vcpu)->decode_assists) {
        unsigned n = HV_MIN((unsigned)v->ctl.insn_len, (unsigned)sizeof(ex->npf.insn));
        hv_memcpy(ex->npf.insn, v->ctl.insn_bytes, n);
        ex->npf.insn_count = (uint8_t)n;
    }
    if (i1 & SVM_NPF_RSV)
        hv_log(&vcpu->vm->ctx->host, HV_LOG_ERROR,
               "svm: NPT reserved-bit fault at gpa %#llx: table bug",
               (unsigned long long)ex->npf.gpa);
}

#endif /* HV_SVM_DECODE_NPF_H */
