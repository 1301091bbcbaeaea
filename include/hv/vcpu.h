/**
 * @file vcpu.h
 * @brief Virtual CPUs: register state, the run loop, exits and events.
 *
 * hv_vcpu_run() enters the guest and returns with a fixed-size exit record
 * only when something needs the embedder (port I/O, MMIO nobody claimed, a
 * nested page fault on unmapped memory, HLT, shutdown, an unhandled
 * hypercall, an entry failure, a kick). Everything else (CPUID and MSR
 * policy, instruction-length bookkeeping, host interrupts, event
 * injection windows) is finished inside the library.
 *
 * A vCPU is used by one host thread at a time; only hv_vcpu_kick() may be
 * called concurrently with hv_vcpu_run().
 */
#ifndef HV_VCPU_H
#define HV_VCPU_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hv_vm;
/** A virtual CPU (opaque). */
struct hv_vcpu;

/** General-purpose register indices, in x86 encoding order. */
enum hv_gpr {
    HV_GPR_RAX, HV_GPR_RCX, HV_GPR_RDX, HV_GPR_RBX, HV_GPR_RSP, HV_GPR_RBP, HV_GPR_RSI,
    HV_GPR_RDI, HV_GPR_R8, HV_GPR_R9, HV_GPR_R10, HV_GPR_R11, HV_GPR_R12, HV_GPR_R13,
    HV_GPR_R14, HV_GPR_R15,
    HV_GPR_COUNT /**< Number of general-purpose registers. */
};

/** Segment register indices, in x86 encoding order, then LDTR and TR. */
enum hv_seg {
    HV_SEG_ES, HV_SEG_CS, HV_SEG_SS, HV_SEG_DS, HV_SEG_FS, HV_SEG_GS, HV_SEG_LDTR, HV_SEG_TR,
    HV_SEG_COUNT /**< Number of segment registers. */
};

/** @name Segment attribute bits (hv_segment::attr)
 * The descriptor's access byte (bits 0-7) and flags nibble (bits 8-11),
 * as in the AMD VMCB segment attribute format (APM Vol. 2 15.5.1).
 * @{ */
#define HV_SEG_TYPE_MASK 0x000fu /**< Segment type (code/data/system). */
#define HV_SEG_S         0x0010u /**< Code/data (1) or system (0) descriptor. */
#define HV_SEG_DPL_SHIFT 5u      /**< Descriptor privilege level position (2 bits). */
#define HV_SEG_P         0x0080u /**< Present. */
#define HV_SEG_AVL       0x0100u /**< Available for software. */
#define HV_SEG_L         0x0200u /**< 64-bit code segment. */
#define HV_SEG_DB        0x0400u /**< Default operation size 32-bit / big. */
#define HV_SEG_G         0x0800u /**< Limit granularity 4 KiB. */
#define HV_SEG_UNUSABLE  0x1000u /**< Null/unusable segment (VMX notion; P=0 on SVM). */
/** @} */

/** A segment register. @c limit is the expanded byte limit. */
struct hv_segment {
    uint64_t base;     /**< Base address. */
    uint32_t limit;    /**< Limit in bytes (already scaled by G). */
    uint16_t selector; /**< Selector. */
    uint16_t attr;     /**< HV_SEG_* attribute bits. */
};

/** A descriptor-table register (GDTR, IDTR). */
struct hv_dtable {
    uint64_t base;  /**< Linear base address. */
    uint16_t limit; /**< Limit in bytes. */
};

/** Event types for hv_event::type. */
typedef enum hv_event_type {
    HV_EVENT_NONE = 0,      /**< No event. */
    HV_EVENT_EXTINT = 1,    /**< External (maskable) interrupt. */
    HV_EVENT_NMI = 2,       /**< Non-maskable interrupt (vector 2). */
    HV_EVENT_EXCEPTION = 3, /**< Hardware exception (vectors 0-31). */
    HV_EVENT_SOFTINT = 4    /**< Software interrupt (INTn). */
} hv_event_type_t;

