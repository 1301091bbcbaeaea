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

#endif /* HV_CORE_FAST_H */
