/*
 * MOV to CR4, intercepted (APM Vol. 2 15.9) so that the guest's CR4 is
 * checked against its CPUID view as on VMX, which owns the same bits
 * through its CR4 guest/host mask (vmx_cr.c): above all CR4.PKE, which the
 * policy hides. Without the intercept a guest could set CR4.PKE on a CPU
 * with PKU and write PKRU, which neither the VMCB nor VMRUN/#VMEXIT
 * switch; with it, no PKRU switch is needed at all (SDM Vol. 3A 4.6.2:
 * without CR4.PKE RDPKRU/WRPKRU #UD, and XCR0 never offers PKRU).
 *
 * The write is carried out as the CPU would (APM Vol. 2 3.1.3, 5.5.3; SDM
 * Vol. 3A 4.10.4.1 for the TLB): #GP(0) for a bit the CPU lacks or the
 * guest may not set (core/policy.h hv_cr4_refused), for PAE cleared in
 * long mode, for PCIDE set outside long mode or with CR3[11:0] not 0, and
 * for LA57 changed in long mode; otherwise CR4 takes the value, and a
 * change of a paging bit flushes the guest's TLB entries.
 */
#include "svm/svm.h"
#include "core/policy.h"

#define CR4_PSE   (1ull << 4)
#define CR4_PAE   (1ull << 5)
#define CR4_PGE   (1ull << 7)
#define CR4_LA57  (1ull << 12)
#define CR4_PCIDE (1ull << 17)
#define CR4_SMEP  (1ull << 20)
#define CR4_SMAP  (1ull << 21)
/* A change of these makes MOV to CR4 invalidate TLB entries (SDM Vol. 3A
   4.10.4.1; SMAP added: a superset only flushes more). */
#define CR4_TLB_BITS (CR4_PSE | CR4_PAE | CR4_PGE | CR4_LA57 | CR4_PCIDE | CR4_SMEP | CR4_SMAP)

static bool cr4_faults(struct hv_vcpu *vcpu, const struct vmcb *v, uint64_t old, uint64_t val)
{
    const struct svm_ctx *sc = svm_ctx_of(vcpu->vm->ctx);
    bool lma = (v->save.efer & EFER_LMA) != 0;
    if ((val & ~sc->limits.cr4_allowed) || hv_cr4_refused(vcpu, val))
        return true;
    if (lma && !(val & CR4_PAE))
        return true;
    if ((val & ~old & CR4_PCIDE) && (!lma || (v->save.cr3 & 0xfff)))
        return true;
    return lma && ((val ^ old) & CR4_LA57);
}

bool svm_cr4_write(struct hv_vcpu *vcpu)
{
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;
    unsigned cr = 4, gpr, len = 0;
    if (s->decode_assists && (v->ctl.exitinfo1 & SVM_CR_INFO_MOV))
        gpr = (unsigned)(v->ctl.exitinfo1 & SVM_CR_INFO_GPR);
    else if (!svm_insn_mov_to_cr(vcpu, &cr, &gpr, &len) || cr != 4)
        return false; /* not what the exit says is there (changed meanwhile?) */
    uint64_t next;
    if (s->nrip_save && v->ctl.nrip - v->save.rip - 1 < 15)
        next = v->ctl.nrip;
    else if (len || (svm_insn_mov_to_cr(vcpu, &cr, &gpr, &len) && cr == 4))
        next = svm_next_rip(vcpu, len);
    else
        return false;
    /* 64-bit operands in 64-bit mode, else 32 (APM Vol. 3 MOV CRn). */
    uint64_t val = vcpu->gpr[gpr];
    if (svm_code_bits(v) != 64)
        val &= 0xffffffffull;
    uint64_t old = v->save.cr4;
    if (cr4_faults(vcpu, v, old, val)) {
        svm_inject_exception(vcpu, SVM_VEC_GP, true, 0);
        return true;
    }
    v->save.cr4 = val;
    if ((val ^ old) & CR4_TLB_BITS)
        v->ctl.tlb_control = (vcpu->vm->ctx->caps.features & HV_FEAT_FLUSH_BY_ASID)
                                 ? SVM_TLB_ASID
                                 : SVM_TLB_ALL;
    v->save.rip = next;
    v->ctl.int_state &= ~SVM_INT_SHADOW;
    /* Finished here: its single-step trap is ours (APM Vol. 2 13.1.3.4). */
    if ((v->save.rflags & RFLAGS_TF) && !(v->ctl.eventinj & SVM_EVT_V))
        svm_inject_step(vcpu);
    return true;
}
