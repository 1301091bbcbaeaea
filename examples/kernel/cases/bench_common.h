/*
 * Benchmark mode of the example kernel: shared pieces of cases/bench_*.c.
 *
 * Select with `cases=bench.*` (the cases are KCASE_EXPLICIT). Each figure
 * is printed as one line
 *
 *     bench <backend> <name> <value> [(<ratio>x <floor>)]
 *
 * where the value is instructions per operation for exits (QEMU -icount
 * and Bochs sync=none turn the TSC into an instruction counter, see
 * docs/performance.md), instructions for vm_lifecycle, bytes or pages for
 * memory. tests/bench/run-bench.sh collects the lines and checks budgets.
 *
 * The timed sections run with the timer interrupt masked at the PIC, so no
 * host tick lands inside a measurement: the counts repeat exactly.
 */
#ifndef KERNEL_CASES_BENCH_COMMON_H
#define KERNEL_CASES_BENCH_COMMON_H

#include <hv/hv.h>

#include "kcase.h"
#include "../../../tests/system/guests/bench/bench_abi.h"

#define BENCH_N      10000u  /* iterations of a timed guest loop */
#define BENCH_N_MAX  100000u /* bench_n= limit (the fault range holds this many pages) */
#define BENCH_REPEAT 2u      /* each figure is the minimum of this many runs */

/* Floors measured by bench.exits and used for the ratios of later lines. */
enum bench_floor { BENCH_FLOOR_VMMCALL, BENCH_FLOOR_CPUID, BENCH_FLOOR_OUT, BENCH_FLOOR_COUNT };

/* The exit-cost guest (tests/system/guests/bench/bench.S) in a VM. */
struct bench_vm {
    struct kcase_ctx *kc;
    struct hv_ctx *ctx;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;
    uint8_t *ram;        /* 1 MiB at gpa 0, the image at 0x1000 */
    uint8_t *reset_page; /* gpa 0xfffff000: jumps to 0000:1000 */
    uint8_t *npf_page;   /* every page faulted in by BENCH_CMD_NPF maps here */
    bool intel;          /* VMX backend: the guest uses VMCALL */
    uint32_t cmd;        /* answer to the guest's next IN */
    unsigned long exits; /* exits served since the last command */
    uint64_t npf_mapped; /* pages mapped at BENCH_NPF_GPA.. */
    bool unloaded;       /* run without hv_vcpu_load (the *_unloaded figures) */
    struct hv_exit exit;
};

/* A bare-minimum exit handler (bench_bare.c): which exit it expects. */
enum bench_bare_kind { BENCH_BARE_HC, BENCH_BARE_CPUID, BENCH_BARE_OUT };

/*
 * bench_util.c. Command-line knobs (for profiling, tests/bench/profile.py):
 * bench_n=<iterations>, bench_repeat=<runs>, bench_only=<name>[,<name>...]
 * (figures to measure; default all).
 */
uint64_t bench_iters(void);
unsigned bench_repeats(void);
bool bench_selected(const char *name);
int bench_ctx_create(struct kcase_ctx *kc, struct hv_ctx **ctx, struct hv_caps *caps);
const char *bench_backend(const struct hv_caps *caps);
/* The guest's VM and vCPU; with @p lapic (else NULL) the VM has libhv's
   local APIC (hv_lapic_enable before the vCPU). */
int bench_vm_create(struct kcase_ctx *kc, struct hv_ctx *ctx, struct bench_vm *b,
                    const struct hv_lapic_config *lapic);
void bench_vm_destroy(struct bench_vm *b);
/*
 * Run @p cmd (BENCH_CMD_*, without the INTEL flag: added for VMX) on the
 * guest. If @p bare is set the operations of the second loop are handled
 * by that bare-minimum handler instead of libhv. On success *centi is the
 * cost of one operation in hundredths of an instruction (minimum of
 * BENCH_REPEAT runs).
 */
int bench_measure(struct bench_vm *b, uint32_t cmd, const enum bench_bare_kind *bare,
                  uint64_t *centi);
/* Run an untimed command; the guest's results are left in b->ram. */
int bench_command(struct bench_vm *b, uint32_t cmd);
/* Mask the timer interrupt (returns the old PIC mask) / restore the mask. */
uint8_t bench_quiet_begin(void);
void bench_quiet_end(uint8_t mask);
uint64_t bench_rdtsc(void);
/* "bench <backend> <name> <centi/100>" and, if @p floor_centi, the ratio. */
void bench_print(const char *backend, const char *name, uint64_t centi, const char *floor_name,
                 uint64_t floor_centi);
void bench_print_value(const char *backend, const char *name, uint64_t value);

/*
 * Host services that count what libhv asks for (bench_util.c): wraps the
 * kernel's page and object allocators.
 */
struct bench_alloc_count {
    struct hv_host_ops inner; /* the kernel's services */
    int64_t pages;            /* pages currently allocated through this table */
    int64_t obj_bytes;        /* object bytes currently allocated */
    int64_t objs;             /* objects currently allocated */
};
void bench_counting_ops(struct bench_alloc_count *c, const struct hv_host_ops *inner,
                        struct hv_host_ops *out);

/*
 * Run the guest under a bare handler until an exit it does not expect
 * (the guest's next HLT): bench_bare_svm.c, bench_bare_vmx.c. These and
 * the arch-page counters read the backends' private structures.
 */
int bench_bare_run(struct bench_vm *b, enum bench_bare_kind kind);
int bench_bare_svm(struct bench_vm *b, enum bench_bare_kind kind);
int bench_bare_vmx(struct bench_vm *b, enum bench_bare_kind kind);

/* Pages of architectural control structures (VMCB/VMCS, permission maps,
   MSR areas) the backend holds for @p vm and for one @p vcpu. */
void bench_svm_arch_pages(struct hv_vm *vm, struct hv_vcpu *vcpu, uint64_t *per_vm,
                          uint64_t *per_vcpu);
void bench_vmx_arch_pages(struct hv_vm *vm, struct hv_vcpu *vcpu, uint64_t *per_vm,
                          uint64_t *per_vcpu);

#endif /* KERNEL_CASES_BENCH_COMMON_H */
