/*
 * Per-VM state: the I/O and MSR permission maps its vCPUs share, its ASID,
 * and SLAT-change TLB invalidation.
 */
#include "svm/svm.h"
#include "core/util.h"

#define IOPM_PAGES  3u /* APM 15.10.1: 12 KiB, one bit per port (+ 3 bits) */
#define MSRPM_PAGES 2u /* APM 15.11: 8 KiB, two bits per MSR */

/*
 * MSRs whose whole state lives in the VMCB and that VMRUN/VMLOAD/VMSAVE
 * switch (APM 15.5.2, 15.5.4 VMLOAD/VMSAVE): a guest may read and write them
 * directly. FS/GS base and KERNEL_GS_BASE hold its own segment bases; the
 * STAR family and SYSENTER_* are its syscall entry points. A write of a bad
 * value faults inside the guest, as on bare metal. Everything else is
 * intercepted: EFER (SVME must stay set and hidden), PAT (validated by the
 * core's policy), TSC, APIC base, MTRRs, and every MSR the core does not know
 * (the guest gets #GP).
 */
static const uint32_t svm_passthrough_msrs[] = {
    0xc0000100u, /* FS_BASE */
    0xc0000101u, /* GS_BASE */
    0xc0000102u, /* KERNEL_GS_BASE */
    0xc0000081u, /* STAR */
    0xc0000082u, /* LSTAR */
    0xc0000083u, /* CSTAR */
    0xc0000084u, /* SFMASK */
    0x00000174u, /* SYSENTER_CS */
    0x00000175u, /* SYSENTER_ESP */
    0x00000176u, /* SYSENTER_EIP */
};

/* Byte offset of an MSR's two bits in the map (APM 15.11, Table 15-5), or
   -1 for an MSR outside the three ranges the map covers (always intercepted). */
static long msrpm_offset(uint32_t msr, unsigned *bit)
{
    uint32_t base;
    if (msr <= 0x1fffu)
        base = 0x000;
    else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
        base = 0x800;
    else if (msr >= 0xc0010000u && msr <= 0xc0011fffu)
        base = 0x1000;
    else
        return -1;
    uint32_t idx = msr & 0x1fffu;
    *bit = (idx % 4) * 2;
    return (long)(base + idx / 4);
}

void svm_msrpm_set(uint8_t *msrpm, uint32_t msr, bool intercept_read, bool intercept_write)
{
    unsigned bit;
    long off = msrpm_offset(msr, &bit);
    if (off < 0)
        return;
    uint8_t b = msrpm[off] & (uint8_t) ~(3u << bit);
    b |= (uint8_t)((intercept_read ? 1u : 0u) << bit);
    b |= (uint8_t)((intercept_write ? 2u : 0u) << bit);
    msrpm[off] = b;
}

bool svm_msrpm_get(const uint8_t *msrpm, uint32_t msr, bool write)
{
    unsigned bit;
    long off = msrpm_offset(msr, &bit);
    if (off < 0)
        return true;
    return (msrpm[off] >> (bit + (write ? 1 : 0))) & 1;
}

static void svm_vm_free(struct hv_vm *vm, struct svm_vm *sv)
{
    const struct hv_host *h = &vm->ctx->host;
    struct svm_ctx *sc = svm_ctx_of(vm->ctx);

    if (sv->asid)
        svm_asid_free(&sc->asids, h, sv->asid);
    hv_host_page_free(h, sv->iopm, IOPM_PAGES);
    hv_host_page_free(h, sv->msrpm, MSRPM_PAGES);
    hv_host_obj_free(h, sv->last_on, sizeof(uint64_t) * sv->ncpus);
    hv_host_obj_free(h, sv, sizeof(*sv));
}