/** An event to inject or an event that was pending at an exit. */
struct hv_event {
    uint8_t type;           /**< ::hv_event_type_t. */
    uint8_t vector;         /**< Vector 0-255. */
    uint8_t has_error_code; /**< Non-zero when @c error_code is pushed. */
    uint8_t reserved;       /**< Must be zero. */
    uint32_t error_code;    /**< Error code (exceptions 8, 10-14, 17, 21, 29, 30). */
    uint64_t cr2;           /**< For \#PF: the faulting linear address written to CR2. */
};

/** @name State groups for hv_vcpu_get_state() / hv_vcpu_set_state()
 * @{ */
#define HV_STATE_GPR    0x01u /**< gpr[], rip, rflags. */
#define HV_STATE_SEG    0x02u /**< seg[]. */
#define HV_STATE_DTABLE 0x04u /**< gdtr, idtr. */
#define HV_STATE_CR     0x08u /**< cr0, cr2, cr3, cr4, cr8, efer, dr7. */
#define HV_STATE_MSR    0x10u /**< The MSRs listed in struct hv_vcpu_state. */
#define HV_STATE_EVENTS 0x20u /**< Interrupt shadow, NMI blocking, pending event. */
#define HV_STATE_TSC    0x40u /**< tsc_offset. */
#define HV_STATE_DEBUG  0x80u /**< dr[], dr6 (dr7 is in ::HV_STATE_CR). */
#define HV_STATE_ALL    0xffu /**< Every group. */
/** @} */

/** The architectural state of a vCPU, by groups (HV_STATE_*). */
struct hv_vcpu_state {
    uint64_t gpr[HV_GPR_COUNT];      /**< General-purpose registers (::hv_gpr order). */
    uint64_t rip;                    /**< Instruction pointer. */
    uint64_t rflags;                 /**< Flags (bit 1 always reads 1). */
    struct hv_segment seg[HV_SEG_COUNT]; /**< Segment registers (::hv_seg order). */
    struct hv_dtable gdtr;           /**< Global descriptor table register. */
    struct hv_dtable idtr;           /**< Interrupt descriptor table register. */
    uint64_t cr0;                    /**< CR0 as the guest sees it. */
    uint64_t cr2;                    /**< CR2. */
    uint64_t cr3;                    /**< CR3. */
    uint64_t cr4;                    /**< CR4 as the guest sees it (no VMXE/SVME shown). */
    uint64_t cr8;                    /**< CR8 (task priority). */
    uint64_t efer;                   /**< IA32_EFER as the guest sees it. */
    uint64_t dr7;                    /**< DR7. */
    uint64_t star;                   /**< IA32_STAR. */
    uint64_t lstar;                  /**< IA32_LSTAR. */
    uint64_t cstar;                  /**< IA32_CSTAR. */
    uint64_t sfmask;                 /**< IA32_FMASK. */
    uint64_t kernel_gs_base;         /**< IA32_KERNEL_GS_BASE. */
    uint64_t sysenter_cs;            /**< IA32_SYSENTER_CS. */
    uint64_t sysenter_esp;           /**< IA32_SYSENTER_ESP. */
    uint64_t sysenter_eip;           /**< IA32_SYSENTER_EIP. */
    uint64_t pat;                    /**< IA32_PAT. */
    uint64_t tsc_offset;             /**< Added to the host TSC for guest RDTSC (two's complement). */
    uint8_t interrupt_shadow;        /**< Non-zero after STI / MOV SS: interrupts blocked for one instruction. */
    uint8_t nmi_blocked;             /**< Non-zero while an NMI handler runs (until IRET). */
    uint8_t reserved[6];             /**< Must be zero. */
    struct hv_event pending;         /**< Event queued for the next entry (type NONE if none). */
    /** DR0-DR3, breakpoint linear addresses: canonical (bits 63:47 equal),
        as MOV to DR0-DR3 requires in 64-bit mode (SDM Vol. 2B MOV). */
    uint64_t dr[4];
    uint64_t dr6;                    /**< DR6; bits 63:32 zero (SDM Vol. 3B 18.2.3). */
};

