/*
 * The AMD Virtual Machine Control Block (APM Vol. 2 Appendix B), exit codes
 * (Appendix C) and the bits of the fields the SVM backend uses.
 *
 * The layout is pinned with static asserts against the offsets in Appendix
 * B (tables B-1 control area, B-2 state save area); tests/unit/test_svm_vmcb.c
 * checks them again in the hosted build.
 */
#ifndef HV_SVM_VMCB_H
#define HV_SVM_VMCB_H

#include <stddef.h>
#include <stdint.h>

/* A segment in the state save area (APM Vol. 2 15.5.1, Table B-2). The
   attribute word packs descriptor bits 47:40 (type, S, DPL, P) into bits
   7:0 and bits 55:52 (AVL, L, D/B, G) into bits 11:8. */
struct vmcb_seg {
    uint16_t selector;
    uint16_t attrib;
    uint32_t limit; /* expanded byte limit */
    uint64_t base;
};

/* Control area, offsets 0x000-0x3ff (Table B-1). */
struct vmcb_control {
    uint32_t intercept_cr;    /* 0x000: bits 15:0 reads, 31:16 writes of CR0-15 */
    uint32_t intercept_dr;    /* 0x004: bits 15:0 reads, 31:16 writes of DR0-15 */
    uint32_t intercept_exc;   /* 0x008: one bit per exception vector */
    uint32_t intercept_misc1; /* 0x00c: SVM_I1_* */
    uint32_t intercept_misc2; /* 0x010: SVM_I2_* */
    uint32_t intercept_misc3; /* 0x014 */
    uint8_t reserved_018[0x03c - 0x018];
    uint16_t pause_filter_thresh; /* 0x03c */
    uint16_t pause_filter_count;  /* 0x03e */
    uint64_t iopm_base_pa;        /* 0x040 */
    uint64_t msrpm_base_pa;       /* 0x048 */
    uint64_t tsc_offset;          /* 0x050 */
    uint32_t asid;                /* 0x058 */
    uint8_t tlb_control;          /* 0x05c: SVM_TLB_* */
    uint8_t reserved_05d[3];
    uint64_t vintr;         /* 0x060: SVM_VINTR_* */
    uint64_t int_state;     /* 0x068: bit 0 interrupt shadow, bit 1 guest IF (vGIF) */
    uint64_t exitcode;      /* 0x070 */
    uint64_t exitinfo1;     /* 0x078 */
    uint64_t exitinfo2;     /* 0x080 */
    uint64_t exitintinfo;   /* 0x088: SVM_EVT_* format */
    uint64_t np_control;    /* 0x090: bit 0 NP_ENABLE */
    uint64_t avic_apic_bar; /* 0x098 */
    uint64_t ghcb_gpa;      /* 0x0a0 */
    uint64_t eventinj;      /* 0x0a8: SVM_EVT_* format */
    uint64_t n_cr3;         /* 0x0b0 */
    uint64_t virt_ext;      /* 0x0b8: LBR virtualization, virtual VMLOAD/VMSAVE */
    uint32_t clean;         /* 0x0c0: VMCB clean bits */
    uint32_t reserved_0c4;
    uint64_t nrip;          /* 0x0c8: next RIP (NRIP save) */
    uint8_t insn_len;       /* 0x0d0: bytes fetched (decode assists) */
    uint8_t insn_bytes[15]; /* 0x0d1 */
    uint8_t reserved_0e0[0x400 - 0x0e0];
};

