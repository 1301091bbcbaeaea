/*
 * The MMIO test rig of cases/mmio_*.c. A VM of vm_harness.h whose RAM has a
 * hole (mmio_abi.h) where two devices live: a register file of 8 KiB that
 * behaves like memory, registered with hv_vm_mmio_register() and a
 * handler, and a page registered without handler, which the rig completes
 * itself on HV_EXIT_MMIO; and a write sink far above RAM (handler). A
 * guest of tests/system/guests/mmio runs against them and tells the rig,
 * before each test, which accesses the device must see; the rig checks
 * them, the values the guest reports, string I/O and the interrupted
 * REP STOS into the sink.
 */
#ifndef KERNEL_CASES_MMIO_RIG_H
#define KERNEL_CASES_MMIO_RIG_H

#include "mmio_abi.h"
#include "vm_harness.h"

#define MMIO_EXP_MAX  16 /* announced accesses of one bracket */
#define MMIO_ACC_MAX  32 /* accesses seen in one bracket */
#define MMIO_VALS_MAX 64
#define MMIO_SIO_MAX  8

/* What a value reported on PORT_VAL must be. */
enum mmio_val_kind {
    MV_EXACT,    /* v itself */
    MV_REP_RIP,  /* the address of the REP STOS into the sink (remembered) */
    MV_BRACKETS, /* the number of brackets the rig closed */
};

struct mmio_val {
    uint8_t kind;
    uint32_t v;
};

/* The REP STOS into the sink, when the guest has one. */
struct mmio_sink_plan {
    uint64_t count;      /* RCX at the start (modulo the address size) */
    uint64_t count_mask; /* 0xffffffff or ~0: the address size */
    uint64_t linear;     /* where the guest writes it (its RDI at the start) */
    unsigned size;       /* 4 or 8 bytes per element */
    uint64_t writes;     /* elements written in all (the sink's size, or count) */
};

struct mmio_mode {
    const struct vmt_image *image;
    const struct mmio_val *vals; /* expected PORT_VAL values, in order */
    unsigned nvals;
    const struct mmio_sink_plan *sink; /* NULL: no sink test */
    bool replay;                       /* answer 1 on PORT_ARG: run X_REPLAY (pm32.S) */
    bool pio; /* the string ports served by a handler (hv_vm_pio_register), not HV_EXIT_IO */
};

/* Run @p mode's guest to its HLT and check everything; 0 or kcase_fail(). */
int mmio_run_mode(struct kcase_ctx *kc, const struct mmio_mode *mode);

#endif /* KERNEL_CASES_MMIO_RIG_H */
