/* CPUID and MSR policy as a guest sees them (guests cpuid.S, cpuid_remap.S,
   msr.S). */
#include "vm_harness.h"

#include "core/util.h"
#include "cpu.h"

VMT_GUEST(cpuid);
VMT_GUEST(cpuid_remap);
VMT_GUEST(msr);

static int case_cpuid(struct kcase_ctx *kc)
{
    static const uint32_t brand[4] = {0x6c6c6568, 0x6f77206f, 0x20646c72, 0x21212121};
    struct hv_ctx *ctx;
    struct vmt t;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_cpuid);
    if (!rc && hv_vm_set_cpuid(t.vm, 0x80000002u, UINT32_MAX, brand) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_set_cpuid failed");
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc && t.nouts != 7)
        rc = kcase_fail(kc, "%u values, expected 7 (lost track after a CPUID?)", t.nouts);
    if (!rc) {
        uint32_t ecx1 = t.outs[0].value, ecx81 = t.outs[1].value;
        if (!(ecx1 & (1u << 31)))
            rc = kcase_fail(kc, "CPUID.1:ECX 0x%x lacks the hypervisor bit", ecx1);
        else if (ecx1 & (1u << 5))
            rc = kcase_fail(kc, "CPUID.1:ECX 0x%x shows VMX", ecx1);
        else if (ecx81 & (1u << 2))
            rc = kcase_fail(kc, "CPUID.80000001:ECX 0x%x shows SVM", ecx81);
    }
    for (unsigned i = 0; !rc && i < 4; i++)
        if (t.outs[2 + i].value != brand[i])
            rc = kcase_fail(kc, "override: register %u is 0x%x, expected 0x%x", i,
                            t.outs[2 + i].value, brand[i]);
    if (!rc && (t.outs[6].port != PORT_MARK || t.outs[6].value != 1))
        rc = kcase_fail(kc, "the guest did not resume after the prefixed CPUID");
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

/*
 * CPUID at a linear address whose page the guest remaps between calls, by
 * a leaf entry and by a directory entry, each time to a page where the
 * instruction has another length, and then whose guest-physical page this
 * embedder backs with another host page (cpuid_remap.S). Where the exit
 * does not say where the instruction ends (SVM without NRIP save), a
 * stale code memo would resume the guest inside the instruction: a triple
 * fault instead of these values.
 */
static int case_cpuid_remap(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    uint32_t leaf0[4];
    uint8_t *copy = NULL;
    int rc;

    cpuid(0, 0, leaf0); /* leaf 0 passes through (core/policy.h) */
    const uint32_t ebx = leaf0[1];
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_cpuid_remap);
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_IO); /* the IN of step 5 */
    uint64_t gpa = t.nouts ? t.outs[t.nouts - 1].value : 0;
    if (!rc && (t.exit.io.write || t.exit.io.port != PORT_ARG || gpa % PAGE_SIZE ||
                gpa < VMT_LOAD_GPA || gpa + 2 * PAGE_SIZE > VMT_RAM_SIZE))
        rc = kcase_fail(kc,
                        "expected an IN from 0x%x after page_a's address, got port 0x%x "
                        "after 0x%llx",
                        PORT_ARG, t.exit.io.port, (unsigned long long)gpa);
    if (!rc) {
        copy = pmm_alloc(1);
        if (!copy)
            rc = kcase_fail(kc, "out of memory");
    }
    if (!rc) {
        hv_memcpy(copy, t.ram + gpa + PAGE_SIZE, PAGE_SIZE); /* page_b follows page_a */
        hv_status_t st = hv_vm_unmap(t.vm, gpa, PAGE_SIZE);
        if (st == HV_OK)
            st = hv_vm_map(t.vm, gpa, (uintptr_t)copy, PAGE_SIZE, HV_MEM_RWX);
        if (st != HV_OK)
            rc = kcase_fail(kc, "remapping gpa 0x%llx: %s", (unsigned long long)gpa,
                            hv_status_str(st));
        t.exit.io.data = 0;
    }
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc) {
        const struct vmt_out exp[] = {
            OUT_VAL(ebx),           OUT_VAL(0xa), OUT_VAL(ebx),
            OUT_VAL(0xa),           OUT_MARK(1),               /* page_a */
            OUT_VAL(ebx),           OUT_VAL(0xb), OUT_MARK(2), /* leaf entry -> page_b */
            OUT_VAL(ebx),           OUT_VAL(0xa), OUT_VAL(ebx),
            OUT_VAL(0xa),           OUT_MARK(3),               /* back */
            OUT_VAL(ebx),           OUT_VAL(0xb), OUT_MARK(4), /* directory entry -> page_b */
            OUT_VAL(ebx),           OUT_VAL(0xa), OUT_VAL(ebx),
            OUT_VAL(0xa),           OUT_MARK(5),               /* back */
            OUT_VAL((uint32_t)gpa),                            /* page_a */
            OUT_VAL(ebx),           OUT_VAL(0xb), OUT_MARK(6), /* its gpa backed by page_b's copy */
        };
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    vmt_destroy(&t);
    if (copy)
        pmm_free(copy, 1);
    hv_ctx_destroy(ctx);
    return rc;
}

static int case_msr(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_msr);
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc) {
        const struct vmt_out exp[] = {
            OUT_MARK(0x0d),      OUT_MARK(1), /* unknown MSR read: #GP */
            OUT_MARK(0x0d),      OUT_MARK(2), /* unknown MSR write: #GP */
            OUT_VAL(0),                       /* EFER: SVME hidden */
            OUT_VAL(1),                       /* EFER.SCE written and read back */
            OUT_MARK(0x0d),      OUT_MARK(3), /* EFER.SVME is not the guest's: #GP */
            OUT_VAL(0x00230010),              /* STAR round trip */
            OUT_VAL(0x00070406),              /* PAT (power-on value) */
        };
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_policy_cases[] KCASE_TABLE = {
    {"vm.cpuid", case_cpuid, 0},
    {"vm.cpuid_remap", case_cpuid_remap, 0},
    {"vm.msr", case_msr, 0},
};