/* State save area, offsets 0x400-0xfff (Table B-2, offsets relative to 0x400). */
struct vmcb_save {
    struct vmcb_seg es, cs, ss, ds, fs, gs; /* 0x000-0x05f */
    struct vmcb_seg gdtr;                   /* 0x060: only limit and base used */
    struct vmcb_seg ldtr;                   /* 0x070 */
    struct vmcb_seg idtr;                   /* 0x080: only limit and base used */
    struct vmcb_seg tr;                     /* 0x090 */
    uint8_t reserved_0a0[0x0cb - 0x0a0];
    uint8_t cpl; /* 0x0cb */
    uint32_t reserved_0cc;
    uint64_t efer; /* 0x0d0 */
    uint8_t reserved_0d8[0x148 - 0x0d8];
    uint64_t cr4;    /* 0x148 */
    uint64_t cr3;    /* 0x150 */
    uint64_t cr0;    /* 0x158 */
    uint64_t dr7;    /* 0x160 */
    uint64_t dr6;    /* 0x168 */
    uint64_t rflags; /* 0x170 */
    uint64_t rip;    /* 0x178 */
    uint8_t reserved_180[0x1d8 - 0x180];
    uint64_t rsp;            /* 0x1d8 */
    uint64_t s_cet;          /* 0x1e0 */
    uint64_t ssp;            /* 0x1e8 */
    uint64_t isst_addr;      /* 0x1f0 */
    uint64_t rax;            /* 0x1f8 */
    uint64_t star;           /* 0x200 */
    uint64_t lstar;          /* 0x208 */
    uint64_t cstar;          /* 0x210 */
    uint64_t sfmask;         /* 0x218 */
    uint64_t kernel_gs_base; /* 0x220 */
    uint64_t sysenter_cs;    /* 0x228 */
    uint64_t sysenter_esp;   /* 0x230 */
    uint64_t sysenter_eip;   /* 0x238 */
    uint64_t cr2;            /* 0x240 */
    uint8_t reserved_248[0x268 - 0x248];
    uint64_t g_pat;          /* 0x268 */
    uint64_t dbgctl;         /* 0x270 */
    uint64_t br_from;        /* 0x278 */
    uint64_t br_to;          /* 0x280 */
    uint64_t last_excp_from; /* 0x288 */
    uint64_t last_excp_to;   /* 0x290 */
    uint8_t reserved_298[0xc00 - 0x298];
};

struct vmcb {
    struct vmcb_control ctl;
    struct vmcb_save save;
};

_Static_assert(sizeof(struct vmcb) == 4096, "VMCB is one page (APM B)");
_Static_assert(offsetof(struct vmcb_control, pause_filter_count) == 0x03e, "B-1");
_Static_assert(offsetof(struct vmcb_control, iopm_base_pa) == 0x040, "B-1");
_Static_assert(offsetof(struct vmcb_control, tsc_offset) == 0x050, "B-1");
_Static_assert(offsetof(struct vmcb_control, asid) == 0x058, "B-1");
_Static_assert(offsetof(struct vmcb_control, tlb_control) == 0x05c, "B-1");
_Static_assert(offsetof(struct vmcb_control, vintr) == 0x060, "B-1");
_Static_assert(offsetof(struct vmcb_control, exitcode) == 0x070, "B-1");
_Static_assert(offsetof(struct vmcb_control, exitintinfo) == 0x088, "B-1");
_Static_assert(offsetof(struct vmcb_control, np_control) == 0x090, "B-1");
_Static_assert(offsetof(struct vmcb_control, eventinj) == 0x0a8, "B-1");
_Static_assert(offsetof(struct vmcb_control, n_cr3) == 0x0b0, "B-1");
_Static_assert(offsetof(struct vmcb_control, clean) == 0x0c0, "B-1");
_Static_assert(offsetof(struct vmcb_control, nrip) == 0x0c8, "B-1");
_Static_assert(offsetof(struct vmcb_control, insn_len) == 0x0d0, "B-1");
_Static_assert(offsetof(struct vmcb_control, insn_bytes) == 0x0d1, "B-1");
_Static_assert(offsetof(struct vmcb, save) == 0x400, "B-2 starts at 0x400");
_Static_assert(offsetof(struct vmcb_save, tr) == 0x090, "B-2");
_Static_assert(offsetof(struct vmcb_save, cpl) == 0x0cb, "B-2");
_Static_assert(offsetof(struct vmcb_save, efer) == 0x0d0, "B-2");
_Static_assert(offsetof(struct vmcb_save, cr4) == 0x148, "B-2");
_Static_assert(offsetof(struct vmcb_save, rip) == 0x178, "B-2");
_Static_assert(offsetof(struct vmcb_save, rsp) == 0x1d8, "B-2");
_Static_assert(offsetof(struct vmcb_save, rax) == 0x1f8, "B-2");
_Static_assert(offsetof(struct vmcb_save, star) == 0x200, "B-2");
_Static_assert(offsetof(struct vmcb_save, sysenter_eip) == 0x238, "B-2");
_Static_assert(offsetof(struct vmcb_save, cr2) == 0x240, "B-2");
_Static_assert(offsetof(struct vmcb_save, g_pat) == 0x268, "B-2");

