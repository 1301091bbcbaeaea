/*
 * Guest-physical memory: faults on unmapped and read-only memory reach the
 * embedder, which fixes them and resumes (guest npf.S); two VMs stay
 * isolated (mem.S); VMs created and destroyed many times leak nothing and
 * never see a previous VM's memory (mem.S).
 */
#include "vm_harness.h"

#include "core/util.h"

VMT_GUEST(npf);
VMT_GUEST(mem);

static int case_npf_unmapped(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    uint32_t *page = NULL;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_npf);
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_SLAT_FAULT);
    if (!rc && (t.exit.slat.gpa != 0x200000 || !(t.exit.slat.access & HV_ACCESS_READ) ||
                t.exit.slat.present))
        rc = kcase_fail(kc,
                        "fault gpa 0x%llx access %u present %u, expected 0x200000 read "
                        "not-present",
                        (unsigned long long)t.exit.slat.gpa, t.exit.slat.access,
                        t.exit.slat.present);
    if (!rc) {
        page = pmm_alloc(1);
        if (!page)
            rc = kcase_fail(kc, "out of memory");
    }
    if (!rc) {
        page[0] = 0xfeedf00d;
        hv_status_t st = hv_vm_map(t.vm, 0x200000, (uintptr_t)page, PAGE_SIZE, HV_MEM_RWX);
        if (st != HV_OK)
            rc = kcase_fail(kc, "hv_vm_map: %s", hv_status_str(st));
    }
    /* Resume: the read retries and succeeds; then the write to 0x300000
       faults (nothing there yet either). */
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_SLAT_FAULT);
    if (!rc && (t.nouts != 1 || t.outs[0].value != 0xfeedf00d))
        rc = kcase_fail(kc, "the guest read 0x%x after the mapping, expected 0xfeedf00d",
                        t.nouts ? t.outs[0].value : 0);
    if (!rc && (t.exit.slat.gpa != 0x300000 || !(t.exit.slat.access & HV_ACCESS_WRITE)))
        rc = kcase_fail(kc, "second fault gpa 0x%llx access %u, expected a write to 0x300000",
                        (unsigned long long)t.exit.slat.gpa, t.exit.slat.access);
    vmt_destroy(&t);
    if (page)
        pmm_free(page, 1);
    hv_ctx_destroy(ctx);
    return rc;
}

static int case_npf_readonly(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    uint32_t *ro = NULL, *low = NULL;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_npf);
    if (!rc) {
        ro = pmm_alloc(1);
        low = pmm_alloc(1);
        if (!ro || !low)
            rc = kcase_fail(kc, "out of memory");
    }
    if (!rc) {
        low[0] = 0x600d600d;
        ro[0] = 0x11223344;
        if (hv_vm_map(t.vm, 0x200000, (uintptr_t)low, PAGE_SIZE, HV_MEM_READ) != HV_OK ||
            hv_vm_map(t.vm, 0x300000, (uintptr_t)ro, PAGE_SIZE, HV_MEM_READ) != HV_OK)
            rc = kcase_fail(kc, "hv_vm_map failed");
    }
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_SLAT_FAULT);
    if (!rc && (t.exit.slat.gpa != 0x300000 || t.exit.slat.access != HV_ACCESS_WRITE ||
                !t.exit.slat.present))
        rc = kcase_fail(kc,
                        "fault gpa 0x%llx access %u present %u, expected a write to a "
                        "present page at 0x300000",
                        (unsigned long long)t.exit.slat.gpa, t.exit.slat.access,
                        t.exit.slat.present);
    if (!rc && ro[0] != 0x11223344)
        rc = kcase_fail(kc, "the read-only page was written (0x%x)", ro[0]);
    if (!rc && hv_vm_protect(t.vm, 0x300000, PAGE_SIZE, HV_MEM_READ | HV_MEM_WRITE) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_protect failed");
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc) {
        const struct vmt_out exp[] = {OUT_VAL(0x600d600d), OUT_VAL(0x5a5a5a5a)};
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    if (!rc && ro[0] != 0x5a5a5a5a)
        rc = kcase_fail(kc, "the write did not land after hv_vm_protect (0x%x)", ro[0]);
    vmt_destroy(&t);
    if (ro)
        pmm_free(ro, 1);
    if (low)
        pmm_free(low, 1);
    hv_ctx_destroy(ctx);
    return rc;
}

