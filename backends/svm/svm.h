/*
 * Private data of the SVM backend: what it hangs off the core objects'
 * `arch` pointers, and the helpers its files share. Nothing outside
 * backends/svm/ includes this header.
 */
#ifndef HV_SVM_SVM_H
#define HV_SVM_SVM_H

#include <stdbool.h>
#include <stdint.h>
#include "backend.h"
#include "core/objects.h"
#include "svm/vmcb.h"

/* MSRs (APM Vol. 2 15.30, Vol. 3 Appendix A). */
#define MSR_EFER        0xc0000080u
#define MSR_VM_CR       0xc0010114u
#define MSR_VM_HSAVE_PA 0xc0010117u
#define VM_CR_SVMDIS    (1ull << 4)

/* EFER bits (APM Vol. 2 3.1.7). */
#define EFER_SCE   (1ull << 0)
#define EFER_LME   (1ull << 8)
#define EFER_LMA   (1ull << 10)
#define EFER_NXE   (1ull << 11)
#define EFER_SVME  (1ull << 12)
#define EFER_LMSLE (1ull << 13)
#define EFER_FFXSR (1ull << 14)
#define EFER_TCE   (1ull << 15)

/* CR0 / CR4 / RFLAGS bits used in checks. */
#define CR0_PE    (1ull << 0)
#define CR0_NW    (1ull << 29)
#define CR0_CD    (1ull << 30)
#define CR0_PG    (1ull << 31)
#define CR4_PAE   (1ull << 5)
#define CR4_LA57  (1ull << 12)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_VM (1ull << 17)
/* DR6.BS: the #DB was a single-step trap (APM Vol. 2 13.1.1.3). */
#define DR6_BS (1ull << 14)

/* CPUID Fn8000_000A EDX feature bits (APM Vol. 3 E.4.10). */
#define SVM_CPUID_NP           (1u << 0)
#define SVM_CPUID_NRIPS        (1u << 3)
#define SVM_CPUID_VMCB_CLEAN   (1u << 5)
#define SVM_CPUID_FLUSH_ASID   (1u << 6)
#define SVM_CPUID_DECODE       (1u << 7)
#define SVM_CPUID_PAUSE_FILTER (1u << 10)
#define SVM_CPUID_VGIF         (1u << 16)

/*
 * What the consistency checks need to know about the CPU: the CR4 and EFER
 * bits it implements and its physical address width (APM Vol. 2 15.5.1).
 */
struct svm_limits {
    uint64_t cr4_allowed;
    uint64_t efer_allowed; /* includes SVME and LMA */
    uint32_t hpa_bits;
};

/* One host CPU: the host save area VMRUN uses (VM_HSAVE_PA) and the page
   VMSAVE/VMLOAD keep the host's FS/GS/TR/LDTR/syscall state in. */
struct svm_cpu {
    void *hsave;
    uint64_t hsave_pa;
    void *host_area;
    uint64_t host_area_pa;
    bool enabled;      /* EFER.SVME set by us on this CPU */
    bool svme_before;  /* EFER.SVME was already set: leave it on at fini */
    bool ffxsr_before; /* EFER.FFXSR was set: cleared while enabled, set again at fini */
    bool failed;       /* enabling failed here */
};

/* The per-context ASID allocator (svm_asid.c). ASID 0 is the host's. */
struct svm_asid_pool {
    uint32_t count;   /* ASIDs 1 .. count-1 are handed out */
    uint64_t *bitmap; /* bit set: in use */
    uint32_t words;
    struct hv_lock lock;
};

struct svm_ctx {
    uint32_t cpuid_edx; /* Fn8000_000A EDX */
    struct svm_limits limits;
    uint32_t ncpus;
    struct svm_cpu *cpu; /* ncpus entries */
    struct svm_asid_pool asids;
    struct hv_slat_format npt; /* NPT entry format with this CPU's page sizes */
    uint64_t next_serial;      /* vCPU serial numbers, atomically incremented */
};

struct svm_vm {
    void *iopm; /* 3 pages, APM 15.10.1 */
    uint64_t iopm_pa;
    void *msrpm; /* 2 pages, APM 15.11 */
    uint64_t msrpm_pa;
    uint32_t asid;
    uint32_t ncpus;
    /* Per host CPU: serial of the vCPU whose TLB entries under this ASID
       that CPU may hold; 0 = unknown, flush before the next entry. */
    uint64_t *last_on;
};

