/*
 * What the backends' exit fast paths (backends/svm/svm_fast.c) may call:
 * pieces of the core's run loop that need neither the embedder nor a
 * wait for another CPU.
 */
#ifndef HV_CORE_FAST_H
#define HV_CORE_FAST_H

#include <stddef.h>
#include "backend.h"
#include "core/assist.h"
#include "core/cpu.h"
#include "core/objects.h"
#include "core/pio.h"
#include "core/util.h"

/*
 * The run loop's event delivery before an entry (core/run.c): queued
 * events into the injection field or a window requested, the PV layer's
 * upcalls raised, vcpu->quiet recomputed.
 */
void hv_deliver_events(struct hv_vcpu *vcpu);

/*
 * The vCPU is quiet now (objects.h HV_QUIET_*): nothing is due before its
 * next exit, so an exit fast path may finish the exit and re-enter. With
 * the local APIC's timer armed, until the host TSC reaches its expiry;
 * from then the full path's delivery fires it. The common case first: one
 * compare, as for a plain flag.
 */
static inline __attribute__((always_inline)) bool hv_quiet_now(const struct hv_vcpu *vcpu)
{
    uint8_t q = __atomic_load_n(&vcpu->quiet, __ATOMIC_RELAXED);
    if (__builtin_expect(q == HV_QUIET, 1))
        return true;
    return q == HV_QUIET_UNTIL && (int64_t)(vcpu->quiet_until - hv_rdtsc()) > 0;
}

/*
 * No #DB trap, exception or NMI is queued, which an interrupt would have
 * to wait behind (queued_nmi and step_db adjacent: one 16-bit test). The
 * run loop's delivery (core/run.c inject_queued) decides by it.
 */
static inline bool hv_irq_may_go_first(const struct hv_vcpu *vcpu)
{
    return !hv_flag_pair(&vcpu->queued_nmi) && vcpu->queued_exc.type == HV_EVENT_NONE;
}

/*
 * An event is queued or the vCPU has a local APIC: the run loop's
 * delivery has work (core/run.c deliver_events' one test), and an
 * interrupt cannot go straight in (hv_fast_inject_irq).
 */
_Static_assert(offsetof(struct hv_vcpu, step_db) == offsetof(struct hv_vcpu, queued_nmi) + 1 &&
                   offsetof(struct hv_vcpu, lapic_on) == offsetof(struct hv_vcpu, step_db) + 1,
               "queued_nmi, step_db, lapic_on adjacent: GCC tests them with one load");
static inline bool hv_events_or_lapic(const struct hv_vcpu *vcpu)
{
    /* queued_nmi, step_db, lapic_on first: adjacent (objects.h), one test. */
    return vcpu->queued_nmi || vcpu->step_db || vcpu->lapic_on ||
           vcpu->queued_exc.type != HV_EVENT_NONE || vcpu->queued_irq.type != HV_EVENT_NONE;
}

/*
 * An interrupt the PV layer raises for the vCPU whose exit the fast path
 * finishes (hv_pv_ops::hypercall_fast), straight into the backend's
 * injection (backend.h inject_irq) when the run loop's delivery would do
 * just that: nothing queued before or beside it (no #DB trap, exception,
 * NMI or interrupt) and no local APIC, whose turn would come next. True:
 * injected, and nothing is left for the delivery (the vCPU stays quiet).
 * False: not injected (the backend may have opened the interrupt window);
 * the caller queues it in vcpu->queued_irq and asks for the delivery.
 */
static inline bool hv_fast_inject_irq(struct hv_vcpu *vcpu, uint8_t vector)
{
    if (hv_events_or_lapic(vcpu))
        return false;
    return vcpu->vm->ctx->be->inject_irq(vcpu, vector);
}

/*
 * A fault on a translation that is valid now (another CPU mapped it, or
 * the CPU walked a table retired before its flush) is spurious: the access
 * is retried. HV_ACCESS_* equal HV_MEM_* bits. (The dispatcher and
 * hv_fast_npf.)
 */
static inline bool hv_npf_spurious(struct hv_vcpu *vcpu, const struct hv_vexit *vx)
{
    uint64_t hpa;
    return hv_slat_translate(&vcpu->vm->slat, vx->npf.gpa, vx->npf.access & HV_MEM_RWX, &hpa) ==
           HV_OK;
}