/* mem.S waits at an IN between rounds: run it to the first one. */
static int mem_start(struct vmt *t)
{
    t->on_in = NULL;
    return vmt_run_until(t, HV_EXIT_IO);
}

/* One round: answer the IN with @p value, collect the OUT (what gpa 0x800
   held before), stop at the next IN. */
static int mem_round(struct vmt *t, uint32_t value, uint32_t *seen)
{
    t->nouts = 0;
    t->exit.io.data = value;
    if (vmt_run_until(t, HV_EXIT_IO))
        return -1;
    if (t->nouts != 1 || t->exit.io.write || t->exit.io.port != PORT_ARG)
        return kcase_fail(t->kc, "%u OUTs in one round, stopped at port 0x%x", t->nouts,
                          t->exit.io.port);
    *seen = t->outs[0].value;
    return 0;
}

static int case_isolation(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt a, b;
    int rc;
    uint32_t seen, last_a = 0, last_b = 0;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    hv_memset(&b, 0, sizeof(b));
    rc = vmt_create(kc, ctx, &a, &guest_mem);
    if (!rc)
        rc = vmt_create(kc, ctx, &b, &guest_mem);
    if (!rc)
        rc = mem_start(&a);
    if (!rc)
        rc = mem_start(&b);
    for (uint32_t r = 1; !rc && r <= 20; r++) {
        uint32_t va = 0xa0000000u | r, vb = 0xb0000000u | r;
        rc = mem_round(&a, va, &seen);
        if (!rc && seen != last_a)
            rc = kcase_fail(kc, "round %u: VM A read 0x%x, expected its own 0x%x", r, seen, last_a);
        if (!rc)
            rc = mem_round(&b, vb, &seen);
        if (!rc && seen != last_b)
            rc = kcase_fail(kc, "round %u: VM B read 0x%x, expected its own 0x%x", r, seen, last_b);
        last_a = va;
        last_b = vb;
        /* The stores landed in each VM's own RAM, nowhere else. */
        if (!rc && (*(uint32_t *)(a.ram + 0x800) != va || *(uint32_t *)(b.ram + 0x800) != vb))
            rc = kcase_fail(kc, "round %u: RAM holds A 0x%x B 0x%x", r,
                            *(uint32_t *)(a.ram + 0x800), *(uint32_t *)(b.ram + 0x800));
    }
    vmt_destroy(&a);
    vmt_destroy(&b);
    hv_ctx_destroy(ctx);
    return rc;
}

/*
 * 200 VMs, one after the other (more than the CPU has ASIDs, so ASIDs are
 * recycled): each must read the value its own RAM holds, never a stale
 * translation of a previous VM, and the page and object counts must come
 * back to where they were.
 */
static int case_churn(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    int rc = 0;
    uint8_t *shift = NULL;
    size_t shift_n = 0;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    size_t pages0 = pmm_pages_used(), objs0 = heap_objects();
    for (uint32_t i = 0; !rc && i < 200; i++) {
        /* Move the next VM's RAM around so that it does not always get the
           pages the previous one had. */
        if (i % 2 == 0) {
            shift_n = 1 + i % 7;
            shift = pmm_alloc(shift_n);
        }
        rc = vmt_create(kc, ctx, &t, &guest_mem);
        if (!rc) {
            uint32_t seen;
            *(uint32_t *)(t.ram + 0x800) = 0x5eed0000u + i;
            rc = mem_start(&t);
            if (!rc)
                rc = mem_round(&t, 1, &seen);
            if (!rc && seen != 0x5eed0000u + i)
                rc = kcase_fail(kc, "VM %u read 0x%x, expected 0x%x", i, seen, 0x5eed0000u + i);
        }
        vmt_destroy(&t);
        if (shift && i % 2 == 1) {
            pmm_free(shift, shift_n);
            shift = NULL;
        }
    }
    if (shift)
        pmm_free(shift, shift_n);
    if (!rc && (pmm_pages_used() != pages0 || heap_objects() != objs0))
        rc =
            kcase_fail(kc, "leak after 200 VMs: pages %u -> %u, objects %u -> %u", (unsigned)pages0,
                       (unsigned)pmm_pages_used(), (unsigned)objs0, (unsigned)heap_objects());
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_slat_cases[] KCASE_TABLE = {
    {"vm.npf_unmapped", case_npf_unmapped, 0},
    {"vm.npf_readonly", case_npf_readonly, 0},
    {"vm.isolation", case_isolation, 0},
    {"vm.churn", case_churn, 0},
};
