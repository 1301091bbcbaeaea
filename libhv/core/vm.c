/* VM lifecycle and the guest-physical memory API (vm.h). */
#include <stddef.h>

#include "backend.h"
#include "core/assist.h"
#include "core/objects.h"
#include "core/pio.h"
#include "core/policy.h"
#include "core/pv.h"
#include "core/util.h"
#include "core/vcpu_asm.h"
#include "lapic/hooks.h"

#define VM_CONFIG_MIN_SIZE (offsetof(struct hv_vm_config, gpa_bits) + sizeof(uint32_t))
/* Upper bound on vCPUs per VM: keeps the vcpus[] array within one page. */
#define HV_MAX_VCPUS 512
/* hv_vm_config::flags bits this version knows. */
#define VM_FLAGS_KNOWN HV_VM_SCRUB

/* The vCPU slots and, behind them, a retire_snap and a wait_snap word per
   slot. */
static size_t slots_bytes(uint32_t max_vcpus)
{
    _Static_assert(sizeof(struct hv_vcpu *) <= sizeof(uint64_t) &&
                       sizeof(uint64_t) % sizeof(struct hv_vcpu *) == 0,
                   "the snapshots stay aligned behind vcpus[]");
    return max_vcpus * (sizeof(struct hv_vcpu *) + 2 * sizeof(uint64_t));
}

hv_status_t hv_vm_create(struct hv_ctx *ctx, const struct hv_vm_config *config, struct hv_vm **out)
{
    struct hv_vm_config cfg;
    hv_status_t st;

    if (!ctx || !out)
        return HV_ERR_INVALID_ARG;
    *out = NULL;
    hv_memset(&cfg, 0, sizeof(cfg));
    if (config) {
        uint32_t size = config->size ? config->size : sizeof(*config);
        if (size < VM_CONFIG_MIN_SIZE)
            return HV_ERR_INVALID_ARG;
        hv_memcpy(&cfg, config, HV_MIN((size_t)size, sizeof(cfg)));
    }
    const struct hv_slat_format *fmt = ctx->be->slat_format(ctx);
    uint32_t gpa_bits = cfg.gpa_bits ? cfg.gpa_bits : ctx->caps.gpa_bits;
    if (gpa_bits < 32 || gpa_bits > ctx->caps.gpa_bits)
        return HV_ERR_RANGE;
    uint32_t sizes = cfg.page_sizes ? cfg.page_sizes : ctx->caps.slat_page_sizes;
    if (!(sizes & HV_PAGE_4K) || (sizes & ~(uint32_t)(HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G)))
        return HV_ERR_INVALID_ARG;
    sizes &= ctx->caps.slat_page_sizes & fmt->page_sizes;
    uint32_t max_vcpus = cfg.max_vcpus ? cfg.max_vcpus : 1;
    if (max_vcpus > HV_MAX_VCPUS)
        return HV_ERR_LIMIT;
    if (cfg.flags & ~(uint32_t)VM_FLAGS_KNOWN)
        return HV_ERR_INVALID_ARG;

    struct hv_vm *vm = hv_host_obj_alloc(&ctx->host, sizeof(*vm));
    if (!vm)
        return HV_ERR_NO_MEMORY;
    vm->ctx = ctx;
    vm->flags = cfg.flags;
    vm->gpa_bits = gpa_bits;
    vm->max_vcpus = max_vcpus;
    hv_cpuid_paging_view_update(vm);
    vm->vcpus = hv_host_obj_alloc(&ctx->host, slots_bytes(max_vcpus));
    if (!vm->vcpus) {
        st = HV_ERR_NO_MEMORY;
        goto free_vm;
    }
    vm->retire_snap = (uint64_t *)(void *)(vm->vcpus + max_vcpus);
    vm->wait_snap = vm->retire_snap + max_vcpus;
    st = hv_slat_init(&vm->slat, &ctx->host, fmt, gpa_bits, ctx->caps.hpa_bits, sizes);
    if (st != HV_OK)
        goto free_vcpus;
    st = ctx->be->vm_init(vm);
    if (st != HV_OK)
        goto fini_slat;

    uint64_t t = hv_lock_acquire(&ctx->host, &ctx->lock);
    ctx->vm_count++;
    hv_lock_release(&ctx->host, &ctx->lock, t);
    *out = vm;
    return HV_OK;

fini_slat:
    hv_slat_fini(&vm->slat);
free_vcpus:
    hv_host_obj_free(&ctx->host, vm->vcpus, slots_bytes(max_vcpus));
free_vm:
    hv_host_obj_free(&ctx->host, vm, sizeof(*vm));
    return st;
}