/*
 * The registered MMIO region that holds gpa (the vCPU's last one tried
 * first), NULL if none: a nested page fault elsewhere is not the fast
 * path's, and the backend leaves it before decoding anything. The
 * per-vCPU region (the local APIC's page) is found only when it has a
 * fast-path handler (core/assist.h hv_assist_register_vcpu).
 */
static inline __attribute__((always_inline)) const struct mmio_region *
hv_fast_mmio_region(struct hv_vcpu *vcpu, uint64_t gpa)
{
    /* A guest driving a device faults in its region again and again. */
    const struct hv_assist_vm *av = vcpu->vm->assist;
    if (!av)
        return NULL;
    uint32_t hint = vcpu->mmio_hint;
    if (hint < av->count && hv_mmio_region_holds(&av->regions[hint], gpa))
        return &av->regions[hint];
    return hv_assist_region_scan(vcpu, gpa);
}

/*
 * An NPF the MMIO assist may finish without the full path: a fault in
 * region rg (hv_fast_mmio_region of npf.gpa), not present, not spurious,
 * whose instruction the assist's fast path carries out (core/assist.h
 * hv_assist_fast, with the guest's registers fr, which the backend reads
 * from its control block). HV_FAST_DONE: the handler ran; the backend
 * resumes the guest at *resume (RIP not moved yet; the fast paths leave a
 * guest with RFLAGS.TF set to the full path, so no step trap is due);
 * HV_FAST_DONE_EVENTS: the same in the per-vCPU region, whose handler
 * changed what the event delivery decides: the backend runs
 * hv_deliver_events() after moving RIP, before the re-entry;
 * HV_FAST_EXIT: vcpu->run_exit is filled for the embedder and
 * vcpu->exit_ready set; HV_FAST_NONE: nothing done. Only vx's rip, npf.gpa,
 * npf.present, npf.access, npf.insn/insn_count and raw_code are read. The
 * guest's RAX and RSP must be in vcpu->gpr.
 */
struct hv_vexit;
struct hv_fetch_regs;
int hv_fast_npf(struct hv_vcpu *vcpu, const struct hv_vexit *vx, const struct mmio_region *rg,
                const struct hv_fetch_regs *fr, uint64_t *resume);

/*
 * A port I/O exit for the embedder, not a string one (the assist runs
 * those): the header and hv_exit::io written whole (the record is not
 * cleared first), the instruction's completion deferred to the next
 * hv_vcpu_run() (OUT: RIP to next_rip; IN: RAX from io.data, then RIP).
 * Inline: the core's dispatcher and both backends' exit fast paths fill
 * it with what they decoded, without an intermediate record. raw_* are
 * the backend's exit code and information for the embedder; rax the
 * guest's RAX (OUT's data). The completion's single-step trap is the
 * caller's: the dispatcher notes it (core/run.c note_step), the fast paths
 * leave exits of a guest with RFLAGS.TF set to the dispatcher.
 */
static inline __attribute__((always_inline)) void
hv_io_exit(struct hv_vcpu *vcpu, struct hv_exit *exit, uint16_t port, uint8_t size, bool write,
           uint64_t rip, uint64_t next_rip, uint64_t rax, uint64_t raw_code, uint64_t raw_info1,
           uint64_t raw_info2)
{
    exit->reason = HV_EXIT_IO;
    exit->reserved = 0;
    exit->raw_code = raw_code;
    exit->raw_info1 = raw_info1;
    exit->raw_info2 = raw_info2;
    exit->rip = rip;
    exit->io.port = port;
    exit->io.size = size;
    exit->io.write = write;
    exit->io.reserved = 0;
    vcpu->completion_rip = next_rip;
    if (write) {
        exit->io.data = hv_pio_out_data(rax, size);
        vcpu->completion = HV_COMPLETE_ADVANCE;
    } else {
        exit->io.data = 0;
        vcpu->completion_size = size;
        vcpu->completion = HV_COMPLETE_IO_IN;
    }
}

#endif /* HV_CORE_FAST_H */
