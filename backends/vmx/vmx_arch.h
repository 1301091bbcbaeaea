/*
 * Architectural constants of Intel VMX: MSR indices, VM-execution/exit/entry
 * control bits, VMCS field encodings, exit reasons and field layouts.
 * Everything here is a documented hardware fact; sections refer to the
 * Intel SDM Vol. 3C (chapters 24-30, appendices A-C).
 */
#ifndef HV_VMX_ARCH_H
#define HV_VMX_ARCH_H

#include <stdint.h>

/* ---- MSRs (SDM Vol. 4 table 2-2; Appendix A) ---- */
#define VMX_MSR_FEATURE_CONTROL     0x03au
#define VMX_MSR_SYSENTER_CS         0x174u
#define VMX_MSR_SYSENTER_ESP        0x175u
#define VMX_MSR_SYSENTER_EIP        0x176u
#define VMX_MSR_PAT                 0x277u
#define VMX_MSR_BASIC               0x480u
#define VMX_MSR_PINBASED_CTLS       0x481u
#define VMX_MSR_PROCBASED_CTLS      0x482u
#define VMX_MSR_EXIT_CTLS           0x483u
#define VMX_MSR_ENTRY_CTLS          0x484u
#define VMX_MSR_MISC                0x485u
#define VMX_MSR_CR0_FIXED0          0x486u
#define VMX_MSR_CR0_FIXED1          0x487u
#define VMX_MSR_CR4_FIXED0          0x488u
#define VMX_MSR_CR4_FIXED1          0x489u
#define VMX_MSR_VMCS_ENUM           0x48au
#define VMX_MSR_PROCBASED_CTLS2     0x48bu
#define VMX_MSR_EPT_VPID_CAP        0x48cu
#define VMX_MSR_TRUE_PINBASED_CTLS  0x48du
#define VMX_MSR_TRUE_PROCBASED_CTLS 0x48eu
#define VMX_MSR_TRUE_EXIT_CTLS      0x48fu
#define VMX_MSR_TRUE_ENTRY_CTLS     0x490u
#define VMX_MSR_EFER                0xc0000080u
#define VMX_MSR_STAR                0xc0000081u
#define VMX_MSR_LSTAR               0xc0000082u
#define VMX_MSR_CSTAR               0xc0000083u
#define VMX_MSR_SFMASK              0xc0000084u
#define VMX_MSR_FS_BASE             0xc0000100u
#define VMX_MSR_GS_BASE             0xc0000101u
#define VMX_MSR_KERNEL_GS_BASE      0xc0000102u

/* IA32_FEATURE_CONTROL (SDM Vol. 3C 23.7). */
#define VMX_FC_LOCK          (1ull << 0)
#define VMX_FC_VMXON_IN_SMX  (1ull << 1)
#define VMX_FC_VMXON_OUTSIDE (1ull << 2)

/* IA32_VMX_BASIC (SDM A.1). */
#define VMX_BASIC_REVISION(v)  ((uint32_t)(v)&0x7fffffffu)
#define VMX_BASIC_VMCS_SIZE(v) ((uint32_t)((v) >> 32) & 0x1fffu)
#define VMX_BASIC_ADDR32       (1ull << 48)
#define VMX_BASIC_MEMTYPE(v)   ((uint32_t)((v) >> 50) & 0xfu)
#define VMX_BASIC_INSOUTS_INFO (1ull << 54)
#define VMX_BASIC_TRUE_CTLS    (1ull << 55)
#define VMX_MEMTYPE_WB         6u

/* IA32_VMX_MISC (SDM A.6). */
#define VMX_MISC_TIMER_SHIFT(v) ((uint32_t)(v)&0x1fu)
#define VMX_MISC_SAVE_LMA       (1ull << 5)
#define VMX_MISC_ZERO_LEN_INJ   (1ull << 30)

