/*
 * What the backends' exit fast paths (backends/svm/svm_fast.c) may call:
 * pieces of the core's run loop that need neither the embedder nor a
 * wait for another CPU.
 */
#ifndef HV_CORE_FAST_H
#define HV_CORE_FAST_H

struct hv_vcpu;

/*
 * The run loop's event delivery before an entry (core/run.c): queued
 * events into the injection field or a window requested, the PV layer's
 * upcalls raised, vcpu->quiet recomputed.
 */
void hv_deliver_events(struct hv_vcpu *vcpu);

/*
 * An NPF the MMIO assist may finish without the full path: a fault in a
 * registered region (the caller checked hv_assist_claims; not present,
 * not spurious) whose instruction the
 * assist's fast path carries out. HV_FAST_DONE: the handler ran, RIP
 * advanced; HV_FAST_EXIT: vcpu->run_exit is filled for the embedder and
 * vcpu->exit_ready set; HV_FAST_NONE: nothing done. Only vx's rip, npf.gpa,
 * npf.present, npf.access, npf.insn/insn_count and raw_code are read. The
 * guest's RAX and RSP must be in vcpu->gpr.
 */
struct hv_vexit;
int hv_fast_npf(struct hv_vcpu *vcpu, const struct hv_vexit *vx);

/*
 * A port I/O exit for the embedder (vx decoded as for the full path: kind,
 * rip, the raw fields, io.*, next_rip or insn_len; not a string
 * instruction): vcpu->run_exit filled, the instruction's completion
 * deferred to the next hv_vcpu_run(), vcpu->exit_ready set. The guest's
 * RAX must be in vcpu->gpr.
 */
void hv_fast_io(struct hv_vcpu *vcpu, const struct hv_vexit *vx);

#endif /* HV_CORE_FAST_H */
