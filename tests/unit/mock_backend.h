/*
 * A backend for hosted tests: it never enters a guest. run() returns exits
 * from a per-vCPU script, state lives in memory, injected events are
 * recorded. Used with hv_ctx_create_with_backend() to test the core
 * (argument validation, exit dispatcher, CPUID/MSR policy, PV layer).
 */
#ifndef MOCK_BACKEND_H
#define MOCK_BACKEND_H

#include "backend.h"

#define MOCK_SCRIPT_MAX   64
#define MOCK_INJECTED_MAX 64

/* One scripted exit; optionally sets guest registers first, as the guest
   would have before executing the exiting instruction. */
struct mock_exit {
    struct hv_vexit vx;
    bool set_gprs;
    uint64_t gpr[HV_GPR_COUNT];
};

struct mock_vcpu {
    struct hv_vcpu_state st;         /* everything but GPRs (vcpu->gpr) */
    struct mock_exit script[MOCK_SCRIPT_MAX];
    unsigned script_len, script_pos;
    struct hv_event injected[MOCK_INJECTED_MAX];
    unsigned injected_count;
    /* inject_step calls: each also appends a #DB (vector 1) to injected[]
       and sets DR6.BS in dr6, as the hardware backends do. */
    unsigned steps;
    uint64_t dr6;
    bool window[HV_EVENT_SOFTINT + 1]; /* set_window state per event type */
    unsigned entries;                /* run() calls */
    bool dr_intercept;               /* debug_intercept state (on from vcpu_init) */
    unsigned dr_intercept_calls;     /* debug_intercept calls */
    /* load/put (hv_vcpu_load): calls, the CPU of the last load, the status
       load returns (HV_OK unless a test forces another). */
    unsigned loads, puts;
    uint32_t load_cpu;
    hv_status_t load_status;
    /* The CPU's XMM15 low quadword as the last run() found it: what a
       guest entered then would have had (XMM15: compiled code between the
       test and this point is unlikely to use it). */
    uint64_t xmm15_at_run;
};

/* Knobs the tests set before creating objects (test-only global). */
struct mock_backend_config {
    struct hv_caps caps;                /* what probe reports */
    hv_status_t probe_status;           /* forced probe result */
    hv_status_t ctx_init_status;        /* forced ctx_init result */
    const struct hv_slat_format *fmt;   /* SLAT format to hand out */
    unsigned slat_flushes;              /* slat_flush calls seen */
    unsigned ctx_inits, ctx_finis;
};

extern struct mock_backend_config mock_be;
extern const struct hv_backend_ops mock_backend_ops;
/* The same without get_fetch_regs (the core's fallbacks). */
extern const struct hv_backend_ops mock_backend_ops_nofast;
/* mock_backend_ops' get_fetch_regs: what a backend's exit fast path
   reads for hv_pv_ops::hypercall_fast. */
struct hv_fetch_regs;
void mock_get_fetch_regs(struct hv_vcpu *vcpu, struct hv_fetch_regs *fr);

/* Reset mock_be to a capable CPU using `fmt`. */
void mock_backend_reset(const struct hv_slat_format *fmt);

/* The mock's per-vCPU data. */
struct mock_vcpu *mock_vcpu_of(struct hv_vcpu *vcpu);

/* Append an exit to the vCPU's script; when the script is exhausted run()
   reports HV_VX_UNHANDLED with raw_code MOCK_END_OF_SCRIPT. */
#define MOCK_END_OF_SCRIPT 0xe0dull
/* A scripted exit with this raw_code is a guest MOV to DR0-3: run() loads
   the guest's debug registers and drops the intercept as the hardware
   backends do (core/debugreg.h), then goes on with the next exit. */
#define MOCK_DR_ACCESS 0xd0aull
void mock_script(struct hv_vcpu *vcpu, const struct mock_exit *e);

/* Shorthand: an exit of `kind` at rip with no length information. */
void mock_script_kind(struct hv_vcpu *vcpu, uint32_t kind, uint64_t rip);

/* The VM's CPUID view reports 1 GiB pages (leaf 0x80000001 EDX[26]) or
   not: an override of the host's leaf (hv_vm_set_cpuid's status). */
hv_status_t mock_cpuid_gbpages(struct hv_vm *vm, bool on);

#endif /* MOCK_BACKEND_H */