/* IA32_VMX_EPT_VPID_CAP (SDM A.10). */
#define VMX_EPT_EXEC_ONLY       (1ull << 0)
#define VMX_EPT_WALK4           (1ull << 6)
#define VMX_EPT_UC              (1ull << 8)
#define VMX_EPT_WB              (1ull << 14)
#define VMX_EPT_2M              (1ull << 16)
#define VMX_EPT_1G              (1ull << 17)
#define VMX_EPT_INVEPT          (1ull << 20)
#define VMX_EPT_AD              (1ull << 21)
#define VMX_EPT_INVEPT_SINGLE   (1ull << 25)
#define VMX_EPT_INVEPT_ALL      (1ull << 26)
#define VMX_VPID_INVVPID        (1ull << 32)
#define VMX_VPID_INVVPID_ADDR   (1ull << 40)
#define VMX_VPID_INVVPID_SINGLE (1ull << 41)
#define VMX_VPID_INVVPID_ALL    (1ull << 42)

/* INVEPT / INVVPID types (SDM 30.3). */
#define VMX_INVEPT_SINGLE  1u
#define VMX_INVEPT_ALL     2u
#define VMX_INVVPID_ADDR   0u
#define VMX_INVVPID_SINGLE 1u
#define VMX_INVVPID_ALL    2u

/* EPTP (SDM 24.6.11). */
#define VMX_EPTP_WB    6ull
#define VMX_EPTP_WALK4 (3ull << 3)
#define VMX_EPTP_AD    (1ull << 6)

/* ---- Pin-based VM-execution controls (SDM 24.6.1) ---- */
#define VMX_PIN_EXTINT_EXIT (1u << 0)
#define VMX_PIN_NMI_EXIT    (1u << 3)
#define VMX_PIN_VIRT_NMI    (1u << 5)
#define VMX_PIN_PREEMPT     (1u << 6)

/* ---- Primary processor-based controls (SDM 24.6.2, table 24-6) ---- */
#define VMX_PROC_INTR_WINDOW (1u << 2)
#define VMX_PROC_TSC_OFFSET  (1u << 3)
#define VMX_PROC_HLT         (1u << 7)
#define VMX_PROC_INVLPG      (1u << 9)
#define VMX_PROC_MWAIT       (1u << 10)
#define VMX_PROC_RDPMC       (1u << 11)
#define VMX_PROC_RDTSC       (1u << 12)
#define VMX_PROC_CR3_LOAD    (1u << 15)
#define VMX_PROC_CR3_STORE   (1u << 16)
#define VMX_PROC_CR8_LOAD    (1u << 19)
#define VMX_PROC_CR8_STORE   (1u << 20)
#define VMX_PROC_TPR_SHADOW  (1u << 21)
#define VMX_PROC_NMI_WINDOW  (1u << 22)
#define VMX_PROC_MOV_DR      (1u << 23)
/* DR6 after RESET/INIT (SDM Vol. 3A 9.1.1, Table 9-1). */
#define VMX_DR6_INIT         0xffff0ff0ull
#define VMX_PROC_UNCOND_IO   (1u << 24)
#define VMX_PROC_IO_BITMAPS  (1u << 25)
#define VMX_PROC_MTF         (1u << 27)
#define VMX_PROC_MSR_BITMAPS (1u << 28)
#define VMX_PROC_MONITOR     (1u << 29)
#define VMX_PROC_PAUSE       (1u << 30)
#define VMX_PROC_SECONDARY   (1u << 31)

/* ---- Secondary processor-based controls (SDM 24.6.2, table 24-7) ---- */
#define VMX_PROC2_EPT       (1u << 1)
#define VMX_PROC2_DESC_EXIT (1u << 2)
#define VMX_PROC2_RDTSCP    (1u << 3)
#define VMX_PROC2_VPID      (1u << 5)
#define VMX_PROC2_WBINVD    (1u << 6)
#define VMX_PROC2_UG        (1u << 7)
#define VMX_PROC2_INVPCID   (1u << 12)

/* ---- VM-exit controls (SDM 24.7.1) ---- */
#define VMX_EXIT_SAVE_DEBUG (1u << 2)
#define VMX_EXIT_HOST_64    (1u << 9)
#define VMX_EXIT_ACK_INTR   (1u << 15)
#define VMX_EXIT_SAVE_PAT   (1u << 18)
#define VMX_EXIT_LOAD_PAT   (1u << 19)
#define VMX_EXIT_SAVE_EFER  (1u << 20)
#define VMX_EXIT_LOAD_EFER  (1u << 21)

