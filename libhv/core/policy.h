/* CPUID and MSR policy: what a guest sees when it probes the CPU. */
#ifndef HV_CORE_POLICY_H
#define HV_CORE_POLICY_H

#include <stdint.h>
#include <hv/status.h>

struct hv_vcpu;

/* The values CPUID(leaf, subleaf) returns to this vCPU. */
void hv_cpuid_policy(struct hv_vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* RDMSR/WRMSR: HV_OK, or HV_ERR_GUEST_FAULT when the guest gets #GP(0). */
hv_status_t hv_msr_read(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value);
hv_status_t hv_msr_write(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value);

#endif /* HV_CORE_POLICY_H */
