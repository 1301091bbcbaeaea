/*
 * Instruction assist: decode and carry out one guest instruction that
 * touched emulated MMIO (or a string I/O instruction), on behalf of the
 * core's exit handlers.
 *
 * The module is self-contained behind a callback table: it never sees the
 * VM or vCPU objects. The core fills a struct hv_emu_regs from the VMCS /
 * VMCB, wires struct hv_emu_ops to the VM's SLAT view and MMIO/PIO
 * handlers, calls hv_emu_step() and writes the registers back when the
 * outcome says so.
 */
#ifndef HV_EMU_EMU_H
#define HV_EMU_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/status.h>

#include "core/util.h"

/* Segment register indices, in the order of the ModRM/prefix encodings. */
enum hv_emu_sreg {
    HV_EMU_ES = 0,
    HV_EMU_CS = 1,
    HV_EMU_SS = 2,
    HV_EMU_DS = 3,
    HV_EMU_FS = 4,
    HV_EMU_GS = 5,
    HV_EMU_NSEG = 6
};

/*
 * Segment attributes in the packed 12-bit form of the AMD VMCB (APM Vol. 2
 * 15.5.1): descriptor bits 40-47 and 52-55 squeezed together. The VMX
 * access-rights field (SDM Vol. 3C 24.4.1) is the same with bits 11:8
 * moved to 15:12; an unusable VMX segment maps to P = 0.
 */
#define HV_EMU_SEG_TYPE_MASK 0x00fu /* type field (bit 3: code) */
#define HV_EMU_SEG_TYPE_A    0x001u /* accessed */
#define HV_EMU_SEG_TYPE_W    0x002u /* data: writable; code: readable */
#define HV_EMU_SEG_TYPE_E    0x004u /* data: expand-down; code: conforming */
#define HV_EMU_SEG_TYPE_CODE 0x008u
#define HV_EMU_SEG_S         0x010u /* code/data (not system) */
#define HV_EMU_SEG_DPL_SHIFT 5
#define HV_EMU_SEG_P         0x080u /* present (0: null/unusable) */
#define HV_EMU_SEG_AVL       0x100u
#define HV_EMU_SEG_L         0x200u /* 64-bit code segment */
#define HV_EMU_SEG_DB        0x400u /* default size / big */
#define HV_EMU_SEG_G         0x800u /* granularity (limit below is already expanded) */

/* A segment register's hidden part, as the CPU caches it. */
struct hv_emu_seg {
    uint64_t base;
    uint32_t limit; /* byte granular: G already applied */
    uint16_t sel;
    uint16_t attr; /* HV_EMU_SEG_* */
};

/* Architectural bits the emulator and walker consult. */
#define HV_EMU_RFLAGS_CF   HV_BIT(0)
#define HV_EMU_RFLAGS_PF   HV_BIT(2)
#define HV_EMU_RFLAGS_AF   HV_BIT(4)
#define HV_EMU_RFLAGS_ZF   HV_BIT(6)
#define HV_EMU_RFLAGS_SF   HV_BIT(7)
#define HV_EMU_RFLAGS_TF   HV_BIT(8)
#define HV_EMU_RFLAGS_DF   HV_BIT(10)
#define HV_EMU_RFLAGS_OF   HV_BIT(11)
#define HV_EMU_RFLAGS_IOPL HV_BIT(12) /* 2 bits: 13:12 */
#define HV_EMU_RFLAGS_VM   HV_BIT(17)
#define HV_EMU_RFLAGS_AC   HV_BIT(18)
#define HV_EMU_RFLAGS_ARITH                                                                        \
    (HV_EMU_RFLAGS_CF | HV_EMU_RFLAGS_PF | HV_EMU_RFLAGS_AF | HV_EMU_RFLAGS_ZF |                   \
     HV_EMU_RFLAGS_SF | HV_EMU_RFLAGS_OF)

#define HV_EMU_CR0_PE   HV_BIT(0)
#define HV_EMU_CR0_WP   HV_BIT(16)
#define HV_EMU_CR0_AM   HV_BIT(18)
#define HV_EMU_CR0_PG   HV_BIT(31)
#define HV_EMU_CR4_PSE  HV_BIT(4)
#define HV_EMU_CR4_PAE  HV_BIT(5)
#define HV_EMU_CR4_LA57 HV_BIT(12)
#define HV_EMU_CR4_SMEP HV_BIT(20)
#define HV_EMU_CR4_SMAP HV_BIT(21)
#define HV_EMU_CR4_PKE  HV_BIT(22)
#define HV_EMU_CR4_PKS  HV_BIT(24)
#define HV_EMU_EFER_LME HV_BIT(8)
#define HV_EMU_EFER_LMA HV_BIT(10)
#define HV_EMU_EFER_NXE HV_BIT(11)