struct svm_vcpu {
    struct vmcb *vmcb;
    uint64_t vmcb_pa;
    uint64_t serial;   /* unique in the context, never 0 */
    bool nmi_blocked;  /* an NMI was injected and its IRET not seen yet */
    bool iret_pending; /* IRET intercepted at iret_rip; NMIs open after it */
    /* The guest's XCR0 is not x87: switched around VMRUN (svm_xcr0.h).
       Next to iret_pending: the entry tests both with one 16-bit load. */
    bool xcr0_switch;
    bool nmi_window;   /* the core asked for an NMI window */
    bool irq_window;   /* the core asked for an interrupt window */
    uint64_t iret_rip;
    bool nrip_save;      /* the CPU reports the next RIP (HV_FEAT_NRIP_SAVE) */
    bool decode_assists; /* ... and the IOIO segment, NPF bytes (HV_FEAT_DECODE_ASSISTS) */
    /* XCR0 as the guest left it when it differs from vcpu->xcr0: an
       XSETBV the CPU did not intercept (svm_xcr0.h); 0 otherwise. */
    uint64_t xcr0_native;
    /* The host's XCR0 while svm_run's entry for a host with CR4.OSXSAVE
       holds the guest's (svm_entry.S XCR0_ENTER/XCR0_LEAVE). */
    uint64_t host_xcr0;
};

static inline struct svm_ctx *svm_ctx_of(const struct hv_ctx *ctx)
{
    return (struct svm_ctx *)ctx->arch;
}

static inline struct svm_vm *svm_vm_of(const struct hv_vm *vm)
{
    return (struct svm_vm *)vm->arch;
}

static inline struct svm_vcpu *svm_vcpu_of(const struct hv_vcpu *vcpu)
{
    return (struct svm_vcpu *)vcpu->arch;
}

static inline struct vmcb *svm_vmcb(const struct hv_vcpu *vcpu)
{
    return svm_vcpu_of(vcpu)->vmcb;
}

/* svm_hw.c: instructions and MSRs (no-ops that fail in the hosted build). */
void svm_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]);
bool svm_rdmsr(uint32_t msr, uint64_t *val);
bool svm_wrmsr(uint32_t msr, uint64_t val);

/* svm_probe.c */
hv_status_t svm_probe(const struct hv_host *host, struct hv_caps *caps);
void svm_limits_from_cpuid(struct svm_limits *lim);

/* svm_cpu.c: per-CPU enable/disable. */
hv_status_t svm_ctx_init(struct hv_ctx *ctx);
void svm_ctx_fini(struct hv_ctx *ctx);

/* svm_asid.c */
hv_status_t svm_asid_pool_init(struct svm_asid_pool *p, const struct hv_host *host, uint32_t count);
void svm_asid_pool_fini(struct svm_asid_pool *p, const struct hv_host *host);
uint32_t svm_asid_alloc(struct svm_asid_pool *p, const struct hv_host *host);
void svm_asid_free(struct svm_asid_pool *p, const struct hv_host *host, uint32_t asid);
uint8_t svm_asid_tlb_control(uint64_t *last_on_slot, uint64_t serial, bool flush_by_asid);
void svm_asid_forget_all(uint64_t *last_on, uint32_t ncpus);

/* svm_vm.c */
hv_status_t svm_vm_init(struct hv_vm *vm);
void svm_vm_fini(struct hv_vm *vm);
uint64_t svm_arch_pages(struct hv_vm *vm);
void svm_slat_flush(struct hv_vm *vm);
void svm_msrpm_set(uint8_t *msrpm, uint32_t msr, bool intercept_read, bool intercept_write);
bool svm_msrpm_get(const uint8_t *msrpm, uint32_t msr, bool write);

/* svm_seg.c: VMCB segments <-> struct hv_segment. */
void svm_seg_to_hv(const struct vmcb_seg *in, struct hv_segment *out);
void svm_seg_from_hv(const struct hv_segment *in, struct vmcb_seg *out);

/* svm_check.c: VMRUN consistency checks (APM Vol. 2 15.5.1). */
struct svm_check_in {
    uint64_t cr0, cr3, cr4, dr6, dr7, efer, g_pat;
    uint16_t cs_attr;
    uint32_t intercept_misc2;
    uint32_t asid;
    uint64_t eventinj;
    uint64_t iopm_pa, msrpm_pa;
    bool np_enable;
};
const char *svm_check_state(const struct svm_check_in *in, const struct svm_limits *lim);
void svm_check_in_from_vmcb(const struct vmcb *vmcb, struct svm_check_in *in);
const char *svm_diagnose_vmcb(const struct vmcb *vmcb, const struct svm_limits *lim);

/* svm_vcpu.c */
hv_status_t svm_vcpu_init(struct hv_vcpu *vcpu);
void svm_vcpu_fini(struct hv_vcpu *vcpu);
void svm_vmcb_reset(struct vmcb *vmcb);