/* Page is all zero (a word at a time: pages are 8-byte aligned). */
static bool page_is_zero(const void *page)
{
    const uint64_t *w = page;
    uint64_t acc = 0;
    for (unsigned i = 0; i < HV_PAGE_SIZE / 8; i++)
        acc |= w[i];
    return acc == 0;
}

/*
 * HV_VM_SCRUB: zero the guest RAM behind one SLAT leaf. Only write-back
 * mappings are RAM; other types map device memory, which a write could
 * disturb. A page already zero is not written again, so RAM mapped at
 * several guest addresses is written once.
 */
static bool scrub_leaf(void *arg, uint64_t gpa, uint64_t hpa, uint64_t size, uint32_t flags)
{
    const struct hv_host *h = arg;
    (void)gpa;
    if ((flags & HV_MEMTYPE_MASK) != HV_MEMTYPE_WB)
        return false;
    for (uint64_t off = 0; off < size; off += HV_PAGE_SIZE) {
        void *p = hv_host_phys_to_virt(h, hpa + off);
        if (p && !page_is_zero(p))
            hv_memset(p, 0, HV_PAGE_SIZE);
    }
    return false; /* every leaf */
}

hv_status_t hv_vm_destroy(struct hv_vm *vm)
{
    if (!vm)
        return HV_ERR_INVALID_ARG;
    struct hv_ctx *ctx = vm->ctx;
    if (vm->vcpu_count)
        return HV_ERR_BUSY;
    bool scrub = hv_vm_scrub_begin(vm);
    if (vm->pv && vm->pv->vm_destroy)
        vm->pv->vm_destroy(vm);
    ctx->be->vm_fini(vm);
    hv_assist_vm_fini(vm);
    hv_pio_vm_fini(vm);
    if (vm->lapic)
        hv_lapic_vm_fini(vm);
    if (scrub)
        hv_slat_for_each_leaf(&vm->slat, scrub_leaf, &ctx->host);
    hv_slat_fini(&vm->slat);
    hv_slat_free_retired(&vm->retire_wait); /* no vCPU left to walk them */
    hv_host_obj_free(&ctx->host, vm->vcpus, slots_bytes(vm->max_vcpus));
    hv_memset(vm, 0, sizeof(*vm));
    hv_host_obj_free(&ctx->host, vm, sizeof(*vm));
    hv_vm_scrub_end(ctx, scrub);
    uint64_t t = hv_lock_acquire(&ctx->host, &ctx->lock);
    ctx->vm_count--;
    hv_lock_release(&ctx->host, &ctx->lock, t);
    return HV_OK;
}

/*
 * SLAT-changing calls allocate table pages through the host, which may
 * sleep, so they cannot hold a spinlock. They are serialized per VM by a
 * busy flag instead: a concurrent call returns HV_ERR_BUSY at once. The
 * exit path's lookups (hv_slat_translate) take no lock at all.
 */
static bool begin_slat_call(struct hv_vm *vm)
{
    if (__atomic_load_n(&vm->slat_waiters, __ATOMIC_ACQUIRE))
        return false; /* a library call waits: it goes first */
    return !__atomic_exchange_n(&vm->slat_busy, 1, __ATOMIC_ACQUIRE);
}

/* The library's own calls (objects.h hv_vm_map_waiting): waits for the
   call in progress, ahead of the embedder's. */