/* Intercept vector 3 (offset 0x00c), APM Table B-1. */
#define SVM_I1_INTR      (1u << 0)
#define SVM_I1_NMI       (1u << 1)
#define SVM_I1_SMI       (1u << 2)
#define SVM_I1_INIT      (1u << 3)
#define SVM_I1_VINTR     (1u << 4)
#define SVM_I1_CR0_SEL   (1u << 5)
#define SVM_I1_RDTSC     (1u << 14)
#define SVM_I1_RDPMC     (1u << 15)
#define SVM_I1_CPUID     (1u << 18)
#define SVM_I1_RSM       (1u << 19)
#define SVM_I1_IRET      (1u << 20)
#define SVM_I1_INTN      (1u << 21)
#define SVM_I1_INVD      (1u << 22)
#define SVM_I1_PAUSE     (1u << 23)
#define SVM_I1_HLT       (1u << 24)
#define SVM_I1_INVLPG    (1u << 25)
#define SVM_I1_INVLPGA   (1u << 26)
#define SVM_I1_IOIO_PROT (1u << 27)
#define SVM_I1_MSR_PROT  (1u << 28)
#define SVM_I1_TASK_SW   (1u << 29)
#define SVM_I1_FERR      (1u << 30)
#define SVM_I1_SHUTDOWN  (1u << 31)

/* Intercept vector 4 (offset 0x010). */
#define SVM_I2_VMRUN   (1u << 0)
#define SVM_I2_VMMCALL (1u << 1)
#define SVM_I2_VMLOAD  (1u << 2)
#define SVM_I2_VMSAVE  (1u << 3)
#define SVM_I2_STGI    (1u << 4)
#define SVM_I2_CLGI    (1u << 5)
#define SVM_I2_SKINIT  (1u << 6)
#define SVM_I2_RDTSCP  (1u << 7)
#define SVM_I2_ICEBP   (1u << 8)
#define SVM_I2_WBINVD  (1u << 9)
#define SVM_I2_MONITOR (1u << 10)
#define SVM_I2_MWAIT   (1u << 11)
#define SVM_I2_XSETBV  (1u << 13)

/* intercept_cr (15.9): reads (bits 15:0) and writes (31:16) of CR0-CR15. */
#define SVM_CR4_WRITE_INTERCEPT (1u << 20)
/* EXITINFO1 of a CR access with decode assists (15.33.1): a MOV CRx, and
   its GPR. */
#define SVM_CR_INFO_MOV (1ull << 63)
#define SVM_CR_INFO_GPR 0xfull

/* intercept_dr (15.11): reads (bits 3:0) and writes (19:16) of DR0-DR3. */
#define SVM_DR0_3_INTERCEPTS 0x000f000fu

/* TLB_CONTROL (offset 0x05c), APM 15.16.2. */
#define SVM_TLB_NONE 0u
#define SVM_TLB_ALL  1u /* flush every ASID's entries */
#define SVM_TLB_ASID 3u /* flush this guest's ASID (needs flush-by-ASID) */

/* VINTR (offset 0x060), APM 15.21.4. */
#define SVM_VINTR_TPR_MASK     0xffull
#define SVM_VINTR_IRQ          (1ull << 8)
#define SVM_VINTR_PRIO_SHIFT   16
#define SVM_VINTR_IGN_TPR      (1ull << 20)
#define SVM_VINTR_MASKING      (1ull << 24)
#define SVM_VINTR_VECTOR_SHIFT 32

#define SVM_INT_SHADOW 1ull /* int_state bit 0 */
#define SVM_NP_ENABLE  1ull /* np_control bit 0 */

