/*
 * Offsets in struct hv_vcpu (core/objects.h) that the world-switch
 * assembly of both backends uses; core/vm.c checks them at compile time.
 */
#ifndef HV_CORE_VCPU_ASM_H
#define HV_CORE_VCPU_ASM_H

#define HV_VCPU_GUEST_EPOCH 128 /* after gpr[16] */
#define HV_VCPU_FLUSH_REQ   136

#endif /* HV_CORE_VCPU_ASM_H */
