/*
 * The cheap cases of svm_guest_insn_len(), inline: the exit fast path
 * (svm_fast.c) measures every CPUID and VMMCALL this way, and the full
 * path tries it first.
 */
#ifndef HV_SVM_INSN_FAST_H
#define HV_SVM_INSN_FAST_H

#include "svm/svm.h"
#include "core/assist.h"
#include "core/walk_memo.h"

/* The registers an instruction fetch reads (core/assist.h), from the
   VMCB: svm_fetch_regs, and inline for the exit fast path's hooks. */
static inline __attribute__((always_inline)) void svm_vmcb_fetch_regs(const struct vmcb *v,
                                                                      struct hv_fetch_regs *fr)
{
    fr->rip = v->save.rip;
    fr->rflags = v->save.rflags;
    fr->cr0 = v->save.cr0;
    fr->cr3 = v->save.cr3;
    fr->cr4 = v->save.cr4;
    fr->efer = v->save.efer;
    fr->cs_base = v->save.cs.base;
    fr->cs_limit = v->save.cs.limit;
    fr->cs_attr = v->save.cs.attrib; /* the HV_SEG_* layout (svm_seg.c) */
    fr->cpl = v->save.cpl;
}

/*
 * Length of the exiting instruction from the code memo: in 32- and 64-bit
 * code, the opcode (opval: its oplen <= 3 bytes, first byte lowest)
 * without prefixes at CS:RIP in the code page the vCPU's memo still holds
 * (core/walk_memo.h), within that page and the CS limit. Sets *next,
 * wrapped to the code size; 0 when that does not apply (16-bit code,
 * prefixes, a stale memo). The exit fast path calls it alone where NRIP
 * save is known to be missing.
 */
static inline __attribute__((always_inline)) unsigned
svm_insn_len_memo(struct hv_vcpu *vcpu, const struct vmcb *v, uint32_t opval, unsigned oplen,
                  uint64_t *next)
{
    uint64_t rip = v->save.rip;
    uint64_t la;
    bool lm64 = (v->save.efer & EFER_LMA) && (v->save.cs.attrib & HV_SEG_L);
    if (lm64) {
        la = rip;
    } else {
        uint32_t off = (uint32_t)rip;
        if (!(v->save.cs.attrib & HV_SEG_DB) || off > v->save.cs.limit ||
            v->save.cs.limit - off < oplen - 1)
            return 0;
        la = (uint32_t)(v->save.cs.base + off);
    }
    uint64_t in_page = la & (HV_PAGE_SIZE - 1);
    if (in_page > HV_PAGE_SIZE - oplen)
        return 0;
    const uint8_t *page = hv_code_memo(vcpu, v->save.cr0, v->save.cr3, v->save.cr4, v->save.efer,
                                       v->save.cpl, la >> 12);
    if (!page)
        return 0;
    /* Compare two bytes as one word, and the third alone (never reading
       past the page). */
    typedef uint16_t __attribute__((may_alias, aligned(1))) u16_t;
    const uint8_t *b = page + in_page;
    if (oplen == 1 ? b[0] != (uint8_t)opval
                   : (*(const u16_t *)(const void *)b != (uint16_t)opval ||
                      (oplen == 3 && b[2] != (uint8_t)(opval >> 16))))
        return 0;
    *next = lm64 ? rip + oplen : (uint32_t)(rip + oplen);
    return oplen;
}

/*
 * Length of the exiting instruction if cheap to know: the CPU's next RIP
 * (NRIP save, APM Vol. 2 15.7.1), else svm_insn_len_memo().
 */
static inline __attribute__((always_inline)) unsigned
svm_insn_len_fast(struct hv_vcpu *vcpu, const struct vmcb *v, uint32_t opval, unsigned oplen,
                  uint64_t *next)
{
    if (svm_vcpu_of(vcpu)->nrip_save) {
        uint64_t len = v->ctl.nrip - v->save.rip;
        if (v->ctl.nrip && len >= 1 && len <= 15) {
            *next = v->ctl.nrip;
            return (unsigned)len;
        }
    }
    return svm_insn_len_memo(vcpu, v, opval, oplen, next);
}

#endif /* HV_SVM_INSN_FAST_H */