/* ---- VM-entry controls (SDM 24.8.1) ---- */
#define VMX_ENTRY_LOAD_DEBUG (1u << 2)
#define VMX_ENTRY_IA32E      (1u << 9)
#define VMX_ENTRY_LOAD_PAT   (1u << 14)
#define VMX_ENTRY_LOAD_EFER  (1u << 15)

/* ---- VMCS field encodings (SDM Appendix B) ---- */
enum vmx_field {
    /* 16-bit */
    VMCS_VPID = 0x0000,
    VMCS_GUEST_ES_SEL = 0x0800, /* + 2 * enum hv_seg */
    VMCS_GUEST_TR_SEL = 0x080e,
    VMCS_HOST_ES_SEL = 0x0c00,
    VMCS_HOST_CS_SEL = 0x0c02,
    VMCS_HOST_SS_SEL = 0x0c04,
    VMCS_HOST_DS_SEL = 0x0c06,
    VMCS_HOST_FS_SEL = 0x0c08,
    VMCS_HOST_GS_SEL = 0x0c0a,
    VMCS_HOST_TR_SEL = 0x0c0c,
    /* 64-bit */
    VMCS_IO_BITMAP_A = 0x2000,
    VMCS_IO_BITMAP_B = 0x2002,
    VMCS_MSR_BITMAP = 0x2004,
    VMCS_EXIT_MSR_STORE_ADDR = 0x2006,
    VMCS_EXIT_MSR_LOAD_ADDR = 0x2008,
    VMCS_ENTRY_MSR_LOAD_ADDR = 0x200a,
    VMCS_TSC_OFFSET = 0x2010,
    VMCS_EPTP = 0x201a,
    VMCS_GUEST_PHYS_ADDR = 0x2400,
    VMCS_LINK_POINTER = 0x2800,
    VMCS_GUEST_DEBUGCTL = 0x2802,
    VMCS_GUEST_PAT = 0x2804,
    VMCS_GUEST_EFER = 0x2806,
    VMCS_GUEST_PDPTE0 = 0x280a, /* + 2 * n */
    VMCS_HOST_PAT = 0x2c00,
    VMCS_HOST_EFER = 0x2c02,
    /* 32-bit */
    VMCS_PIN_CTLS = 0x4000,
    VMCS_PROC_CTLS = 0x4002,
    VMCS_EXCEPTION_BITMAP = 0x4004,
    VMCS_PF_ERR_MASK = 0x4006,
    VMCS_PF_ERR_MATCH = 0x4008,
    VMCS_CR3_TARGET_COUNT = 0x400a,
    VMCS_EXIT_CTLS = 0x400c,
    VMCS_EXIT_MSR_STORE_COUNT = 0x400e,
    VMCS_EXIT_MSR_LOAD_COUNT = 0x4010,
    VMCS_ENTRY_CTLS = 0x4012,
    VMCS_ENTRY_MSR_LOAD_COUNT = 0x4014,
    VMCS_ENTRY_INTR_INFO = 0x4016,
    VMCS_ENTRY_EXC_ERROR = 0x4018,
    VMCS_ENTRY_INSN_LEN = 0x401a,
    VMCS_TPR_THRESHOLD = 0x401c,
    VMCS_PROC2_CTLS = 0x401e,
    VMCS_INSN_ERROR = 0x4400,
    VMCS_EXIT_REASON = 0x4402,
    VMCS_EXIT_INTR_INFO = 0x4404,
    VMCS_EXIT_INTR_ERROR = 0x4406,
    VMCS_IDT_VEC_INFO = 0x4408,
    VMCS_IDT_VEC_ERROR = 0x440a,
    VMCS_EXIT_INSN_LEN = 0x440c,
    VMCS_EXIT_INSN_INFO = 0x440e,
    VMCS_GUEST_ES_LIMIT = 0x4800, /* + 2 * enum hv_seg */
    VMCS_GUEST_GDTR_LIMIT = 0x4810,
    VMCS_GUEST_IDTR_LIMIT = 0x4812,
    VMCS_GUEST_ES_AR = 0x4814, /* + 2 * enum hv_seg */
    VMCS_GUEST_INTERRUPTIBILITY = 0x4824,
    VMCS_GUEST_ACTIVITY = 0x4826,
    VMCS_GUEST_SYSENTER_CS = 0x482a,
    VMCS_PREEMPT_TIMER = 0x482e,
    VMCS_HOST_SYSENTER_CS = 0x4c00,
    /* natural width */
    VMCS_CR0_MASK = 0x6000,
    VMCS_CR4_MASK = 0x6002,
    VMCS_CR0_SHADOW = 0x6004,
    VMCS_CR4_SHADOW = 0x6006,
    VMCS_EXIT_QUAL = 0x6400,
    VMCS_GUEST_LINEAR_ADDR = 0x640a,
    VMCS_GUEST_CR0 = 0x6800,
    VMCS_GUEST_CR3 = 0x6802,
    VMCS_GUEST_CR4 = 0x6804,
    VMCS_GUEST_ES_BASE = 0x6806, /* + 2 * enum hv_seg */
    VMCS_GUEST_GDTR_BASE = 0x6816,
    VMCS_GUEST_IDTR_BASE = 0x6818,
    VMCS_GUEST_DR7 = 0x681a,
    VMCS_GUEST_RSP = 0x681c,
    VMCS_GUEST_RIP = 0x681e,
    VMCS_GUEST_RFLAGS = 0x6820,
    VMCS_GUEST_PENDING_DBG = 0x6822,
    VMCS_GUEST_SYSENTER_ESP = 0x6824,
    VMCS_GUEST_SYSENTER_EIP = 0x6826,
    VMCS_HOST_CR0 = 0x6c00,
    VMCS_HOST_CR3 = 0x6c02,
    VMCS_HOST_CR4 = 0x6c04,
    VMCS_HOST_FS_BASE = 0x6c06,
    VMCS_HOST_GS_BASE = 0x6c08,
    VMCS_HOST_TR_BASE = 0x6c0a,
    VMCS_HOST_GDTR_BASE = 0x6c0c,
    VMCS_HOST_IDTR_BASE = 0x6c0e,
    VMCS_HOST_SYSENTER_ESP = 0x6c10,
    VMCS_HOST_SYSENTER_EIP = 0x6c12,
    VMCS_HOST_RSP = 0x6c14,
    VMCS_HOST_RIP = 0x6c16,
};