/** Exit reasons (hv_exit::reason). */
typedef enum hv_exit_reason {
    HV_EXIT_NONE = 0,          /**< Not an exit (never returned). */
    HV_EXIT_IO = 1,            /**< Port I/O; see hv_exit::io. */
    HV_EXIT_MMIO = 2,          /**< A decoded access to unmapped gpa; see hv_exit::mmio. */
    HV_EXIT_SLAT_FAULT = 3,    /**< An access the SLAT refused and the library could not decode; see hv_exit::slat. */
    HV_EXIT_HLT = 4,           /**< HLT with nothing to deliver. RIP is past the HLT. */
    HV_EXIT_SHUTDOWN = 5,      /**< Triple fault (or other shutdown condition). The vCPU must be reset. */
    HV_EXIT_HYPERCALL = 6,     /**< VMCALL/VMMCALL the library does not implement; see hv_exit::hypercall. */
    HV_EXIT_ENTRY_FAILED = 7,  /**< The CPU refused to enter the guest; see hv_exit::entry_failed. */
    HV_EXIT_KICK = 8,          /**< hv_vcpu_kick() was called. */
    HV_EXIT_UNHANDLED = 9,     /**< An exit the library cannot handle; raw fields say which. */
    HV_EXIT_GUEST_SHUTDOWN = 10 /**< The guest asked to power off / reboot / crash (PV); see hv_exit::guest_shutdown. */
} hv_exit_reason_t;

/** @name Why the vCPU stopped (hv_exit::hlt.source)
 * @{ */
#define HV_HLT_INSN  0u /**< A HLT instruction with nothing to deliver. */
#define HV_HLT_BLOCK 1u /**< Xen SCHEDOP_block: sleep until an event or the deadline. */
#define HV_HLT_POLL  2u /**< Xen SCHEDOP_poll: sleep until a polled port is pending, an event, or the deadline. */
#define HV_HLT_YIELD 3u /**< Xen SCHEDOP_yield: still runnable; let other vCPUs run first. */
#define HV_HLT_DOWN  4u /**< Xen vCPU down (never brought up, or VCPUOP_down): hv_vcpu_run() returns at once until VCPUOP_up, which calls hv_xen_config::wake. */
#define HV_HLT_WAIT_SIPI                                                                           \
    5u /**< Local APIC (hv/lapic.h): INIT received, waiting for a SIPI; hv_vcpu_run() returns at   \
          once without running guest code until one arrives (hv_lapic_config::wake). */
/** @} */

/** @name Access bits in hv_exit::slat.access
 * @{ */
#define HV_ACCESS_READ  0x1u /**< Data read. */
#define HV_ACCESS_WRITE 0x2u /**< Data write. */
#define HV_ACCESS_EXEC  0x4u /**< Instruction fetch. */
/** @} */

/**
 * The exit record filled by hv_vcpu_run(). Fixed size, no pointers. The
 * fields before the union and the union member that @c reason selects are
 * written whole (reserved fields zero); the union's bytes beyond that
 * member are unspecified.
 */
