/*
 * ASIDs (APM Vol. 2 15.16). Each VM gets one ASID from a per-context pool;
 * guest TLB entries are tagged with it. The rule that keeps a recycled or
 * shared ASID from exposing stale translations:
 *
 *   every VM remembers, per host CPU, the serial number of the vCPU that
 *   last entered that CPU with the VM's ASID (0 = unknown). An entry whose
 *   slot does not hold its own serial flushes first (TLB_CONTROL).
 *
 * A new VM starts with every slot 0, so a recycled ASID is flushed on each
 * CPU before its new owner runs there; two vCPUs of one VM alternating on a
 * CPU flush at each switch (they have different guest page tables); a SLAT
 * change sets every slot to 0 (svm_asid_forget_all).
 */
#include "svm/svm.h"
#include "core/util.h"

/* Real CPUs report up to 32768 ASIDs; more than enough VMs for anyone. */
#define SVM_ASID_MAX 65536u

hv_status_t svm_asid_pool_init(struct svm_asid_pool *p, const struct hv_host *host, uint32_t count)
{
    if (count < 2)
        return HV_ERR_UNSUPPORTED;
    if (count > SVM_ASID_MAX)
        count = SVM_ASID_MAX;
    p->count = count;
    p->words = (count + 63) / 64;
    p->bitmap = hv_host_obj_alloc(host, p->words * sizeof(uint64_t));
    if (!p->bitmap)
        return HV_ERR_NO_MEMORY;
    p->bitmap[0] = 1; /* ASID 0 belongs to the host (VMRUN refuses it) */
    p->lock.held = 0;
    return HV_OK;
}

void svm_asid_pool_fini(struct svm_asid_pool *p, const struct hv_host *host)
{
    hv_host_obj_free(host, p->bitmap, p->words * sizeof(uint64_t));
    p->bitmap = NULL;
}

/* Returns a free ASID, or 0 when all are in use. */
uint32_t svm_asid_alloc(struct svm_asid_pool *p, const struct hv_host *host)
{
    uint32_t asid = 0;
    uint64_t tok = hv_lock_acquire(host, &p->lock);

    for (uint32_t w = 0; w < p->words && !asid; w++) {
        uint64_t free = ~p->bitmap[w];
        if (!free)
            continue;
        uint32_t a = w * 64 + (uint32_t)__builtin_ctzll(free);
        if (a < p->count) {
            p->bitmap[w] |= 1ull << (a % 64);
            asid = a;
        }
    }
    hv_lock_release(host, &p->lock, tok);
    return asid;
}

void svm_asid_free(struct svm_asid_pool *p, const struct hv_host *host, uint32_t asid)
{
    if (asid == 0 || asid >= p->count)
        return;
    uint64_t tok = hv_lock_acquire(host, &p->lock);
    p->bitmap[asid / 64] &= ~(1ull << (asid % 64));
    hv_lock_release(host, &p->lock, tok);
}

/* TLB_CONTROL for an entry of vCPU @p serial with its VM's slot for this CPU. */
uint8_t svm_asid_tlb_control(uint64_t *last_on_slot, uint64_t serial, bool flush_by_asid)
{
    if (__atomic_load_n(last_on_slot, __ATOMIC_ACQUIRE) == serial)
        return SVM_TLB_NONE;
    __atomic_store_n(last_on_slot, serial, __ATOMIC_RELEASE);
    return flush_by_asid ? SVM_TLB_ASID : SVM_TLB_ALL;
}

void svm_asid_forget_all(uint64_t *last_on, uint32_t ncpus)
{
    for (uint32_t i = 0; i < ncpus; i++)
        __atomic_store_n(&last_on[i], 0, __ATOMIC_RELEASE);
}
