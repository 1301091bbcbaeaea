/*
 * Test cases for the example kernel (system tests, demo, benchmarks).
 *
 * A case file holds a table of named cases, collected at link time from
 * the .kcases section (linker.ld), so adding a file to the build is all it
 * takes to add its cases:
 *
 *     static int case_hello(struct kcase_ctx *ctx)
 *     {
 *         KCHECK(ctx, 1 + 1 == 2);
 *         return 0;                                  // PASS
 *     }
 *
 *     static const struct kcase my_cases[] KCASE_TABLE = {
 *         {"demo.hello", case_hello, KCASE_EXPLICIT},
 *     };
 *
 * The runner prints "PASS <name>" or "FAIL <name>: <reason>" per case and
 * then "N passed, M failed". A case fails when it returns non-zero, when it
 * leaks pages or heap objects, or when it takes an exception (which also
 * ends the run). See README.md for selecting cases.
 */
#ifndef KERNEL_KCASE_H
#define KERNEL_KCASE_H

#include <hv/host.h>

#include "kernel.h"

/* What a case gets: its name, the host services for libhv, a reason buffer. */
struct kcase_ctx {
    const char *name;
    struct hv_host_ops host_ops; /* filled by kernel_host_ops() */
    char reason[192];            /* set by kcase_fail() */
};

/* Run only when selected by name on the command line (demos, benchmarks). */
#define KCASE_EXPLICIT 1u

struct kcase {
    const char *name;
    int (*fn)(struct kcase_ctx *ctx); /* 0: pass */
    unsigned long flags;
};

/* Place a `static const struct kcase name[]` table in the runner's list. */
#define KCASE_TABLE __attribute__((used, section(".kcases"), aligned(8)))

/* Running under QEMU (its fw_cfg device answers selector 0 with "QEMU"
   on data port 0x511; Bochs has no device there): for cases that check an
   emulator's known gap only where it has it. */
bool kcase_on_qemu(void);

/* Record a failure reason; returns -1 so that `return kcase_fail(...)` works. */
int kcase_fail(struct kcase_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __FILE_NAME__
#define KCASE_FILE __FILE_NAME__
#else
#define KCASE_FILE __FILE__
#endif

/* Fail the case with file, line and the condition's text unless @p cond holds. */
#define KCHECK(ctx, cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return kcase_fail((ctx), "%s:%d: check failed: %s", KCASE_FILE, __LINE__, #cond);      \
    } while (0)

#endif /* KERNEL_KCASE_H */