struct hv_exit {
    uint32_t reason;   /**< ::hv_exit_reason_t. */
    uint32_t reserved; /**< Zero. */
    uint64_t raw_code; /**< Backend exit code (VMX basic exit reason / SVM EXITCODE). */
    uint64_t raw_info1; /**< VMX exit qualification / SVM EXITINFO1. */
    uint64_t raw_info2; /**< VMX guest-physical address (EPT violation and misconfiguration; 0 for other exits, where the SDM leaves the field undefined) / SVM EXITINFO2. */
    uint64_t rip;       /**< Guest RIP of the exiting instruction. */
    union {
        /** ::HV_EXIT_IO. For IN, write the value to @c data before the next hv_vcpu_run(). */
        struct {
            uint16_t port;   /**< Port number. */
            uint8_t size;    /**< 1, 2 or 4 bytes. */
            uint8_t write;   /**< 1 for OUT, 0 for IN. */
            uint32_t reserved; /**< Zero. */
            uint64_t data;   /**< OUT: value written. IN: value to return (set by the embedder). */
        } io;
        /** ::HV_EXIT_MMIO. For reads, write the value to @c data before the next hv_vcpu_run(). */
        struct {
            uint64_t gpa;    /**< Guest-physical address. */
            uint8_t size;    /**< 1, 2, 4 or 8 bytes. */
            uint8_t write;   /**< 1 for a write. */
            uint8_t reserved[6]; /**< Zero. */
            uint64_t data;   /**< Write: value written. Read: value to return (set by the embedder). */
        } mmio;
        /** ::HV_EXIT_SLAT_FAULT. Map the page and run again to retry the access. */
        struct {
            uint64_t gpa;    /**< Faulting guest-physical address. */
            uint64_t gva;    /**< Guest linear address if @c gva_valid. */
            uint32_t access; /**< HV_ACCESS_* of the attempted access. */
            uint8_t gva_valid;   /**< Non-zero when @c gva holds the linear address. */
            uint8_t during_walk; /**< Non-zero when the fault hit a guest page-table access. */
            uint8_t present;     /**< Non-zero when the gpa was mapped but the permission was missing. */
            uint8_t reserved;    /**< Zero. */
        } slat;
        /** ::HV_EXIT_HYPERCALL. Set gpr RAX with hv_vcpu_set_state() to return a value. */
        struct {
            uint64_t nr;      /**< Hypercall number (RAX / EAX). */
            uint64_t args[6]; /**< Arguments in the guest's calling convention order. */
            uint8_t long_mode; /**< Non-zero for a 64-bit caller. */
            uint8_t cpl;      /**< Caller privilege level. */
            uint8_t reserved[6]; /**< Zero. */
        } hypercall;
        /** ::HV_EXIT_ENTRY_FAILED. */
        struct {
            uint64_t code;      /**< VM-instruction error (VMX) or exit code (SVM). */
            char reason[64];    /**< NUL-terminated diagnosis, e.g. "guest CR0.PG set without PE". */
        } entry_failed;
        /** ::HV_EXIT_GUEST_SHUTDOWN. */
        struct {
            uint32_t reason; /**< Xen SHUTDOWN_* code: 0 poweroff, 1 reboot, 2 suspend, 3 crash, 4 watchdog, 5 soft_reset. */
        } guest_shutdown;
        /**
         * ::HV_EXIT_HLT. Zero for a HLT instruction without the Xen layer
         * or the local APIC; with the Xen layer (hv/xen.h), says why the
         * vCPU stopped and until when it may sleep: run it again at
         * @c deadline_ns, or earlier when an event wakes it
         * (hv_xen_config::wake, hv_xen_vcpu_status()). With the local APIC
         * (hv/lapic.h), a HLT's @c deadline_ns is its timer's expiry.
         */
        struct {
            uint64_t deadline_ns; /**< Host time (hv_host_ops::time_ns) of the vCPU's earliest Xen
                                     timer, or for ::HV_HLT_INSN of its local APIC timer; 0: none
                                     known (for ::HV_HLT_INSN without a local APIC always 0: ask
                                     hv_xen_vcpu_status()). */
            uint32_t source; /**< ::HV_HLT_INSN, ::HV_HLT_BLOCK, ::HV_HLT_POLL, ::HV_HLT_YIELD or
                                ::HV_HLT_WAIT_SIPI. */
            uint32_t reserved;    /**< Zero. */
        } hlt;
        uint8_t pad[96]; /**< Reserved size for future exit types. */
    };
};

/**
 * @brief Create vCPU @p id of @p vm in its reset state.
 *
 * The reset state is the architectural INIT state: real mode, CS.selector
 * 0xf000, CS.base 0xffff0000, RIP 0xfff0 (SDM Vol. 3A 9.1.4). Use
 * hv_vcpu_set_state() to start elsewhere.
 * @param vm The VM.
 * @param id vCPU index, below the VM's max_vcpus.
 * @param[out] out The new vCPU.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_EXISTS (id in use);
 *         ::HV_ERR_LIMIT (id >= the VM's max_vcpus); ::HV_ERR_NO_MEMORY.
 */
hv_status_t hv_vcpu_create(struct hv_vm *vm, uint32_t id, struct hv_vcpu **out);

