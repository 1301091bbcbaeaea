/*
 * vm.host_state: the host gets its own state back after every run while
 * vCPUs of two VMs alternate on this CPU and the host changes that state
 * between runs, and a vCPU created after another was destroyed runs too.
 *
 * The VMX backend keeps, per VMCS, the host values it last wrote to the
 * host-state area and writes only those that changed (backends/vmx/
 * vmx_host.h): a copy shared between VMCSs, one not compared with the
 * host's current values, or one trusted for a fresh VMCS, hands the host
 * back an old FS/GS base or SYSENTER_ESP (VMCS fields, SDM 27.5.3) or
 * fails the entry. KERNEL_GS_BASE and LSTAR come back through the VM-exit
 * MSR-load list. On SVM the same values travel through VMSAVE/VMLOAD.
 */
#include "core/util.h"
#include "cpu.h"
#include "vm_harness.h"

VMT_GUEST(hlt);

static inline void hs_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* Host MSRs changed between runs (the kernel uses none of them itself). */
static const uint32_t hs_msrs[] = {
    0xc0000100, /* FS_BASE */
    0xc0000101, /* GS_BASE */
    0x175,      /* SYSENTER_ESP */
    0xc0000102, /* KERNEL_GS_BASE */
    0xc0000082, /* LSTAR */
};
#define HS_NMSR (sizeof(hs_msrs) / sizeof(hs_msrs[0]))

/* The host's values for @p step: canonical, different per MSR and step. */
static uint64_t hs_value(unsigned step, unsigned i)
{
    return 0xffff800000000000ull | ((uint64_t)(step + 1) << 24) | ((uint64_t)(i + 1) << 12);
}

static void hs_set(unsigned step)
{
    for (unsigned i = 0; i < HS_NMSR; i++)
        hs_wrmsr(hs_msrs[i], hs_value(step, i));
}

/* Run @p t to its next HLT, then check the host's values of @p step. */
static int hs_run(struct kcase_ctx *kc, struct vmt *t, const char *which, unsigned step)
{
    int rc = vmt_run_until(t, HV_EXIT_HLT);
    for (unsigned i = 0; !rc && i < HS_NMSR; i++) {
        uint64_t v = rdmsr(hs_msrs[i]);
        if (v != hs_value(step, i))
            rc = kcase_fail(kc, "step %u (%s): host MSR 0x%x is 0x%llx after the run, not 0x%llx",
                            step, which, hs_msrs[i], (unsigned long long)v,
                            (unsigned long long)hs_value(step, i));
    }
    return rc;
}

static int case_host_state(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt a, b, c;
    uint64_t saved[HS_NMSR];
    int rc;

    hv_memset(&a, 0, sizeof(a));
    hv_memset(&b, 0, sizeof(b));
    hv_memset(&c, 0, sizeof(c));
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &a, &guest_hlt);
    if (!rc)
        rc = vmt_create(kc, ctx, &b, &guest_hlt);
    for (unsigned i = 0; i < HS_NMSR; i++)
        saved[i] = rdmsr(hs_msrs[i]);

    /* A and B alternate; the host changes its values before most runs. */
    if (!rc) {
        hs_set(0);
        rc = hs_run(kc, &a, "A", 0);
    }
    if (!rc) {
        hs_set(1);
        rc = hs_run(kc, &b, "B", 1);
    }
    if (!rc) {
        hs_set(2);
        rc = hs_run(kc, &a, "A", 2);
    }
    if (!rc) /* unchanged since A's run: B's VMCS still holds step 1 */
        rc = hs_run(kc, &b, "B", 2);
    /* A new vCPU (its VMCS may reuse A's memory) after A is gone. */
    vmt_destroy(&a);
    if (!rc)
        rc = vmt_create(kc, ctx, &c, &guest_hlt);
    if (!rc)
        rc = hs_run(kc, &c, "C", 2);
    if (!rc) {
        hs_set(3);
        rc = hs_run(kc, &c, "C", 3);
    }

    for (unsigned i = 0; i < HS_NMSR; i++)
        hs_wrmsr(hs_msrs[i], saved[i]);
    vmt_destroy(&c);
    vmt_destroy(&b);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_host_state_cases[] KCASE_TABLE = {
    {"vm.host_state", case_host_state, 0},
};
