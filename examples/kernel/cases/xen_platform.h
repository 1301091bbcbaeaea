/*
 * The platform a Xen PVH domain U finds that libhv's Xen layer does not
 * provide, in the smallest form that lets Linux use Xen's timer and start
 * its other CPUs: Linux (6.1, native_smp_prepare_cpus) sets up its per-CPU
 * clock event device, which on Xen is the VCPUOP_set_singleshot_timer one,
 * only in an APIC mode chosen from a multiprocessor configuration (an MP
 * table or ACPI's MADT) with a local APIC; with `nolapic` or without
 * tables it runs without any timer interrupt, and it finds its CPUs (their
 * APIC ids) only there. Xen gives PVH domains ACPI tables and an emulated
 * local APIC; this kernel gives:
 *
 *   - an Intel MultiProcessor Specification 1.4 table (floating pointer
 *     structure and a configuration table with one processor entry per
 *     vCPU, the boot CPU first, APIC ids the vCPU ids, local APICs at
 *     0xfee00000; no buses, no I/O APIC) in the BIOS area at 0xf0000,
 *     where Linux's scan finds it (ch. 4: the last KiB of base memory or
 *     0xf0000-0xfffff);
 *   - libhv's local APIC (hv/lapic.h, enabled by xen_domu.c), whose
 *     INIT-SIPI-SIPI starts the other vCPUs. Events reach the guest
 *     through libhv's Xen upcall vector, which needs no APIC.
 */
#ifndef KERNEL_CASES_XEN_PLATFORM_H
#define KERNEL_CASES_XEN_PLATFORM_H

#include <stdint.h>

#define XPLAT_MP_GPA    0xf0000u    /* the MP floating pointer, then its table */
#define XPLAT_MAX_CPUS  2u          /* processor entries xplat_mp_table() writes at most */
#define XPLAT_MP_BYTES  112u        /* what xplat_mp_table() writes */
#define XPLAT_LAPIC_GPA 0xfee00000u /* the default local APIC base (libhv's) */

/* Write the MP table for @p ncpus CPUs (1 to XPLAT_MAX_CPUS, local APIC
   ids 0 to ncpus - 1; another count gives one) at @p at (guest RAM at
   XPLAT_MP_GPA). */
void xplat_mp_table(uint8_t *at, unsigned ncpus);

#endif /* KERNEL_CASES_XEN_PLATFORM_H */