/**
 * @brief Destroy a vCPU. Not while it runs.
 *
 * In a VM created with ::HV_VM_SCRUB, its register and FPU state and its
 * VMCS/VMCB are zeroed before they go back to the host.
 * @param vcpu The vCPU.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_BUSY while running or loaded
 *         (hv_vcpu_load()).
 */
hv_status_t hv_vcpu_destroy(struct hv_vcpu *vcpu);

/**
 * @brief Read the state groups in @p mask into @p state (other fields untouched).
 * @param vcpu The vCPU.
 * @param mask HV_STATE_* groups to read.
 * @param[out] state Receives those groups.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL or unknown mask bits);
 *         ::HV_ERR_BUSY while running.
 */
hv_status_t hv_vcpu_get_state(struct hv_vcpu *vcpu, uint32_t mask, struct hv_vcpu_state *state);

/**
 * @brief Write the state groups in @p mask from @p state.
 *
 * The state is checked the way the CPU would check it at entry where the
 * library can tell (e.g. CR0.PG without PE, EFER.LMA inconsistent with
 * CR0.PG/EFER.LME, CS.L with CS.D, non-canonical bases, real mode without
 * unrestricted guest support).
 * @param vcpu The vCPU.
 * @param mask HV_STATE_* groups to write.
 * @param state The new values of those groups.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL, unknown mask bits, or an
 *         inconsistent state: nothing is written); ::HV_ERR_UNSUPPORTED (a
 *         mode the CPU cannot run, e.g. real mode on VMX without unrestricted
 *         guest, or a CR4 bit the guest's CPUID does not offer: PKE, and
 *         OSXSAVE without XSAVE); ::HV_ERR_BUSY while running.
 */
hv_status_t hv_vcpu_set_state(struct hv_vcpu *vcpu, uint32_t mask, const struct hv_vcpu_state *state);

/**
 * @brief Run the guest until an exit needs the embedder.
 *
 * If the previous exit was an IN or an MMIO read, the value in
 * @p exit->io.data / @p exit->mmio.data is written back to the guest first
 * and the instruction completes. Pass the same record back each time.
 * @param vcpu The vCPU.
 * @param[in,out] exit The exit record.
 * @return ::HV_OK with @p exit filled; ::HV_ERR_INVALID_ARG;
 *         ::HV_ERR_STATE after ::HV_EXIT_SHUTDOWN until the state is set again;
 *         ::HV_ERR_BUSY if already running on another thread, or for
 *         the moment another thread changes what runs read without a
 *         lock (hv_vm_mmio_register(), hv_vm_pio_register(), their
 *         unregister calls, hv_xen_disable()): try again.
 */
hv_status_t hv_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit);

/** @name Options of hv_vcpu_load()
 * @{ */
/** Keep the guest's x87/SSE/AVX state in the CPU from hv_vcpu_load() to
    hv_vcpu_put() instead of switching it at every hv_vcpu_run(). */
#define HV_LOAD_GUEST_FPU 0x1u
/** @} */

/**
 * @brief Bind a vCPU to the calling host CPU for a series of hv_vcpu_run() calls.
 *
 * What every run otherwise does for the host's sake is done once here and
 * undone by hv_vcpu_put(): the backend's per-CPU checks and the host state
 * a world switch must restore (SVM: the host's segment and system-call MSR
 * state saved by VMSAVE; VMX: the VMCS made current, its host-state fields
 * and MSR lists written, and the GDTR, IDTR and TR limits a VM exit
 * shortens (SDM Vol. 3C 28.5.2) restored only at the put), and with
 * ::HV_LOAD_GUEST_FPU the x87/SSE and extended state switch (the host's
 * state is saved here and loaded back at the put). A run loop that handles
 * exits without sleeping or switching threads gains the most from it.
 *
 * Until hv_vcpu_put() the caller must stay on this CPU and keep the host
 * state the backend captured (control registers, GDT, IDT, TR, FS/GS
 * bases, system-call MSRs: no thread switch in between). With
 * ::HV_LOAD_GUEST_FPU it must also leave the x87, SSE and AVX registers and
 * MXCSR alone (code built with -mgeneral-regs-only does), and the vCPU's
 * x87/SSE and XSAVE state cannot be read or written meanwhile
 * (hv_vcpu_get_fpu() and the like return ::HV_ERR_BUSY). A run of a loaded
 * vCPU on another CPU returns ::HV_ERR_STATE without entering the guest.
 * Other vCPUs may still run on this CPU in between (without being loaded).
 * A loaded vCPU cannot be destroyed (::HV_ERR_BUSY).
 *
 * @param vcpu  The vCPU, not running and not loaded.
 * @param flags ::HV_LOAD_GUEST_FPU or 0.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL or unknown flags);
 *         ::HV_ERR_BUSY (running, or already loaded); ::HV_ERR_NO_MEMORY
 *         (the host's x87/SSE save area, allocated at the first load with
 *         ::HV_LOAD_GUEST_FPU); ::HV_ERR_HOST (the host's CPU number names no
 *         CPU enabled for this context, or changed during the call).
 */
