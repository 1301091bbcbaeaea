/*
 * Offsets that svm_entry.S's svm_run reads, in the core's objects and the
 * backend's own; svm_run.c checks every one at compile time (offsetof),
 * so a layout change breaks the build, not the guest.
 */
#ifndef HV_SVM_SVM_ASM_H
#define HV_SVM_SVM_ASM_H

#include "core/vcpu_asm.h"

/* struct hv_vcpu (core/objects.h): gpr[] first, in enum hv_gpr order. */
#define HV_VCPU_RAX        0x00
#define HV_VCPU_RSP        0x20
#define HV_VCPU_VM         0x90
#define HV_VCPU_HOST_CPU   0x9c
#define HV_VCPU_KICK_PENDING 0xa0
#define HV_VCPU_EXIT_READY 0xb1
#define HV_VCPU_LOADED     0xb2
#define HV_VCPU_LOADED_CPU 0xb4
#define HV_VCPU_XCR0         0x510
#define HV_VCPU_ARCH         0x2b0

/* struct hv_vm, struct hv_ctx (core/objects.h), struct hv_host_ops. */
#define HV_VM_CTX               0x00
#define HV_VM_ARCH              0x438
#define HV_CTX_HOST_OPAQUE      0x08 /* host.ops.opaque */
#define HV_CTX_HOST_CPU_CURRENT 0x48 /* host.ops.cpu_current */
#define HV_CTX_ARCH             0xc0

/* struct svm_ctx, svm_cpu, svm_vm, svm_vcpu (svm.h). */
#define SVM_CTX_NCPUS         0x20
#define SVM_CTX_CPU           0x28
#define SVM_CPU_SIZE          40
#define SVM_CPU_HOST_AREA_PA  0x18
#define SVM_CPU_ENABLED       0x20
#define SVM_VM_LAST_ON        0x28
#define SVM_VCPU_VMCB         0x00
#define SVM_VCPU_VMCB_PA      0x08
#define SVM_VCPU_SERIAL       0x10
#define SVM_VCPU_IRET_PENDING 0x19
#define SVM_VCPU_HOST_XCR0    0x38

/* The VMCB's state save area at 400h (APM Vol. 2 Table B-2). */
#define VMCB_RSP 0x5d8
#define VMCB_RAX 0x5f8
#define VMCB_CR2 0x640

/* CR4 bits of the entry's checks (APM Vol. 2 3.1.3). */
#define SVM_ASM_CR4_OSXSAVE (1 << 18)

#endif /* HV_SVM_SVM_ASM_H */
