/*
 * Fixture for the Xen PV layer's unit tests: a mock-backend VM with guest
 * RAM at gpa 0, one or two vCPUs in 64-bit mode (identity-mapped with
 * 2 MiB pages, plus gva 0x40000000 -> gpa 0x200000) or 32-bit protected
 * mode with paging off, Xen enabled, and a helper that performs one
 * hypercall the way the guest would: a scripted VMCALL exit with the
 * registers of the guest's calling convention.
 */
#ifndef XEN_FIXTURE_H
#define XEN_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/hv.h>
#include <hv/pvh.h>
#include <hv/xen.h>
#include "backend.h"
#include "mock_backend.h"
#include "mock_host.h"

#define XF_RAM_SIZE (4u << 20)
/* Guest-physical layout of the fixture's RAM. */
#define XF_PT_BASE   0x1000u  /* PML4, PDPT, PD, PD2: 4 pages */
#define XF_BUF       0x10000u /* scratch buffers for arguments */
#define XF_BUF2      0x20000u
#define XF_RO_PAGE   0x30000u      /* a read-only page (remapped by xf_setup) */
#define XF_HOLE      0x3f0000u     /* an unmapped page inside RAM */
#define XF_ALIAS_GVA 0x40000000ull /* 64-bit mode: maps gpa 0x200000 */
#define XF_ALIAS_GPA 0x200000u
#define XF_TSC_KHZ   2000000u /* 2 GHz: mul 0x80000000, shift 0 */

struct xf {
    struct mock_host mh;
    struct hv_slat_format fmt;
    struct hv_backend_ops be; /* the mock, with the backend id the test wants */
    struct hv_ctx *ctx;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;  /* vCPU 0 */
    struct hv_vcpu *vcpu1; /* vCPU 1 if created */
    uint8_t *ram;
    uint64_t ram_hpa;
    bool compat; /* vCPU 0 in 32-bit mode */
    struct hv_exit exit;
    /* Wake and notify callbacks seen. */
    unsigned wakes;
    struct hv_vcpu *last_woken;
    unsigned notifies;
    uint32_t last_notified;
    unsigned apic_wakes; /* hv_lapic_config::wake (xf_opts::lapic) */
};

/* A vCPU in 64-bit mode on the fixture's page tables (XF_PT_BASE), or in
   32-bit protected mode with paging off (compat), at CPL 0. */
void xf_set_mode(struct hv_vcpu *vcpu, bool compat);

struct xf_opts {
    bool compat;              /* 32-bit protected mode, paging off */
    bool svm;                 /* backend id SVM (VMMCALL stubs) */
    bool two_vcpus;           /* also create vCPU 1 */
    bool vcpu1_down;          /* leave vCPU 1 down (else hv_xen_vcpu_set_up) */
    uint32_t max_vcpus;       /* VM limit (default 2) */
    struct hv_xen_config cfg; /* domid etc.; callbacks are set by the fixture */
    struct hv_xen_hub *hub;
    bool no_xen; /* do not call hv_xen_enable */
    /* hv_lapic_enable() before the vCPUs, vCPU 1 waiting for its SIPI
       (HV_LAPIC_APS_WAIT_SIPI); wakes counted in xf::apic_wakes. */
    bool lapic;
};

/* Build the fixture (CUnit assertions on failure). opts may be NULL. */
void xf_setup(struct xf *f, const struct xf_opts *opts);
/* Tear down: disable Xen, destroy everything, check the mock host is clean. */
void xf_teardown(struct xf *f);
/* A second VM in the same context (for hub tests): fills vm/vcpu/ram only. */
void xf_setup_peer(struct xf *peer, struct xf *first, const struct xf_opts *opts);
void xf_teardown_peer(struct xf *peer);

/* Pointer to guest RAM at gpa. */
static inline void *xf_gpa(struct xf *f, uint64_t gpa)
{
    return f->ram + gpa;
}

/*
 * Issue hypercall @p nr with arguments a0..a5 on vCPU 0 (or @p vcpu) and
 * return RAX as the guest sees it (sign-extended from 32 bits in compat
 * mode). f->exit holds the exit hv_vcpu_run returned: HV_EXIT_UNHANDLED
 * (end of script) after a hypercall finished inside the library, or the
 * hypercall's own exit (HLT, guest shutdown).
 */
long xf_call(struct xf *f, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
             uint64_t a4, uint64_t a5);
long xf_call_on(struct xf *f, struct hv_vcpu *vcpu, uint64_t nr, uint64_t a0, uint64_t a1,
                uint64_t a2);
/* The RIP after the last xf_call (to check advance / continuation). */
uint64_t xf_rip(struct xf *f, struct hv_vcpu *vcpu);

/* Set CPL (SS.DPL and CS.DPL) of vCPU 0. */
void xf_set_cpl(struct xf *f, unsigned cpl);
/* Set or clear RFLAGS.IF of a vCPU. */
void xf_set_if(struct xf *f, struct hv_vcpu *vcpu, bool on);
/* Run the vCPU once through an empty script (delivers events, fires timers). */
void xf_enter(struct xf *f, struct hv_vcpu *vcpu);
/* Injected events recorded by the mock for a vCPU. */
unsigned xf_injected(struct hv_vcpu *vcpu, uint8_t *last_vector);

/* Shared-info bits in the layout the guest latched. */
bool xf_port_pending(struct xf *f, uint32_t port);
bool xf_port_masked(struct xf *f, uint32_t port);
void xf_mask_port(struct xf *f, uint32_t port, bool on);
void xf_clear_pending(struct xf *f, uint32_t port);
/* vcpu_info of vCPU @p id in shared_info (64-bit layout unless f->compat). */
uint8_t xf_upcall_pending(struct xf *f, uint32_t id);
void xf_set_upcall_pending(struct xf *f, uint32_t id, uint8_t v);
uint64_t xf_pending_sel(struct xf *f, uint32_t id);
/* Map shared_info at gfn (XENMEM_add_to_physmap), returning the hypercall result. */
long xf_map_shinfo(struct xf *f, uint64_t gfn);

/* Hypercall numbers and a few sub-op values used by several test files. */
#define HC_MEMORY_OP 12
#define HC_SET_TIMER 15
#define HC_VERSION   17
#define HC_CONSOLE   18
#define HC_GNTTAB    20
#define HC_VM_ASSIST 21
#define HC_VCPU_OP   24
#define HC_SCHED     29
#define HC_EVTCHN    32
#define HC_HVM       34

#define E_PERM      (-1)
#define E_NOENT     (-2)
#define E_SRCH      (-3)
#define E_2BIG      (-7)
#define E_FAULT     (-14)
#define E_EXIST     (-17)
#define E_INVAL     (-22)
#define E_NOSPC     (-28)
#define E_DOM       (-33)
#define E_NOSYS     (-38)
#define E_OPNOTSUPP (-95)

#define SHINFO_GFN 0x300u /* where tests map shared_info */

/* Register the suites of each test file. */
void xen_suite_abi(void);
void xen_suite_evtchn(void);
void xen_suite_grant(void);
void xen_suite_misc(void);
void xen_suite_pvh(void);
void xen_suite_smp(void);
void xen_suite_fast(void);
void xen_suite_runstate(void);
void xen_suite_time(void);

#endif /* XEN_FIXTURE_H */