/* ---- Basic exit reasons (SDM Appendix C) ---- */
enum vmx_exit_reason {
    VMX_EXIT_EXC_NMI = 0,
    VMX_EXIT_EXTINT = 1,
    VMX_EXIT_TRIPLE_FAULT = 2,
    VMX_EXIT_INIT = 3,
    VMX_EXIT_SIPI = 4,
    VMX_EXIT_INTR_WINDOW = 7,
    VMX_EXIT_NMI_WINDOW = 8,
    VMX_EXIT_TASK_SWITCH = 9,
    VMX_EXIT_CPUID = 10,
    VMX_EXIT_GETSEC = 11,
    VMX_EXIT_HLT = 12,
    VMX_EXIT_INVD = 13,
    VMX_EXIT_INVLPG = 14,
    VMX_EXIT_RDPMC = 15,
    VMX_EXIT_RDTSC = 16,
    VMX_EXIT_RSM = 17,
    VMX_EXIT_VMCALL = 18,
    VMX_EXIT_VMCLEAR = 19,
    VMX_EXIT_VMXON = 27,
    VMX_EXIT_CR_ACCESS = 28,
    VMX_EXIT_DR_ACCESS = 29,
    VMX_EXIT_IO = 30,
    VMX_EXIT_RDMSR = 31,
    VMX_EXIT_WRMSR = 32,
    VMX_EXIT_BAD_GUEST_STATE = 33,
    VMX_EXIT_MSR_LOADING = 34,
    VMX_EXIT_MWAIT = 36,
    VMX_EXIT_MTF = 37,
    VMX_EXIT_MONITOR = 39,
    VMX_EXIT_PAUSE = 40,
    VMX_EXIT_MACHINE_CHECK = 41,
    VMX_EXIT_EPT_VIOLATION = 48,
    VMX_EXIT_EPT_MISCONFIG = 49,
    VMX_EXIT_INVEPT = 50,
    VMX_EXIT_RDTSCP = 51,
    VMX_EXIT_PREEMPT_TIMER = 52,
    VMX_EXIT_INVVPID = 53,
    VMX_EXIT_WBINVD = 54,
    VMX_EXIT_XSETBV = 55,
    VMX_EXIT_VMFUNC = 59,
};
#define VMX_EXIT_REASON_BASIC(r)   ((r)&0xffffu)
#define VMX_EXIT_REASON_ENTRY_FAIL (1u << 31)

