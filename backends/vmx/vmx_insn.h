/*
 * VMX instructions and the few privileged x86 accesses the backend needs
 * (SDM Vol. 3C chapter 30). VMX instructions report failure in RFLAGS:
 * CF=1 "VMfailInvalid" (no current VMCS), ZF=1 "VMfailValid" (the error
 * number is in the VM-instruction error field). The wrappers return 0 on
 * success, 1 for VMfailInvalid, 2 for VMfailValid.
 */
#ifndef HV_VMX_INSN_H
#define HV_VMX_INSN_H

#include <stdint.h>

static inline int vmx_flags_status(uint8_t cf, uint8_t zf)
{
    return cf ? 1 : (zf ? 2 : 0);
}

static inline int vmx_vmxon(uint64_t hpa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxon %2; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf)
                     : "m"(hpa)
                     : "cc", "memory");
    return vmx_flags_status(cf, zf);
}

static inline void vmx_vmxoff(void)
{
    __asm__ volatile("vmxoff" ::: "cc", "memory");
}

static inline int vmx_vmclear(uint64_t hpa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmclear %2; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf)
                     : "m"(hpa)
                     : "cc", "memory");
    return vmx_flags_status(cf, zf);
}

static inline int vmx_vmptrld(uint64_t hpa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrld %2; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf)
                     : "m"(hpa)
                     : "cc", "memory");
    return vmx_flags_status(cf, zf);
}

/* The current-VMCS pointer of this CPU; all ones when none is current
   (SDM Vol. 3C, 2023 numbering: 31.3 VMPTRST). */
static inline uint64_t vmx_vmptrst(void)
{
    uint64_t hpa;
    __asm__ volatile("vmptrst %0" : "=m"(hpa)::"cc");
    return hpa;
}

static inline uint64_t vmx_read(uint32_t field)
{
    uint64_t v;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"((uint64_t)field) : "cc");
    return v;
}

static inline int vmx_write(uint32_t field, uint64_t value)
{
    uint8_t cf, zf;
    __asm__ volatile("vmwrite %3, %2; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf)
                     : "r"((uint64_t)field), "rm"(value)
                     : "cc", "memory");
    return vmx_flags_status(cf, zf);
}

/* VMWRITE without the status vmx_write() derives from RFLAGS, for fields
   of the current VMCS that exist on every VMX CPU (the guest-state area,
   SDM Vol. 3C 25.4; the VM-entry event fields, 25.8.3): the exit fast
   path's RIP and interruptibility, an injection's commit. */
static inline void vmx_write_nocheck(uint32_t field, uint64_t value)
{
    __asm__ volatile("vmwrite %1, %0" ::"r"((uint64_t)field), "rm"(value) : "cc", "memory");
}

/* INVEPT / INVVPID descriptors (SDM 30.3). */
static inline int vmx_invept(uint32_t type, uint64_t eptp)
{
    struct {
        uint64_t eptp, reserved;
    } desc = {eptp, 0};
    uint8_t cf, zf;
    __asm__ volatile("invept %2, %3; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf)
                     : "m"(desc), "r"((uint64_t)type)
                     : "cc", "memory");
    return vmx_flags_status(cf, zf);
}

static inline int vmx_invvpid(uint32_t type, uint16_t vpid, uint64_t gva)
{
    struct {
        uint64_t vpid, gva;
    } desc = {vpid, gva};
    uint8_t cf, zf;
    __asm__ volatile("invvpid %2, %3; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf)
                     : "m"(desc), "r"((uint64_t)type)
                     : "cc", "memory");
    return vmx_flags_status(cf, zf);
}

static inline uint64_t x86_read_cr0(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
static inline void x86_write_cr0(uint64_t v)
{
    __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory");
}
static inline uint64_t x86_read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

struct __attribute__((packed)) x86_dtr {
    uint16_t limit;
    uint64_t base;
};

static inline void x86_sgdt(struct x86_dtr *d)
{
    __asm__ volatile("sgdt %0" : "=m"(*d));
}
static inline void x86_sidt(struct x86_dtr *d)
{
    __asm__ volatile("sidt %0" : "=m"(*d));
}
static inline void x86_lgdt(const struct x86_dtr *d)
{
    __asm__ volatile("lgdt %0" ::"m"(*d));
}
static inline void x86_lidt(const struct x86_dtr *d)
{
    __asm__ volatile("lidt %0" ::"m"(*d));
}
static inline uint16_t x86_str(void)
{
    uint16_t v;
    __asm__ volatile("str %0" : "=r"(v));
    return v;
}
static inline void x86_ltr(uint16_t sel)
{
    __asm__ volatile("ltr %0" ::"r"(sel));
}

#define X86_READ_SEG(name)                                                                         \
    static inline uint16_t x86_read_##name(void)                                                   \
    {                                                                                              \
        uint16_t v;                                                                                \
        __asm__ volatile("mov %%" #name ", %0" : "=r"(v));                                         \
        return v;                                                                                  \
    }
X86_READ_SEG(cs)
X86_READ_SEG(ss)
X86_READ_SEG(ds)
X86_READ_SEG(es)
X86_READ_SEG(fs)
X86_READ_SEG(gs)
#undef X86_READ_SEG

/* Save RFLAGS and disable interrupts; restore them. */
static inline uint64_t x86_irq_save(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(f)::"memory");
    return f;
}
static inline void x86_irq_restore(uint64_t f)
{
    __asm__ volatile("pushq %0; popfq" ::"r"(f) : "memory", "cc");
}

#endif /* HV_VMX_INSN_H */