hv_status_t svm_vm_init(struct hv_vm *vm)
{
    const struct hv_host *h = &vm->ctx->host;
    struct svm_ctx *sc = svm_ctx_of(vm->ctx);
    struct svm_vm *sv;

    sv = hv_host_obj_alloc(h, sizeof(*sv));
    if (!sv)
        return HV_ERR_NO_MEMORY;
    sv->ncpus = sc->ncpus;
    sv->last_on = hv_host_obj_alloc(h, sizeof(uint64_t) * sv->ncpus);
    sv->iopm = hv_host_page_alloc(h, IOPM_PAGES, &sv->iopm_pa);
    sv->msrpm = hv_host_page_alloc(h, MSRPM_PAGES, &sv->msrpm_pa);
    if (!sv->last_on || !sv->iopm || !sv->msrpm) {
        svm_vm_free(vm, sv);
        return HV_ERR_NO_MEMORY;
    }
    sv->asid = svm_asid_alloc(&sc->asids, h);
    if (!sv->asid) {
        hv_log(h, HV_LOG_WARN, "svm: all %u ASIDs in use", sc->asids.count - 1);
        svm_vm_free(vm, sv);
        return HV_ERR_LIMIT;
    }

    /* Every port and every MSR exits unless listed above. */
    hv_memset(sv->iopm, 0xff, IOPM_PAGES * HV_PAGE_SIZE);
    hv_memset(sv->msrpm, 0xff, MSRPM_PAGES * HV_PAGE_SIZE);
    for (unsigned i = 0; i < HV_ARRAY_SIZE(svm_passthrough_msrs); i++)
        svm_msrpm_set(sv->msrpm, svm_passthrough_msrs[i], false, false);

    vm->arch = sv;
    return HV_OK;
}

void svm_vm_fini(struct hv_vm *vm)
{
    struct svm_vm *sv = svm_vm_of(vm);
    if (!sv)
        return;
    svm_vm_free(vm, sv);
    vm->arch = NULL;
}

/*
 * The SLAT lost or narrowed translations: no CPU may keep TLB entries of
 * this VM's ASID. Forgetting every CPU's owner makes each vCPU flush at its
 * next VMRUN (flush-by-ASID when the CPU has it, else TLB_CONTROL=1). A vCPU
 * running right now on another CPU is interrupted so that it re-enters
 * through that flush (the decision is taken with GIF=0, see svm_run.c);
 * every vCPU also loses its quiet state, so that the exit fast path
 * (svm_fast.c), which re-enters without that decision, hands its next exit
 * to svm_run even where the host has no kick_cpu.
 */
void svm_slat_flush(struct hv_vm *vm)
{
    struct svm_vm *sv = svm_vm_of(vm);
    const struct hv_host *h = &vm->ctx->host;

    if (!sv)
        return;
    svm_asid_forget_all(sv->last_on, sv->ncpus);
    if (!vm->vcpus)
        return;
    /* vcpus[] under vm->lock, as wait_for_guests reads it: a vCPU
       hv_vcpu_destroy takes out is never touched after its free. */
    uint32_t self = hv_host_cpu_current(h);
    uint64_t t = hv_lock_acquire(h, &vm->lock);
    for (uint32_t i = 0; i < vm->max_vcpus; i++) {
        struct hv_vcpu *v = vm->vcpus[i];
        if (!v)
            continue;
        __atomic_store_n(&v->quiet, false, __ATOMIC_RELAXED);
        uint32_t cpu = __atomic_load_n(&v->host_cpu, __ATOMIC_ACQUIRE);
        if (h->ops.kick_cpu && __atomic_load_n(&v->running, __ATOMIC_ACQUIRE) && cpu != self)
            h->ops.kick_cpu(h->ops.opaque, cpu);
    }
    hv_lock_release(h, &vm->lock, t);
}

/* The I/O and MSR permission maps per VM, the VMCB per vCPU (APM Vol. 2
   15.10.1, 15.11, Appendix B). The nested page table counts as SLAT. */
uint64_t svm_arch_pages(struct hv_vm *vm)
{
    const struct svm_vm *sv = svm_vm_of(vm);
    if (!sv)
        return 0;
    return (sv->iopm ? 3 : 0) + (sv->msrpm ? 2 : 0) + vm->vcpu_count;
}