/* Canonical in 64-bit mode with these paging controls: 57 bits with
   CR4.LA57, else 48 (SDM Vol. 1 3.3.7.1). */
static inline bool hv_emu_canonical(uint64_t la, uint64_t cr4)
{
    return hv_canonical(la, (cr4 & HV_EMU_CR4_LA57) ? 57 : 48);
}

/* GPR indices in encoding order (REX.B/X/R extend to 8..15). */
enum hv_emu_gpr {
    HV_EMU_RAX,
    HV_EMU_RCX,
    HV_EMU_RDX,
    HV_EMU_RBX,
    HV_EMU_RSP,
    HV_EMU_RBP,
    HV_EMU_RSI,
    HV_EMU_RDI,
    HV_EMU_R8,
    HV_EMU_R9,
    HV_EMU_R10,
    HV_EMU_R11,
    HV_EMU_R12,
    HV_EMU_R13,
    HV_EMU_R14,
    HV_EMU_R15,
    HV_EMU_NGPR
};

/*
 * The guest register state the emulator reads and writes. The emulator
 * writes gpr[], rip and rflags only; everything else is input.
 */
struct hv_emu_regs {
    uint64_t gpr[HV_EMU_NGPR];
    uint64_t rip;
    uint64_t rflags;
    uint64_t cr0, cr3, cr4, efer;
    struct hv_emu_seg seg[HV_EMU_NSEG];
    uint8_t cpl; /* current privilege level (SS.DPL) */
    /*
     * PAE paging only: the four PDPTE registers the CPU loaded at the last
     * CR3 write (VMX guest-state fields with EPT, SDM Vol. 3A 4.4.1). When
     * pdpte_valid is false the walker reads the PDPTEs from memory on each
     * walk, as AMD CPUs do under nested paging.
     */
    bool pdpte_valid;
    uint64_t pdpte[4];
    uint32_t pkru; /* protection keys for user pages (CR4.PKE) */
    uint32_t pkrs; /* IA32_PKRS, for supervisor pages (CR4.PKS) */
};

/*
 * Guest memory and I/O the emulator reaches. Every callback gets
 * hv_emu_env::opaque first. Calls never cross a 4 KiB guest-physical page.
 */
struct hv_emu_env;
struct hv_walk_result;