/* Interruption-information format, shared by the VM-entry, VM-exit and
   IDT-vectoring fields (SDM 24.8.3, 24.9.2). */
#define VMX_INTR_VECTOR(v)     ((v)&0xffu)
#define VMX_INTR_TYPE(v)       (((v) >> 8) & 7u)
#define VMX_INTR_HAS_ERROR     (1u << 11)
#define VMX_INTR_NMI_UNBLOCK   (1u << 12)
#define VMX_INTR_VALID         (1u << 31)
#define VMX_INTR_TYPE_EXTINT   0u
#define VMX_INTR_TYPE_NMI      2u
#define VMX_INTR_TYPE_HW_EXC   3u
#define VMX_INTR_TYPE_SOFT_INT 4u
#define VMX_INTR_TYPE_PRIV_SW  5u
#define VMX_INTR_TYPE_SOFT_EXC 6u
/* A valid event of this type and vector (no error code). */
#define VMX_INTR_INFO(type, vector) (VMX_INTR_VALID | ((uint32_t)(type) << 8) | (vector))

/* Guest interruptibility state (SDM 24.4.2, table 24-3). */
#define VMX_INTERRUPT_STI   (1u << 0)
#define VMX_INTERRUPT_MOVSS (1u << 1)
#define VMX_INTERRUPT_SMI   (1u << 2)
#define VMX_INTERRUPT_NMI   (1u << 3)

/* Segment access rights as the VMCS stores them (SDM 24.4.1, table 24-2). */
#define VMX_AR_TYPE_MASK 0x000fu
#define VMX_AR_S         (1u << 4)
#define VMX_AR_DPL(ar)   (((ar) >> 5) & 3u)
#define VMX_AR_P         (1u << 7)
#define VMX_AR_AVL       (1u << 12)
#define VMX_AR_L         (1u << 13)
#define VMX_AR_DB        (1u << 14)
#define VMX_AR_G         (1u << 15)
#define VMX_AR_UNUSABLE  (1u << 16)
#define VMX_AR_RESERVED  0xfffe0f00u

/* Control registers and flags (SDM Vol. 3A 2.5). */
#define X86_CR0_PE       (1ull << 0)
#define X86_CR0_MP       (1ull << 1)
#define X86_CR0_ET       (1ull << 4)
#define X86_CR0_NE       (1ull << 5)
#define X86_CR0_WP       (1ull << 16)
#define X86_CR0_NW       (1ull << 29)
#define X86_CR0_CD       (1ull << 30)
#define X86_CR0_PG       (1ull << 31)
#define X86_CR4_PAE      (1ull << 5)
#define X86_CR4_VMXE     (1ull << 13)
#define X86_CR4_PCIDE    (1ull << 17)
#define X86_CR4_OSFXSR   (1ull << 9)
#define X86_CR4_OSXSAVE  (1ull << 18)
#define X86_CR4_PKE      (1ull << 22)
#define X86_EFER_SCE     (1ull << 0)
#define X86_EFER_LME     (1ull << 8)
#define X86_EFER_LMA     (1ull << 10)
#define X86_EFER_NXE     (1ull << 11)
#define X86_RFLAGS_FIXED (1ull << 1)
#define X86_RFLAGS_TF    (1ull << 8)
#define X86_RFLAGS_IF    (1ull << 9)
#define X86_RFLAGS_VM    (1ull << 17)
/* Pending debug exceptions field, BS: a single-step trap is pending
   (SDM Vol. 3C 25.4.2, table 25-4). */
#define VMX_PENDING_DBG_BS (1ull << 14)
/* Bits 3, 5, 15 and 22-63 of RFLAGS are reserved (must be 0). */
#define X86_RFLAGS_RESERVED (0xffffffffffc08028ull)

#endif /* HV_VMX_ARCH_H */
