/*
 * VMX-specific system cases: the EPT format and EPTP follow what the CPU
 * reports. On corei7_haswell_4770 (1 GiB EPT pages, EPT A/D bits) and on
 * corei7_sandy_bridge_2600k (neither) they take different paths. On SVM
 * they only check that they are not on VMX and pass.
 */
#include "cpu.h"
#include "vm_harness.h"

#include "core/cpu.h"
#include "core/util.h"

VMT_GUEST(mem);

static int vmx_caps_of(struct kcase_ctx *kc, struct hv_ctx *ctx, struct hv_caps *caps)
{
    hv_memset(caps, 0, sizeof(*caps));
    caps->size = sizeof(*caps);
    if (hv_ctx_caps(ctx, caps) != HV_OK)
        return kcase_fail(kc, "hv_ctx_caps failed");
    return 0;
}

/*
 * 1 GiB of guest-physical space at a 1 GiB-aligned gpa/hpa (table entries
 * only: the guest never touches it) takes PML4 + PDPT with 1 GiB EPT pages,
 * and one page directory more without them.
 */
static int case_ept_pages(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct hv_vm *vm = NULL;
    struct hv_vm_stats st;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmx_caps_of(kc, ctx, &caps);
    if (!rc && caps.backend != HV_BACKEND_VMX) {
        kprintf("vmx.ept_pages: backend %s, nothing to check\n", caps.backend_name);
        hv_ctx_destroy(ctx);
        return 0;
    }
    if (!rc && hv_vm_create(ctx, NULL, &vm) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_create failed");
    if (!rc && hv_vm_map(vm, 1ull << 30, 1ull << 30, 1ull << 30, HV_MEM_RWX) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_map of 1 GiB failed");
    if (!rc && hv_vm_stats(vm, &st) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_stats failed");
    uint64_t want = (caps.slat_page_sizes & HV_PAGE_1G) ? 2 : 3;
    if (!rc && st.slat_table_pages != want)
        rc = kcase_fail(kc, "1 GiB mapped with %llu table pages, expected %llu (1G pages %s)",
                        (unsigned long long)st.slat_table_pages, (unsigned long long)want,
                        (caps.slat_page_sizes & HV_PAGE_1G) ? "on" : "off");
    if (!rc)
        kprintf("vmx.ept_pages: 1G EPT pages %s, %llu table pages\n",
                (caps.slat_page_sizes & HV_PAGE_1G) ? "yes" : "no",
                (unsigned long long)st.slat_table_pages);
    if (vm)
        hv_vm_destroy(vm);
    hv_ctx_destroy(ctx);
    return rc;
}

/* mem.S: forever { IN a value; OUT what gpa 0x800 held; store the value at 0x800 }. */
static int mem_round(struct vmt *t, uint32_t value)
{
    t->nouts = 0;
    t->on_in = NULL;
    t->exit.io.data = value;
    return vmt_run_until(t, HV_EXIT_IO);
}

static int harvest_page0(struct kcase_ctx *kc, struct vmt *t, int *dirty)
{
    uint64_t bitmap[VMT_RAM_SIZE / PAGE_SIZE / 64];
    hv_status_t s = hv_vm_dirty_harvest(t->vm, 0, VMT_RAM_SIZE, bitmap);
    if (s != HV_OK)
        return kcase_fail(kc, "hv_vm_dirty_harvest: %s", hv_status_str(s));
    *dirty = (int)(bitmap[0] & 1);
    return 0;
}

/*
 * Dirty logging through EPT A/D bits (EPTP bit 6, SDM Vol. 3C 28.2.5): a
 * guest store marks its page, a harvest clears the mark, and after the
 * harvest's INVEPT the next store marks it again. Without EPT A/D the call
 * is refused.
 */
static int case_ept_dirty(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct vmt t;
    int rc, d = 0;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    hv_memset(&t, 0, sizeof(t));
    rc = vmx_caps_of(kc, ctx, &caps);
    if (!rc && caps.backend != HV_BACKEND_VMX) {
        kprintf("vmx.ept_dirty: backend %s, nothing to check\n", caps.backend_name);
        hv_ctx_destroy(ctx);
        return 0;
    }
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &guest_mem);
    if (!rc && !(caps.features & HV_FEAT_SLAT_AD)) {
        uint64_t bitmap[VMT_RAM_SIZE / PAGE_SIZE / 64];
        hv_status_t s = hv_vm_dirty_harvest(t.vm, 0, VMT_RAM_SIZE, bitmap);
        if (s != HV_ERR_UNSUPPORTED)
            rc = kcase_fail(kc, "harvest without EPT A/D: %s, expected HV_ERR_UNSUPPORTED",
                            hv_status_str(s));
        else
            kprintf("vmx.ept_dirty: no EPT A/D bits, harvest refused\n");
        vmt_destroy(&t);
        hv_ctx_destroy(ctx);
        return rc;
    }
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_IO); /* at the first IN, nothing stored yet */
    if (!rc)
        rc = harvest_page0(kc, &t, &d); /* start clean */
    if (!rc)
        rc = harvest_page0(kc, &t, &d);
    if (!rc && d)
        rc = kcase_fail(kc, "page 0 dirty with the guest stopped");
    for (uint32_t round = 1; !rc && round <= 3; round++) {
        rc = mem_round(&t, 0x5a000000u | round);
        if (!rc)
            rc = harvest_page0(kc, &t, &d);
        if (!rc && !d)
            rc =
                kcase_fail(kc, "round %u: the guest's store to gpa 0x800 left no dirty bit", round);
        if (!rc)
            rc = harvest_page0(kc, &t, &d);
        if (!rc && d)
            rc = kcase_fail(kc, "round %u: dirty bit not cleared by the harvest", round);
    }
    if (!rc && *(uint32_t *)(t.ram + 0x800) != 0x5a000003u)
        rc = kcase_fail(kc, "gpa 0x800 holds 0x%x", *(uint32_t *)(t.ram + 0x800));
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

/*
 * Without unrestricted guest (corei5_lynnfield_750) a vCPU is still created
 * in its real-mode reset state, but running it reports why it cannot enter,
 * and setting a real-mode state is refused as unsupported. With UG the
 * same reset state runs (vm.reset_state covers that).
 */
static int case_no_ug(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct vmt t;
    struct hv_vcpu_state st;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    hv_memset(&t, 0, sizeof(t));
    rc = vmx_caps_of(kc, ctx, &caps);
    if (!rc && (caps.backend != HV_BACKEND_VMX || (caps.features & HV_FEAT_UNRESTRICTED_GUEST))) {
        kprintf("vmx.no_ug: %s with unrestricted guest, nothing to check\n", caps.backend_name);
        hv_ctx_destroy(ctx);
        return 0;
    }
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &guest_mem);
    if (!rc && hv_vcpu_run(t.vcpu, &t.exit) != HV_OK)
        rc = kcase_fail(kc, "hv_vcpu_run failed");
    if (!rc && (t.exit.reason != HV_EXIT_ENTRY_FAILED ||
                hv_strcmp(t.exit.entry_failed.reason, "real mode needs unrestricted guest")))
        rc = kcase_fail(kc, "exit %s reason '%s', expected ENTRY_FAILED for real mode",
                        vmt_exit_name(t.exit.reason), t.exit.entry_failed.reason);
    if (!rc && hv_vcpu_get_state(t.vcpu, HV_STATE_ALL, &st) != HV_OK)
        rc = kcase_fail(kc, "hv_vcpu_get_state failed");
    if (!rc && hv_vcpu_set_state(t.vcpu, HV_STATE_ALL, &st) != HV_ERR_UNSUPPORTED)
        rc = kcase_fail(kc, "setting a real-mode state was not refused as unsupported");
    if (!rc)
        kprintf("vmx.no_ug: entry refused: %s\n", t.exit.entry_failed.reason);
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

/*
 * A real-mode guest that keeps its value in XMM0 (hand-assembled, loaded at
 * 0000:1000): enable CR4.OSFXSR, then forever { IN a new value; OUT the
 * value XMM0 held; XMM0 = the new value }.
 */
static const uint8_t xmm_guest_code[] = {
    0x0f, 0x20, 0xe0,                       /* mov %cr4, %eax */
    0x66, 0x0d, 0x00,     0x02, 0x00, 0x00, /* or $0x200, %eax (OSFXSR) */
    0x0f, 0x22, 0xe0,                       /* mov %eax, %cr4 */
    0x66, 0xe5, PORT_ARG,                   /* 1: in $PORT_ARG, %eax */
    0x66, 0x0f, 0x7e,     0xc3,             /* movd %xmm0, %ebx */
    0x66, 0x0f, 0x6e,     0xc0,             /* movd %eax, %xmm0 */
    0x66, 0x89, 0xd8,                       /* mov %ebx, %eax */
    0x66, 0xe7, PORT_VAL,                   /* out %eax, $PORT_VAL */
    0xeb, 0xed,                             /* jmp 1b */
};
static const struct vmt_image xmm_guest = {"xmm", xmm_guest_code,
                                           xmm_guest_code + sizeof(xmm_guest_code)};

/* One round: answer the IN with @p value, take the OUT, stop at the next IN. */
static int xmm_round(struct vmt *t, uint32_t value, uint32_t *seen)
{
    if (mem_round(t, value))
        return -1;
    if (t->nouts != 1)
        return kcase_fail(t->kc, "%u OUTs in one round", t->nouts);
    *seen = t->outs[0].value;
    return 0;
}

/* The host's XMM0 (this kernel is built without SSE: only asm touches it). */
static void host_xmm0_set(uint32_t v)
{
    __asm__ volatile("movd %0, %%xmm0" ::"r"(v));
}

static uint32_t host_xmm0_get(void)
{
    uint32_t v;
    __asm__ volatile("movd %%xmm0, %0" : "=r"(v));
    return v;
}

/*
 * x87/SSE registers are not in the VMCS/VMCB: two VMs taking turns on one
 * CPU must each read back their own XMM0, never the other's, and the
 * host's XMM0 must be its own after each run. The library switches the
 * state with FXSAVE/FXRSTOR, which cover the XMM registers only with
 * CR4.OSFXSR set (SDM Vol. 2A FXSAVE): a host without it gets it set
 * around the switch, so both host settings are run.
 */
static int fpu_isolation_pass(struct kcase_ctx *kc, struct hv_ctx *ctx, bool osfxsr)
{
    struct vmt a, b;
    uint32_t seen = 0, last_a = 0, last_b = 0;
    const uint32_t host_value = 0x4057f00du;
    int rc;

    hv_memset(&a, 0, sizeof(a));
    hv_memset(&b, 0, sizeof(b));
    uint64_t cr4 = hv_read_cr4();
    hv_write_cr4(osfxsr ? cr4 | CR4_OSFXSR : cr4 & ~CR4_OSFXSR);
    if (osfxsr)
        host_xmm0_set(host_value);
    rc = vmt_create(kc, ctx, &a, &xmm_guest);
    if (!rc)
        rc = vmt_create(kc, ctx, &b, &xmm_guest);
    if (!rc)
        rc = vmt_run_until(&a, HV_EXIT_IO);
    if (!rc)
        rc = vmt_run_until(&b, HV_EXIT_IO);
    for (uint32_t r = 1; !rc && r <= 10; r++) {
        uint32_t va = 0xa0a00000u | r, vb = 0xb0b00000u | r;
        rc = xmm_round(&a, va, &seen);
        if (!rc && seen != last_a)
            rc = kcase_fail(kc, "round %u: VM A's XMM0 held 0x%x, expected 0x%x", r, seen, last_a);
        if (!rc)
            rc = xmm_round(&b, vb, &seen);
        if (!rc && seen != last_b)
            rc = kcase_fail(kc, "round %u: VM B's XMM0 held 0x%x, expected 0x%x", r, seen, last_b);
        if (!rc && osfxsr && host_xmm0_get() != host_value)
            rc = kcase_fail(kc, "round %u: the host's XMM0 held 0x%x, expected 0x%x", r,
                            host_xmm0_get(), host_value);
        last_a = va;
        last_b = vb;
    }
    if (!rc && hv_read_cr4() != (osfxsr ? cr4 | CR4_OSFXSR : cr4 & ~CR4_OSFXSR))
        rc = kcase_fail(kc, "the host's CR4 changed across runs");
    hv_write_cr4(cr4);
    vmt_destroy(&a);
    vmt_destroy(&b);
    if (!rc)
        kprintf("vmx.fpu_isolation: host CR4.OSFXSR=%d: 10 rounds, each XMM0 its own\n", osfxsr);
    return rc;
}

static int case_fpu_isolation(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    int rc = fpu_isolation_pass(kc, ctx, true);
    if (!rc)
        rc = fpu_isolation_pass(kc, ctx, false);
    hv_ctx_destroy(ctx);
    return rc;
}

/*
 * Real-mode guest for re-injection (hand-assembled, at 0000:1000): point
 * IVT entry 0x40 at 0000:1100, OUT 1 to PORT_MARK, STI, spin. The handler
 * at 0x1100 does OUT 2 and HLT.
 */
static const uint8_t reinject_code[0x108] = {
    0x31,           0xc0,                              /* xor %ax, %ax */
    0x8e,           0xd8,                              /* mov %ax, %ds */
    0xc7,           0x06,      0x00, 0x01, 0x00, 0x11, /* movw $0x1100, 0x100 */
    0xc7,           0x06,      0x02, 0x01, 0x00, 0x00, /* movw $0, 0x102 */
    0xb0,           0x01,                              /* mov $1, %al */
    0xe6,           PORT_MARK,                         /* out %al, $PORT_MARK */
    0xfb,                                              /* sti */
    0xeb,           0xfe,                              /* jmp . */
    [0x100] = 0xb0, 0x02,                              /* 0x1100: mov $2, %al */
    0xe6,           PORT_MARK,                         /* out %al, $PORT_MARK */
    0xf4,                                              /* hlt */
    0xeb,           0xfd,                              /* jmp back to the hlt */
};
static const struct vmt_image reinject_guest = {"reinject", reinject_code,
                                                reinject_code + sizeof(reinject_code)};

/*
 * An event whose delivery is cut short by a VM exit must be delivered
 * again (IDT-vectoring information, SDM Vol. 3C 27.2.4): inject an external
 * interrupt while the page holding the guest's IVT is unmapped. Its
 * delivery faults in EPT, the embedder sees the fault on the IVT, maps the
 * page back, and the interrupt must then arrive, once.
 */
static int case_reinject(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct vmt t;
    hv_status_t s;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    hv_memset(&t, 0, sizeof(t));
    rc = vmx_caps_of(kc, ctx, &caps);
    if (!rc && caps.backend != HV_BACKEND_VMX) {
        kprintf("vmx.reinject: backend %s, not checked here\n", caps.backend_name);
        hv_ctx_destroy(ctx);
        return 0;
    }
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &reinject_guest);
    /* Run to OUT 1: the IVT entry is written. */
    if (!rc && ((s = hv_vcpu_run(t.vcpu, &t.exit)) != HV_OK || t.exit.reason != HV_EXIT_IO ||
                t.exit.io.port != PORT_MARK || t.exit.io.data != 1))
        rc = kcase_fail(kc, "first exit %s port 0x%x, expected OUT 1", vmt_exit_name(t.exit.reason),
                        t.exit.io.port);
    if (!rc && hv_vm_unmap(t.vm, 0, PAGE_SIZE) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_unmap of the IVT page failed");
    struct hv_event irq = {.type = HV_EVENT_EXTINT, .vector = 0x40};
    if (!rc && hv_vcpu_inject(t.vcpu, &irq) != HV_OK)
        rc = kcase_fail(kc, "hv_vcpu_inject failed");
    if (!rc && ((s = hv_vcpu_run(t.vcpu, &t.exit)) != HV_OK ||
                t.exit.reason != HV_EXIT_SLAT_FAULT || t.exit.slat.gpa != 0x100))
        rc = kcase_fail(kc, "exit %s gpa 0x%llx, expected a SLAT fault on the IVT at 0x100",
                        vmt_exit_name(t.exit.reason), (unsigned long long)t.exit.slat.gpa);
    if (!rc && hv_vm_map(t.vm, 0, (uintptr_t)t.ram, PAGE_SIZE, HV_MEM_RWX) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_map of the IVT page failed");
    t.nouts = 0;
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc) {
        const struct vmt_out exp[] = {OUT_MARK(2)};
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vmx_cases[] KCASE_TABLE = {
    {"vmx.reinject", case_reinject, 0},   {"vmx.fpu_isolation", case_fpu_isolation, 0},
    {"vmx.no_ug", case_no_ug, 0},         {"vmx.ept_pages", case_ept_pages, 0},
    {"vmx.ept_dirty", case_ept_dirty, 0},
};