struct hv_emu_ops {
    /*
     * Read/write guest RAM (page tables, instruction bytes, RAM operands).
     * Return HV_OK, or HV_ERR_GUEST_FAULT when gpa is not RAM the guest
     * may access; any other status aborts the step and is passed up.
     */
    hv_status_t (*gpa_read)(void *opaque, uint64_t gpa, void *buf, size_t len);
    hv_status_t (*gpa_write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
    /*
     * Optional: atomically replace the size-byte (4 or 8) value at gpa by
     * @p desired if it still equals @p expected: HV_OK when swapped,
     * HV_ERR_AGAIN when it differed. Used for accessed/dirty bit updates so
     * that a concurrent guest write to a page-table entry is not lost; when
     * NULL, gpa_write is used (fine for single-vCPU guests).
     */
    hv_status_t (*gpa_cmpxchg)(void *opaque, uint64_t gpa, unsigned size, uint64_t expected,
                               uint64_t desired);
    /* Is the 4 KiB page holding gpa RAM (true) or emulated MMIO (false)? */
    bool (*is_ram)(void *opaque, uint64_t gpa);
    /* MMIO access of 1, 2, 4 or 8 bytes; a read fills *value (zero-extended). */
    hv_status_t (*mmio)(void *opaque, uint64_t gpa, unsigned size, bool write, uint64_t *value);
    /* Port I/O of 1, 2 or 4 bytes for INS/OUTS; may be NULL (then INS/OUTS are unsupported). */
    hv_status_t (*pio)(void *opaque, uint16_t port, unsigned size, bool write, uint64_t *value);
    /*
     * Optional: translate a linear address exactly as hv_walk() (emu/walk.h)
     * does with these arguments, e.g. from a memo of an earlier walk that
     * is known to be still exact. NULL: the emulator calls hv_walk().
     */
    hv_status_t (*walk)(void *opaque, const struct hv_emu_env *env, const struct hv_emu_regs *regs,
                        uint64_t la, unsigned access, struct hv_walk_result *res);
};

/* Everything a step needs besides the registers. */
struct hv_emu_env {
    const struct hv_emu_ops *ops;
    void *opaque;
    /* Guest physical-address width, CPUID 0x80000008 EAX[7:0] (32..52). */
    uint8_t maxphyaddr;
    /* Guest CPUID 0x80000001 EDX[26]: 1 GiB pages allowed in 4/5-level paging. */
    bool gbpages;
    /*
     * Most REP iterations carried out by one hv_emu_step() call; 0 selects
     * HV_EMU_REP_BUDGET_DEFAULT. Bounds the host time a guest can take.
     */
    uint32_t rep_budget;
    /*
     * The CPU already checked the I/O permission (CPL/IOPL and the TSS
     * bitmap) of the instruction being emulated: set it when emulating the
     * INS/OUTS of an I/O-instruction exit. When false, INS/OUTS in
     * protected mode at CPL > IOPL (or in virtual-8086 mode) are reported
     * HV_EMU_UNSUPPORTED, since the TSS bitmap is out of this module's reach.
     */
    bool io_checked;
};

#define HV_EMU_REP_BUDGET_DEFAULT 1024u

/* What the guest should see after a step. */
enum hv_emu_outcome {
    /* The instruction completed: gpr/rflags written, rip advanced. */
    HV_EMU_DONE = 0,
    /*
     * Inject exception `vector` (with error_code when has_error_code; set
     * CR2 = cr2 for #PF). rip is unchanged; a REP string instruction keeps
     * the progress of the iterations completed before the fault, exactly
     * as the CPU does. Nothing of the faulting iteration was done.
     */
    HV_EMU_EXCEPTION,
    /*
     * A REP string instruction used up its iteration budget: RCX/RSI/RDI
     * hold the progress, rip still points at the instruction. Re-enter the
     * guest (it re-executes and exits again) or call hv_emu_step again.
     */
    HV_EMU_RESUME,
    /* Not an instruction this module emulates; nothing changed. Exit to the embedder. */
    HV_EMU_UNSUPPORTED,
    /*
     * A page-table read or an instruction fetch hit guest-physical memory
     * that is not RAM (gpa below). Real hardware would read MMIO; nothing
     * changed, the caller decides (usually: fail the vCPU cleanly).
     */
    HV_EMU_NOT_RAM,
};

/* x86 exception vectors the emulator raises. */
#define HV_EMU_VEC_UD 6
#define HV_EMU_VEC_SS 12
#define HV_EMU_VEC_GP 13
#define HV_EMU_VEC_PF 14
#define HV_EMU_VEC_AC 17

struct hv_emu_result {
    enum hv_emu_outcome outcome;
    uint8_t vector;      /* HV_EMU_EXCEPTION */
    bool has_error_code; /* HV_EMU_EXCEPTION */
    uint32_t error_code; /* HV_EMU_EXCEPTION */
    uint64_t cr2;        /* HV_EMU_EXCEPTION with vector #PF: the faulting linear address */
    uint64_t gpa;        /* HV_EMU_NOT_RAM */
    uint8_t insn_len;    /* length of the decoded instruction, 0 if decoding did not finish */
    uint32_t iterations; /* REP iterations carried out by this call */
};

/*
 * Decode and carry out the instruction at regs->rip.
 *
 * @p prefetched / @p prefetched_len: instruction bytes the CPU supplied
 * (SVM decode assists, or bytes the caller already fetched), starting at
 * rip; NULL/0 to fetch everything from guest memory (through the guest's
 * page tables, as an instruction fetch at the current CPL). Bytes beyond
 * prefetched_len are fetched when the instruction is longer.
 *
 * Returns HV_OK when @p res holds an outcome, HV_ERR_INVALID_ARG for bad
 * arguments, or the status of a callback that failed with something other
 * than HV_ERR_GUEST_FAULT. After such a failure @p regs holds the state
 * after the last completed REP iteration (for any other instruction it is
 * unchanged), and accesses the instruction made before the failing one
 * (the read of a read-modify-write, say) are not undone.
 *
 * Does not act on RFLAGS.TF or pending events: after HV_EMU_DONE the
 * caller delivers a single-step #DB if TF was set, as for any instruction
 * it completes on the guest's behalf. Read-modify-write instructions on
 * RAM operands (LOCK, XCHG) are not atomic against other vCPUs.
 */
hv_status_t hv_emu_step(const struct hv_emu_env *env, struct hv_emu_regs *regs,
                        const uint8_t *prefetched, size_t prefetched_len,
                        struct hv_emu_result *res);

#endif /* HV_EMU_EMU_H */
