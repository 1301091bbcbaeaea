/*
 * Decoding of an IOIO exit (APM Vol. 2 15.10.2, EXITINFO1 fields in
 * Figure 15-2), inline: svm_run and the exit fast path (svm_fast.c) both
 * use it, and it is on every port access the embedder serves.
 */
#ifndef HV_SVM_DECODE_IO_H
#define HV_SVM_DECODE_IO_H

#include "svm/svm.h"

/* The fields of EXITINFO1 the fast path reads too (svm_fast.c). */
static inline uint16_t svm_io_port(uint64_t i1)
{
    return (uint16_t)(i1 >> SVM_IO_PORT_SHIFT);
}

/* SZ8, SZ16 and SZ32 are bits 4-6, one of them set: 1, 2 or 4 bytes. */
static inline uint8_t svm_io_size(uint64_t i1)
{
    return (uint8_t)((i1 / SVM_IO_SZ8) & 7);
}

static inline bool svm_io_write(uint64_t i1)
{
    return !(i1 & SVM_IO_IN);
}

/* io.* and the instruction's end into ex; ex->rip and the raw fields are
   the caller's (ex->rip must be set: the length is measured from it). */
static inline __attribute__((always_inline)) void
svm_decode_io(const struct svm_vcpu *s, const struct vmcb *v, struct hv_vexit *ex)
{
    uint64_t i1 = v->ctl.exitinfo1;

    ex->kind = HV_VX_IO;
    ex->io.port = svm_io_port(i1);
    ex->io.size = svm_io_size(i1);
    ex->io.write = svm_io_write(i1);
    ex->io.string = (i1 & SVM_IO_STR) ? 1 : 0;
    if (ex->io.string) {
        ex->io.rep = (i1 & SVM_IO_REP) ? 1 : 0;
        ex->io.addr_size = (i1 & SVM_IO_A16) ? 2 : (i1 & SVM_IO_A32) ? 4 : 8;
        /* The effective segment is reported with decode assists only. */
        ex->io.seg = s->decode_assists ? (uint8_t)((i1 & SVM_IO_SEG_MASK) >> SVM_IO_SEG_SHIFT)
                                       : HV_SEG_COUNT;
    } else {
        ex->io.rep = 0;
        ex->io.addr_size = 0;
        ex->io.seg = HV_SEG_COUNT;
    }
    /* EXITINFO2 holds the next RIP for IOIO even without NRIP save. */
    ex->next_rip = v->ctl.exitinfo2;
    uint64_t len = (ex->next_rip - ex->rip) & 0xffffffffull;
    ex->insn_len = (len >= 1 && len <= 15) ? (uint32_t)len : 0;
}

#endif /* HV_SVM_DECODE_IO_H */