static void begin_slat_call_waiting(struct hv_vm *vm)
{
    __atomic_fetch_add(&vm->slat_waiters, 1, __ATOMIC_SEQ_CST);
    while (__atomic_exchange_n(&vm->slat_busy, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
    __atomic_fetch_sub(&vm->slat_waiters, 1, __ATOMIC_RELEASE);
}

/*
 * Ends a SLAT-changing call: one backend flush for the whole call if any
 * translation was removed or reduced (batched invalidation). Tables the
 * call unlinked are freed only after that flush, when no CPU can still
 * walk them.
 */
/*
 * The grace period of a flush: a CPU keeps using the translations it has
 * cached for the guest until an entry drops them (SDM Vol. 3C 29.4.3,
 * APM Vol. 2 15.16), so neither the pages a call unmapped (the embedder may
 * reuse them once it returns) nor the tables it retired may be let go
 * while a vCPU of the VM is still in guest mode on another CPU. Every vCPU
 * gets a flush request, which its next entry takes (the world-switch
 * assembly: epoch odd, a full barrier, then the request is read and the
 * TLB flushed); a vCPU in guest mode now (odd epoch, read after the
 * requests with a full barrier between: one of the two sides sees the
 * other) is kicked and waited for until it has exited. A vCPU outside
 * guest mode is not waited for: it may be spinning on a lock the caller
 * holds, and its next entry flushes anyway.
 */
_Static_assert(offsetof(struct hv_vcpu, guest_epoch) == HV_VCPU_GUEST_EPOCH, "vcpu_asm.h");
_Static_assert(offsetof(struct hv_vcpu, flush_req) == HV_VCPU_FLUSH_REQ, "vcpu_asm.h");

/* The epoch of the vCPU in slot i (0, even, for none) and its host CPU,
   read under vm->lock: hv_vcpu_destroy takes a vCPU out of vcpus[] under
   the lock before it frees it, so none is read after its free. */
static uint64_t slot_epoch(struct hv_vm *vm, uint32_t i, uint32_t *cpu)
{
    const struct hv_host *h = &vm->ctx->host;
    uint64_t t = hv_lock_acquire(h, &vm->lock);
    const struct hv_vcpu *v = vm->vcpus[i];
    uint64_t epoch = v ? __atomic_load_n(&v->guest_epoch, __ATOMIC_ACQUIRE) : 0;
    *cpu = v ? __atomic_load_n(&v->host_cpu, __ATOMIC_ACQUIRE) : UINT32_MAX;
    hv_lock_release(h, &vm->lock, t);
    return epoch;
}

static void wait_for_guests(struct hv_vm *vm)
{
    const struct hv_host *h = &vm->ctx->host;
    if (!vm->vcpus)
        return;
    /* The requests and the first look under the lock (vcpus[] may change);
       the wait outside it, looking again under it each time. wait_snap:
       the epoch of each vCPU found in guest mode, else 0 (even). */
    uint64_t *snap = vm->wait_snap;
    uint32_t n = 0;
    uint64_t t = hv_lock_acquire(h, &vm->lock);
    for (uint32_t i = 0; i < vm->max_vcpus; i++)
        if (vm->vcpus[i])
            __atomic_store_n(&vm->vcpus[i]->flush_req, 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (uint32_t i = 0; i < vm->max_vcpus; i++) {
        struct hv_vcpu *v = vm->vcpus[i];
        uint64_t epoch = v ? __atomic_load_n(&v->guest_epoch, __ATOMIC_ACQUIRE) : 0;
        snap[i] = (epoch & 1) ? epoch : 0;
        n += (epoch & 1) != 0;
    }
    hv_lock_release(h, &vm->lock, t);
    if (!n)
        return;
    uint32_t self = hv_host_cpu_current(h);
    for (uint32_t i = 0; i < vm->max_vcpus; i++) {
        uint32_t cpu;
        if (!snap[i] || slot_epoch(vm, i, &cpu) != snap[i])
            continue;
        /* In guest mode the vCPU cannot migrate, so host_cpu is where it
           runs; it cannot be this CPU (only an NMI handler interrupting
           its entry could call us here, and must not wait for itself).
           (A vCPU that replaced it in the slot with the same odd epoch is
           in guest mode too: waiting for it is only a little longer.) */
        if (cpu == self)
            continue;
        if (h->ops.kick_cpu)
            h->ops.kick_cpu(h->ops.opaque, cpu);
        while (slot_epoch(vm, i, &cpu) == snap[i])
            __builtin_ia32_pause();
    }
}

/*
 * The other half of the grace period: host code. A vCPU between its exit
 * and its next entry may be in the middle of a SLAT walk it began before
 * this call unlinked tables (hv_slat_translate from a hypercall's copy or
 * the assist), and wait_for_guests does not wait for it (it may be
 * spinning on a lock the caller holds). So the retired tables wait for
 * every vCPU that was in host code inside hv_vcpu_run when they were
 * retired (even epoch, running) to have entered the guest since (its
 * epoch moved) or returned from the run: a walk that starts after the
 * unlink reads the new entries and cannot reach them. Nothing waits: the
 * tables are freed by the first SLAT call (or the VM's destruction) that
 * finds those vCPUs past that point, right away when no vCPU is in host
 * code. Retirements before that join the waiting ones, which then wait
 * for the newest snapshot.
 */
#define HV_RETIRE_QUIET UINT64_MAX /* walked nothing when the snapshot was taken */

static bool retire_readers_passed(struct hv_vm *vm)
{
    /* Walks on no vCPU of this VM (hv_slat_read_begin): none may be in
       progress, whenever it began. */
    if (__atomic_load_n(&vm->slat_readers, __ATOMIC_SEQ_CST))
        return false;
    for (uint32_t i = 0; i < vm->max_vcpus; i++) {
        const struct hv_vcpu *v = vm->vcpus[i];
        uint64_t snap = vm->retire_snap[i];
        if (!v || snap == HV_RETIRE_QUIET)
            continue;
        if (__atomic_load_n(&v->running, __ATOMIC_ACQUIRE) &&
            __atomic_load_n(&v->guest_epoch, __ATOMIC_ACQUIRE) == snap)
            return false;
    }
    return true;
}

static void retire_snapshot(struct hv_vm *vm)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the unlinks before the reads */
    for (uint32_t i = 0; i < vm->max_vcpus; i++) {
        const struct hv_vcpu *v = vm->vcpus[i];
        uint64_t epoch = v ? __atomic_load_n(&v->guest_epoch, __ATOMIC_ACQUIRE) : 0;
        bool walking = v && __atomic_load_n(&v->running, __ATOMIC_ACQUIRE) && !(epoch & 1);
        vm->retire_snap[i] = walking ? epoch : HV_RETIRE_QUIET;
    }
}

static void retire_after_readers(struct hv_vm *vm)
{
    struct hv_slat_retired fresh, done = {0};
    hv_slat_take_retired(&vm->slat, &fresh);
    if (!vm->retire_wait.table_pages && !fresh.table_pages)
        return;
    /* vcpus[] read under the lock: a vCPU destroyed meanwhile is gone
       from it (hv_vcpu_destroy), not freed under the scan. */
    const struct hv_host *h = &vm->ctx->host;
    uint64_t t = hv_lock_acquire(h, &vm->lock);
    if (vm->retire_wait.table_pages && retire_readers_passed(vm))
        hv_slat_retired_merge(&done, &vm->retire_wait);
    if (fresh.table_pages) {
        hv_slat_retired_merge(&vm->retire_wait, &fresh);
        retire_snapshot(vm);
        if (retire_readers_passed(vm))
            hv_slat_retired_merge(&done, &vm->retire_wait);
    }
    hv_lock_release(h, &vm->lock, t);
    hv_slat_free_retired(&done); /* the host's frees outside the lock */
}

static hv_status_t end_slat_call(struct hv_vm *vm, hv_status_t st)
{
    if (hv_slat_take_flush(&vm->slat)) {
        vm->ctx->be->slat_flush(vm);
        wait_for_guests(vm);
    }
    retire_after_readers(vm);
    __atomic_store_n(&vm->slat_busy, 0, __ATOMIC_RELEASE);
    return st;
}

hv_status_t hv_vm_map(struct hv_vm *vm, uint64_t gpa, uint64_t hpa, uint64_t len, uint32_t flags)
{
    if (!vm)
        return HV_ERR_INVALID_ARG;
    if (!begin_slat_call(vm))
        return HV_ERR_BUSY;
    return end_slat_call(vm, hv_slat_map(&vm->slat, gpa, hpa, len, flags));
}

hv_status_t hv_vm_unmap(struct hv_vm *vm, uint64_t gpa, uint64_t len)
{
    if (!vm)
        return HV_ERR_INVALID_ARG;
    if (!begin_slat_call(vm))
        return HV_ERR_BUSY;
    return end_slat_call(vm, hv_slat_unmap(&vm->slat, gpa, len));
}

hv_status_t hv_vm_map_waiting(struct hv_vm *vm, uint64_t gpa, uint64_t hpa, uint64_t len,
                              uint32_t flags)
{
    begin_slat_call_waiting(vm);
    return end_slat_call(vm, hv_slat_map(&vm->slat, gpa, hpa, len, flags));
}

hv_status_t hv_vm_unmap_waiting(struct hv_vm *vm, uint64_t gpa, uint64_t len)
{
    begin_slat_call_waiting(vm);
    return end_slat_call(vm, hv_slat_unmap(&vm->slat, gpa, len));
}

hv_status_t hv_vm_protect(struct hv_vm *vm, uint64_t gpa, uint64_t len, uint32_t flags)
{
    if (!vm)
        return HV_ERR_INVALID_ARG;
    if (!begin_slat_call(vm))
        return HV_ERR_BUSY;
    return end_slat_call(vm, hv_slat_protect(&vm->slat, gpa, len, flags));
}

/* A lookup of the embedder's: a walk on no vCPU, counted (core/objects.h). */
static hv_status_t query(struct hv_vm *vm, uint64_t gpa, struct hv_mapping *out,
                         hv_status_t (*lookup)(const struct hv_slat *, uint64_t,
                                               struct hv_mapping *))
{
    if (!vm || !out)
        return HV_ERR_INVALID_ARG;
    hv_slat_read_begin(vm);
    hv_status_t st = lookup(&vm->slat, gpa, out);
    hv_slat_read_end(vm);
    return st;
}

hv_status_t hv_vm_query(struct hv_vm *vm, uint64_t gpa, struct hv_mapping *out)
{
    return query(vm, gpa, out, hv_slat_query);
}

hv_status_t hv_vm_query_next(struct hv_vm *vm, uint64_t gpa, struct hv_mapping *out)
{
    return query(vm, gpa, out, hv_slat_query_next);
}

hv_status_t hv_vm_dirty_harvest(struct hv_vm *vm, uint64_t gpa, uint64_t len, uint64_t *bitmap)
{
    if (!vm || !bitmap)
        return HV_ERR_INVALID_ARG;
    if (!(vm->ctx->caps.features & HV_FEAT_SLAT_AD))
        return HV_ERR_UNSUPPORTED;
    if (!begin_slat_call(vm))
        return HV_ERR_BUSY;
    return end_slat_call(vm, hv_slat_dirty_harvest(&vm->slat, gpa, len, bitmap));
}

hv_status_t hv_vm_stats(struct hv_vm *vm, struct hv_vm_stats *out)
{
    if (!vm || !out)
        return HV_ERR_INVALID_ARG;
    hv_memset(out, 0, sizeof(*out));
    out->slat_table_pages = hv_slat_table_pages(&vm->slat);
    out->mapped_bytes = hv_slat_mapped_bytes(&vm->slat);
    out->host_bytes = sizeof(*vm) + slots_bytes(vm->max_vcpus) +
                      vm->vcpu_count * sizeof(struct hv_vcpu) + hv_slat_meta_bytes(&vm->slat);
    if (vm->ctx->be->arch_pages)
        out->arch_pages = vm->ctx->be->arch_pages(vm);
    return HV_OK;
}

hv_status_t hv_vm_set_cpuid(struct hv_vm *vm, uint32_t leaf, uint32_t subleaf,
                            const uint32_t regs[4])
{
    if (!vm || !regs)
        return HV_ERR_INVALID_ARG;
    uint64_t t = hv_lock_acquire(&vm->ctx->host, &vm->lock);
    hv_status_t st = HV_OK;
    uint32_t i;
    for (i = 0; i < vm->cpuid_count; i++) {
        if (vm->cpuid[i].leaf == leaf && vm->cpuid[i].subleaf == subleaf)
            break;
    }
    if (i == vm->cpuid_count) {
        if (i == HV_CPUID_OVERRIDES)
            st = HV_ERR_LIMIT;
        else
            vm->cpuid_count++;
    }
    if (st == HV_OK) {
        vm->cpuid[i].leaf = leaf;
        vm->cpuid[i].subleaf = subleaf;
        hv_memcpy(vm->cpuid[i].regs, regs, sizeof(vm->cpuid[i].regs));
        /* The guest's paging view (physical-address width, 1 GiB pages)
           may have changed: the vCPUs' walk memos (core/insn_fetch.c),
           filled under the old one, check the SLAT generation, advanced
           after the view (release: a walk that reads the new generation
           reads the new view). */
        hv_cpuid_paging_view_update(vm);
        if (vm->slat.root)
            hv_slat_gen_bump(&vm->slat);
    }
    hv_lock_release(&vm->ctx->host, &vm->lock, t);
    return st;
}
