/*
 * Shared pieces of the hostile-guest cases (hostile_*.c): the neighbour VM
 * whose canaries every hostile run must leave intact and responsive.
 */
#ifndef KERNEL_CASES_HOSTILE_H
#define KERNEL_CASES_HOSTILE_H

#include "vm_harness.h"

/* Canary words at [CANARY_GPA, CANARY_GPA + CANARY_SIZE) of the neighbour. */
#define CANARY_GPA  0x10000u
#define CANARY_SIZE 0x10000u

struct neighbour {
    struct vmt t;
    uint32_t sum;  /* the checksum its canaries must give */
    uint64_t runs; /* times it answered */
};

/* A VM in @p ctx whose guest checksums its canaries on every run. */
int neighbour_create(struct kcase_ctx *kc, struct hv_ctx *ctx, struct neighbour *n);

/* Canaries intact (host view), and the neighbour runs and reports their sum. */
int neighbour_check(struct kcase_ctx *kc, struct neighbour *n, const char *after);

#endif /* KERNEL_CASES_HOSTILE_H */
