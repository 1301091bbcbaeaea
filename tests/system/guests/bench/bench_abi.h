/*
 * The contract between the exit-cost guest (bench.S) and the benchmark
 * cases of the example kernel (examples/kernel/cases/bench_*.c). Plain
 * defines, included from assembly and C.
 *
 * The guest asks for a command with IN from BENCH_PORT_CMD, stops at a HLT
 * (the host may switch to a bare-minimum handler there), runs the command
 * and stops at a second HLT with its results in guest RAM. A timed command
 * runs two loops of BENCH_ITERS iterations between RDTSCs: a baseline loop
 * of only the setup instructions, and the same loop with the instruction
 * under test. (op - base) / iterations is the cost of one round trip in
 * instructions (QEMU -icount, Bochs sync=none: the TSC counts instructions).
 */
#ifndef BENCH_ABI_H
#define BENCH_ABI_H

/* Ports. */
#define BENCH_PORT_CMD 0xe4 /* IN: the next command */
#define BENCH_PORT_OUT 0xe8 /* OUT under test, handled by the embedder */

/* Guest-physical addresses (guest RAM is 1 MiB at 0, the image at 0x1000). */
#define BENCH_ITERS      0x600 /* u64, written by the host: loop iterations */
#define BENCH_RES_BASE   0x608 /* u64: TSC delta of the baseline loop */
#define BENCH_RES_OP     0x610 /* u64: TSC delta of the loop with the operation */
#define BENCH_RES_COUNT  0x618 /* u64: upcalls that found the port pending (evtchn) */
#define BENCH_RES_RC     0x620 /* u64 x4: hypercall results of BENCH_CMD_XEN_SETUP */
#define BENCH_EVT_SEND   0x640 /* struct evtchn_send { u32 port; } */
#define BENCH_XATP       0x648 /* struct xen_add_to_physmap (24 bytes) */
#define BENCH_BIND_IPI   0x660 /* struct evtchn_bind_ipi { u32 vcpu; u32 port; } */
#define BENCH_HVM_PARAM  0x668 /* struct xen_hvm_param (16 bytes) */
#define BENCH_RES_SPURIOUS 0x678 /* u64: upcalls that found nothing pending (evtchn) */
#define BENCH_RES_APIC         0x680 /* u64: interrupts the APIC vector's handler took */
#define BENCH_MMIO_HANDLER_GPA 0xc0000000 /* MMIO region with a library handler */
#define BENCH_MMIO_EXIT_GPA    0xc0001000 /* MMIO region reported to the embedder */
#define BENCH_NPF_GPA    0x40000000        /* unmapped: one new page per iteration */
#define BENCH_SHINFO_GPA 0x00200000        /* where the guest maps shared_info */
#define BENCH_UPCALL_VECTOR 0xf3
#define BENCH_APIC_VECTOR      0xf4       /* the local APIC's self-IPI and timer vector */
#define BENCH_APIC_EOI_GPA     0xfee000b0 /* the xAPIC EOI register */

/* The unknown hypercall number of BENCH_CMD_VMMCALL/VMCALL. */
#define BENCH_HC_UNKNOWN 0x7ff0

/* Commands (answer to the IN). BENCH_CMD_INTEL: use VMCALL instead of VMMCALL. */
#define BENCH_CMD_STOP      0  /* HLT forever */
#define BENCH_CMD_CPUID     1  /* CPUID leaf 0 */
#define BENCH_CMD_HC        2  /* VMMCALL/VMCALL, unknown hypercall number */
#define BENCH_CMD_XENVER    3  /* Xen xen_version(XENVER_version) */
#define BENCH_CMD_OUT       4  /* OUT to BENCH_PORT_OUT */
#define BENCH_CMD_MMIO_H    5  /* 32-bit load from BENCH_MMIO_HANDLER_GPA */
#define BENCH_CMD_MMIO_E    6  /* 32-bit load from BENCH_MMIO_EXIT_GPA */
#define BENCH_CMD_NPF       7  /* 32-bit load from a new page of BENCH_NPF_GPA.. */
#define BENCH_CMD_EVTCHN    8  /* EVTCHNOP_send to the guest's own IPI port + upcall */
#define BENCH_CMD_XEN_SETUP 9  /* map shared_info, upcall vector, bind an IPI port (untimed) */
/* The local APIC (a VM with hv_lapic_enable). The xAPIC command first:
   BENCH_CMD_APIC_X2 leaves xAPIC mode for good. */
#define BENCH_CMD_APIC_MMIO_EOI 10 /* xAPIC EOI: 32-bit store of EAX to BENCH_APIC_EOI_GPA */
#define BENCH_CMD_APIC_X2       11 /* x2APIC mode, SVR on, TSC-deadline LVT timer (untimed) */
#define BENCH_CMD_APIC_EOI      12 /* x2APIC EOI: WRMSR 0x80b, nothing in service */
#define BENCH_CMD_APIC_TSCDL    13 /* WRMSR IA32_TSC_DEADLINE 2^40 ticks ahead; 0 after */
#define BENCH_CMD_APIC_IPI      14 /* x2APIC SELF IPI + the interrupt, its handler's EOI */
#define BENCH_CMD_INTEL     0x100

#endif /* BENCH_ABI_H */