/* EVENTINJ / EXITINTINFO format, APM 15.20. */
#define SVM_EVT_VECTOR_MASK 0xffull
#define SVM_EVT_TYPE_SHIFT  8
#define SVM_EVT_TYPE_MASK   (7ull << SVM_EVT_TYPE_SHIFT)
#define SVM_EVT_TYPE_INTR   0ull
#define SVM_EVT_TYPE_NMI    2ull
#define SVM_EVT_TYPE_EXC    3ull
#define SVM_EVT_TYPE_SOFT   4ull
#define SVM_EVT_EV          (1ull << 11) /* error code valid */
#define SVM_EVT_V           (1ull << 31) /* valid */
#define SVM_EVT_ERR_SHIFT   32

/* IOIO EXITINFO1, APM 15.10.2 (Figure 15-2). */
#define SVM_IO_IN         (1ull << 0)
#define SVM_IO_STR        (1ull << 2)
#define SVM_IO_REP        (1ull << 3)
#define SVM_IO_SZ8        (1ull << 4)
#define SVM_IO_SZ16       (1ull << 5)
#define SVM_IO_SZ32       (1ull << 6)
#define SVM_IO_A16        (1ull << 7)
#define SVM_IO_A32        (1ull << 8)
#define SVM_IO_A64        (1ull << 9)
#define SVM_IO_SEG_SHIFT  10
#define SVM_IO_SEG_MASK   (7ull << SVM_IO_SEG_SHIFT)
#define SVM_IO_PORT_SHIFT 16

/* Nested page fault EXITINFO1, APM 15.25.6. */
#define SVM_NPF_P     (1ull << 0)
#define SVM_NPF_RW    (1ull << 1)
#define SVM_NPF_US    (1ull << 2)
#define SVM_NPF_RSV   (1ull << 3)
#define SVM_NPF_ID    (1ull << 4)
#define SVM_NPF_FINAL (1ull << 32) /* fault on the final guest-physical address */
#define SVM_NPF_WALK  (1ull << 33) /* fault on a guest page-table access */

/* Exit codes, APM Appendix C (Table C-1). */
#define SVM_EXIT_CR0_READ  0x000u
#define SVM_EXIT_CR0_WRITE 0x010u
#define SVM_EXIT_CR4_WRITE 0x014u
#define SVM_EXIT_DR0_READ  0x020u /* + n: MOV from DRn */
#define SVM_EXIT_DR0_WRITE 0x030u /* + n: MOV to DRn */
#define SVM_EXIT_EXCP_BASE 0x040u
#define SVM_EXIT_INTR      0x060u
#define SVM_EXIT_NMI       0x061u
#define SVM_EXIT_SMI       0x062u
#define SVM_EXIT_INIT      0x063u
#define SVM_EXIT_VINTR     0x064u
#define SVM_EXIT_RDTSC     0x06eu
#define SVM_EXIT_CPUID     0x072u
#define SVM_EXIT_IRET      0x074u
#define SVM_EXIT_INVD      0x076u
#define SVM_EXIT_PAUSE     0x077u
#define SVM_EXIT_HLT       0x078u
#define SVM_EXIT_INVLPGA   0x07au
#define SVM_EXIT_IOIO      0x07bu
#define SVM_EXIT_MSR       0x07cu
#define SVM_EXIT_TASK_SW   0x07du
#define SVM_EXIT_SHUTDOWN  0x07fu
#define SVM_EXIT_VMRUN     0x080u
#define SVM_EXIT_VMMCALL   0x081u
#define SVM_EXIT_VMLOAD    0x082u
#define SVM_EXIT_VMSAVE    0x083u
#define SVM_EXIT_STGI      0x084u
#define SVM_EXIT_CLGI      0x085u
#define SVM_EXIT_SKINIT    0x086u
#define SVM_EXIT_XSETBV    0x08du
#define SVM_EXIT_NPF       0x400u
/* The exit code field is 64 bits but VMRUN failure writes -1 into it and
   some implementations only 32 bits of it (PLATFORM.md): compare the low
   32 bits. */
#define SVM_EXIT_INVALID 0xffffffffu

/* Exception vectors the backend names. */
#define SVM_VEC_DB 1u
#define SVM_VEC_BP 3u
#define SVM_VEC_OF 4u
#define SVM_VEC_UD 6u
#define SVM_VEC_GP 13u
#define SVM_VEC_AC 17u

#endif /* HV_SVM_VMCB_H */