hv_status_t hv_vcpu_load(struct hv_vcpu *vcpu, uint32_t flags);

/**
 * @brief End what hv_vcpu_load() began: the host's state back, the guest's
 * x87/SSE state saved to the vCPU.
 *
 * Must be called on the CPU of the load. On another CPU the vCPU is still
 * unbound, but nothing of that CPU's state is touched, so a guest loaded
 * with ::HV_LOAD_GUEST_FPU keeps the x87/SSE and XSAVE state it had at the
 * load, and the call returns ::HV_ERR_STATE.
 * @param vcpu The loaded vCPU.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL); ::HV_ERR_STATE (not
 *         loaded, or called on another CPU: see above); ::HV_ERR_BUSY
 *         (running).
 */
hv_status_t hv_vcpu_put(struct hv_vcpu *vcpu);

/**
 * @brief Queue an event for delivery through the guest's IDT.
 *
 * Exceptions and NMIs are delivered at the next entry; external interrupts
 * wait until the guest can take them (RFLAGS.IF=1, no interrupt shadow),
 * using the CPU's interrupt-window exit, without returning to the caller.
 * @param vcpu The vCPU.
 * @param event The event (type, vector, error code, CR2 for \#PF).
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (bad type or vector, e.g. an
 *         exception vector above 31 or NMI not on vector 2); ::HV_ERR_BUSY
 *         when an event of the same class is already queued.
 */
hv_status_t hv_vcpu_inject(struct hv_vcpu *vcpu, const struct hv_event *event);

/**
 * @brief Make a running (or about to run) hv_vcpu_run() return ::HV_EXIT_KICK.
 *
 * Safe from any context, including interrupt handlers and other CPUs.
 * @param vcpu The vCPU.
 * @return ::HV_OK or ::HV_ERR_INVALID_ARG.
 */
hv_status_t hv_vcpu_kick(struct hv_vcpu *vcpu);

/**
 * @brief Override the CPUID values the guest sees for one leaf/subleaf.
 *
 * Without overrides the guest sees the host's values filtered by the
 * library's policy (virtualization features hidden, hypervisor bit set,
 * APIC IDs replaced by the vCPU id, leaves 0x40000000+ owned by the PV
 * interface). Overrides apply to every vCPU of the VM. The guest's
 * physical-address width (leaf 0x80000008 EAX[7:0]) and 1 GiB pages
 * (leaf 0x80000001 EDX[26]) as they then read are the paging rules of
 * every guest page walk the library makes (instruction fetch, MMIO
 * emulation, the Xen interface's guest-virtual copies), from the next walk
 * on.
 * @param vm The VM.
 * @param leaf CPUID leaf (EAX input).
 * @param subleaf Subleaf (ECX input), or UINT32_MAX to match any.
 * @param regs EAX, EBX, ECX, EDX to return.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_LIMIT when the table is full.
 */
hv_status_t hv_vm_set_cpuid(struct hv_vm *vm, uint32_t leaf, uint32_t subleaf, const uint32_t regs[4]);

#ifdef __cplusplus
}
#endif

#endif /* HV_VCPU_H */