/* svm_state.c */
void svm_get_state(struct hv_vcpu *vcpu, uint32_t mask, struct hv_vcpu_state *st);
hv_status_t svm_set_state(struct hv_vcpu *vcpu, uint32_t mask, const struct hv_vcpu_state *st);
uint64_t svm_event_encode(const struct hv_event *ev);
bool svm_event_decode(uint64_t evt, struct hv_event *ev);
bool svm_event_valid(const struct hv_event *ev);

/* svm_event.c */
bool svm_can_inject(struct hv_vcpu *vcpu, hv_event_type_t type);
void svm_inject(struct hv_vcpu *vcpu, const struct hv_event *ev);
void svm_set_window(struct hv_vcpu *vcpu, hv_event_type_t type, bool on);
bool svm_inject_irq(struct hv_vcpu *vcpu, uint8_t vector);
void svm_inject_exception(struct hv_vcpu *vcpu, uint8_t vector, bool has_err, uint32_t err);
void svm_inject_step(struct hv_vcpu *vcpu);
void svm_debug_intercept(struct hv_vcpu *vcpu, bool on);
void svm_after_exit_events(struct hv_vcpu *vcpu);

/* svm_insn.c: instruction lengths when the CPU gives no next RIP. */
unsigned svm_insn_length(const uint8_t *buf, unsigned n, int mode_bits, const uint8_t *op,
                         unsigned oplen);
/* The opcode an exit implies (APM Vol. 3), as one word: its bytes, first
   byte lowest, and its length in bits 31:24. */
#define SVM_OPCODE(len, bytes) (((uint32_t)(len) << 24) | (uint32_t)(bytes))
#define SVM_OP_CPUID           SVM_OPCODE(2, 0xa20f)   /* 0F A2 */
#define SVM_OP_RDMSR           SVM_OPCODE(2, 0x320f)   /* 0F 32 */
#define SVM_OP_WRMSR           SVM_OPCODE(2, 0x300f)   /* 0F 30 */
#define SVM_OP_HLT             SVM_OPCODE(1, 0xf4)     /* F4 */
#define SVM_OP_VMMCALL         SVM_OPCODE(3, 0xd9010f) /* 0F 01 D9 */
#define SVM_OP_INVD            SVM_OPCODE(2, 0x080f)   /* 0F 08 */
#define SVM_OP_XSETBV          SVM_OPCODE(3, 0xd1010f) /* 0F 01 D1 */
unsigned svm_guest_insn_len(struct hv_vcpu *vcpu, uint32_t opcode);
/* The exiting MOV to CRn read at CS:RIP (svm_insn.c, for a CPU without
   decode assists): its CR number, source GPR and length; false when the
   bytes there are not one (fetch failed, or not 0F 22). The parse of
   bytes already read (l64: 64-bit code, where REX prefixes count): */
bool svm_parse_mov_to_cr(const uint8_t *b, unsigned n, bool l64, unsigned *cr, unsigned *gpr,
                         unsigned *len);
bool svm_insn_mov_to_cr(struct hv_vcpu *vcpu, unsigned *cr, unsigned *gpr, unsigned *len);
/* MOV to CR4 (svm_cr4.c): emulated, or #GP injected; false when the
   instruction could not be read (the exit goes to the embedder). */
bool svm_cr4_write(struct hv_vcpu *vcpu);
struct hv_fetch_regs;
void svm_fetch_regs(struct hv_vcpu *vcpu, struct hv_fetch_regs *fr);
uint64_t svm_next_rip(struct hv_vcpu *vcpu, unsigned len);
int svm_code_bits(const struct vmcb *vmcb);

/* svm_entry.S: the backend's run() (the common entry fused with the world
   switch); svm_run.c: the run in C for every other entry, and the full
   path's loop after an exit no fast path finished. */
hv_status_t svm_run(struct hv_vcpu *vcpu, struct hv_vexit *ex);
hv_status_t svm_run_c(struct hv_vcpu *vcpu, struct hv_vexit *ex);
hv_status_t svm_load(struct hv_vcpu *vcpu, uint32_t cpu); /* hv_backend_ops::load */
hv_status_t svm_run_full(struct hv_vcpu *vcpu, struct hv_vexit *ex);

/* svm_entry.S: enter the guest, re-entering at once while svm_fast_exit()
   finishes the exits. Called and returning with GIF=0: the caller puts the
   host's XCR0 back (svm_xcr0.h), then executes STGI. */
void svm_world_switch(struct hv_vcpu *vcpu, uint64_t vmcb_pa, uint64_t host_area_pa,
                      struct vmcb *vmcb);

/* svm_fast.c: finish the exit in the VMCB without leaving the world
   switch; false when the exit needs the full path (svm_run). */
bool svm_fast_exit(struct hv_vcpu *vcpu, struct vmcb *vmcb);

#endif /* HV_SVM_SVM_H */
