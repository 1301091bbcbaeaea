/*
 * Per-context setup: turn SVM on and off on every host CPU (APM Vol. 2
 * 15.4: EFER.SVME, 15.30.4: VM_HSAVE_PA) and own the ASID pool.
 */
#include "svm/svm.h"
#include "core/util.h"
#include "svm/npt_format.h"

struct svm_cpu_op {
    struct svm_ctx *sc;
};

/* Runs on each CPU with preemption off (hv_host_ops::run_on_each_cpu). */
static void svm_cpu_enable(void *arg, uint32_t cpu)
{
    struct svm_ctx *sc = ((struct svm_cpu_op *)arg)->sc;
    struct svm_cpu *c;
    uint64_t vm_cr, efer;

    if (cpu >= sc->ncpus)
        return; /* a CPU we have no pages for: counted as failed below */
    c = &sc->cpu[cpu];
    if (!svm_rdmsr(MSR_VM_CR, &vm_cr) || (vm_cr & VM_CR_SVMDIS) || !svm_rdmsr(MSR_EFER, &efer)) {
        c->failed = true;
        return;
    }
    /* NPT marks non-executable mappings with bit 63, which is only
       defined while the host runs with EFER.NXE (APM Vol. 2 5.6). */
    if (!(efer & EFER_NXE)) {
        c->failed = true;
        return;
    }
    c->svme_before = (efer & EFER_SVME) != 0;
    /* Fast FXSAVE/FXRSTOR (APM Vol. 2 3.1.7): with EFER.FFXSR, both skip
       XMM0-15 in 64-bit mode at CPL 0, so the x87/SSE switch around every
       run (core/fpu.h) would leave the host's XMM registers to the guest
       and the guest's to the host. Off while the library is enabled here. */
    c->ffxsr_before = (efer & EFER_FFXSR) != 0;
    uint64_t on = (efer | EFER_SVME) & ~EFER_FFXSR;
    if (on != efer && !svm_wrmsr(MSR_EFER, on)) {
        c->failed = true;
        return;
    }
    /* VMRUN saves the host state here; 4 KiB aligned (APM 15.30.4). */
    if (!svm_wrmsr(MSR_VM_HSAVE_PA, c->hsave_pa)) {
        if (on != efer)
            svm_wrmsr(MSR_EFER, efer);
        c->failed = true;
        return;
    }
    c->enabled = true;
}

static void svm_cpu_disable(void *arg, uint32_t cpu)
{
    struct svm_ctx *sc = ((struct svm_cpu_op *)arg)->sc;
    struct svm_cpu *c;
    uint64_t efer;

    if (cpu >= sc->ncpus)
        return;
    c = &sc->cpu[cpu];
    if (!c->enabled)
        return;
    /* GIF is 1 here: every world switch ends with STGI. */
    svm_wrmsr(MSR_VM_HSAVE_PA, 0);
    if ((!c->svme_before || c->ffxsr_before) && svm_rdmsr(MSR_EFER, &efer))
        svm_wrmsr(MSR_EFER,
                  (c->svme_before ? efer : efer & ~EFER_SVME) | (c->ffxsr_before ? EFER_FFXSR : 0));
    c->enabled = false;
}

static void svm_ctx_free(struct hv_ctx *ctx, struct svm_ctx *sc)
{
    const struct hv_host *h = &ctx->host;
    if (sc->cpu) {
        for (uint32_t i = 0; i < sc->ncpus; i++) {
            hv_host_page_free(h, sc->cpu[i].hsave, 1);
            hv_host_page_free(h, sc->cpu[i].host_area, 1);
        }
        hv_host_obj_free(h, sc->cpu, sizeof(struct svm_cpu) * sc->ncpus);
    }
    svm_asid_pool_fini(&sc->asids, h);
    hv_host_obj_free(h, sc, sizeof(*sc));
}

hv_status_t svm_ctx_init(struct hv_ctx *ctx)
{
    const struct hv_host *h = &ctx->host;
    struct svm_cpu_op op;
    struct svm_ctx *sc;
    uint32_t r[4];
    hv_status_t st;
    bool ok = true;

    sc = hv_host_obj_alloc(h, sizeof(*sc));
    if (!sc)
        return HV_ERR_NO_MEMORY;
    svm_cpuid(0x8000000au, 0, r);
    sc->cpuid_edx = r[3];
    svm_limits_from_cpuid(&sc->limits);
    sc->next_serial = 1;
    hv_npt_format_init(&sc->npt, ctx->caps.slat_page_sizes);
    sc->ncpus = hv_host_cpu_count(h);
    if (sc->ncpus == 0 || sc->ncpus > 4096) {
        hv_host_obj_free(h, sc, sizeof(*sc));
        return HV_ERR_HOST;
    }
    st = svm_asid_pool_init(&sc->asids, h, ctx->caps.asid_count);
    if (st != HV_OK) {
        hv_host_obj_free(h, sc, sizeof(*sc));
        return st;
    }
    sc->cpu = hv_host_obj_alloc(h, sizeof(struct svm_cpu) * sc->ncpus);
    if (!sc->cpu) {
        svm_ctx_free(ctx, sc);
        return HV_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < sc->ncpus; i++) {
        struct svm_cpu *c = &sc->cpu[i];
        c->hsave = hv_host_page_alloc(h, 1, &c->hsave_pa);
        if (!c->hsave) {
            svm_ctx_free(ctx, sc);
            return HV_ERR_NO_MEMORY;
        }
        c->host_area = hv_host_page_alloc(h, 1, &c->host_area_pa);
        if (!c->host_area) {
            svm_ctx_free(ctx, sc);
            return HV_ERR_NO_MEMORY;
        }
    }

    op.sc = sc;
    if (h->ops.run_on_each_cpu(h->ops.opaque, svm_cpu_enable, &op) != 0)
        ok = false;
    for (uint32_t i = 0; i < sc->ncpus; i++)
        if (!sc->cpu[i].enabled)
            ok = false;
    if (!ok) {
        hv_log(h, HV_LOG_ERROR,
               "svm: enabling SVM failed on some CPU (VM_CR.SVMDIS, or host EFER.NXE clear); "
               "undoing");
        h->ops.run_on_each_cpu(h->ops.opaque, svm_cpu_disable, &op);
        svm_ctx_free(ctx, sc);
        return HV_ERR_HOST;
    }
    ctx->arch = sc;
    return HV_OK;
}

void svm_ctx_fini(struct hv_ctx *ctx)
{
    const struct hv_host *h = &ctx->host;
    struct svm_ctx *sc = svm_ctx_of(ctx);
    struct svm_cpu_op op;

    if (!sc)
        return;
    op.sc = sc;
    h->ops.run_on_each_cpu(h->ops.opaque, svm_cpu_disable, &op);
    svm_ctx_free(ctx, sc);
    ctx->arch = NULL;
}
